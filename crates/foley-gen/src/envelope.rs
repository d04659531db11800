//! The timing envelope: how loud the soundtrack is, and how sharply it rises, at every sync
//! token (24 per second).
//!
//! The generator learned the sound of foley-sim long before learning when it happens (see
//! BENCHMARKS.md, Generator). Following Video-Foley and T-Foley, which condition on an RMS
//! envelope, the envelope can be appended to the sync features (`[data] envelope = true`): in
//! training it is computed from the target mel (teacher forcing); at generation it is predicted
//! from the video by [`EnvelopePredictor`], a small dilated temporal ConvNet over the sync tokens
//! and the frame features, trained by `foley train envelope`. (Frame-difference motion on 64 px
//! grey frames, an 8x8 grid, was tried as a third input: held-out R² 0.510 / 0.196 with it,
//! 0.533 / 0.175 without, so it is not used.) The flow network itself is
//! unchanged: its sync stream is simply [`ENVELOPE_DIM`] channels wider.

use burn::module::Module;
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig1d};
use burn::tensor::{Device, Tensor};
use foley_kernels::conv::gelu;
use foley_seq::SequenceConfig;
use serde::{Deserialize, Serialize};

use crate::features::moments;

/// Channels per sync token: loudness (the mean over its mel frames of log10 of the frame's mean
/// mel magnitude) and onset strength (the largest rise of that frame loudness from one mel frame
/// to the next inside the token; a rise of the whole frame, so the noise floor's bin-wise
/// flicker does not count).
pub const ENVELOPE_DIM: usize = 2;

/// Raw envelope `[sync_seq_len, ENVELOPE_DIM]` of raw (unnormalized) log10-mel tokens
/// (token-major, `frames_per_token * n_mels` channels). Mel frame `f` belongs to the sync token
/// holding its time `f / mel_fps`.
pub fn envelope_of_tokens(tokens: &[f32], seq: &SequenceConfig) -> Vec<f32> {
    let n_mels = seq.mel.n_mels;
    let frames: Vec<&[f32]> = tokens.chunks(n_mels).collect();
    let ns = seq.sync_seq_len();
    let ratio = seq.sync_token_rate() / seq.mel.frames_per_second();
    let level = |frame: &[f32]| (frame.iter().map(|&v| 10f64.powf(v as f64)).sum::<f64>() / n_mels as f64).max(1e-5).log10();
    let (mut loud, mut rise, mut count) = (vec![0f64; ns], vec![0f64; ns], vec![0usize; ns]);
    let mut previous: Option<f64> = None;
    for (f, frame) in frames.iter().enumerate() {
        let i = ((f as f64 * ratio) as usize).min(ns - 1);
        let l = level(frame);
        loud[i] += l;
        rise[i] = rise[i].max(previous.map_or(0.0, |p| (l - p).max(0.0)));
        previous = Some(l);
        count[i] += 1;
    }
    let mut out = Vec::with_capacity(ns * ENVELOPE_DIM);
    for i in 0..ns {
        // Tokens past the audio (not possible at 62.5 mel frames/s vs 24 tokens/s) stay silent.
        out.push(if count[i] == 0 { -5.0 } else { (loud[i] / count[i] as f64) as f32 });
        out.push(rise[i] as f32);
    }
    out
}

/// Per-channel mean and standard deviation of the training envelopes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvelopeStats {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl EnvelopeStats {
    /// Statistics over every token of `envelopes` (each `[tokens, ENVELOPE_DIM]`).
    pub fn of<'a>(envelopes: impl Iterator<Item = &'a [f32]>) -> Self {
        let (mean, std) = moments(envelopes.flat_map(|e| e.chunks(ENVELOPE_DIM)), ENVELOPE_DIM, 1);
        Self { mean, std }
    }

    /// Raw -> standardized, in place.
    pub fn apply(&self, env: &mut [f32]) {
        for (i, v) in env.iter_mut().enumerate() {
            let k = i % ENVELOPE_DIM;
            *v = (*v - self.mean[k]) / self.std[k];
        }
    }
}

/// R² of a `predicted` envelope against the `truth` (both `[tokens, ENVELOPE_DIM]`, any number
/// of clips concatenated), per channel: 1 is perfect, 0 no better than the truth's mean.
pub fn r_squared(predicted: &[f32], truth: &[f32]) -> [f64; ENVELOPE_DIM] {
    let (mut sum, mut sq, mut err) = ([0f64; ENVELOPE_DIM], [0f64; ENVELOPE_DIM], [0f64; ENVELOPE_DIM]);
    for (i, (&p, &t)) in predicted.iter().zip(truth).enumerate() {
        let k = i % ENVELOPE_DIM;
        sum[k] += t as f64;
        sq[k] += (t as f64).powi(2);
        err[k] += ((p - t) as f64).powi(2);
    }
    let n = (truth.len() / ENVELOPE_DIM).max(1) as f64;
    std::array::from_fn(|k| 1.0 - (err[k] / n) / (sq[k] / n - (sum[k] / n).powi(2)).max(1e-12))
}

/// `[tokens, a_dim]` rows and `[tokens, b_dim]` rows -> `[tokens, a_dim + b_dim]`.
pub fn append_columns(a: &[f32], a_dim: usize, b: &[f32], b_dim: usize) -> Vec<f32> {
    a.chunks(a_dim).zip(b.chunks(b_dim)).flat_map(|(x, y)| x.iter().chain(y).copied()).collect()
}

