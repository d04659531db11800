//! Generator benchmark on foley-sim test scenes (BENCHMARKS.md `## Generator`).
//!
//!   cargo run --release -p foley-gen --example gen_eval -- TEST_DIR TRAIN_DIR MODEL OUT_DIR
//!
//! TEST_DIR / TRAIN_DIR are `scripts/dev/gen_data.sh` outputs (`shards/` + `scenes/<seed>/`).
//! For every sampler setting, each test clip's soundtrack is generated from its precomputed
//! video features (no prompt, seed = clip index), turned into a waveform by Griffin-Lim (or by
//! foley's vocoder: `GEN_EVAL_VOCODER=models/vocoder/vocoder.safetensors`), and scored against the
//! scene's events.json:
//! * onset P/R/F1 within ±40 ms (one-to-one matching) of the onsets of transient events,
//!   detected on the waveform with foley-eval's librosa-style detector (16 kHz, hop 256);
//! * mean |offset| between each true onset and the nearest detected onset within ±100 ms;
//! * class accuracy: at each transient event, the log-mel rise (160 ms after the onset minus
//!   160 ms before) is assigned to the nearest (cosine) class template; templates are the mean
//!   rises of each class over the TRAIN scenes' true mels.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use burn::tensor::{Device, Tensor, TensorData};
use foley_eval::metrics::onsets::{average_precision, match_count};
use foley_eval::onset::{OnsetConfig, OnsetDetector};
use foley_flow::ExtraInputs;
use foley_gen::Generator;
use foley_gen::config::token_channels;
use foley_gen::data::{Clip, load_clips, tokens_to_mel};
use foley_gen::envelope::{envelope_of_tokens, r_squared};
use foley_gen::generate::{MelDecoder, SampleOptions, Sampler, VideoFeatures, sample_tokens, tokens_mel};
use foley_seq::SequenceConfig;

const TOL: f64 = 0.04;
const NEAR: f64 = 0.1;
const RISE_S: f64 = 0.16;

#[derive(serde::Deserialize)]
struct Event {
    onset: f64,
    class: String,
}

#[derive(serde::Deserialize)]
struct Events {
    events: Vec<Event>,
}

const CONTINUOUS: [&str; 3] = ["fire", "cart", "water"];

fn transient_events(scene_dir: &Path, duration: f64) -> Result<Vec<(f64, String)>> {
    let path = scene_dir.join("events.json");
    let e: Events = serde_json::from_slice(&std::fs::read(&path).with_context(|| format!("{}", path.display()))?)?;
    let mut v: Vec<(f64, String)> =
        e.events.into_iter().filter(|e| !CONTINUOUS.contains(&e.class.as_str()) && e.onset < duration).map(|e| (e.onset, e.class)).collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(v)
}

fn scene_dir(root: &Path, id: &str) -> PathBuf {
    // ids are `scenes/<seed>/scene`
    root.join(Path::new(id).parent().unwrap())
}

/// Spectro-temporal rise at `t`: the log-mel of the `RISE_S` after `t` (frame by frame) minus
/// the mean of the `RISE_S` before, each frame centred over its bins (a shape, not a level).
fn rise(mel: &[f32], n_mels: usize, n_frames: usize, fps: f64, t: f64) -> Vec<f32> {
    let f0 = (t * fps).round() as isize;
    let w = (RISE_S * fps).round() as isize;
    let at = |m: usize, f: isize| mel[m * n_frames + f.clamp(0, n_frames as isize - 1) as usize];
    let before: Vec<f32> = (0..n_mels).map(|m| (f0 - w..f0).map(|f| at(m, f)).sum::<f32>() / w as f32).collect();
    let mut out = Vec::with_capacity(n_mels * w as usize);
    for f in f0..f0 + w {
        let frame: Vec<f32> = (0..n_mels).map(|m| at(m, f) - before[m]).collect();
        let mean = frame.iter().sum::<f32>() / n_mels as f32;
        out.extend(frame.iter().map(|v| v - mean));
    }
    out
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb).max(1e-9)
}

