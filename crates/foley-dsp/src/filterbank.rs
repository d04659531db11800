//! The Slaney mel filterbank, as librosa computes it (`htk=False`, `norm="slaney"`).
//!
//! Computed in f64 like librosa, then stored as f32.

use foley_seq::MelConfig;

const F_SP: f64 = 200.0 / 3.0; // linear region: 66.67 Hz per mel
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP; // 15 mels

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

/// Hz to Slaney mel: linear below 1 kHz, logarithmic above.
pub fn hz_to_mel_slaney(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ { MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step() } else { hz / F_SP }
}

/// Slaney mel to Hz (inverse of [`hz_to_mel_slaney`]).
pub fn mel_to_hz_slaney(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL { MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp() } else { F_SP * mel }
}

/// Triangular filters with Slaney area normalisation, shape `(n_mels, n_fft / 2 + 1)`, row-major.
pub fn mel_filterbank(cfg: &MelConfig) -> Vec<f32> {
    let n_freqs = cfg.n_freqs();
    let n_mels = cfg.n_mels;
    let sr = cfg.sample_rate as f64;
    let fft_freqs: Vec<f64> = (0..n_freqs).map(|i| i as f64 * (sr / 2.0) / (n_freqs - 1) as f64).collect();
    let (mel_lo, mel_hi) = (hz_to_mel_slaney(cfg.f_min as f64), hz_to_mel_slaney(cfg.f_max as f64));
    let mel_f: Vec<f64> = (0..n_mels + 2).map(|i| mel_to_hz_slaney(mel_lo + (mel_hi - mel_lo) * i as f64 / (n_mels + 1) as f64)).collect();

    let mut weights = vec![0f32; n_mels * n_freqs];
    for m in 0..n_mels {
        let (left, centre, right) = (mel_f[m], mel_f[m + 1], mel_f[m + 2]);
        let enorm = 2.0 / (right - left);
        for (k, &f) in fft_freqs.iter().enumerate() {
            let lower = (f - left) / (centre - left);
            let upper = (right - f) / (right - centre);
            weights[m * n_freqs + k] = (lower.min(upper).max(0.0) * enorm) as f32;
        }
    }
    weights
}
