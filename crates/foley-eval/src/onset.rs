//! Audio onsets as librosa finds them (`onset.onset_strength` + `onset.onset_detect` with their
//! defaults), the detector the AV-Align reference and most onset metrics in the field use.
//!
//! * Envelope: STFT (periodic Hann, `n_fft` 2048, hop 512, centred with zero padding), power,
//!   128 Slaney mels up to Nyquist, `power_to_db` (amin 1e-10, top_db 80), positive first
//!   difference, mean over bands, shifted right by `1 + n_fft / (2 hop)` frames.
//! * Peaks: envelope normalized to [0, 1]; a frame is an onset if it equals the maximum over
//!   `[t - pre_max, t + post_max)`, exceeds the mean over `[t - pre_avg, t + post_avg)` by
//!   `delta`, is non-zero, and comes more than `wait` frames after the previous onset
//!   (`util.peak_pick` with onset_detect's 30 ms / 0 ms / 100 ms / 100 ms / 30 ms, delta 0.07).

use std::sync::Arc;

use foley_seq::{LogBase, MelConfig};
use realfft::{RealFftPlanner, RealToComplex};

/// Geometry of the onset envelope (librosa's defaults at 22.05 kHz).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct OnsetConfig {
    pub sample_rate: u32,
    pub n_fft: usize,
    pub hop: usize,
    pub n_mels: usize,
}

impl OnsetConfig {
    /// `librosa.load` resamples to 22,050 Hz; `onset_strength` uses n_fft 2048, hop 512, 128 mels.
    pub const LIBROSA: OnsetConfig = OnsetConfig { sample_rate: 22_050, n_fft: 2048, hop: 512, n_mels: 128 };

    /// Envelope frames per second.
    pub fn frame_rate(&self) -> f64 {
        self.sample_rate as f64 / self.hop as f64
    }
}

/// An onset strength envelope and the onsets picked from it.
#[derive(Debug, Clone)]
pub struct Onsets {
    pub config: OnsetConfig,
    /// Raw onset strength per frame (before normalization).
    pub envelope: Vec<f32>,
    /// Onset frames, increasing.
    pub frames: Vec<usize>,
}

impl Onsets {
    /// Onset times in seconds (`frames * hop / sr`).
    pub fn times(&self) -> Vec<f64> {
        self.frames.iter().map(|&f| f as f64 / self.config.frame_rate()).collect()
    }

    /// The normalized envelope value at each onset (a detection confidence in [0, 1]).
    pub fn strengths(&self) -> Vec<f64> {
        let norm = normalized(&self.envelope);
        self.frames.iter().map(|&f| norm[f]).collect()
    }
}

/// Computes onset envelopes for one configuration (FFT plan and mel basis built once).
pub struct OnsetDetector {
    config: OnsetConfig,
    fft: Arc<dyn RealToComplex<f64>>,
    window: Vec<f64>,
    mel_basis: Vec<f64>,
}

impl OnsetDetector {
    pub fn new(config: OnsetConfig) -> Self {
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(config.n_fft);
        let n = config.n_fft;
        let window = (0..n).map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos()).collect();
        let mel = MelConfig {
            sample_rate: config.sample_rate,
            n_fft: config.n_fft,
            hop: config.hop,
            win_length: config.n_fft,
            n_mels: config.n_mels,
            f_min: 0.0,
            f_max: config.sample_rate as f32 / 2.0,
            log_base: LogBase::Ten,
            clamp_min: 1e-10,
        };
        let mel_basis = foley_dsp::mel_filterbank(&mel).into_iter().map(f64::from).collect();
        Self { config, fft, window, mel_basis }
    }

    pub fn config(&self) -> &OnsetConfig {
        &self.config
    }

    /// `librosa.onset.onset_strength` of a mono waveform at `config.sample_rate`.
    pub fn envelope(&self, y: &[f32]) -> Vec<f32> {
        let OnsetConfig { n_fft, hop, n_mels, .. } = self.config;
        let n_freqs = n_fft / 2 + 1;
        let frames = 1 + y.len() / hop;
        let pad = n_fft / 2;
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut db = vec![0f64; frames * n_mels];
        let mut power = vec![0f64; n_freqs];
        for t in 0..frames {
            for (i, v) in input.iter_mut().enumerate() {
                // Centred frame over the zero-padded signal.
                let k = (t * hop + i) as isize - pad as isize;
                let s = if k >= 0 && (k as usize) < y.len() { y[k as usize] as f64 } else { 0.0 };
                *v = s * self.window[i];
            }
            self.fft.process(&mut input, &mut spectrum).expect("FFT buffers sized by the plan");
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.norm_sqr();
            }
            for m in 0..n_mels {
                let row = &self.mel_basis[m * n_freqs..(m + 1) * n_freqs];
                let e: f64 = row.iter().zip(&power).map(|(w, p)| w * p).sum();
                db[t * n_mels + m] = 10.0 * e.max(1e-10).log10();
            }
        }
        let top = db.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v)) - 80.0;
        db.iter_mut().for_each(|v| *v = v.max(top));
        let lag_pad = 1 + n_fft / (2 * hop);
        let mut env = vec![0f32; frames];
        for t in 1..frames {
            let flux: f64 = (0..n_mels).map(|m| (db[t * n_mels + m] - db[(t - 1) * n_mels + m]).max(0.0)).sum();
            let out = t - 1 + lag_pad;
            if out < frames {
                env[out] = (flux / n_mels as f64) as f32;
            }
        }
        env
    }

    /// Envelope and `librosa.onset.onset_detect` peaks.
    pub fn detect(&self, y: &[f32]) -> Onsets {
        let envelope = self.envelope(y);
        let frames = pick_peaks(&normalized(&envelope), &PeakParams::librosa(&self.config));
        Onsets { config: self.config, envelope, frames }
    }
}

