//! `cargo bench -p foley-encoders --bench encoders [-- SECONDS REPS [ENCODER]]`: the encoders of `foley
//! generate` on one clip, timed as generate runs them (BENCHMARKS.md, Encoders): EfficientNet-Lite0
//! (pretrained, from the model cache) on the clip's 8 fps 224x224 frames, the shipped sync
//! backbone on its 25 fps frames, and MiniLM on a batch of captions (ENCODER: `effnet`, `sync` or
//! `minilm` for one of them, e.g. under a profiler). Frames are seeded noise: the cost does not
//! depend on their content.

use std::time::Instant;

use burn::tensor::Device;
use foley_encoders::ModelCache;
use foley_encoders::bert::MiniLm;
use foley_encoders::efficientnet::{EfficientNetLite0, INPUT_SIZE, normalize_rgb};
use foley_encoders::sync::{SyncModel, default_model_path, frame_input};
use foley_seq::SequenceConfig;

/// Frames per EfficientNet forward pass, as foley-gen batches them.
const SEMANTIC_BATCH: usize = 16;

fn noise_frames(n: usize, side: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut state = seed | 1;
    (0..n)
        .map(|_| {
            (0..3 * side * side)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 56) as u8
                })
                .collect()
        })
        .collect()
}

fn median_min(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0])
}

fn time(reps: usize, mut f: impl FnMut()) -> (f64, f64) {
    f(); // warm-up: first-touch allocations, gemm packing buffers
    median_min(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn main() {
    // As `foley generate` runs the encoders.
    foley_kernels::heap::keep_freed_memory(true);
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let seconds: f64 = args.first().map(|a| a.parse().expect("SECONDS")).unwrap_or(8.0);
    let reps: usize = args.get(1).map(|a| a.parse().expect("REPS")).unwrap_or(5);
    let only = args.get(2).map(String::as_str);
    let runs = |name: &str| only.is_none_or(|o| o == name);
    let seq = SequenceConfig::mmaudio_16k(seconds);
    let device = Device::flex();

    let cache = ModelCache::from_env().expect("model cache");
    if runs("effnet") {
        effnet(&cache, &seq, reps, &device);
    }
    if runs("sync") {
        sync(&seq, reps, &device);
    }
    if runs("minilm") {
        minilm(&cache, reps, &device);
    }
}

fn effnet(cache: &ModelCache, seq: &SequenceConfig, reps: usize, device: &Device) {
    let effnet = EfficientNetLite0::from_cache(cache, device).expect("EfficientNet-Lite0 (run `foley models fetch`)");
    let semantic = noise_frames(seq.clip_seq_len(), INPUT_SIZE, 1);
    let (med, min) = time(reps, || {
        for chunk in semantic.chunks(SEMANTIC_BATCH) {
            let images: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
            let f = effnet.features(normalize_rgb(&images, INPUT_SIZE, device));
            std::hint::black_box(f.into_data());
        }
    });
    println!("efficientnet-lite0 {} frames {INPUT_SIZE}x{INPUT_SIZE} (batch {SEMANTIC_BATCH}): median {med:.3} s, min {min:.3} s", semantic.len());
}

fn sync(seq: &SequenceConfig, reps: usize, device: &Device) {
    let (sync, config) = SyncModel::load(&default_model_path(), device).expect("sync backbone");
    let frames = noise_frames(seq.sync_frames_read(), config.frame_size, 2);
    let (med, min) = time(reps, || {
        let rgb: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let t = sync.clip_tokens(frame_input(&rgb, config.frame_size, device), seq);
        std::hint::black_box(t.into_data());
    });
    println!("sync backbone {} frames {s}x{s} ({} segments): median {med:.3} s, min {min:.3} s", frames.len(), seq.sync_num_segments(), s = config.frame_size);
}

fn minilm(cache: &ModelCache, reps: usize, device: &Device) {
    let minilm = MiniLm::from_cache(cache, device).expect("MiniLM (run `foley models fetch`)");
    let captions: Vec<String> = (0..32).map(|i| format!("a wooden door slams shut {i} times while rain falls on the roof")).collect();
    let refs: Vec<&str> = captions.iter().map(String::as_str).collect();
    let (med, min) = time(reps, || {
        std::hint::black_box(minilm.encode(&refs).expect("encode").embedding.into_data());
    });
    println!("all-minilm-l6-v2 {} captions: median {med:.3} s, min {min:.3} s", refs.len());
}
