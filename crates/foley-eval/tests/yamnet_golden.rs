//! YAMNet against the TF-Lite interpreter's outputs (`yamnet_golden.safetensors`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use foley_eval::yamnet::{Precision, Yamnet};

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/assets/yamnet")
}

fn golden() -> HashMap<String, Vec<f32>> {
    let bytes = std::fs::read(assets().join("yamnet_golden.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(k, v)| {
            let data = v.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            (k, data)
        })
        .collect()
}

/// max |a - b| / max |b|
fn rel_err(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let num = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    num / b.iter().fold(0f32, |m, y| m.max(y.abs())).max(1e-12)
}

fn top_k(x: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[b].total_cmp(&x[a]));
    idx.truncate(k);
    idx
}

fn run(precision: Precision) -> Vec<(String, [f32; 3], bool)> {
    let device = Device::flex();
    let model = Yamnet::load(&assets(), precision, &device).unwrap();
    let g = golden();
    let mut out = Vec::new();
    for name in ["sine440", "noise", "sfx"] {
        let input = g[&format!("{name}.input")].clone();
        let n = input.len();
        let y = model.forward(Tensor::<2>::from_data(TensorData::new(input, [1, n]), &device));
        let scores = y.scores.into_data().try_to_vec::<f32>().unwrap();
        let emb = y.embedding.into_data().try_to_vec::<f32>().unwrap();
        let mel = y.log_mel.into_data().try_to_vec::<f32>().unwrap();
        let errs =
            [rel_err(&scores, &g[&format!("{name}.scores")]), rel_err(&emb, &g[&format!("{name}.embedding")]), rel_err(&mel, &g[&format!("{name}.log_mel")])];
        let same_top5 = top_k(&scores, 5) == top_k(&g[&format!("{name}.scores")], 5);
        println!("{precision:?} {name}: rel err scores {:.2e} embedding {:.2e} log-mel {:.2e}, top-5 equal {same_top5}", errs[0], errs[1], errs[2]);
        out.push((name.to_string(), errs, same_top5));
    }
    out
}

#[test]
fn hybrid_matches_tflite_golden() {
    for (name, errs, same_top5) in run(Precision::TfliteHybrid) {
        assert!(errs.iter().all(|e| *e <= 1e-3), "{name}: relative errors {errs:?}");
        assert!(same_top5, "{name}: top-5 classes differ");
    }
}

#[test]
fn float_path_lands_near_golden() {
    for (name, errs, _) in run(Precision::Float) {
        println!("float path {name}: {errs:?}");
    }
}
