//! EfficientNet-Lite0 in burn against the package's own PyTorch model (golden from
//! scripts/dev/effnet_golden.py, real frames of ../shared/eval/videos).

mod common;

use burn::prelude::*;
use common::{Golden, cache, rel_err, to_vec, top_k};
use foley_encoders::efficientnet::{EfficientNetLite0, FEATURE_DIM, INPUT_SIZE, NUM_CLASSES, normalize_rgb};

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
        assert!(err < 1e-3, "frame {i}: feature relative error {err}");
        let l = &logits[i * NUM_CLASSES..(i + 1) * NUM_CLASSES];
        let err = rel_err(l, &want_logits[i * NUM_CLASSES..(i + 1) * NUM_CLASSES]);
        assert!(err < 1e-3, "frame {i}: logit relative error {err}");
        let want: Vec<usize> = want_top5[i * 5..(i + 1) * 5].iter().map(|&c| c as usize).collect();
        assert_eq!(top_k(l, 5), want, "frame {i}: top-5 classes");
    }
}
