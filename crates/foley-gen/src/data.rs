//! Training data: `foley extract` shards -> clips -> batches.
//!
//! The target of a clip is its 16 kHz log-mel, two mel frames per latent token (token `k`,
//! channel `j * n_mels + m` = mel bin `m` of frame `2k + j`), normalized per mel bin with the
//! training set's mean and standard deviation.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use burn::tensor::{Device, Tensor, TensorData};
use foley_encoders::extract::ItemRecord;
use foley_flow::noise::{SplitMix64, standard_normal};
use foley_seq::SequenceConfig;
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};

use crate::config::{DataConfig, MaskProbs, TextMode, mel_frames_per_token, token_channels};
use crate::envelope::{ENVELOPE_DIM, EnvelopeStats, append_columns, envelope_of_tokens};
use crate::features::VideoStats;
use crate::masking::{MaskMode, build_mask, known_input};

/// One clip's features, at the training window's lengths.
#[derive(Debug, Clone)]
pub struct Clip {
    pub id: String,
    /// `[clip_seq_len, 1280]` EfficientNet-Lite0 features at 8 fps.
    pub semantic: Vec<f32>,
    /// `[sync_seq_len, sync_dim]` sync-backbone tokens at 24 tokens/s.
    pub sync: Vec<f32>,
    /// `[latent_seq_len, token_channels]` raw (unnormalized) log-mel tokens.
    pub mel: Vec<f32>,
    /// `[text_seq_len, 384]` caption token states, zero-padded; `None` without caption.
    pub text: Option<Vec<f32>>,
}

/// Per-mel-bin statistics of the training targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MelStats {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl MelStats {
    /// Mean and standard deviation of every mel bin over all frames of `clips`.
    pub fn of(clips: &[Clip], n_mels: usize) -> Self {
        let (mut sum, mut sq, mut count) = (vec![0f64; n_mels], vec![0f64; n_mels], 0usize);
        for clip in clips {
            for frame in clip.mel.chunks(n_mels) {
                for (m, &v) in frame.iter().enumerate() {
                    sum[m] += v as f64;
                    sq[m] += (v as f64).powi(2);
                }
                count += 1;
            }
        }
        let n = count.max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let std = sq.iter().zip(&mean).map(|(q, m)| ((q / n - m * m).max(0.0).sqrt().max(1e-3)) as f32).collect();
        Self { mean: mean.iter().map(|&m| m as f32).collect(), std }
    }

    /// Raw token-major tokens -> normalized (in place); `channels` = frames per token * n_mels.
    pub fn normalize(&self, tokens: &mut [f32]) {
        let n_mels = self.mean.len();
        for (i, v) in tokens.iter_mut().enumerate() {
            let m = i % n_mels;
            *v = (*v - self.mean[m]) / self.std[m];
        }
    }

    /// Normalized tokens -> raw log-mel tokens (in place).
    pub fn unnormalize(&self, tokens: &mut [f32]) {
        let n_mels = self.mean.len();
        for (i, v) in tokens.iter_mut().enumerate() {
            let m = i % n_mels;
            *v = *v * self.std[m] + self.mean[m];
        }
    }
}

/// Mel-major `[n_mels, n_frames]` -> token-major `[tokens, frames_per_token * n_mels]`
/// (the first `tokens * frames_per_token` frames).
pub fn mel_to_tokens(mel: &[f32], n_mels: usize, n_frames: usize, tokens: usize, frames_per_token: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(tokens * frames_per_token * n_mels);
    for t in 0..tokens * frames_per_token {
        let f = t.min(n_frames - 1);
        out.extend((0..n_mels).map(|m| mel[m * n_frames + f]));
    }
    out
}

/// Token-major tokens -> mel-major `[n_mels, tokens * frames_per_token]`.
pub fn tokens_to_mel(tokens: &[f32], n_mels: usize) -> Vec<f32> {
    let n_frames = tokens.len() / n_mels;
    let mut mel = vec![0f32; tokens.len()];
    for (f, frame) in tokens.chunks(n_mels).enumerate() {
        for (m, &v) in frame.iter().enumerate() {
            mel[m * n_frames + f] = v;
        }
    }
    mel
}

/// Pad with zero tokens / truncate `[len, dim]` to `[seq_len, dim]`.
pub fn fit_text(tokens: &[f32], dim: usize, seq_len: usize) -> Vec<f32> {
    let mut out = tokens[..tokens.len().min(seq_len * dim)].to_vec();
    out.resize(seq_len * dim, 0.0);
    out
}

