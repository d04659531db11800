//! Encoder throughput on this machine, for BENCHMARKS.md: EfficientNet-Lite0 on 8 fps frames of
//! a real clip, MiniLM on a batch of captions, the sync video encoder on 8 s of 25 fps frames.
//!
//! cargo run --release -p foley-encoders --example bench_encoders

use std::time::Instant;

use burn::prelude::*;
use foley_encoders::ModelCache;
use foley_encoders::bert::MiniLm;
use foley_encoders::efficientnet::{EfficientNetLite0, sample_frames};
use foley_encoders::sync::{SyncConfig, SyncModel, frame_input};
use foley_seq::SequenceConfig;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> f64 {
    f(); // warm-up
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn main() {
    let device = Device::flex();
    let cache = ModelCache::from_env().unwrap();
    let video =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eval/videos/v-iashin_SpecVQGAN__data__vas__videos__dog__video_02677.mp4");

    let t = Instant::now();
    let frames = sample_frames(&video, 8.0, 0.0, Some(6.0)).unwrap();
    let decode = t.elapsed().as_secs_f64();
    let effnet = EfficientNetLite0::from_cache(&cache, &device).unwrap();
    let s = time(3, || effnet.encode_frames(&frames, 16, &device).into_data());
    println!(
        "efficientnet-lite0: {} frames (224x224) in {:.3}s = {:.1} ms/frame (batch 16); frame sampling {:.2}s",
        frames.len(),
        s,
        1e3 * s / frames.len() as f64,
        decode
    );

    let minilm = MiniLm::from_cache(&cache, &device).unwrap();
    let captions: Vec<String> = (0..32).map(|i| format!("a wooden door slams shut {i} times while rain falls on the roof")).collect();
    let refs: Vec<&str> = captions.iter().map(String::as_str).collect();
    let s = time(3, || minilm.encode(&refs).unwrap().embedding.into_data());
    println!("all-minilm-l6-v2: 32 captions in {:.3}s = {:.1} ms/caption", s, 1e3 * s / 32.0);

    let config = SyncConfig::default();
    let sync = SyncModel::new(&config, &device).valid();
    let seq = SequenceConfig::mmaudio_16k(8.0);
    let raw: Vec<Vec<u8>> = (0..seq.sync_num_frames()).map(|k| vec![(k % 255) as u8; config.frame_size * config.frame_size * 3]).collect();
    let rgb: Vec<&[u8]> = raw.iter().map(Vec::as_slice).collect();
    let s = time(3, || sync.clip_tokens(frame_input(&rgb, config.frame_size, &device), &seq).into_data());
    println!("sync video encoder: 8 s clip ({} frames -> {} tokens) in {:.3}s", rgb.len(), seq.sync_seq_len(), s);
}
