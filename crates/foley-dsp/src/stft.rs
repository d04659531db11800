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
        let padded_len = (n_frames.max(1) - 1) * self.hop + self.n_fft;
        // The inverse transforms run in parallel, the overlap-add in frame order (the same sums
        // in the same order as a serial loop).
        let mut frames = vec![0.0f64; n_frames * self.n_fft];
        frames.par_chunks_mut(FRAMES_PER_TASK * self.n_fft).enumerate().for_each(|(task, out)| {
            let mut bins = self.inverse.make_input_vec();
            let mut scratch = self.inverse.make_scratch_vec();
            for (k, frame) in out.chunks_exact_mut(self.n_fft).enumerate() {
                let t = task * FRAMES_PER_TASK + k;
                bins.copy_from_slice(&spectrum[t * n_freqs..(t + 1) * n_freqs]);
                // A real signal's DC and Nyquist bins are real; drop rounding residue there.
                bins[0].im = 0.0;
                bins[n_freqs - 1].im = 0.0;
                self.inverse.process_with_scratch(&mut bins, frame, &mut scratch).expect("buffer sizes come from the same plan");
            }
        });
        let mut acc = vec![0.0f64; padded_len];
        let mut norm = vec![0.0f64; padded_len];
        for (t, frame) in frames.chunks_exact(self.n_fft).enumerate() {
            let start = t * self.hop;
            for i in 0..self.n_fft {
                let w = self.window[i];
                acc[start + i] += frame[i] / self.n_fft as f64 * w;
                norm[start + i] += w * w;
            }
        }
        let pad = self.pad();
        (pad..pad + n_frames * self.hop).map(|i| if norm[i] > 1e-11 { acc[i] / norm[i] } else { 0.0 }).collect()
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
    (-(pad as isize)..(n + pad) as isize).map(reflect).collect()
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
}