/// Every clip of the shard files in `dirs` (sorted by file name).
pub fn load_clips(dirs: &[impl AsRef<Path>], seq: &SequenceConfig, text_seq_len: usize) -> Result<(Vec<Clip>, usize)> {
    let mut files = Vec::new();
    for dir in dirs {
        let dir = dir.as_ref();
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading shard folder {}", dir.display()))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "safetensors") {
                files.push(path);
            }
        }
    }
    files.sort();
    ensure!(!files.is_empty(), "no .safetensors shards in {:?}", dirs.iter().map(|d| d.as_ref().display().to_string()).collect::<Vec<_>>());
    let (mut clips, mut sync_dim) = (Vec::new(), 0);
    for file in &files {
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let st = SafeTensors::deserialize(&bytes).with_context(|| format!("{}: not a safetensors shard", file.display()))?;
        let (_, meta) = SafeTensors::read_metadata(&bytes)?;
        let items = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get("items").cloned())
            .with_context(|| format!("{}: no item list (not a foley extract shard)", file.display()))?;
        let records: Vec<ItemRecord> = serde_json::from_str(&items).with_context(|| format!("{}: item list", file.display()))?;
        for (j, record) in records.iter().enumerate() {
            let get = |kind: &str| -> Result<(Vec<usize>, Vec<f32>)> {
                let view = st
                    .tensor(&format!("{j}.{kind}"))
                    .with_context(|| format!("{}: clip {} has no {kind} features (extract with --sync-model)", file.display(), record.id))?;
                Ok((view.shape().to_vec(), view.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()))
            };
            if !record.has_audio {
                continue;
            }
            let (sem_shape, semantic) = get("semantic")?;
            let (sync_shape, sync) = get("sync")?;
            let (mel_shape, mel) = get("mel")?;
            if sem_shape[0] != seq.clip_seq_len() || sync_shape[0] != seq.sync_seq_len() {
                bail!(
                    "{}: clip {} has {} semantic / {} sync frames, the {} s window needs {} / {}",
                    file.display(),
                    record.id,
                    sem_shape[0],
                    sync_shape[0],
                    seq.duration,
                    seq.clip_seq_len(),
                    seq.sync_seq_len()
                );
            }
            sync_dim = sync_shape[1];
            let fpt = mel_frames_per_token(seq);
            ensure!(mel_shape[1] + 1 >= seq.latent_seq_len() * fpt, "{}: clip {} mel too short", file.display(), record.id);
            let mel = mel_to_tokens(&mel, mel_shape[0], mel_shape[1], seq.latent_seq_len(), fpt);
            let text = get("text_tokens").ok().map(|(_, t)| fit_text(&t, foley_encoders::bert::HIDDEN_DIM, text_seq_len));
            clips.push(Clip { id: record.id.clone(), semantic, sync, mel, text });
        }
    }
    ensure!(!clips.is_empty(), "the shards hold no clip with audio");
    Ok((clips, sync_dim))
}

/// VTA-LDM's filter: keep clips whose score in the `id,score` CSV is at least `min`.
pub fn filter_by_alignment(clips: Vec<Clip>, scores_csv: &Path, min: f64) -> Result<Vec<Clip>> {
    let text = std::fs::read_to_string(scores_csv).with_context(|| format!("reading {}", scores_csv.display()))?;
    let mut scores = HashMap::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let (id, score) = line.rsplit_once(',').with_context(|| format!("{}: line {} is not `id,score`", scores_csv.display(), i + 1))?;
        let score: f64 = score.trim().parse().with_context(|| format!("{}: line {}: bad score", scores_csv.display(), i + 1))?;
        scores.insert(id.trim().to_string(), score);
    }
    let mut kept = Vec::new();
    for clip in clips {
        let score = *scores.get(&clip.id).with_context(|| format!("{}: no score for clip {}", scores_csv.display(), clip.id))?;
        if score >= min {
            kept.push(clip);
        }
    }
    ensure!(!kept.is_empty(), "no clip scores at least {min} in {}", scores_csv.display());
    Ok(kept)
}

/// Sinusoidal time channels for `frames` frames at `rate` fps: pairs `(sin, cos)(2π t / p)`
/// with periods from 1/4 s to 16 s.
pub fn positional_channels(frames: usize, rate: f64, channels: usize) -> Vec<f32> {
    let pairs = channels / 2;
    let mut out = Vec::with_capacity(frames * channels);
    for i in 0..frames {
        let t = i as f64 / rate;
        for k in 0..channels {
            let p = 0.25 * 64f64.powf((k / 2) as f64 / (pairs.max(2) - 1) as f64);
            let a = std::f64::consts::TAU * t / p;
            out.push(if k % 2 == 0 { a.sin() } else { a.cos() } as f32);
        }
    }
    out
}

