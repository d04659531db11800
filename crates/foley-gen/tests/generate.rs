//! The generation pipeline on the shipped demo video with the shipped generator: seeded
//! determinism, audio-prompt frames kept, exact output length, long inputs refused.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use foley_encoders::ModelCache;
use foley_gen::Generator;
use foley_gen::config::token_channels;
use foley_gen::generate::{
    Encoders, KnownAudio, Request, SampleOptions, Sampler, Window, default_model_path, default_sync_model_path, generate_window, plan_window, sample_tokens,
    video_features,
};
use foley_seq::SequenceConfig;

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/demo/demo.mp4")
}

fn load() -> (Generator, Encoders) {
    let device = Device::flex();
    let generator = Generator::load(&default_model_path(), &device).expect("shipped generator");
    let enc = Encoders::load(&ModelCache::from_env().unwrap(), &default_sync_model_path(), &device, true).expect("encoders (run `foley models fetch`)");
    (generator, enc)
}

#[test]
fn demo_generation_is_seeded_keeps_prompt_frames_and_has_the_window_length() {
    let (mut generator, enc) = load();
    let one_step = |seed| SampleOptions { sampler: Sampler::Shortcut(1), cfg: 2.0, seed, use_video: true };
    let window = Window { start: 1.0, duration: 2.5 };
    let video = demo();
    let request = |seed| Request { video: &video, window, prompt: None, negative: None, options: one_step(seed) };
    let (wave_a, tokens_a) = generate_window(&mut generator, &enc, &request(7), &mut |_, _, _| {}).unwrap();
    let (wave_b, tokens_b) = generate_window(&mut generator, &enc, &request(7), &mut |_, _, _| {}).unwrap();
    let (_, tokens_c) = generate_window(&mut generator, &enc, &request(8), &mut |_, _, _| {}).unwrap();
    assert_eq!(wave_a.len(), 40_000, "2.5 s at 16 kHz");
    assert_eq!(wave_a, wave_b);
    assert_eq!(tokens_a, tokens_b);
    assert_ne!(tokens_a, tokens_c, "another seed, another sample");
    assert!(wave_a.iter().all(|v| v.is_finite()) && wave_a.iter().any(|v| v.abs() > 1e-4));

    // An 8 s window with the first 2 s of audio given: those frames come back unchanged.
    let seq = SequenceConfig::mmaudio_16k(8.0);
    let (n, c) = (seq.latent_seq_len(), token_channels(&seq));
    let features = video_features(&enc, &demo(), 0.0, &seq, &mut |_| {}).unwrap();
    let given: Vec<f32> = (0..n * c).map(|i| -3.0 + (i % 7) as f32 * 0.25).collect();
    let mask: Vec<f32> = (0..n).map(|k| (k < 62) as u8 as f32).collect();
    let known = KnownAudio { tokens: given.clone(), mask };
    let tokens = sample_tokens(&mut generator, &seq, &features, None, None, Some(&known), &one_step(3), &mut |_, _| {}).unwrap();
    assert_eq!(&tokens[..62 * c], &given[..62 * c]);
    assert_ne!(&tokens[62 * c..], &given[62 * c..]);
}

#[test]
fn the_part_to_generate_is_checked_against_the_video() {
    let video = Path::new("clips/long.mp4");
    // Any length: long-form generation covers it.
    assert_eq!(plan_window(video, 600.0, 0.0, None).unwrap(), Window { start: 0.0, duration: 600.0 });
    assert_eq!(plan_window(video, 12.0, 11.5, None).unwrap(), Window { start: 11.5, duration: 0.5 });
    let err = plan_window(video, 12.0, 13.0, None).unwrap_err().to_string();
    assert!(err.contains("clips/long.mp4") && err.contains("past the end"), "{err}");
    assert!(plan_window(video, 12.0, 4.0, Some(9.0)).unwrap_err().to_string().contains("goes past the end"));
    assert_eq!(plan_window(video, 12.0, 4.0, None).unwrap(), Window { start: 4.0, duration: 8.0 });
    assert_eq!(plan_window(video, 12.0, 2.0, Some(3.0)).unwrap(), Window { start: 2.0, duration: 3.0 });
    assert!(plan_window(video, 12.0, -1.0, None).is_err() && plan_window(video, 12.0, 0.0, Some(0.0)).is_err());
}

/// Onsets of `assets/demo/events.json`, seconds.
fn demo_onsets() -> Vec<f64> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/demo/events.json")).unwrap();
    let events: serde_json::Value = serde_json::from_str(&text).unwrap();
    events["events"].as_array().unwrap().iter().map(|e| e["onset"].as_f64().unwrap()).collect()
}

#[test]
fn the_shipped_envelope_predictor_rises_at_the_demo_events_and_is_required() {
    let (generator, enc) = load();
    let seq = SequenceConfig::mmaudio_16k(8.0);
    let features = video_features(&enc, &demo(), 0.0, &seq, &mut |_| {}).unwrap();
    let env = generator.predicted_envelope(&features).unwrap();
    assert_eq!(env.len(), seq.sync_seq_len() * foley_gen::envelope::ENVELOPE_DIM);
    // Predicted onset strength (standardized) of the sync tokens holding a true onset vs all.
    let rate = seq.sync_token_rate();
    let onset_tokens: Vec<usize> = demo_onsets().iter().map(|t| (t * rate) as usize).collect();
    let at_onsets = onset_tokens.iter().map(|&i| env[i * 2 + 1]).sum::<f32>() / onset_tokens.len() as f32;
    let overall = env.chunks(2).map(|r| r[1]).sum::<f32>() / seq.sync_seq_len() as f32;
    assert!(at_onsets > overall + 0.5, "onset strength at the demo's events {at_onsets:.2} vs {overall:.2} overall");

    // Weights without their predictor: a clear error naming the command that trains one.
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("gen.safetensors");
    std::fs::copy(default_model_path(), &weights).unwrap();
    std::fs::copy(foley_gen::model::meta_path(&default_model_path()), foley_gen::model::meta_path(&weights)).unwrap();
    let mut bare = Generator::load(&weights, &Device::flex()).unwrap();
    let options = SampleOptions { sampler: Sampler::Shortcut(1), cfg: 1.0, seed: 0, use_video: true };
    let err = sample_tokens(&mut bare, &seq, &features, None, None, None, &options, &mut |_, _| {}).unwrap_err().to_string();
    assert!(err.contains("foley train envelope"), "{err}");
}
