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