/// Semantic features with `positional` time channels appended to each frame.
pub fn with_positional(semantic: &[f32], dim: usize, rate: f64, positional: usize) -> Vec<f32> {
    if positional == 0 {
        return semantic.to_vec();
    }
    let frames = semantic.len() / dim;
    let pos = positional_channels(frames, rate, positional);
    semantic.chunks(dim).zip(pos.chunks(positional)).flat_map(|(s, p)| s.iter().chain(p).copied()).collect()
}

/// The training set in memory.
pub struct Dataset {
    pub clips: Vec<Clip>,
    pub seq: SequenceConfig,
    pub sync_dim: usize,
    pub stats: MelStats,
    /// Statistics the clips' video features were standardized with (`standardize_video`).
    pub video_stats: Option<VideoStats>,
    /// With `envelope`: the statistics of the timing envelopes, standardized and appended as the
    /// last [`ENVELOPE_DIM`] channels of every clip's `sync` (so `sync_dim` counts them).
    pub envelope_stats: Option<EnvelopeStats>,
    /// `[text_seq_len, 384]` token states of the empty string.
    pub empty_text: Vec<f32>,
    pub data: DataConfig,
}

/// One batch on the device.
pub struct Batch {
    pub clip: Tensor<3>,
    pub sync: Tensor<3>,
    pub text: Tensor<3>,
    /// Normalized target tokens `(B, N, C)`.
    pub x1: Tensor<3>,
    /// Noise `(B, N, C)`.
    pub x0: Tensor<3>,
    /// `(B, N)`, 1 = known token.
    pub mask: Tensor<2>,
    /// `(B, N, C)`: `x1` where known, 0 elsewhere.
    pub known: Tensor<3>,
    /// `(B)`, 1 = video streams dropped to the empty features.
    pub video_drop: Tensor<1>,
}

impl Dataset {
    /// The clips of `config.data` (alignment-filtered when configured) with their statistics;
    /// `empty_text` is the `[text_seq_len, 384]` MiniLM encoding of the empty string.
    pub fn load(config: &crate::TrainConfig, empty_text: Vec<f32>) -> Result<Self> {
        Self::load_like(config, empty_text, None)
    }

    /// [`Dataset::load`], standardized with the statistics an existing generator was trained
    /// with (`like`) instead of this data's own: a component trained on these clips (e.g. a new
    /// envelope predictor) then fits that generator.
    pub fn load_like(config: &crate::TrainConfig, empty_text: Vec<f32>, like: Option<&crate::model::GenMeta>) -> Result<Self> {
        let seq = config.sequence();
        let (mut clips, sync_dim) = load_clips(&config.data.shards, &seq, config.data.text_seq_len)?;
        if let (Some(csv), Some(min)) = (&config.data.alignment_scores, config.data.min_alignment) {
            let before = clips.len();
            clips = filter_by_alignment(clips, csv, min)?;
            tracing::info!(kept = clips.len(), dropped = before - clips.len(), "alignment filter");
        }
        let (stats, video_stats, envelope_stats) = match like {
            Some(meta) => (meta.stats.clone(), meta.video_stats.clone(), meta.envelope.clone()),
            None => (
                MelStats::of(&clips, seq.mel.n_mels),
                config
                    .data
                    .standardize_video
                    .then(|| VideoStats::of(&clips, foley_encoders::efficientnet::FEATURE_DIM, sync_dim, seq.sync_tokens_per_segment())),
                config.data.envelope.then(|| {
                    let envelopes: Vec<Vec<f32>> = clips.iter().map(|c| envelope_of_tokens(&c.mel, &seq)).collect();
                    EnvelopeStats::of(envelopes.iter().map(|e| e.as_slice()))
                }),
            ),
        };
        let sync_dim = sync_dim + if envelope_stats.is_some() { ENVELOPE_DIM } else { 0 };
        let mut dataset = Self { clips: Vec::new(), seq, sync_dim, stats, video_stats, envelope_stats, empty_text, data: config.data.clone() };
        dataset.clips = clips.into_iter().map(|c| dataset.prepare(c)).collect();
        Ok(dataset)
    }

    /// A clip as [`load_clips`] reads it, made what the training clips are: video features
    /// standardized and, with `envelope`, its standardized timing envelope appended to `sync`
    /// (held-out clips go through this too).
    pub fn prepare(&self, mut clip: Clip) -> Clip {
        if let Some(stats) = &self.video_stats {
            stats.apply(&mut clip.semantic, &mut clip.sync);
        }
        if let Some(stats) = &self.envelope_stats {
            let mut env = envelope_of_tokens(&clip.mel, &self.seq);
            stats.apply(&mut env);
            clip.sync = append_columns(&clip.sync, self.sync_dim - ENVELOPE_DIM, &env, ENVELOPE_DIM);
        }
        clip
    }

