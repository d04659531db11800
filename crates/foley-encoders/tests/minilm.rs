//! all-MiniLM-L6-v2 in burn + `tokenizers` against sentence-transformers (golden from
//! scripts/dev/minilm_golden.py).

mod common;

use burn::prelude::*;
use common::{Golden, cache, rel_err, to_vec};
use foley_encoders::bert::{HIDDEN_DIM, MiniLm};

#[test]
fn matches_sentence_transformers() {
    let device = Device::flex();
    let golden = Golden::open("minilm_golden.safetensors");
    let texts: Vec<String> = serde_json::from_str(&golden.metadata("texts")).unwrap();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let model = MiniLm::from_cache(&cache(), &device).unwrap();

    let ids = model.tokenize(&texts).unwrap();
    for (i, sentence) in ids.iter().enumerate() {
        let want: Vec<u32> = golden.i64(&format!("ids_{i}")).iter().map(|&x| x as u32).collect();
        assert_eq!(sentence, &want, "token ids of sentence {i}");
    }

    let out = model.encode(&texts).unwrap();
    let [b, len, d] = out.tokens.dims();
    assert_eq!((b, d), (texts.len(), HIDDEN_DIM));
    let tokens = to_vec(out.tokens.clone());
    for (i, &n) in out.lengths.iter().enumerate() {
        let key = format!("tokens_{i}");
        if !golden.has(&key) {
            continue;
        }
        let got = &tokens[i * len * d..(i * len + n) * d];
        let err = rel_err(got, &golden.f32(&key));
        assert!(err < 1e-4, "token states of sentence {i}: relative error {err}");
    }
    let err = rel_err(&to_vec(out.mean_pooled), &golden.f32("mean_pooled"));
    assert!(err < 1e-4, "mean pooled: relative error {err}");
    let err = rel_err(&to_vec(out.embedding), &golden.f32("embedding"));
    eprintln!("embedding relative error {err:.2e}");
    assert!(err < 1e-4, "embedding: relative error {err}");
}

#[test]
fn batching_does_not_change_a_sentence() {
    let device = Device::flex();
    let model = MiniLm::from_cache(&cache(), &device).unwrap();
    let alone = to_vec(model.encode(&["glass shattering"]).unwrap().embedding);
    let padded = model.encode(&["glass shattering", "a much longer sentence about waves crashing on rocks"]).unwrap();
    let in_batch = to_vec(padded.embedding.narrow(0, 0, 1));
    assert!(rel_err(&in_batch, &alone) < 1e-5);
}
