//! CLIP against MMAudio's own pipeline (golden/mmaudio_ext, open_clip + `patch_clip` at commit
//! 974010a): the tokenizer's ids, `encode_image(normalize=True)`, the patched `encode_text`, and
//! the released model's state-dict layout.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use common::{cache, rel_err, to_vec};
use foley_encoders::clip::{Clip, ClipConfig, ClipTokenizer};
use safetensors::SafeTensors;

const TOLERANCE: f32 = 1e-4;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/golden/mmaudio_ext")
}

fn shared_json() -> serde_json::Value {
    let path = golden_dir().join("mmaudio_ext_shared.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).expect("golden json")
}

struct Io {
    bytes: Vec<u8>,
}

impl Io {
    fn open() -> Self {
        let path = golden_dir().join("clip_shared.io.safetensors");
        Self { bytes: std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())) }
    }

    fn tensor(&self, key: &str) -> (Vec<usize>, Vec<u8>) {
        let st = SafeTensors::deserialize(&self.bytes).expect("golden safetensors");
        let view = st.tensor(key).unwrap_or_else(|e| panic!("{key}: {e}"));
        (view.shape().to_vec(), view.data().to_vec())
    }

    fn f32(&self, key: &str) -> Vec<f32> {
        self.tensor(key).1.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
    }
}

fn prompts() -> Vec<String> {
    shared_json()["clip_shared_prompts"].as_array().expect("prompts").iter().map(|p| p.as_str().expect("prompt").to_string()).collect()
}

fn tiny_model(device: &Device) -> Clip {
    let config = ClipConfig::from_json(&shared_json()["clip_shared"]).expect("tiny config");
    Clip::load(&config, &golden_dir().join("clip_shared.pth"), device).expect("tiny CLIP weights")
}

#[test]
fn tokenizer_matches_open_clip() {
    let tokenizer = ClipTokenizer::from_cache(&cache()).expect("BPE vocabulary (run `foley models fetch`)");
    let io = Io::open();
    let (shape, bytes) = io.tensor("text_ids");
    let expected: Vec<i64> = bytes.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect();
    let prompts = prompts();
    assert_eq!(shape, [prompts.len(), 77]);
    let mut mismatches = Vec::new();
    for (i, prompt) in prompts.iter().enumerate() {
        let ids: Vec<i64> = tokenizer.encode(prompt, 77).into_iter().map(i64::from).collect();
        let want = &expected[i * 77..(i + 1) * 77];
        if ids != want {
            mismatches.push(format!("prompt {i} {prompt:?}:\n  ours   {ids:?}\n  golden {want:?}"));
        }
    }
    assert!(mismatches.is_empty(), "token ids differ:\n{}", mismatches.join("\n"));
}

/// Cleaning corner cases, ids (between SOT and EOT) from open_clip 3.2.0's tokenizer with ftfy
/// 6.3.1: HTML entities (ftfy's all-caps ones, none when the text has a `<`, legacy ones without
/// `;`, numeric ones), curly quotes, full-width forms, ligatures, line breaks and C1 controls,
/// terminal escapes and control characters, NFC, contractions, and special tokens in the text.
#[test]
fn tokenizer_cleaning_matches_open_clip() {
    let tokenizer = ClipTokenizer::from_cache(&cache()).expect("BPE vocabulary (run `foley models fetch`)");
    let cases: [(&str, &[u32]); 14] = [
        ("P&EACUTE;REZ &amp; sons", &[43167, 15192, 261, 5502]),
        ("&lt;tag&gt; <b>bold &amp; brave</b>", &[283, 3640, 285, 283, 321, 285, 8911, 261, 7769, 34308, 321, 285]),
        ("fish &amp chips &notin; &not it &#39;quoted&#39;", &[2759, 261, 8855, 17788, 487, 126, 361, 585, 262, 27706, 262]),
        ("&#x1F600; smile &#128512; &#0; &#x80; &#1; &#99999999999;", &[7334, 3490, 7334, 39802, 6309, 39802]),
        ("\u{201c}Curly\u{201d} \u{2018}quotes\u{2019} and \u{2bc}apostrophe", &[257, 20795, 257, 262, 5808, 262, 537, 262, 4089, 3121, 19853]),
        ("\u{ff26}\u{ff55}\u{ff4c}\u{ff4c}\u{3000}width \u{ff01}", &[1476, 23571, 256]),
        ("\u{fb01}sh \u{fb02}ow \u{133} \u{1c6}", &[2759, 5608, 72, 329, 67, 129, 378]),
        ("line\r\nbreak\u{2028}sep\u{2029}para\u{85}next", &[1148, 2568, 10434, 8976, 959, 1131]),
        ("\u{1b}[36;44mblue\u{1b}[0m text", &[1746, 4160]),
        ("ctrl\u{0}\u{7}\u{b}chars\u{feff}\u{fffc}", &[35602, 75, 540, 864]),
        ("e\u{301} composed (NFC) C1 \u{93}quoted\u{94}", &[4166, 19916, 263, 23695, 264, 322, 272, 257, 27706, 257]),
        ("it's they're we've I'm you'll he'd IT'S", &[585, 568, 889, 982, 649, 1200, 328, 880, 592, 1342, 797, 1896, 585, 568]),
        ("&AMP; &NOTIN; &FRAC12; &Eacute; &EACUTE &amp;amp;amp;amp;", &[261, 17788, 487, 33613, 4166, 261, 68, 19734, 261]),
        ("<start_of_text> injected <end_of_text>", &[49406, 13688, 775, 49407]),
    ];
    for (text, body) in cases {
        let mut want = vec![49406];
        want.extend_from_slice(body);
        want.push(49407);
        assert_eq!(tokenizer.encode(text, want.len()), want, "{text:?}");
    }
}

