//! Training and evaluating the sync backbone.
//!
//! * Contrastive (SALSA-V / Synchformer style InfoNCE): a batch holds `windows_per_clip` windows
//!   at distinct random starts (40 ms grid) of each of `clips_per_batch` clips. The positive of a
//!   video window is the audio of the same clip and the same time range; the audio of the other
//!   windows of the same clip are the hard negatives, those of the other clips the easy ones.
//! * VAMA ([`crate::vama`]): masked mel reconstruction from video and visible audio.
//! * Evaluation: for a held-out clip, slide the audio by every shift in +-1 s in 40 ms steps,
//!   score each shift by the summed similarity of video windows with the shifted audio, and check
//!   the best shift is 0 (top-1 accuracy) and how far off it is (mean absolute offset).

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use foley_dsp::MelSpectrogram;
use serde::Serialize;

use crate::sync::{SYNC_MEL, SyncConfig, SyncModel, pack_frames};
use crate::vama::Vama;

/// Audio samples per video frame (16 kHz, 25 fps).
pub const SAMPLES_PER_FRAME: usize = 640;
/// Video frame period in seconds (the evaluation's shift step).
pub const FRAME_SECONDS: f64 = 0.04;

/// A clip ready for the sync backbone: RGB8 frames at 25 fps and the log-mel of its audio.
#[derive(Debug, Clone)]
pub struct SyncClip {
    frames: Vec<u8>,
    num_frames: usize,
    size: usize,
    /// `SYNC_MEL` log-mel, mel-major `[n_mels, mel_frames]`, scaled to roughly [-1, 1].
    mel: Vec<f32>,
    mel_frames: usize,
}

impl SyncClip {
    /// `frames`: `num_frames` consecutive `size x size` RGB8 frames at 25 fps; `waveform`: its
    /// audio at 16 kHz (padded or cut to the video's length).
    pub fn new(frames: Vec<u8>, num_frames: usize, size: usize, waveform: &[f32]) -> Self {
        assert_eq!(frames.len(), num_frames * size * size * 3, "frame buffer size");
        let mut wave = waveform.to_vec();
        wave.resize(num_frames * SAMPLES_PER_FRAME, 0.0);
        let mel = MelSpectrogram::new(SYNC_MEL).compute(&wave);
        let mel_frames = num_frames * (SAMPLES_PER_FRAME / SYNC_MEL.hop);
        let mut data = vec![0f32; SYNC_MEL.n_mels * mel_frames];
        for m in 0..SYNC_MEL.n_mels {
            for t in 0..mel_frames.min(mel.n_frames) {
                // log10 magnitudes live in [-5, ~2]; centre them for the network.
                data[m * mel_frames + t] = (mel.at(m, t) + 2.5) / 2.5;
            }
        }
        Self { frames, num_frames, size, mel: data, mel_frames }
    }

    pub fn num_frames(&self) -> usize {
        self.num_frames
    }

    fn frame(&self, k: usize) -> &[u8] {
        let n = self.size * self.size * 3;
        &self.frames[k * n..(k + 1) * n]
    }

    /// Channels-last `[len, s, s, 6]` values of frames `start..start + len`.
    fn video_window(&self, start: usize, len: usize) -> Vec<f32> {
        let frames: Vec<&[u8]> = (start..start + len).map(|k| self.frame(k)).collect();
        pack_frames(&frames, start.checked_sub(1).map(|k| self.frame(k)), self.size)
    }

    /// `[n_mels, len * 4]` mel frames of video frames `start..start + len`.
    fn audio_window(&self, start: usize, len: usize) -> Vec<f32> {
        let per = SAMPLES_PER_FRAME / SYNC_MEL.hop;
        let (from, n) = (start * per, len * per);
        (0..SYNC_MEL.n_mels).flat_map(|m| self.mel[m * self.mel_frames + from..m * self.mel_frames + from + n].to_vec()).collect()
    }
}

/// Batches of windows as tensors.
fn video_batch(windows: &[(&SyncClip, usize)], config: &SyncConfig, device: &Device) -> Tensor<5> {
    let s = config.frame_size;
    let data: Vec<f32> = windows.iter().flat_map(|(c, start)| c.video_window(*start, config.window_frames)).collect();
    let channels = SyncConfig::FRAME_CHANNELS;
    Tensor::<5>::from_data(TensorData::new(data, [windows.len(), config.window_frames, s, s, channels]), device).permute([0, 1, 4, 2, 3])
}