    pub fn token_channels(&self) -> usize {
        token_channels(&self.seq)
    }

    /// A batch drawn with `rng` (clips, concat cuts, dropouts, masks) and noise from `noise_seed`.
    pub fn batch(
        &self,
        size: usize,
        rng: &mut SplitMix64,
        noise_seed: u64,
        video_dropout: f64,
        text_dropout: f64,
        masks: &MaskProbs,
        device: &Device,
    ) -> Batch {
        let seq = &self.seq;
        let (n, c) = (seq.latent_seq_len(), self.token_channels());
        let (nc, ns, lt) = (seq.clip_seq_len(), seq.sync_seq_len(), self.data.text_seq_len);
        let sem_dim = foley_encoders::efficientnet::FEATURE_DIM;
        let clip_dim = sem_dim + self.data.positional_channels;
        let (mut clip, mut sync, mut text, mut x1, mut mask, mut known, mut drop) = (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..size {
            let a = &self.clips[(rng.next_u64() % self.clips.len() as u64) as usize];
            let (mut semantic, mut s, mut mel, mut caption) = (a.semantic.clone(), a.sync.clone(), a.mel.clone(), a.text.clone());
            if rng.next_f64() < self.data.concat_prob {
                let b = &self.clips[(rng.next_u64() % self.clips.len() as u64) as usize];
                let cut = n / 4 + (rng.next_u64() % (n / 2) as u64) as usize;
                let t_cut = cut as f64 / seq.latent_rate();
                let splice = |dst: &mut Vec<f32>, src: &[f32], rate: f64, dim: usize| {
                    let from = ((t_cut * rate).ceil() as usize * dim).min(dst.len());
                    dst[from..].copy_from_slice(&src[from..]);
                };
                splice(&mut semantic, &b.semantic, seq.clip_frame_rate, sem_dim);
                splice(&mut s, &b.sync, seq.sync_token_rate(), self.sync_dim);
                splice(&mut mel, &b.mel, seq.latent_rate(), c);
                caption = None;
            }
            if self.data.text == TextMode::None || rng.next_f64() < text_dropout {
                caption = None;
            }
            drop.push((rng.next_f64() < video_dropout) as u8 as f32);
            let m = build_mask(MaskMode::sample(masks, rng), n, rng);
            self.stats.normalize(&mut mel);
            known.extend(known_input(&mel, &m, c));
            clip.extend(with_positional(&semantic, sem_dim, seq.clip_frame_rate, self.data.positional_channels));
            sync.extend(s);
            text.extend(caption.unwrap_or_else(|| self.empty_text.clone()));
            x1.extend(mel);
            mask.extend(m);
        }
        let t3 = |v: Vec<f32>, d: [usize; 3]| Tensor::<3>::from_data(TensorData::new(v, d), device);
        Batch {
            clip: t3(clip, [size, nc, clip_dim]),
            sync: t3(sync, [size, ns, self.sync_dim]),
            text: t3(text, [size, lt, foley_encoders::bert::HIDDEN_DIM]),
            x1: t3(x1, [size, n, c]),
            x0: t3(standard_normal(noise_seed, size * n * c), [size, n, c]),
            mask: Tensor::from_data(TensorData::new(mask, [size, n]), device),
            known: t3(known, [size, n, c]),
            video_drop: Tensor::from_data(TensorData::new(drop, [size]), device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_pair_frames() {
        // 3 mels, 5 frames (the last is dropped by 2 tokens of 2 frames).
        let mel: Vec<f32> = (0..15).map(|v| v as f32).collect();
        let tok = mel_to_tokens(&mel, 3, 5, 2, 2);
        // token 0 = frame 0 (bins 0, 5, 10) then frame 1 (1, 6, 11)
        assert_eq!(&tok[..6], &[0.0, 5.0, 10.0, 1.0, 6.0, 11.0]);
        let back = tokens_to_mel(&tok, 3);
        assert_eq!(back, vec![0.0, 1.0, 2.0, 3.0, 5.0, 6.0, 7.0, 8.0, 10.0, 11.0, 12.0, 13.0]);
    }

    #[test]
    fn stats_normalize_and_invert() {
        let clip = Clip { id: "a".into(), semantic: vec![], sync: vec![], mel: vec![1.0, 10.0, 3.0, 30.0], text: None };
        let stats = MelStats::of(&[clip.clone()], 2);
        assert_eq!(stats.mean, vec![2.0, 20.0]);
        let mut t = clip.mel.clone();
        stats.normalize(&mut t);
        assert_eq!(t, vec![-1.0, -1.0, 1.0, 1.0]);
        stats.unnormalize(&mut t);
        assert_eq!(t, clip.mel);
    }
}
