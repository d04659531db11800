//! Synchformer's visual branch against MMAudio's official code (goldens in
//! `shared/golden/mmaudio_ext`, see the shared README).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use foley_encoders::synchformer::{Synchformer, SynchformerConfig, segment_count};
use foley_weights::{RawTensor, StateDict};
use safetensors::SafeTensors;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/golden/mmaudio_ext")
}

fn shared_json() -> serde_json::Value {
    let path = golden_dir().join("mmaudio_ext_shared.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("golden json")
}

fn released_shapes() -> BTreeMap<String, Vec<usize>> {
    serde_json::from_value(shared_json()["shapes_synchformer"].clone()).expect("shapes_synchformer")
}

/// max |a - b| / (max |b| + 1e-6)
fn relative_error(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    let diff = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    let scale = b.iter().map(|y| y.abs()).fold(0.0f32, f32::max);
    diff / (scale + 1e-6)
}

#[test]
fn matches_mmaudio_encode_video_with_sync() {
    let config = SynchformerConfig::from_json(&shared_json()["synchformer_shared"]).unwrap();
    let device = Device::flex();
    let model = Synchformer::load(&config, &golden_dir().join("synchformer_shared.pth"), &device).unwrap();

    let bytes = std::fs::read(golden_dir().join("synchformer_shared.io.safetensors")).unwrap();
    let io = SafeTensors::deserialize(&bytes).unwrap();
    let frames = io.tensor("frames").unwrap();
    let shape: [usize; 4] = frames.shape().try_into().unwrap();
    let pixels: Vec<f32> = frames.data().iter().map(|&v| v as f32).collect();
    let expected = io.tensor("sync_f").unwrap();
    let expected_data: Vec<f32> = expected.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();

    let out = model.encode_frames(Tensor::<4>::from_data(TensorData::new(pixels, shape), &device)).unwrap();
    assert_eq!(out.dims().to_vec(), expected.shape().to_vec());
    let err = relative_error(&out.into_data().try_to_vec::<f32>().unwrap(), &expected_data);
    println!("sync_f: max relative error {err:.3e}");
    assert!(err <= 1e-4, "sync_f: relative error {err:.3e} > 1e-4");
}

#[test]
fn released_keys_are_exactly_the_checkpoint_visual_branch() {
    let config = SynchformerConfig::released();
    let released = released_shapes();
    let visual: BTreeMap<String, Vec<usize>> =
        released.iter().filter(|(k, _)| k.starts_with("vfeat_extractor.")).map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(config.expected_shapes(), visual);

    // The whole checkpoint's listing, with the audio branch and heads the loader must ignore.
    let source = Path::new("synchformer_state_dict.pth");
    let mut found = released.clone();
    found.insert("afeat_extractor.patch_embed.proj.weight".into(), vec![768, 1, 16, 16]);
    found.insert("transformer.blocks.0.attn.qkv.weight".into(), vec![2304, 768]);
    config.check_keys(&found, source).unwrap();

    let mut missing = found.clone();
    missing.remove("vfeat_extractor.blocks.11.norm3.bias");
    let err = config.check_keys(&missing, source).unwrap_err().to_string();
    assert!(err.contains("blocks.11.norm3.bias"), "{err}");

    let mut misshaped = found.clone();
    misshaped.insert("vfeat_extractor.temp_embed".into(), vec![1, 16, 768]);
    assert!(config.check_keys(&misshaped, source).is_err());

    let mut extra = found;
    extra.insert("vfeat_extractor.temp_attn_agg.cls_token".into(), vec![1, 1, 768]);
    assert!(config.check_keys(&extra, source).is_err());

    // The tiny configuration is not the released one.
    let tiny = SynchformerConfig::from_json(&shared_json()["synchformer_shared"]).unwrap();
    assert!(tiny.check_keys(&released, source).is_err());
}

#[test]
fn loader_reports_a_wrong_state_dict() {
    let config = SynchformerConfig { embed_dim: 8, depth: 1, num_heads: 2 };
    let mut dict = StateDict::default();
    for (key, shape) in config.expected_shapes() {
        let n = shape.iter().product();
        dict.tensors.insert(key, RawTensor { shape, data: vec![0.0; n] });
    }
    dict.tensors.insert("afeat_extractor.unused".into(), RawTensor { shape: vec![2], data: vec![0.0; 2] });
    let device = Device::flex();
    let source = Path::new("tiny.pth");
    assert!(Synchformer::from_state_dict(&config, dict.clone(), source, &device).is_ok());
    dict.tensors.remove("vfeat_extractor.norm.weight");
    let err = Synchformer::from_state_dict(&config, dict, source, &device).unwrap_err().to_string();
    assert!(err.contains("tiny.pth") && err.contains("vfeat_extractor.norm.weight"), "{err}");
}

#[test]
fn wrong_frames_are_errors() {
    let config = SynchformerConfig { embed_dim: 8, depth: 1, num_heads: 2 };
    let device = Device::flex();
    let model = Synchformer::random(&config, 7, &device);
    let too_few = model.encode_frames(Tensor::zeros([15, 3, 224, 224], &device)).unwrap_err().to_string();
    assert!(too_few.contains("16 frames"), "{too_few}");
    let wrong_size = model.encode_frames(Tensor::zeros([16, 3, 224, 200], &device)).unwrap_err().to_string();
    assert!(wrong_size.contains("(16, 3, 224, 200)"), "{wrong_size}");
    assert!(model.encode_frames(Tensor::zeros([16, 1, 224, 224], &device)).is_err());
    // 17 frames: one segment, the last frame unused.
    assert_eq!(model.encode_frames(Tensor::zeros([17, 3, 224, 224], &device)).unwrap().dims(), [1, 8, 8]);
    assert!(SynchformerConfig::from_json(&serde_json::json!({"embed_dim": 10, "depth": 1, "num_heads": 3})).is_err());
    assert!(SynchformerConfig::from_json(&serde_json::json!({"embed_dim": 8, "depth": 1})).is_err());
}

#[test]
fn segment_count_follows_mmaudio() {
    // encode_video_with_sync: num_segments = (t - 16) // 8 + 1 (Python floor division).
    let mmaudio = |t: i64| ((t - 16).div_euclid(8) + 1).max(0) as usize;
    for t in [0, 1, 8, 15, 16, 17, 23, 24, 25, 31, 32, 200, 201, 250] {
        assert_eq!(segment_count(t as usize), mmaudio(t), "{t} frames");
    }
    assert_eq!(segment_count(24), 2);
    assert_eq!(segment_count(200), 24);
}