/// Does the network use its conditions? Mean flow-matching loss (no audio given) over the test
/// clips at t = 0.2, 0.4, 0.6, 0.8 with each clip's own video features, with the next clip's,
/// with the video dropped to the learned empty features (all three with the empty text), and
/// with its own video and caption (clips with a caption); the same noise for all.
fn condition_losses(generator: &mut Generator, seq: &SequenceConfig, test: &[Clip], videos: &[VideoFeatures]) -> Result<[f64; 4]> {
    let device = generator.net.device();
    let (n, c) = (seq.latent_seq_len(), token_channels(seq));
    generator.net.update_seq_lengths(n, seq.clip_seq_len(), seq.sync_seq_len());
    let ts = [0.2f32, 0.4, 0.6, 0.8];
    let b = ts.len();
    let mut sums = [0f64; 4];
    let mut captioned = 0usize;
    for (i, clip) in test.iter().enumerate() {
        let mut x1 = clip.mel.clone();
        generator.meta.stats.normalize(&mut x1);
        let x0 = foley_flow::noise::standard_normal(7000 + i as u64, n * c);
        let target: Vec<f32> = x1.iter().zip(&x0).map(|(y, a)| y - a).collect();
        let xt: Vec<f32> = ts.iter().flat_map(|&t| x0.iter().zip(&x1).map(move |(a, y)| (1.0 - t) * a + t * y)).collect();
        let empty = &generator.meta.empty_text;
        let (own, next) = (&videos[i], &videos[(i + 1) % test.len()]);
        let mut variants = vec![(own, false, empty), (next, false, empty), (own, true, empty)];
        if let Some(caption) = &clip.text {
            variants.push((own, false, caption));
            captioned += 1;
        }
        for (k, (video, drop, text)) in variants.into_iter().enumerate() {
            let cond = generator.video_conditions(video, text, drop, b)?;
            let latent = Tensor::<3>::from_data(TensorData::new(xt.clone(), [b, n, c]), &device);
            let pred = generator.net.predict_flow(latent, &ts, &cond, &ExtraInputs { step_size: Some(vec![0.0; b]), prompt: None })?;
            let p: Vec<f32> = pred.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
            sums[k] +=
                p.chunks(n * c).map(|row| row.iter().zip(&target).map(|(a, y)| ((a - y) as f64).powi(2)).sum::<f64>() / (n * c) as f64).sum::<f64>() / b as f64;
        }
    }
    let n = test.len() as f64;
    Ok([sums[0] / n, sums[1] / n, sums[2] / n, sums[3] / captioned.max(1) as f64])
}

/// R² of the predicted envelope (standardized units) against the true one, per channel.
fn envelope_r2(generator: &Generator, seq: &SequenceConfig, test: &[Clip], videos: &[VideoFeatures]) -> Result<[f64; 2]> {
    let stats = generator.meta.envelope.as_ref().context("no envelope")?;
    let (mut predicted, mut truth) = (Vec::new(), Vec::new());
    for (clip, video) in test.iter().zip(videos) {
        let mut t = envelope_of_tokens(&clip.mel, seq);
        stats.apply(&mut t);
        truth.extend(t);
        predicted.extend(generator.predicted_envelope(video)?);
    }
    Ok(r_squared(&predicted, &truth))
}

#[derive(Default, Clone, serde::Serialize)]
struct Score {
    hits: usize,
    ap_sum: f64,
    clips: usize,
    detected: usize,
    truth: usize,
    offsets: Vec<f64>,
    class_ok: usize,
    class_n: usize,
    seconds: f64,
}

impl Score {
    fn row(&self, name: &str) -> String {
        let p = self.hits as f64 / self.detected.max(1) as f64;
        let r = self.hits as f64 / self.truth.max(1) as f64;
        let f1 = if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 };
        let off = if self.offsets.is_empty() { f64::NAN } else { self.offsets.iter().sum::<f64>() / self.offsets.len() as f64 * 1000.0 };
        let near = self.offsets.len() as f64 / self.truth.max(1) as f64;
        format!(
            "| {name} | {f1:.3} | {p:.3} | {r:.3} | {:.3} | {off:.1} ({:.0}%) | {:.3} | {:.2} |",
            self.ap_sum / self.clips.max(1) as f64,
            near * 100.0,
            self.class_ok as f64 / self.class_n.max(1) as f64,
            self.seconds
        )
    }
}