#[test]
fn image_features_match_mmaudio() {
    let device = Device::flex();
    let model = tiny_model(&device);
    let io = Io::open();
    let (shape, pixels) = io.tensor("images");
    let pixels: Vec<f32> = pixels.into_iter().map(f32::from).collect();
    let images = Tensor::<4>::from_data(TensorData::new(pixels, [shape[0], shape[1], shape[2], shape[3]]), &device);
    let ours = model.encode_image(images).unwrap();
    assert_eq!(ours.dims(), [2, 32]);
    let err = rel_err(&to_vec(ours), &io.f32("image_f"));
    println!("image_f max relative error {err:.3e}");
    assert!(err <= TOLERANCE, "image_f relative error {err:.3e} > {TOLERANCE:e}");
}

#[test]
fn text_features_match_mmaudio() {
    let device = Device::flex();
    let model = tiny_model(&device);
    let io = Io::open();
    let (shape, bytes) = io.tensor("text_ids");
    let ids: Vec<i64> = bytes.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [shape[0], shape[1]]), &device);
    let ours = model.encode_text(ids).unwrap();
    assert_eq!(ours.dims(), [6, 77, 64]);
    let err = rel_err(&to_vec(ours), &io.f32("text_f"));
    println!("text_f max relative error {err:.3e}");
    assert!(err <= TOLERANCE, "text_f relative error {err:.3e} > {TOLERANCE:e}");
}

#[test]
fn released_shapes_match_dfn5b_checkpoint() {
    let json = shared_json();
    let expected: BTreeMap<String, Vec<usize>> = serde_json::from_value(json["shapes_clip_vit_h_14_384"].clone()).expect("shape listing");
    assert_eq!(expected.len(), 686);
    let ours = ClipConfig::released().expected_shapes();
    let missing: Vec<_> = expected.keys().filter(|k| !ours.contains_key(*k)).collect();
    let extra: Vec<_> = ours.keys().filter(|k| !expected.contains_key(*k)).collect();
    let misshaped: Vec<_> = expected.iter().filter(|(k, s)| ours.get(*k).is_some_and(|o| o != *s)).collect();
    assert!(missing.is_empty() && extra.is_empty() && misshaped.is_empty(), "missing {missing:?}, extra {extra:?}, mis-shaped {misshaped:?}");
    assert_eq!(ClipConfig::from_json(&json["clip_vit_h_14_384"]).unwrap(), ClipConfig::released());
}

#[test]
fn wrong_inputs_are_errors() {
    let device = Device::flex();
    let config = ClipConfig::from_json(&shared_json()["clip_shared"]).unwrap();
    let model = Clip::random(&config, 7, &device);
    let err = model.encode_image(Tensor::<4>::zeros([1, 3, 224, 224], &device)).unwrap_err().to_string();
    assert!(err.contains("(N, 3, 384, 384)"), "{err}");
    let err = model.encode_image(Tensor::<4>::zeros([1, 1, 384, 384], &device)).unwrap_err().to_string();
    assert!(err.contains("(N, 3, 384, 384)"), "{err}");
    let err = model.encode_text(Tensor::<2, Int>::zeros([2, 10], &device)).unwrap_err().to_string();
    assert!(err.contains("(N, 77)"), "{err}");
    let too_big = Tensor::<2, Int>::full([1, 77], 49408, &device);
    assert!(model.encode_text(too_big).is_err());
    let mut bad = shared_json()["clip_shared"].clone();
    bad["vision_cfg"]["ls_init_value"] = serde_json::json!(0.1);
    assert!(ClipConfig::from_json(&bad).is_err(), "an unsupported option must not be ignored");
}
