//! The sync backbone and VAMA: token geometry, persistence, and both objectives learning on
//! real foley-sim scenes (rendered in memory).

use burn::prelude::*;
use foley_encoders::sync::{SyncConfig, SyncModel, frame_input};
use foley_encoders::sync_train::{Objective, StepLog, SyncClip, SyncStack, TrainOptions, train};
use foley_encoders::vama::Vama;
use foley_seq::SequenceConfig;
use foley_sim::bank::{Bank, default_dir};
use foley_sim::mix::MixConfig;
use foley_sim::render::render_clip;
use foley_sim::scene::SceneConfig;

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

#[test]
fn clip_tokens_follow_synchformer_geometry_and_survive_save_load() {
    let device = Device::flex();
    let config = SyncConfig::default();
    let model = SyncModel::new(&config, &device).valid();
    let seq = SequenceConfig::mmaudio_16k(8.0);
    let s = config.frame_size;
    // 200 frames of a square moving across a grey background.
    let frames: Vec<Vec<u8>> = (0..seq.sync_num_frames())
        .map(|k| {
            let mut f = vec![128u8; s * s * 3];
            let x = k % (s - 4);
            for y in 10..14 {
                for dx in 0..4 {
                    f[(y * s + x + dx) * 3] = 255;
                }
            }
            f
        })
        .collect();
    let rgb: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    let tokens = model.clip_tokens(frame_input(&rgb, s, &device), &seq);
    assert_eq!(tokens.dims(), [seq.sync_seq_len(), config.dim]);
    assert_eq!(seq.sync_seq_len(), 192);
    // The stem runs once per frame; the tokens are those of every segment encoded on its own.
    let input = frame_input(&rgb, s, &device);
    let segments: Vec<Tensor<4>> =
        (0..seq.sync_num_segments()).map(|k| input.clone().narrow(0, k * seq.sync_step_size, seq.sync_num_frames_per_segment)).collect();
    let per_segment = values(model.video.forward(Tensor::stack(segments, 0)));
    let worst = values(tokens.clone()).iter().zip(&per_segment).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(worst < 1e-5, "shared stem differs from per-segment encoding by {worst}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.safetensors");
    model.save(&config, &path).unwrap();
    let (loaded, loaded_config) = SyncModel::load(&path, &device).unwrap();
    assert_eq!(loaded_config, config);
    let again = loaded.clip_tokens(frame_input(&rgb, s, &device), &seq);
    assert_eq!(values(tokens), values(again));
}

fn sim_clips(seeds: std::ops::Range<u64>, size: usize) -> Vec<SyncClip> {
    let bank = Bank::load(&default_dir(), 16_000).expect("foley-sim sound bank (scripts/setup.sh builds it)");
    seeds
        .map(|seed| {
            let config = SceneConfig { width: size as u32, height: size as u32, ..SceneConfig::new(seed, 3.0) };
            let clip = render_clip(&config, &bank, &MixConfig::default()).unwrap();
            SyncClip::new(clip.frames, clip.num_frames, size, &clip.waveform)
        })
        .collect()
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

#[test]
fn contrastive_and_vama_objectives_learn_on_foley_sim() {
    let config = SyncConfig::default();
    let clips = sim_clips(0..4, config.frame_size);
    let device = Device::flex().autodiff();
    for objective in [Objective::Contrastive, Objective::Vama] {
        // Seeded initialization: unseeded, some draws made the contrastive loss fall by < 20 %.
        device.seed(0);
        let stack = SyncStack { sync: SyncModel::new(&config, &device), vama: Vama::new(&config, &device) };
        let options =
            TrainOptions { steps: 40, clips_per_batch: 4, windows_per_clip: 4, learning_rate: 1e-3, warmup_steps: 5, objective, ..Default::default() };
        let mut losses = Vec::new();
        train(stack, &clips, &config, &options, &device, &mut |log: &StepLog| {
            losses.push(log.contrastive.or(log.vama).unwrap());
        });
        let (first, last) = (mean(&losses[..8]), mean(&losses[losses.len() - 8..]));
        eprintln!("{objective:?}: loss {first:.3} -> {last:.3}");
        assert!(last < 0.8 * first, "{objective:?}: loss {first} -> {last}");
    }
}