struct Templates(BTreeMap<String, Vec<f32>>);

impl Templates {
    fn classify(&self, r: &[f32]) -> &str {
        self.0.iter().max_by(|a, b| cosine(a.1, r).total_cmp(&cosine(b.1, r))).map(|(k, _)| k.as_str()).unwrap()
    }
}

fn main() -> Result<()> {
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let [test_dir, train_dir, model, out_dir] = args.as_slice() else {
        anyhow::bail!("usage: gen_eval TEST_DIR TRAIN_DIR MODEL OUT_DIR");
    };
    let limit: usize = std::env::var("GEN_EVAL_CLIPS").ok().and_then(|v| v.parse().ok()).unwrap_or(32);
    let grid = std::env::var("GEN_EVAL_GRID").unwrap_or_else(|_| "full".into());
    std::fs::create_dir_all(out_dir)?;
    let device = Device::flex();
    let mut generator = Generator::load(model, &device)?;
    let decoder = MelDecoder::load(std::env::var_os("GEN_EVAL_VOCODER").as_deref().map(Path::new), &device)?;
    let vocode = |mel: &foley_dsp::Mel, seq: &SequenceConfig, seed: u64| decoder.decode(mel, seq, seed);
    let decoded_by = if matches!(decoder, MelDecoder::GriffinLim) { "Griffin-Lim" } else { "vocoder" };
    println!("decoding with {decoded_by}");
    let seq = generator.sequence();
    let (n_mels, fps) = (seq.mel.n_mels, seq.mel.frames_per_second());
    let lt = generator.meta.flow.text_seq_len;

    // Class templates from the training scenes' true mels.
    let (train, _) = load_clips(&[train_dir.join("shards")], &seq, lt)?;
    let mut sums: BTreeMap<String, (Vec<f32>, usize)> = BTreeMap::new();
    for clip in &train {
        let mel = tokens_to_mel(&clip.mel, n_mels);
        let nf = mel.len() / n_mels;
        for (t, class) in transient_events(&scene_dir(train_dir, &clip.id), seq.duration)? {
            let r = rise(&mel, n_mels, nf, fps, t);
            let e = sums.entry(class).or_insert((vec![0.0; r.len()], 0));
            e.0.iter_mut().zip(&r).for_each(|(s, v)| *s += v);
            e.1 += 1;
        }
    }
    let templates = Templates(sums.into_iter().map(|(k, (s, n))| (k, s.iter().map(|v| v / n as f32).collect())).collect());

    let (mut test, sync_dim) = load_clips(&[test_dir.join("shards")], &seq, lt)?;
    test.truncate(limit);
    let truth: Vec<Vec<(f64, String)>> = test.iter().map(|c| transient_events(&scene_dir(test_dir, &c.id), seq.duration)).collect::<Result<_>>()?;
    // Generators with a timing envelope are scored with the predicted envelope and, as an upper
    // bound, with the true one (computed from the test clip's mel).
    let has_envelope = generator.meta.envelope.is_some();
    let has_predictor = generator.envelope.is_some();
    let videos = |true_envelope: bool| -> Vec<VideoFeatures> {
        test.iter()
            .map(|c| VideoFeatures {
                semantic: c.semantic.clone(),
                sync: c.sync.clone(),
                sync_dim,
                envelope: true_envelope.then(|| envelope_of_tokens(&c.mel, &seq)),
            })
            .collect()
    };
    let (predicted_videos, true_videos) = (videos(false), videos(true));
    let mut loss_line = String::new();
    for true_envelope in [false, true] {
        if (true_envelope && !has_envelope) || (!true_envelope && has_envelope && !has_predictor) {
            continue;
        }
        let [own, other, dropped, captioned] = condition_losses(&mut generator, &seq, &test, if true_envelope { &true_videos } else { &predicted_videos })?;
        let which = if !has_envelope {
            ""
        } else if true_envelope {
            " [true envelope]"
        } else {
            " [predicted envelope]"
        };
        loss_line += &format!(
            "flow-matching loss on the test clips{which} (t = 0.2..0.8, no audio given): own video {own:.4}, next clip's video {other:.4}, video dropped {dropped:.4}; own video + own caption {captioned:.4}\n"
        );
    }
    if has_predictor {
        let r2 = envelope_r2(&generator, &seq, &test, &predicted_videos)?;
        loss_line += &format!("envelope predicted from the video, R² on the test clips: loudness {:.3}, onset strength {:.3}\n", r2[0], r2[1]);
    }
    print!("{loss_line}");
    let detector = OnsetDetector::new(OnsetConfig { sample_rate: 16_000, n_fft: 1024, hop: 256, n_mels: 80 });

    let score_one = |score: &mut Score, wave: &[f32], mel: &[f32], truth: &[(f64, String)]| {
        let onsets = detector.detect(wave);
        let detected = onsets.times();
        let ranked: Vec<(f64, f64)> = detected.iter().copied().zip(onsets.strengths()).collect();
        let times: Vec<f64> = truth.iter().map(|t| t.0).collect();
        score.hits += match_count(&detected, &times, TOL);
        score.ap_sum += average_precision(&ranked, &times, TOL);
        score.clips += 1;
        score.detected += detected.len();
        score.truth += times.len();
        for t in &times {
            if let Some(d) = detected.iter().map(|d| (d - t).abs()).filter(|d| *d <= NEAR).min_by(f64::total_cmp) {
                score.offsets.push(d);
            }
        }
        let nf = mel.len() / n_mels;
        for (t, class) in truth {
            score.class_n += 1;
            score.class_ok += (templates.classify(&rise(mel, n_mels, nf, fps, *t)) == class) as usize;
        }
    };

    let mut rows = Vec::new();
    let mut json = BTreeMap::new();
    // References.
    {
        let (mut s_true, mut s_gl, mut s_noise, mut s_silence) = (Score::default(), Score::default(), Score::default(), Score::default());
        for (i, clip) in test.iter().enumerate() {
            let video = scene_dir(test_dir, &clip.id).join("scene.wav");
            let mut wave = foley_media::decode_audio(&video, 16_000)?;
            wave.resize(seq.num_audio_samples(), 0.0);
            let mel = tokens_to_mel(&clip.mel, n_mels);
            score_one(&mut s_true, &wave, &mel, &truth[i]);
            let gl = vocode(&tokens_mel(&clip.mel, &seq)?, &seq, i as u64)?;
            score_one(&mut s_gl, &gl, &mel, &truth[i]);
            let noise: Vec<f32> = foley_flow::noise::standard_normal(1000 + i as u64, wave.len()).iter().map(|v| v * 0.03).collect();
            let noise_mel = foley_dsp::MelSpectrogram::new(seq.mel).compute(&noise);
            let noise_tokens = foley_gen::data::mel_to_tokens(&noise_mel.data, n_mels, noise_mel.n_frames, seq.latent_seq_len(), 2);
            score_one(&mut s_noise, &noise, &tokens_to_mel(&noise_tokens, n_mels), &truth[i]);
            let silence = vec![0f32; wave.len()];
            let silent_mel = vec![-5f32; mel.len()];
            score_one(&mut s_silence, &silence, &silent_mel, &truth[i]);
        }
        let through = format!("true mel -> {decoded_by}");
        for (name, s) in [("true audio", &s_true), (through.as_str(), &s_gl), ("white noise", &s_noise), ("silence", &s_silence)] {
            rows.push(s.row(name));
            json.insert(name.to_string(), s.clone());
            println!("{}", rows.last().unwrap());
        }
    }

    // (name, sampler, cfg, use video, shuffled video, true envelope)
    let mut settings: Vec<(String, Sampler, f32, bool, bool, bool)> = Vec::new();
    // GEN_EVAL_GRID: full (cfg 1 and 2 + baselines), cfg1, cfg2 (+ baselines), refs (references only).
    let cfgs: &[f32] = match grid.as_str() {
        "full" => &[1.0, 2.0],
        "cfg1" => &[1.0],
        _ => &[2.0],
    };
    for &cfg in cfgs {
        for k in [1, 2, 4, 8] {
            settings.push((format!("shortcut {k}, cfg {cfg}"), Sampler::Shortcut(k), cfg, true, false, false));
        }
        for k in [25, 64] {
            settings.push((format!("Euler {k}, cfg {cfg}"), Sampler::Euler(k), cfg, true, false, false));
        }
    }
    settings.push(("video dropped (shortcut 8, cfg 1)".into(), Sampler::Shortcut(8), 1.0, false, false, false));
    settings.push(("shuffled video (shortcut 8, cfg 2)".into(), Sampler::Shortcut(8), 2.0, true, true, false));

    if grid == "cfg1" {
        settings.truncate(6);
    }
    if grid == "refs" {
        settings.clear();
    }
    if has_envelope {
        if !has_predictor {
            settings.retain(|s| !s.3);
        }
        if grid != "refs" {
            for k in [1, 8] {
                settings.push((format!("true envelope (shortcut {k}, cfg 2)"), Sampler::Shortcut(k), 2.0, true, false, true));
            }
            settings.push(("true envelope (Euler 25, cfg 2)".into(), Sampler::Euler(25), 2.0, true, false, true));
        }
    }
    let mut figure_done = false;
    for (name, sampler, cfg, use_video, shuffled, true_envelope) in settings {
        let mut s = Score::default();
        let started = Instant::now();
        for (i, clip) in test.iter().enumerate() {
            let source = if shuffled { (i + 1) % test.len() } else { i };
            let video = if true_envelope { &true_videos[source] } else { &predicted_videos[source] };
            let options = SampleOptions { sampler, cfg, seed: i as u64, use_video };
            let t0 = Instant::now();
            let tokens = sample_tokens(&mut generator, &seq, video, None, None, None, &options, &mut |_, _| {})?;
            s.seconds += t0.elapsed().as_secs_f64();
            let mel = tokens_to_mel(&tokens, n_mels);
            let wave = vocode(&tokens_mel(&tokens, &seq)?, &seq, i as u64)?;
            score_one(&mut s, &wave, &mel, &truth[i]);
            if !figure_done && name == "shortcut 8, cfg 2" && i == 0 {
                figure_done = true;
                let nf = mel.len() / n_mels;
                let onsets: Vec<f64> = truth[0].iter().map(|t| t.0).collect();
                let true_mel = tokens_to_mel(&clip.mel, n_mels);
                let panels = [
                    foley_eval::report::MelPanel {
                        title: format!("generated (shortcut 8 steps, cfg 2), test scene {}", clip.id),
                        n_mels,
                        n_frames: nf,
                        data: &mel,
                        frame_rate: fps,
                        onsets: &onsets,
                    },
                    foley_eval::report::MelPanel {
                        title: "true audio (events.json onsets marked)".into(),
                        n_mels,
                        n_frames: nf,
                        data: &true_mel,
                        frame_rate: fps,
                        onsets: &onsets,
                    },
                ];
                foley_eval::report::write_comparison_png(&out_dir.join("gen_vs_true_mel.png"), &panels).map_err(|e| anyhow::anyhow!(e))?;
            }
        }
        s.seconds /= test.len() as f64;
        rows.push(s.row(&name));
        println!("{} [{:.0} s]", rows.last().unwrap(), started.elapsed().as_secs_f64());
        json.insert(name, s);
    }
    let header = "| setting | onset F1 (±40 ms) | precision | recall | onset AP (±40 ms) | mean abs offset, ms (true onsets with a detection within ±100 ms) | class accuracy | sampling s/clip |\n|---|---|---|---|---|---|---|---|\n";
    let table = format!("{header}{}\n\n{loss_line}\n", rows.join("\n"));
    std::fs::write(out_dir.join("gen_eval.md"), &table)?;
    std::fs::write(out_dir.join("gen_eval.json"), serde_json::to_string_pretty(&json)?)?;
    println!("\n{table}\n{} test clips, {} class templates", test.len(), templates.0.len());
    Ok(())
}
