//! EfficientNet-Lite0 in burn against the package's own PyTorch model (golden from
//! scripts/dev/effnet_golden.py, real frames of ../shared/eval/videos).

mod common;

use burn::prelude::*;
use common::{Golden, cache, rel_err, to_vec, top_k};
use foley_encoders::efficientnet::{EfficientNetLite0, FEATURE_DIM, INPUT_SIZE, NUM_CLASSES, normalize_rgb, sample_frames};

#[test]
fn matches_pytorch_on_real_frames() {
    let device = Device::flex();
    let golden = Golden::open("effnet_lite0_golden.safetensors");
    let shape = golden.shape("frames");
    assert_eq!(shape[1..], [INPUT_SIZE, INPUT_SIZE, 3]);
    let n = shape[0];
    let frames = golden.bytes("frames");
    let images: Vec<&[u8]> = frames.chunks_exact(INPUT_SIZE * INPUT_SIZE * 3).collect();

    let model = EfficientNetLite0::from_cache(&cache(), &device).unwrap();
    let features = model.features(normalize_rgb(&images, INPUT_SIZE, &device));
    let logits = to_vec(model.classify(features.clone()));
    let features = to_vec(features);

    let want_features = golden.f32("features");
    let want_logits = golden.f32("logits");
    let want_top5 = golden.i64("top5");
    for i in 0..n {
        let f = &features[i * FEATURE_DIM..(i + 1) * FEATURE_DIM];
        let err = rel_err(f, &want_features[i * FEATURE_DIM..(i + 1) * FEATURE_DIM]);
        eprintln!("frame {i}: feature relative error {err:.2e}");
        assert!(err < 1e-3, "frame {i}: feature relative error {err}");
        let l = &logits[i * NUM_CLASSES..(i + 1) * NUM_CLASSES];
        let err = rel_err(l, &want_logits[i * NUM_CLASSES..(i + 1) * NUM_CLASSES]);
        assert!(err < 1e-3, "frame {i}: logit relative error {err}");
        let want: Vec<usize> = want_top5[i * 5..(i + 1) * 5].iter().map(|&c| c as usize).collect();
        assert_eq!(top_k(l, 5), want, "frame {i}: top-5 classes");
    }
}

/// The production path (foley-media's frame sampler: ffmpeg bicubic resize + centre crop) on the
/// same instants of the same clips: resampling differs slightly from PIL's, so features are
/// close rather than equal, and the classes agree.
#[test]
fn video_frames_through_foley_media_keep_the_classes() {
    let device = Device::flex();
    let golden = Golden::open("effnet_lite0_golden.safetensors");
    let clips: Vec<(String, f64)> = serde_json::from_str(&golden.metadata("clips")).unwrap();
    let model = EfficientNetLite0::from_cache(&cache(), &device).unwrap();
    let want_features = golden.f32("features");
    let want_top5 = golden.i64("top5");
    let videos = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eval/videos");
    for (i, (name, t)) in clips.iter().enumerate() {
        let frames = sample_frames(&videos.join(name), 8.0, *t, Some(0.125)).unwrap();
        assert_eq!(frames.len(), 1);
        let features = model.encode_frames(&frames, 8, &device);
        let logits = to_vec(model.classify(features.clone()));
        let features = to_vec(features);
        let want = &want_features[i * FEATURE_DIM..(i + 1) * FEATURE_DIM];
        let cos = cosine(&features, want);
        let top5 = top_k(&logits, 5);
        eprintln!("{name} @ {t}s: cosine {cos:.4}, top5 {top5:?} (PyTorch on PIL frames {:?})", &want_top5[i * 5..i * 5 + 5]);
        assert!(cos > 0.95, "{name}: cosine {cos}");
        assert_eq!(top5[0] as i64, want_top5[i * 5], "{name}: top-1 class");
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}
