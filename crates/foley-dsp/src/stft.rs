//! Short-time Fourier transform with MMAudio's framing, and its overlap-add inverse.
//!
//! Framing: the signal is reflect-padded by `(n_fft - hop) / 2` on each side and cut into
//! frames of `n_fft` samples every `hop` samples (no further centring), each multiplied by a
//! periodic Hann window. `T` frames reconstruct exactly `T * hop` samples.

use std::sync::Arc;

use rayon::prelude::*;
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// Frames per parallel task: enough work per task to pay for its scratch buffers.
const FRAMES_PER_TASK: usize = 16;

/// A planned STFT for one `(n_fft, hop)` geometry. Computation is in f64.
pub struct Stft {
    n_fft: usize,
    hop: usize,
    window: Vec<f64>,
    forward: Arc<dyn RealToComplex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
}

impl Stft {
    /// Plans the transforms and builds the periodic Hann window of length `n_fft`.
    pub fn new(n_fft: usize, hop: usize) -> Self {
        let mut planner = RealFftPlanner::<f64>::new();
        let window = (0..n_fft).map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n_fft as f64).cos()).collect();
        Self { n_fft, hop, window, forward: planner.plan_fft_forward(n_fft), inverse: planner.plan_fft_inverse(n_fft) }
    }

    /// Samples of reflect padding on each side.
    pub fn pad(&self) -> usize {
        (self.n_fft - self.hop) / 2
    }

    /// Number of one-sided frequency bins.
    pub fn n_freqs(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Complex spectrum, frame-major: `out[t * n_freqs + f]`. Returns `(spectrum, n_frames)`.
    pub fn forward(&self, signal: &[f64]) -> (Vec<Complex<f64>>, usize) {
        let padded = reflect_pad(signal, self.pad());
        let n_frames = if padded.len() < self.n_fft { 0 } else { (padded.len() - self.n_fft) / self.hop + 1 };
        let n_freqs = self.n_freqs();
        let mut out = vec![Complex::new(0.0, 0.0); n_frames * n_freqs];
        // Frames are independent: each task transforms its own, the result is the same bits.
        out.par_chunks_mut(FRAMES_PER_TASK * n_freqs).enumerate().for_each(|(task, spectra)| {
            let mut frame = self.forward.make_input_vec();
            let mut scratch = self.forward.make_scratch_vec();
            for (k, spectrum) in spectra.chunks_exact_mut(n_freqs).enumerate() {
                let start = (task * FRAMES_PER_TASK + k) * self.hop;
                for (i, x) in frame.iter_mut().enumerate() {
                    *x = padded[start + i] * self.window[i];
                }
                self.forward.process_with_scratch(&mut frame, spectrum, &mut scratch).expect("buffer sizes come from the same plan");
            }
        });
        (out, n_frames)
    }

    /// Windowed overlap-add inverse of [`Stft::forward`] (least-squares ISTFT), giving
    /// `n_frames * hop` samples.
    pub fn inverse(&self, spectrum: &[Complex<f64>], n_frames: usize) -> Vec<f64> {
        let n_freqs = self.n_freqs();
        self.inverse_with(n_frames, |t, bins| bins.copy_from_slice(&spectrum[t * n_freqs..(t + 1) * n_freqs]))
    }

    /// [`Stft::inverse`] of the spectrum whose frame `t` `fill(t, bins)` writes (callers that
    /// compute the spectrum need not store it whole).
    pub fn inverse_with(&self, n_frames: usize, fill: impl Fn(usize, &mut [Complex<f64>]) + Sync) -> Vec<f64> {
        let n_freqs = self.n_freqs();
        let (n_fft, hop) = (self.n_fft, self.hop);
        let mut frames = vec![0.0f64; n_frames * n_fft];
        frames.par_chunks_mut(FRAMES_PER_TASK * n_fft).enumerate().for_each(|(task, out)| {
            let mut bins = self.inverse.make_input_vec();
            let mut scratch = self.inverse.make_scratch_vec();
            for (k, frame) in out.chunks_exact_mut(n_fft).enumerate() {
                fill(task * FRAMES_PER_TASK + k, &mut bins);
                // A real signal's DC and Nyquist bins are real; drop rounding residue there.
                bins[0].im = 0.0;
                bins[n_freqs - 1].im = 0.0;
                self.inverse.process_with_scratch(&mut bins, frame, &mut scratch).expect("buffer sizes come from the same plan");
            }
        });
        // Overlap-add, one task per run of output samples; each sample sums its frames in frame
        // order, so the result is the bits of a serial loop over frames.
        let pad = self.pad();
        let mut out = vec![0.0f64; n_frames * hop];
        let run = FRAMES_PER_TASK * hop;
        out.par_chunks_mut(run).enumerate().for_each(|(task, out)| {
            // Padded coordinates of this run: [lo, lo + out.len()).
            let lo = pad + task * run;
            let hi = lo + out.len();
            let mut acc = vec![0.0f64; out.len()];
            let mut norm = vec![0.0f64; out.len()];
            let first = (lo + 1).saturating_sub(n_fft).div_ceil(hop);
            let last = ((hi - 1) / hop).min(n_frames.saturating_sub(1));
            for t in first..=last {
                let start = t * hop;
                let frame = &frames[t * n_fft..(t + 1) * n_fft];
                for i in start.max(lo)..(start + n_fft).min(hi) {
                    let w = self.window[i - start];
                    acc[i - lo] += frame[i - start] / n_fft as f64 * w;
                    norm[i - lo] += w * w;
                }
            }
            for ((o, a), n) in out.iter_mut().zip(&acc).zip(&norm) {
                *o = if *n > 1e-11 { a / n } else { 0.0 };
            }
        });
        out
    }
}

