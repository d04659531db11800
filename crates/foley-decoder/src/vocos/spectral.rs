//! Short-time Fourier transforms as burn tensor operations, so that losses on spectra
//! differentiate back to the waveform, and the vocoder's inverse STFT, which differentiates
//! back to the network.
//!
//! Framing everywhere is MMAudio's mel framing: the signal reflect-padded by `(n_fft - hop) / 2`
//! on each side, frames of `n_fft` samples every `hop`, a periodic Hann window. `T` frames
//! reconstruct exactly `T * hop` samples.

use burn::tensor::module::conv1d;
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::{Device, Tensor, TensorData};

/// Added under the square root of every magnitude (MMAudio's converter adds the same).
const MAG_EPS: f32 = 1e-9;

fn hann(n_fft: usize) -> Vec<f64> {
    (0..n_fft).map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n_fft as f64).cos()).collect()
}

/// A forward STFT `(B, L) -> |X|` of shape `(B, T, n_fft / 2 + 1)`, as one strided convolution
/// whose kernels are the windowed cosines and sines of every bin.
#[derive(Debug, Clone)]
pub struct StftMagnitude {
    n_fft: usize,
    hop: usize,
    /// `(2 F, 1, n_fft)`: the real parts' kernels, then the imaginary parts'.
    kernels: Tensor<3>,
}

impl StftMagnitude {
    pub fn new(n_fft: usize, hop: usize, device: &Device) -> Self {
        let f = n_fft / 2 + 1;
        let w = hann(n_fft);
        let mut k = vec![0f32; 2 * f * n_fft];
        for bin in 0..f {
            for n in 0..n_fft {
                let a = 2.0 * std::f64::consts::PI * ((bin * n) % n_fft) as f64 / n_fft as f64;
                k[bin * n_fft + n] = (w[n] * a.cos()) as f32;
                k[(f + bin) * n_fft + n] = (-w[n] * a.sin()) as f32;
            }
        }
        Self { n_fft, hop, kernels: Tensor::from_data(TensorData::new(k, [2 * f, 1, n_fft]), device) }
    }

    /// Frames the padded signal yields for `len` samples (MMAudio's `num_frames`).
    pub fn frames(&self, len: usize) -> usize {
        let padded = len + 2 * ((self.n_fft - self.hop) / 2);
        if padded < self.n_fft { 0 } else { (padded - self.n_fft) / self.hop + 1 }
    }

    /// `(B, L)` waveform -> `(B, T, F)` magnitudes `sqrt(re² + im² + 1e-9)`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<3> {
        let (re, im) = self.complex(x);
        (re.powi_scalar(2) + im.powi_scalar(2)).add_scalar(MAG_EPS).sqrt()
    }

    /// `(B, L)` waveform -> real and imaginary parts, each `(B, T, F)`.
    pub fn complex(&self, x: Tensor<2>) -> (Tensor<3>, Tensor<3>) {
        let pad = (self.n_fft - self.hop) / 2;
        let x = x.pad([(0, 0), (pad, pad)], PadMode::Reflect).unsqueeze_dim::<3>(1);
        let spec = conv1d(x, self.kernels.clone(), None, ConvOptions::new([self.hop], [0], [1], 1));
        let f = self.n_fft / 2 + 1;
        let [b, _, t] = spec.dims();
        let re = spec.clone().slice([0..b, 0..f, 0..t]);
        let im = spec.slice([0..b, f..2 * f, 0..t]);
        (re.swap_dims(1, 2), im.swap_dims(1, 2))
    }
}

/// The inverse STFT of the vocoder's head: `(B, T, F)` real and imaginary parts -> `(B, T * hop)`
/// samples, by a matrix product with the windowed inverse-DFT basis, overlap-add, division by the
/// summed squared window, and removal of the framing's padding.
#[derive(Debug, Clone)]
pub struct InverseStft {
    n_fft: usize,
    hop: usize,
    /// `(F, n_fft)`: the contribution of each bin's real part to every windowed sample.
    basis_re: Tensor<2>,
    /// `(F, n_fft)`: the same for the imaginary parts.
    basis_im: Tensor<2>,
    window_sq: Vec<f64>,
}

