//! A simple onset detector on the short-time energy envelope, used to check that the rendered
//! audio really starts where `events.json` says (and usable as a rough metric elsewhere).
//!
//! Energy is measured in windows of [`OnsetConfig::window`] seconds every [`OnsetConfig::hop`];
//! an onset is a window whose level exceeds the loudest of the preceding
//! [`OnsetConfig::lookback`] seconds by [`OnsetConfig::rise_db`] and the absolute floor.

/// Detector settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OnsetConfig {
    /// Hop between energy windows, seconds.
    pub hop: f64,
    /// Energy window, seconds.
    pub window: f64,
    /// Rise over the recent maximum that counts as an onset, dB.
    pub rise_db: f32,
    /// How far back the recent maximum looks (excluding the immediately preceding window).
    pub lookback: f64,
    /// Windows quieter than this (dBFS) never start an onset.
    pub floor_db: f32,
    /// Minimum gap between two reported onsets, seconds.
    pub min_gap: f64,
}

impl Default for OnsetConfig {
    fn default() -> Self {
        Self { hop: 0.002, window: 0.004, rise_db: 6.0, lookback: 0.03, floor_db: -45.0, min_gap: 0.03 }
    }
}

/// Onset times in seconds, ascending. The reported time is the start of the window that first
/// shows the rise, so it errs early by at most one window.
pub fn detect(x: &[f32], sample_rate: u32, cfg: &OnsetConfig) -> Vec<f64> {
    let sr = sample_rate as f64;
    let hop = ((cfg.hop * sr).round() as usize).max(1);
    let win = ((cfg.window * sr).round() as usize).max(1);
    if x.len() < win {
        return Vec::new();
    }
    let n = (x.len() - win) / hop + 1;
    let level: Vec<f32> = (0..n)
        .map(|i| {
            let w = &x[i * hop..i * hop + win];
            10.0 * (w.iter().map(|v| v * v).sum::<f32>() / win as f32 + 1e-12).log10()
        })
        .collect();
    let back = ((cfg.lookback / cfg.hop).round() as usize).max(1);
    // Windows overlap: skip the ones sharing samples with window i.
    let skip = win.div_ceil(hop);
    let mut out: Vec<f64> = Vec::new();
    for i in 0..n {
        if level[i] < cfg.floor_db {
            continue;
        }
        let lo = i.saturating_sub(back + skip);
        let hi = i.saturating_sub(skip);
        let recent = level[lo..hi].iter().fold(-120f32, |m, v| m.max(*v));
        let t = (i * hop) as f64 / sr;
        if level[i] - recent >= cfg.rise_db && out.last().is_none_or(|&p| t - p >= cfg.min_gap) {
            out.push(t);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_bursts_in_noise_within_a_window() {
        let sr = 16_000;
        let mut rng = crate::rng::Rng::new(3);
        let mut x: Vec<f32> = (0..sr * 2).map(|_| (rng.f64() as f32 - 0.5) * 0.002).collect();
        let onsets = [0.25, 0.9, 1.31];
        for &t in &onsets {
            let s = (t * sr as f64) as usize;
            for i in 0..1600 {
                x[s + i] += 0.5 * (-(i as f32) / 400.0).exp() * (i as f32 * 0.3).sin();
            }
        }
        let found = detect(&x, sr as u32, &OnsetConfig::default());
        assert_eq!(found.len(), 3, "{found:?}");
        for (f, t) in found.iter().zip(onsets) {
            assert!((f - t).abs() <= 0.004, "{f} vs {t}");
        }
    }
}