/// The predictor's input rows `[sync_seq_len, semantic_dim + sync_dim]`: each sync token with
/// the frame feature shown at its time (nearest-exact, as MMAudio maps rows: 8 fps -> 24 tokens/s).
pub fn predictor_input(semantic: &[f32], semantic_dim: usize, sync: &[f32], sync_dim: usize) -> Vec<f32> {
    let (nc, ns) = (semantic.len() / semantic_dim, sync.len() / sync_dim);
    let mut out = Vec::with_capacity(ns * (semantic_dim + sync_dim));
    for i in 0..ns {
        let j = foley_seq::nearest_exact_source(i, nc, ns);
        out.extend_from_slice(&semantic[j * semantic_dim..(j + 1) * semantic_dim]);
        out.extend_from_slice(&sync[i * sync_dim..(i + 1) * sync_dim]);
    }
    out
}

/// Width of the predictor's hidden channels.
pub const PREDICTOR_WIDTH: usize = 128;
/// Dilations of its residual convolutions (kernel 5): a receptive field of 57 tokens (2.4 s).
pub const PREDICTOR_DILATIONS: [usize; 4] = [1, 2, 4, 8];
const PREDICTOR_KERNEL: usize = 5;

/// Video -> standardized timing envelope, one row per sync token.
#[derive(Module, Debug)]
pub struct EnvelopePredictor {
    input: Linear,
    dropout: Dropout,
    convs: Vec<Conv1d>,
    output: Linear,
}

impl EnvelopePredictor {
    /// A new predictor for input rows of `input_dim` (see [`predictor_input`]).
    pub fn new(input_dim: usize, device: &Device) -> Self {
        let convs = PREDICTOR_DILATIONS
            .iter()
            .map(|&d| {
                Conv1dConfig::new(PREDICTOR_WIDTH, PREDICTOR_WIDTH, PREDICTOR_KERNEL)
                    .with_dilation(d)
                    .with_padding(PaddingConfig1d::Explicit(d * (PREDICTOR_KERNEL - 1) / 2, d * (PREDICTOR_KERNEL - 1) / 2))
                    .init(device)
            })
            .collect();
        Self {
            input: LinearConfig::new(input_dim, PREDICTOR_WIDTH).init(device),
            dropout: DropoutConfig::new(0.2).init(),
            convs,
            output: LinearConfig::new(PREDICTOR_WIDTH, ENVELOPE_DIM).init(device),
        }
    }

    /// `(B, tokens, input_dim)` -> `(B, tokens, ENVELOPE_DIM)`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h = self.dropout.forward(gelu(self.input.forward(x)));
        let mut h = h.swap_dims(1, 2);
        for conv in &self.convs {
            h = h.clone() + gelu(conv.forward(h));
        }
        self.output.forward(h.swap_dims(1, 2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_marks_the_token_where_the_sound_starts() {
        let seq = SequenceConfig::mmaudio_16k(2.0);
        let (n, c) = (seq.latent_seq_len(), 2 * seq.mel.n_mels);
        // Silence (-5) until mel frame 50 (0.8 s), then a loud frame-wide 0 (magnitude 1).
        let mut tokens = vec![-5f32; n * c];
        for f in 50..2 * n {
            tokens[f * seq.mel.n_mels..(f + 1) * seq.mel.n_mels].fill(0.0);
        }
        let env = envelope_of_tokens(&tokens, &seq);
        assert_eq!(env.len(), seq.sync_seq_len() * ENVELOPE_DIM);
        // 2 s hold 5 segments = 40 sync tokens, 20 per second: frame 50 (0.8 s) is in token 16.
        assert_eq!(seq.sync_token_rate(), 20.0);
        let onset = (0..seq.sync_seq_len()).max_by(|&a, &b| env[a * 2 + 1].total_cmp(&env[b * 2 + 1])).unwrap();
        assert_eq!(onset, 16);
        assert!((env[1 * 2] + 5.0).abs() < 1e-6 && env[30 * 2].abs() < 1e-6, "silent then loud");
        assert!((env[onset * 2 + 1] - 5.0).abs() < 1e-6 && env[30 * 2 + 1] == 0.0, "the rise is 5 (log10 units) at the onset only");

        let stats = EnvelopeStats::of(std::iter::once(env.as_slice()));
        let mut s = env.clone();
        stats.apply(&mut s);
        let mean0 = s.chunks(2).map(|r| r[0]).sum::<f32>() / seq.sync_seq_len() as f32;
        assert!(mean0.abs() < 1e-5);
    }

    #[test]
    fn predictor_input_pairs_each_token_with_the_frame_on_screen() {
        // 2 semantic frames of dim 1, 6 sync tokens of dim 1.
        let x = predictor_input(&[10.0, 20.0], 1, &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 1);
        assert_eq!(x, vec![10.0, 0.0, 10.0, 1.0, 10.0, 2.0, 20.0, 3.0, 20.0, 4.0, 20.0, 5.0]);
        assert_eq!(append_columns(&[1.0, 2.0], 1, &[3.0, 4.0, 5.0, 6.0], 2), vec![1.0, 3.0, 4.0, 2.0, 5.0, 6.0]);
    }

    #[test]
    fn predictor_keeps_the_token_axis() {
        let device = Device::flex();
        let p = EnvelopePredictor::new(7, &device);
        let y = p.forward(Tensor::zeros([2, 30, 7], &device));
        assert_eq!(y.dims(), [2, 30, ENVELOPE_DIM]);
    }
}