fn audio_batch(windows: &[(&SyncClip, usize)], config: &SyncConfig, device: &Device) -> Tensor<3> {
    let data: Vec<f32> = windows.iter().flat_map(|(c, start)| c.audio_window(*start, config.window_frames)).collect();
    Tensor::from_data(TensorData::new(data, [windows.len(), SYNC_MEL.n_mels, config.window_mels()]), device)
}

/// Symmetric InfoNCE between row-aligned unit embeddings `[n, e]` (row i of each is a positive
/// pair, every other row a negative). Returns the loss and the video-to-audio top-1 accuracy.
pub fn info_nce(video: Tensor<2>, audio: Tensor<2>, temperature: f64) -> (Tensor<1>, f64) {
    let n = video.dims()[0];
    let logits = video.matmul(audio.transpose()).div_scalar(temperature);
    let eye = Tensor::<2>::eye(n, &logits.device());
    let rows = (log_softmax(logits.clone(), 1) * eye.clone()).sum().div_scalar(n as f64);
    let cols = (log_softmax(logits.clone(), 0) * eye).sum().div_scalar(n as f64);
    let predicted: Vec<i64> = logits.argmax(1).into_data().convert::<i64>().try_to_vec::<i64>().unwrap_or_default();
    let correct = predicted.iter().enumerate().filter(|(i, p)| **p == *i as i64).count();
    ((rows + cols).div_scalar(-2.0), correct as f64 / n as f64)
}

/// What the training optimizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    Contrastive,
    Vama,
    Both,
}

/// Training settings.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub steps: usize,
    pub clips_per_batch: usize,
    pub windows_per_clip: usize,
    pub learning_rate: f64,
    pub warmup_steps: usize,
    pub objective: Objective,
    pub mask_ratio: f64,
    /// Weight of the VAMA loss when training both.
    pub vama_weight: f64,
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            steps: 300,
            clips_per_batch: 8,
            windows_per_clip: 4,
            learning_rate: 3e-4,
            warmup_steps: 50,
            objective: Objective::Contrastive,
            mask_ratio: crate::vama::DEFAULT_MASK_RATIO,
            vama_weight: 1.0,
            seed: 0,
        }
    }
}

/// One logged training step.
#[derive(Debug, Clone, Copy)]
pub struct StepLog {
    pub step: usize,
    pub contrastive: Option<f64>,
    pub contrastive_accuracy: Option<f64>,
    pub vama: Option<f64>,
}

/// The trained modules together (one optimizer over both).
#[derive(Module, Debug)]
pub struct SyncStack {
    pub sync: SyncModel,
    pub vama: Vama,
}

/// A small deterministic generator (SplitMix64) for batch sampling and masks.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// `k` distinct values of `0..n` (k <= n).
    pub fn distinct(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + self.below(n - i);
            all.swap(i, j);
        }
        all.truncate(k);
        all
    }
}

/// Token mask `[n, k]` with `round(ratio * k)` hidden tokens per row (at least one visible and
/// one hidden).
fn random_mask(n: usize, k: usize, ratio: f64, rng: &mut SplitMix, device: &Device) -> Tensor<2> {
    let hidden = ((ratio * k as f64).round() as usize).clamp(1, k - 1);
    let mut data = vec![0f32; n * k];
    for row in 0..n {
        for t in rng.distinct(k, hidden) {
            data[row * k + t] = 1.0;
        }
    }
    Tensor::from_data(TensorData::new(data, [n, k]), device)
}