/// Reflect padding without repeating the edge sample (PyTorch/NumPy "reflect").
fn reflect_pad(signal: &[f64], pad: usize) -> Vec<f64> {
    let n = signal.len();
    if n == 0 {
        return vec![0.0; 2 * pad];
    }
    let reflect = |i: isize| -> f64 {
        if n == 1 {
            return signal[0];
        }
        let period = 2 * (n as isize - 1);
        let mut j = i.rem_euclid(period);
        if j >= n as isize {
            j = period - j;
        }
        signal[j as usize]
    };
    let mut out = Vec::with_capacity(n + 2 * pad);
    out.extend((-(pad as isize)..0).map(reflect));
    out.extend_from_slice(signal);
    out.extend((n as isize..(n + pad) as isize).map(reflect));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_pad_matches_numpy() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(reflect_pad(&x, 2), vec![3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0]);
    }

    #[test]
    fn inverse_reconstructs_the_signal() {
        let stft = Stft::new(64, 16);
        let x: Vec<f64> = (0..16 * 40).map(|i| ((i * 7919) % 97) as f64 / 97.0 - 0.5).collect();
        let (spec, frames) = stft.forward(&x);
        assert_eq!(frames, 40);
        let y = stft.inverse(&spec, frames);
        assert_eq!(y.len(), x.len());
        let err = x.iter().zip(&y).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(err < 1e-9, "max reconstruction error {err}");
    }

    #[test]
    fn parallel_overlap_add_is_the_serial_sum() {
        // Frames of every length class: fewer than one task, several tasks, a partial last task.
        for (n_fft, hop, n_frames) in [(64, 16, 3), (64, 16, 40), (1024, 256, 37), (32, 32, 5)] {
            let stft = Stft::new(n_fft, hop);
            let nf = stft.n_freqs();
            let spec: Vec<Complex<f64>> = (0..n_frames * nf).map(|i| Complex::new(((i * 31) % 17) as f64 - 8.0, ((i * 7) % 13) as f64 - 6.0)).collect();
            let y = stft.inverse(&spec, n_frames);
            // The serial definition: every frame added in order into one buffer.
            let mut frames = vec![0.0; n_frames * n_fft];
            let mut plan = RealFftPlanner::<f64>::new();
            let inv = plan.plan_fft_inverse(n_fft);
            for t in 0..n_frames {
                let mut bins = spec[t * nf..(t + 1) * nf].to_vec();
                bins[0].im = 0.0;
                bins[nf - 1].im = 0.0;
                inv.process(&mut bins, &mut frames[t * n_fft..(t + 1) * n_fft]).unwrap();
            }
            let len = (n_frames - 1) * hop + n_fft;
            let (mut acc, mut norm) = (vec![0.0f64; len], vec![0.0f64; len]);
            for t in 0..n_frames {
                for i in 0..n_fft {
                    let w = stft.window[i];
                    acc[t * hop + i] += frames[t * n_fft + i] / n_fft as f64 * w;
                    norm[t * hop + i] += w * w;
                }
            }
            let pad = stft.pad();
            let serial: Vec<f64> = (pad..pad + n_frames * hop).map(|i| if norm[i] > 1e-11 { acc[i] / norm[i] } else { 0.0 }).collect();
            assert_eq!(y, serial, "n_fft {n_fft} hop {hop} frames {n_frames}");
        }
    }
}