/// The envelope shifted to [0, 1] (`onset_detect(normalize=True)`).
pub fn normalized(env: &[f32]) -> Vec<f64> {
    let min = env.iter().fold(f64::INFINITY, |m, &v| m.min(v as f64));
    let shifted: Vec<f64> = env.iter().map(|&v| v as f64 - min).collect();
    let max = shifted.iter().fold(0f64, |m, &v| m.max(v));
    shifted.into_iter().map(|v| v / (max + f64::MIN_POSITIVE)).collect()
}

/// `librosa.util.peak_pick` parameters, in frames.
#[derive(Debug, Clone, Copy)]
pub struct PeakParams {
    pub pre_max: usize,
    pub post_max: usize,
    pub pre_avg: usize,
    pub post_avg: usize,
    pub delta: f64,
    pub wait: usize,
}

impl PeakParams {
    /// onset_detect's defaults: 30 ms, 0 ms (+1), 100 ms, 100 ms (+1), delta 0.07, wait 30 ms.
    pub fn librosa(c: &OnsetConfig) -> Self {
        let frames = |seconds: f64| (seconds * c.sample_rate as f64 / c.hop as f64).floor() as usize;
        Self { pre_max: frames(0.03), post_max: 1, pre_avg: frames(0.10), post_avg: frames(0.10) + 1, delta: 0.07, wait: frames(0.03) }
    }
}

/// `librosa.util.peak_pick` on an envelope.
pub fn pick_peaks(x: &[f64], p: &PeakParams) -> Vec<usize> {
    let n = x.len();
    let mut peaks = Vec::new();
    let mut last: Option<usize> = None;
    for i in 0..n {
        let lo = i.saturating_sub(p.pre_max);
        let hi = (i + p.post_max).min(n).max(i + 1);
        let local_max = x[lo..hi].iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        let (alo, ahi) = (i.saturating_sub(p.pre_avg), (i + p.post_avg).min(n));
        let mean = x[alo..ahi].iter().sum::<f64>() / (ahi - alo) as f64;
        let is_peak = x[i] == local_max && x[i] != 0.0 && x[i] >= mean + p.delta;
        if is_peak && last.is_none_or(|l| i > l + p.wait) {
            peaks.push(i);
            last = Some(i);
        }
    }
    peaks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clicks(times: &[f64], seconds: f64, sr: u32) -> Vec<f32> {
        let mut y = vec![0f32; (seconds * sr as f64) as usize];
        for &t in times {
            let start = (t * sr as f64) as usize;
            // A short decaying noise burst.
            for k in 0..400 {
                let v = ((k * 7919 % 97) as f32 / 48.0 - 1.0) * (-(k as f32) / 80.0).exp();
                y[start + k] += v;
            }
        }
        y
    }

    #[test]
    fn detects_isolated_clicks_within_one_frame() {
        let det = OnsetDetector::new(OnsetConfig::LIBROSA);
        let truth = [0.5, 1.2, 2.0, 2.7];
        let onsets = det.detect(&clicks(&truth, 3.5, 22_050));
        let times = onsets.times();
        assert_eq!(times.len(), truth.len(), "{times:?}");
        let frame = 1.0 / OnsetConfig::LIBROSA.frame_rate();
        for (t, g) in times.iter().zip(truth) {
            assert!((t - g).abs() <= 1.5 * frame, "{t} vs {g}");
        }
    }

    #[test]
    fn peak_pick_follows_librosa_rules() {
        let p = PeakParams { pre_max: 1, post_max: 1, pre_avg: 1, post_avg: 2, delta: 0.1, wait: 1 };
        // Window max is over [i-1, i]: a plateau's first sample wins, then `wait` blocks i+1.
        let x = [0.0, 1.0, 1.0, 0.0, 0.0, 0.5, 0.0];
        assert_eq!(pick_peaks(&x, &p), vec![1, 5]);
    }
}