/// Train `stack` on `clips` (device must have autodiff). `on_step` sees every step's losses.
pub fn train(
    mut stack: SyncStack,
    clips: &[SyncClip],
    config: &SyncConfig,
    options: &TrainOptions,
    device: &Device,
    on_step: &mut dyn FnMut(&StepLog),
) -> SyncStack {
    assert!(!clips.is_empty(), "no training clips");
    let mut optim = AdamWConfig::new().with_weight_decay(1e-4).with_grad_clipping(Some(GradientClippingConfig::Norm(1.0))).init();
    let mut rng = SplitMix::new(options.seed);
    for step in 0..options.steps {
        let mut windows = Vec::new();
        for _ in 0..options.clips_per_batch {
            let clip = &clips[rng.below(clips.len())];
            let starts = clip.num_frames - config.window_frames + 1;
            for start in rng.distinct(starts, options.windows_per_clip.min(starts)) {
                windows.push((clip, start));
            }
        }
        let video = video_batch(&windows, config, device);
        let audio = audio_batch(&windows, config, device);
        let mut log = StepLog { step, contrastive: None, contrastive_accuracy: None, vama: None };
        let mut loss = Tensor::<1>::zeros([1], device);
        if options.objective != Objective::Vama {
            let v = stack.sync.embed_video(stack.sync.video.forward(video.clone()));
            let a = stack.sync.embed_audio(stack.sync.audio.forward(audio.clone()));
            let (l, acc) = info_nce(v, a, config.temperature);
            log.contrastive = Some(l.clone().into_scalar::<f32>() as f64);
            log.contrastive_accuracy = Some(acc);
            loss = loss + l;
        }
        if options.objective != Objective::Contrastive {
            let mask = random_mask(windows.len(), config.tokens_per_window, options.mask_ratio, &mut rng, device);
            let l = stack.vama.loss(&stack.sync, video, audio, mask);
            log.vama = Some(l.clone().into_scalar::<f32>() as f64);
            let weight = if options.objective == Objective::Both { options.vama_weight } else { 1.0 };
            loss = loss + l.mul_scalar(weight);
        }
        let grads = GradientsParams::from_grads(loss.backward(), &stack);
        // Linear warm-up: a from-scratch contrastive start at full rate collapses to uniform logits.
        let warmup = (step + 1) as f64 / options.warmup_steps.max(1) as f64;
        stack = optim.step(options.learning_rate * warmup.min(1.0), stack, grads);
        on_step(&log);
    }
    stack
}

/// The shift (in frames, within +-`max_shift`) maximizing the summed similarity of each video
/// window `i` (starting at `video_starts[i]`) with the audio window starting `shift` frames
/// later; `sim[i * n_audio + j]` is the similarity with the audio window starting at frame `j`.
/// Ties go to the smaller |shift|.
pub fn best_shift(sim: &[f32], n_audio: usize, video_starts: &[usize], max_shift: i64) -> i64 {
    let score = |shift: i64| -> f32 { video_starts.iter().enumerate().map(|(i, s)| sim[i * n_audio + (*s as i64 + shift) as usize]).sum() };
    (-max_shift..=max_shift).max_by(|x, y| score(*x).total_cmp(&score(*y)).then(y.abs().cmp(&x.abs()))).unwrap_or(0)
}

/// Offset evaluation result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OffsetEval {
    /// Fraction of clips whose best-scoring shift is exactly 0.
    pub accuracy: f64,
    /// Mean |best shift| in seconds.
    pub mean_abs_offset: f64,
    pub clips: usize,
}

/// For each clip: audio shifted by every multiple of 40 ms within `max_shift_frames` frames,
/// scored by the summed cosine similarity of video windows (every 8 frames, placed so every
/// shift stays inside the clip) with the shifted audio windows; the best shift is the estimate.
pub fn offset_eval(model: &SyncModel, clips: &[SyncClip], config: &SyncConfig, max_shift_frames: usize, device: &Device) -> OffsetEval {
    // Inference mode: batch norms use their running statistics.
    let model = &model.valid();
    let w = config.window_frames;
    let mut correct = 0;
    let mut total_error = 0.0;
    let mut used = 0;
    for clip in clips {
        let t = clip.num_frames;
        if t < w + 2 * max_shift_frames + 1 {
            continue;
        }
        let audio_starts: Vec<(&SyncClip, usize)> = (0..=t - w).map(|s| (clip, s)).collect();
        let a = model.embed_audio(model.audio.forward(audio_batch(&audio_starts, config, device)));
        let video_starts: Vec<(&SyncClip, usize)> = (max_shift_frames..=t - w - max_shift_frames).step_by(w / 2).map(|s| (clip, s)).collect();
        let v = model.embed_video(model.video.forward(video_batch(&video_starts, config, device)));
        // similarity[i, j] = video window i against audio window starting at frame j
        let sim: Vec<f32> = v.matmul(a.transpose()).into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default();
        let starts: Vec<usize> = video_starts.iter().map(|(_, s)| *s).collect();
        let best = best_shift(&sim, t - w + 1, &starts, max_shift_frames as i64);
        correct += (best == 0) as usize;
        total_error += best.unsigned_abs() as f64 * FRAME_SECONDS;
        used += 1;
    }
    let n = used.max(1) as f64;
    OffsetEval { accuracy: correct as f64 / n, mean_abs_offset: total_error / n, clips: used }
}

