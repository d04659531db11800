//! Train the sync backbone on foley-sim scenes and measure held-out offset accuracy
//! (development driver for BENCHMARKS.md until `foley train sync` exists).
//!
//! cargo run --release -p foley-encoders --example train_sync -- <objective> <steps> <train clips> <mask ratio> <out.csv> [clips per batch] [windows per clip]
//!
//! Writes the per-step losses to `out.csv`, the trained model to `out.safetensors` (+ `.json`),
//! and prints one result row: objective, steps, train clips, mask ratio, contrastive-score
//! accuracy and mean |offset| (s), VAMA-score accuracy and mean |offset| (s), test clips, seconds.

use burn::prelude::*;
use foley_encoders::sync::{SyncConfig, SyncModel};
use foley_encoders::sync_train::{Objective, OffsetEval, SyncClip, SyncStack, TrainOptions, offset_eval, train, vama_offset_eval};
use foley_encoders::vama::Vama;
use foley_sim::bank::{Bank, default_dir};
use foley_sim::mix::MixConfig;
use foley_sim::render::render_clip;
use foley_sim::scene::SceneConfig;
use std::io::Write;
use std::time::Instant;

fn sim_clips(seeds: std::ops::Range<u64>, duration: f64, bank: &Bank, size: u32) -> Vec<SyncClip> {
    seeds
        .map(|seed| {
            let config = SceneConfig { width: size, height: size, ..SceneConfig::new(seed, duration) };
            let clip = render_clip(&config, bank, &MixConfig::default()).expect("render");
            SyncClip::new(clip.frames, clip.num_frames, size as usize, &clip.waveform)
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let objective = match args.get(1).map(String::as_str).unwrap_or("contrastive") {
        "vama" => Objective::Vama,
        "both" => Objective::Both,
        _ => Objective::Contrastive,
    };
    let steps: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
    let n_train: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(64);
    let mask_ratio: f64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(0.8);
    let out = args.get(5).cloned().unwrap_or_else(|| "/tmp/sync_curve.csv".into());
    let clips_per_batch: usize = args.get(6).and_then(|s| s.parse().ok()).unwrap_or(4);
    let windows_per_clip: usize = args.get(7).and_then(|s| s.parse().ok()).unwrap_or(8);

    let config = SyncConfig::default();
    let bank = Bank::load(&default_dir(), 16_000).expect("sound bank");
    let t0 = Instant::now();
    let train_clips = sim_clips(0..n_train, 4.0, &bank, config.frame_size as u32);
    // Test split seeds (850000..900000): reported development results.
    let test_clips = sim_clips(850_000..850_032, 4.0, &bank, config.frame_size as u32);
    eprintln!("rendered {} + {} clips in {:.1}s", train_clips.len(), test_clips.len(), t0.elapsed().as_secs_f64());

    let device = Device::flex().autodiff();
    let stack = SyncStack { sync: SyncModel::new(&config, &device), vama: Vama::new(&config, &device) };
    let before = offset_eval(&stack.sync, &test_clips, &config, 25, &device);
    eprintln!("untrained: {before:?}");
    let options = TrainOptions { steps, objective, mask_ratio, clips_per_batch, windows_per_clip, ..Default::default() };
    let mut csv = std::fs::File::create(&out).unwrap();
    writeln!(csv, "step,contrastive,accuracy,vama,seconds").unwrap();
    let t0 = Instant::now();
    let stack = train(stack, &train_clips, &config, &options, &device, &mut |log| {
        let f = |v: Option<f64>| v.map(|x| format!("{x:.5}")).unwrap_or_default();
        writeln!(csv, "{},{},{},{},{:.1}", log.step, f(log.contrastive), f(log.contrastive_accuracy), f(log.vama), t0.elapsed().as_secs_f64()).unwrap();
        if log.step % 10 == 0 {
            eprintln!("step {} contrastive {:?} acc {:?} vama {:?} ({:.1}s)", log.step, log.contrastive, log.contrastive_accuracy, log.vama, t0.elapsed().as_secs_f64());
        }
    });
    let seconds = t0.elapsed().as_secs_f64();
    let after = offset_eval(&stack.sync, &test_clips, &config, 25, &device);
    // VAMA alone scores shifts by how well the video explains the hidden audio.
    let by_vama = (objective != Objective::Contrastive).then(|| vama_offset_eval(&stack, &test_clips, &config, 25, mask_ratio, &device));
    eprintln!("trained ({objective:?}, {steps} steps, mask {mask_ratio}) in {seconds:.1}s: contrastive score {after:?}, VAMA score {by_vama:?}");
    let f = |e: Option<OffsetEval>| e.map(|e| format!("{:.4},{:.4}", e.accuracy, e.mean_abs_offset)).unwrap_or(",".into());
    println!("{objective:?},{steps},{n_train},{mask_ratio},{:.4},{:.4},{},{},{seconds:.0}", after.accuracy, after.mean_abs_offset, f(by_vama), after.clips);
    stack.sync.save(&config, &std::path::Path::new(&out).with_extension("safetensors")).expect("save model");
}
