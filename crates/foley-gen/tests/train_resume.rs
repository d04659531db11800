//! Training on a tiny configuration: the loss falls, checkpoints resume to the identical
//! weights, and an exported generator loads back.

use std::path::Path;

use burn::tensor::{DType, Device};
use foley_flow::noise::standard_normal;
use foley_gen::checkpoint::flat_weights;
use foley_gen::config::{DataConfig, MaskProbs, ModelConfig, RecipeConfig, TextMode, token_channels};
use foley_gen::data::{Clip, Dataset, MelStats};
use foley_gen::train::Trainer;
use foley_gen::{Generator, TrainConfig};

fn config(out_dir: &Path, steps: usize) -> TrainConfig {
    TrainConfig {
        out_dir: out_dir.to_path_buf(),
        data: DataConfig {
            shards: vec![out_dir.join("unused")],
            duration: 2.0,
            text: TextMode::Caption,
            text_seq_len: 4,
            positional_channels: 4,
            concat_prob: 0.5,
            alignment_scores: None,
            min_alignment: None,
            standardize_video: false,
            envelope: false,
        },
        model: ModelConfig {
            hidden_dim: 32,
            depth: 2,
            fused_depth: 1,
            num_heads: 2,
            mlp_ratio: 2.0,
            audio_self_attn: false,
            aligned_video: true,
            init: Default::default(),
        },
        train: RecipeConfig {
            steps,
            batch_size: 4,
            learning_rate: 3e-3,
            warmup_steps: 2,
            weight_decay: 0.01,
            grad_clip: 1.0,
            adam_beta2: 0.99,
            ema_decay: 0.9,
            bootstrap_ema: true,
            seed: 1,
            checkpoint_every: 3,
            shortcut_fraction: 0.5,
            shortcut_levels: 3,
            video_dropout: 0.1,
            text_dropout: 0.1,
            mask: MaskProbs { none: 0.25, spans: 0.25, prefix: 0.25, suffix: 0.25 },
            init_clip_proj: None,
        },
    }
}

/// Synthetic clips with the right shapes (the loop, not the data, is under test).
fn dataset(config: &TrainConfig) -> Dataset {
    dataset_with(config, |i, n, c| standard_normal(30 + i, n * c).iter().map(|v| v - 4.0).collect())
}

fn dataset_with(config: &TrainConfig, mel: impl Fn(u64, usize, usize) -> Vec<f32>) -> Dataset {
    let seq = config.sequence();
    let (n, c) = (seq.latent_seq_len(), token_channels(&seq));
    let clips: Vec<Clip> = (0..6u64)
        .map(|i| Clip {
            id: format!("clip{i}"),
            semantic: standard_normal(10 + i, seq.clip_seq_len() * 1280),
            sync: standard_normal(20 + i, seq.sync_seq_len() * 8),
            mel: mel(i, n, c),
            text: (i % 2 == 0).then(|| standard_normal(40 + i, 4 * 384)),
        })
        .collect();
    let stats = MelStats::of(&clips, seq.mel.n_mels);
    Dataset { clips, seq, sync_dim: 8, stats, video_stats: None, envelope_stats: None, empty_text: vec![0.0; 4 * 384], data: config.data.clone() }
}

#[test]
fn interrupted_and_resumed_run_matches_the_uninterrupted_one() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (dir.path().join("a"), dir.path().join("b"));

    let ca = config(&a_dir, 6);
    let mut a = Trainer::new(ca.clone(), dataset(&ca), &device).unwrap();
    let mut losses = Vec::new();
    a.run(None, &mut |log| losses.push(log.loss)).unwrap();
    assert_eq!(a.state.step, 6);
    assert!(losses.iter().all(|l| l.is_finite()));

    // "Killed" after 4 steps: the last checkpoint is step 3; step 4 is lost and redone.
    let cb = config(&b_dir, 6);
    {
        let mut b = Trainer::new(cb.clone(), dataset(&cb), &device).unwrap();
        b.run(Some(3), &mut |_| {}).unwrap();
        b.step().unwrap();
        assert_eq!(b.state.step, 4);
    }
    let mut b = Trainer::new(cb.clone(), dataset(&cb), &device).unwrap();
    assert_eq!(b.state.step, 3, "resumes from the last complete checkpoint");
    b.run(None, &mut |_| {}).unwrap();
    assert_eq!(b.state.step, 6);
    assert_eq!(a.state.losses, b.state.losses);
    // A run stopped on purpose (`--stop-at`) between checkpoints is checkpointed where it stops.
    let cc = config(&dir.path().join("c"), 6);
    Trainer::new(cc.clone(), dataset(&cc), &device).unwrap().run(Some(5), &mut |_| {}).unwrap();
    assert_eq!(Trainer::new(cc.clone(), dataset(&cc), &device).unwrap().state.step, 5);
    assert_eq!(a.weights(), b.weights(), "resumed weights differ");
    let ckpts: Vec<_> = std::fs::read_dir(b_dir.join("checkpoints")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(ckpts.iter().all(|n| !n.starts_with(".tmp")), "{ckpts:?}");

    // Export (EMA, f32) and load back.
    let path = dir.path().join("gen.safetensors");
    a.export(&path, DType::F32, "# test").unwrap();
    let loaded = Generator::load(&path, &device).unwrap();
    let ema = a.ema_generator("# test");
    assert_eq!(flat_weights(&loaded.net), flat_weights(&ema.net));
    assert_ne!(flat_weights(&loaded.net), a.weights(), "the export is the EMA, not the raw weights");
    assert_eq!(loaded.meta.training.as_ref().unwrap().steps, 6);
}

#[test]
fn loss_falls_on_a_fixed_batch_of_clips() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), 60);
    c.train.checkpoint_every = 1000;
    c.data.concat_prob = 0.0;
    // Learnable targets: a smooth spectral shape per clip.
    let data = dataset_with(&c, |i, n, ch| (0..n * ch).map(|k| ((k % ch) as f32 * 0.15 + i as f32).sin() * 2.0 - 4.0).collect());
    let mut t = Trainer::new(c.clone(), data, &device).unwrap();
    let mut losses = Vec::new();
    t.run(None, &mut |log| losses.push(log.loss)).unwrap();
    let head: f64 = losses[..10].iter().sum::<f64>() / 10.0;
    let tail: f64 = losses[50..].iter().sum::<f64>() / 10.0;
    assert!(tail < 0.8 * head, "loss {head} -> {tail}");
}