/// The same offset evaluation scored by VAMA alone: for every shift, the hidden audio tokens
/// (a fixed mask per video window, `mask_ratio` of them) are reconstructed from the video window
/// and the visible shifted audio; the shift with the lowest reconstruction error wins.
pub fn vama_offset_eval(stack: &SyncStack, clips: &[SyncClip], config: &SyncConfig, max_shift_frames: usize, mask_ratio: f64, device: &Device) -> OffsetEval {
    let stack = stack.valid();
    let (w, m) = (config.window_frames, max_shift_frames as i64);
    let mut rng = SplitMix::new(0);
    let (mut correct, mut total_error, mut used) = (0, 0.0, 0);
    for clip in clips {
        let t = clip.num_frames;
        if t < w + 2 * max_shift_frames + 1 {
            continue;
        }
        let mut scores = vec![0f32; (2 * m + 1) as usize];
        for s in (max_shift_frames..=t - w - max_shift_frames).step_by(w / 2) {
            let video: Vec<(&SyncClip, usize)> = (-m..=m).map(|_| (clip, s)).collect();
            let audio: Vec<(&SyncClip, usize)> = (-m..=m).map(|d| (clip, (s as i64 + d) as usize)).collect();
            let one = random_mask(1, config.tokens_per_window, mask_ratio, &mut rng, device);
            let mask = one.repeat_dim(0, video.len());
            let errors = stack.vama.window_errors(&stack.sync, video_batch(&video, config, device), audio_batch(&audio, config, device), mask);
            let errors: Vec<f32> = errors.into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default();
            for (score, e) in scores.iter_mut().zip(errors) {
                *score -= e;
            }
        }
        let best = (-m..=m).max_by(|x, y| scores[(x + m) as usize].total_cmp(&scores[(y + m) as usize]).then(y.abs().cmp(&x.abs()))).unwrap_or(0);
        correct += (best == 0) as usize;
        total_error += best.unsigned_abs() as f64 * FRAME_SECONDS;
        used += 1;
    }
    let n = used.max(1) as f64;
    OffsetEval { accuracy: correct as f64 / n, mean_abs_offset: total_error / n, clips: used }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_shift_finds_the_peak_and_prefers_zero_on_ties() {
        let (n_audio, starts) = (40, [10usize, 18]);
        let mut sim = vec![0f32; 2 * n_audio];
        sim[13] = 1.0; // window 0 (start 10) best at +3
        sim[n_audio + 21] = 1.0; // window 1 (start 18) best at +3
        sim[n_audio + 16] = 0.5; // a weaker vote for -2
        assert_eq!(best_shift(&sim, n_audio, &starts, 5), 3);
        assert_eq!(best_shift(&vec![0.0; 2 * n_audio], n_audio, &starts, 5), 0);
    }

    #[test]
    fn info_nce_rewards_aligned_pairs() {
        let device = Device::flex();
        let e = Tensor::<2>::eye(6, &device);
        let (aligned, acc) = info_nce(e.clone(), e.clone(), 0.1);
        let shuffled = Tensor::cat(vec![e.clone().narrow(0, 1, 5), e.narrow(0, 0, 1)], 0);
        let (wrong, acc_wrong) = info_nce(Tensor::<2>::eye(6, &device), shuffled, 0.1);
        let (aligned, wrong) = (aligned.into_scalar::<f32>(), wrong.into_scalar::<f32>());
        assert_eq!((acc, acc_wrong), (1.0, 0.0));
        // -log(e^10 / (e^10 + 5)) for each row and column.
        assert!((aligned - (1.0 + 5.0 * (-10f32).exp()).ln()).abs() < 1e-4, "{aligned}");
        assert!(wrong > 10.0, "{wrong}");
    }

    #[test]
    fn distinct_draws_are_distinct() {
        let mut rng = SplitMix::new(3);
        let mut d = rng.distinct(10, 10);
        d.sort();
        assert_eq!(d, (0..10).collect::<Vec<_>>());
    }
}
