//! Griffin-Lim phase reconstruction from a log-mel spectrogram (weightless decoding).
//!
//! The mel magnitudes are mapped back to linear frequency with the pseudo-inverse of the
//! filterbank (negatives clipped), then phases are estimated by alternating projections
//! (Griffin & Lim 1984) with the "fast Griffin-Lim" momentum of Perraudin et al. 2013, as in
//! torchaudio's `GriffinLim`.

use rayon::prelude::*;
use realfft::num_complex::Complex;

use crate::{DspError, Mel, MelSpectrogram};

/// Griffin-Lim settings.
#[derive(Debug, Clone, Copy)]
pub struct GriffinLim {
    /// Number of projection iterations.
    pub iterations: usize,
    /// Fast Griffin-Lim momentum in [0, 1); 0 gives the classic algorithm.
    pub momentum: f64,
    /// Seed of the random initial phases.
    pub seed: u64,
}

impl Default for GriffinLim {
    fn default() -> Self {
        Self { iterations: 64, momentum: 0.99, seed: 0 }
    }
}

/// What a reconstruction achieved.
#[derive(Debug, Clone, Copy)]
pub struct GriffinLimReport {
    /// `‖S − |STFT(y)|‖_F / ‖S‖_F` against the linear magnitudes the mel was mapped to.
    pub spectral_convergence: f64,
}

impl GriffinLim {
    /// Reconstructs `mel.n_frames * hop` samples from a log-mel made by `converter`.
    pub fn invert(&self, converter: &MelSpectrogram, mel: &Mel) -> Result<(Vec<f32>, GriffinLimReport), DspError> {
        let cfg = converter.config();
        if mel.n_mels != cfg.n_mels {
            return Err(DspError::MelBins { got: mel.n_mels, expected: cfg.n_mels });
        }
        if mel.n_frames == 0 {
            return Err(DspError::Empty);
        }
        let target = linear_from_mel(converter, mel);
        self.reconstruct(converter, &target, mel.n_frames)
    }

    /// Phase reconstruction for frame-major linear magnitudes `(T, n_freqs)`.
    pub fn reconstruct(&self, converter: &MelSpectrogram, target: &[f64], n_frames: usize) -> Result<(Vec<f32>, GriffinLimReport), DspError> {
        let stft = converter.stft();
        let mut rng = SplitMix64(self.seed);
        let mut angles: Vec<Complex<f64>> = target.iter().map(|_| Complex::from_polar(1.0, rng.next_f64() * std::f64::consts::TAU)).collect();
        let mut previous = vec![Complex::new(0.0, 0.0); target.len()];
        let accel = self.momentum / (1.0 + self.momentum);
        for _ in 0..self.iterations {
            let (rebuilt, _) = stft.forward(&stft.inverse_with(n_frames, |t, bins| magnitudes_with_phases(target, &angles, t, bins)));
            angles.par_iter_mut().zip(&rebuilt).zip(&mut previous).with_min_len(4096).for_each(|((a, &r), p)| {
                let v = r - *p * accel;
                // |v| without libm's hypot (a fifth of the decoder's time; no overflow risk at
                // audio magnitudes).
                *a = v / ((v.re * v.re + v.im * v.im).sqrt() + 1e-16);
                *p = r;
            });
        }
        let signal = stft.inverse_with(n_frames, |t, bins| magnitudes_with_phases(target, &angles, t, bins));
        let report = GriffinLimReport { spectral_convergence: spectral_convergence(stft, target, &signal) };
        Ok((signal.iter().map(|&x| x as f32).collect(), report))
    }
}

/// Frame `t` of the spectrum `target * angles` (both frame-major).
fn magnitudes_with_phases(target: &[f64], angles: &[Complex<f64>], t: usize, bins: &mut [Complex<f64>]) {
    let n = bins.len();
    for ((b, &s), &a) in bins.iter_mut().zip(&target[t * n..(t + 1) * n]).zip(&angles[t * n..(t + 1) * n]) {
        *b = a * s;
    }
}

/// Linear magnitudes (frame-major) from a log-mel via the filterbank pseudo-inverse.
fn linear_from_mel(converter: &MelSpectrogram, mel: &Mel) -> Vec<f64> {
    let cfg = converter.config();
    let (n_mels, n_freqs, n_frames) = (cfg.n_mels, cfg.n_freqs(), mel.n_frames);
    let pinv = converter.pseudo_inverse();
    let mut out = vec![0.0f64; n_frames * n_freqs];
    let mel_lin: Vec<f64> = mel.data.iter().map(|&v| converter.exp(v)).collect();
    out.par_chunks_mut(n_freqs).enumerate().for_each(|(t, row)| {
        for (f, o) in row.iter_mut().enumerate() {
            let v: f64 = (0..n_mels).map(|m| pinv[f * n_mels + m] * mel_lin[m * n_frames + t]).sum();
            *o = v.max(0.0);
        }
    });
    out
}

/// `‖S − |STFT(y)|‖_F / ‖S‖_F`, both frame-major.
pub(crate) fn spectral_convergence(stft: &crate::Stft, target: &[f64], signal: &[f64]) -> f64 {
    let (spec, _) = stft.forward(signal);
    let (mut num, mut den) = (0.0, 0.0);
    for (s, c) in target.iter().zip(&spec) {
        num += (s - c.norm()).powi(2);
        den += s * s;
    }
    (num / den.max(1e-30)).sqrt()
}

/// SplitMix64: a tiny, documented, seedable generator for the initial phases.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}