impl InverseStft {
    /// # Panics
    /// If `n_fft` is not a multiple of `hop` (checked by [`super::VocosConfig::validate`]).
    pub fn new(n_fft: usize, hop: usize, device: &Device) -> Self {
        assert!(hop > 0 && n_fft % hop == 0, "n_fft {n_fft} must be a multiple of hop {hop}");
        let f = n_fft / 2 + 1;
        let w = hann(n_fft);
        let (mut re, mut im) = (vec![0f32; f * n_fft], vec![0f32; f * n_fft]);
        for bin in 0..f {
            // irfft: the DC and Nyquist bins count once, every other bin twice (its mirror).
            let c = if bin == 0 || 2 * bin == n_fft { 1.0 } else { 2.0 } / n_fft as f64;
            for n in 0..n_fft {
                let a = 2.0 * std::f64::consts::PI * ((bin * n) % n_fft) as f64 / n_fft as f64;
                re[bin * n_fft + n] = (c * w[n] * a.cos()) as f32;
                im[bin * n_fft + n] = (-c * w[n] * a.sin()) as f32;
            }
        }
        Self {
            n_fft,
            hop,
            basis_re: Tensor::from_data(TensorData::new(re, [f, n_fft]), device),
            basis_im: Tensor::from_data(TensorData::new(im, [f, n_fft]), device),
            window_sq: w.iter().map(|v| v * v).collect(),
        }
    }

    /// `1 / Σ_t w²(i - t hop)` for the `T * hop` samples that are kept.
    fn inverse_envelope(&self, frames: usize) -> Vec<f32> {
        let pad = (self.n_fft - self.hop) / 2;
        let mut env = vec![0f64; (frames - 1) * self.hop + self.n_fft];
        for t in 0..frames {
            for (n, w) in self.window_sq.iter().enumerate() {
                env[t * self.hop + n] += w;
            }
        }
        env[pad..pad + frames * self.hop].iter().map(|&e| (1.0 / e) as f32).collect()
    }

    /// `(B, T, F)` real and imaginary parts -> `(B, T * hop)` waveform.
    pub fn forward(&self, re: Tensor<3>, im: Tensor<3>) -> Tensor<2> {
        let [b, t, _] = re.dims();
        let frames = re.matmul(self.basis_re.clone().unsqueeze_dim(0)) + im.matmul(self.basis_im.clone().unsqueeze_dim(0));
        // Frame t covers hops t .. t + r of the padded output: overlap-add as r shifted sums.
        let r = self.n_fft / self.hop;
        let frames = frames.reshape([b, t, r, self.hop]);
        let mut sum: Option<Tensor<3>> = None;
        for q in 0..r {
            let part = frames.clone().slice([0..b, 0..t, q..q + 1, 0..self.hop]).reshape([b, t, self.hop]);
            let part = part.pad([(0, 0), (q, r - 1 - q), (0, 0)], PadMode::Constant(0.0));
            sum = Some(match sum {
                Some(s) => s + part,
                None => part,
            });
        }
        let full = sum.expect("n_fft >= hop").reshape([b, (t + r - 1) * self.hop]);
        let pad = (self.n_fft - self.hop) / 2;
        let inv = Tensor::<1>::from_data(TensorData::new(self.inverse_envelope(t), [t * self.hop]), &full.device());
        full.slice([0..b, pad..pad + t * self.hop]) * inv.unsqueeze_dim(0)
    }
}

/// Mel projection and logarithm of magnitudes: `(B, T, F) -> (B, T, n_mels)`, MMAudio's clamp and
/// log base.
#[derive(Debug, Clone)]
pub struct LogMel {
    /// `(F, n_mels)`: the transposed Slaney filterbank.
    basis: Tensor<2>,
    clamp_min: f32,
    /// Multiplies `ln`: `1 / ln 10` for a log10 mel.
    log_scale: f32,
}

impl LogMel {
    pub fn new(mel: &foley_seq::MelConfig, device: &Device) -> Self {
        let (m, f) = (mel.n_mels, mel.n_freqs());
        let fb = foley_dsp::mel_filterbank(mel);
        let mut t = vec![0f32; f * m];
        for i in 0..m {
            for j in 0..f {
                t[j * m + i] = fb[i * f + j];
            }
        }
        let log_scale = match mel.log_base {
            foley_seq::LogBase::Ten => 1.0 / std::f32::consts::LN_10,
            foley_seq::LogBase::E => 1.0,
        };
        Self { basis: Tensor::from_data(TensorData::new(t, [f, m]), device), clamp_min: mel.clamp_min, log_scale }
    }

    pub fn forward(&self, magnitudes: Tensor<3>) -> Tensor<3> {
        magnitudes.matmul(self.basis.clone().unsqueeze_dim(0)).clamp_min(self.clamp_min).log().mul_scalar(self.log_scale)
    }
}
