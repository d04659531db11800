//! The level of foley's output: loudness-normalized with a true-peak ceiling.
//!
//! A generated log-mel has no calibrated level: decoded, it can peak far above full scale.
//! [`normalize_level`] measures the integrated loudness (ITU-R BS.1770-4 / EBU R128: K-weighted,
//! gated) and the true peak (4x oversampled) and applies one gain for the whole soundtrack:
//! the gain that reaches the target loudness, lowered if needed so the true peak stays at or
//! under the ceiling, and never more than [`MAX_BOOST_DB`] of amplification (a near-silent
//! result stays near-silent instead of becoming loud noise). No limiter or compression: the
//! dynamics are the model's.

/// Where the soundtrack's level goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelTarget {
    /// Integrated loudness, LUFS.
    pub loudness_lufs: f64,
    /// Highest true peak, dBTP.
    pub true_peak_dbtp: f64,
}

impl LevelTarget {
    /// -16 LUFS integrated, -1 dBTP: the AES recommendation for online audio (TD1004), where
    /// videos are played.
    pub const DEFAULT: LevelTarget = LevelTarget { loudness_lufs: -16.0, true_peak_dbtp: -1.0 };
}

/// Largest gain [`normalize_level`] applies, dB.
pub const MAX_BOOST_DB: f64 = 24.0;

/// What was measured and done.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelReport {
    /// Integrated loudness before, LUFS (`None`: all below the -70 LUFS gate, i.e. silence).
    pub loudness_lufs: Option<f64>,
    /// True peak before, dBTP (`None` for digital silence).
    pub true_peak_dbtp: Option<f64>,
    /// Gain applied, dB.
    pub gain_db: f64,
}

/// Measures `samples` (mono, `sample_rate` Hz) and scales them in place to `target`.
pub fn normalize_level(samples: &mut [f32], sample_rate: u32, target: LevelTarget) -> Result<LevelReport, crate::DspError> {
    let mut meter = LevelMeter::new(sample_rate)?;
    meter.add(samples)?;
    let report = meter.report(target)?;
    let gain = report.gain();
    samples.iter_mut().for_each(|s| *s *= gain);
    Ok(report)
}

/// Integrated loudness (LUFS) and true peak (dBTP) of a mono signal.
pub fn measure(samples: &[f32], sample_rate: u32) -> Result<(Option<f64>, Option<f64>), crate::DspError> {
    let mut meter = LevelMeter::new(sample_rate)?;
    meter.add(samples)?;
    meter.measured()
}

/// A loudness and true-peak meter fed block by block (a long soundtrack never has to be in
/// memory whole); [`LevelMeter::report`] gives the gain [`normalize_level`] would apply.
pub struct LevelMeter(ebur128::EbuR128);

fn meter_err(e: ebur128::Error) -> crate::DspError {
    crate::DspError::Loudness(e.to_string())
}

impl LevelMeter {
    pub fn new(sample_rate: u32) -> Result<Self, crate::DspError> {
        use ebur128::{EbuR128, Mode};
        Ok(Self(EbuR128::new(1, sample_rate, Mode::I | Mode::TRUE_PEAK).map_err(meter_err)?))
    }

    /// Feeds the next mono samples.
    pub fn add(&mut self, samples: &[f32]) -> Result<(), crate::DspError> {
        self.0.add_frames_f32(samples).map_err(meter_err)
    }

    /// Integrated loudness (LUFS; `None` below the gate) and true peak (dBTP; `None` for
    /// digital silence) so far.
    pub fn measured(&self) -> Result<(Option<f64>, Option<f64>), crate::DspError> {
        let loudness = self.0.loudness_global().map_err(meter_err)?;
        let peak = self.0.true_peak(0).map_err(meter_err)?;
        Ok((loudness.is_finite().then_some(loudness), (peak > 0.0).then(|| 20.0 * peak.log10())))
    }

    /// The measurement and the gain that meets `target` (see the module docs).
    pub fn report(&self, target: LevelTarget) -> Result<LevelReport, crate::DspError> {
        let (loudness, peak) = self.measured()?;
        let mut gain_db = loudness.map_or(0.0, |l| target.loudness_lufs - l).min(MAX_BOOST_DB);
        if let Some(p) = peak {
            gain_db = gain_db.min(target.true_peak_dbtp - p);
        }
        Ok(LevelReport { loudness_lufs: loudness, true_peak_dbtp: peak, gain_db })
    }
}

impl LevelReport {
    /// The linear gain.
    pub fn gain(&self) -> f32 {
        10f64.powf(self.gain_db / 20.0) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, amp: f32, seconds: f64, sr: u32) -> Vec<f32> {
        (0..(seconds * sr as f64) as usize).map(|i| amp * (2.0 * std::f64::consts::PI * freq * i as f64 / sr as f64).sin() as f32).collect()
    }

    #[test]
    fn full_scale_1khz_sine_reads_minus_3_lufs() {
        // BS.1770's calibration: a 0 dBFS 997 Hz sine in one channel is -3.01 LUFS.
        let (l, p) = measure(&sine(997.0, 1.0, 5.0, 48_000), 48_000).unwrap();
        assert!((l.unwrap() + 3.01).abs() < 0.05, "loudness {l:?}");
        assert!(p.unwrap().abs() < 0.05, "true peak {p:?}");
    }

    #[test]
    fn loud_output_is_brought_to_the_target_and_under_the_ceiling() {
        let sr = 16_000;
        // 5x over full scale, as the generator's raw output can be.
        let mut x = sine(440.0, 5.0, 4.0, sr);
        let report = normalize_level(&mut x, sr, LevelTarget::DEFAULT).unwrap();
        assert!(report.gain_db < 0.0);
        let (l, p) = measure(&x, sr).unwrap();
        assert!((l.unwrap() + 16.0).abs() < 0.05, "loudness after {l:?}");
        assert!(p.unwrap() <= -1.0 + 1e-6, "true peak after {p:?}");
        assert!(x.iter().all(|s| s.abs() < 1.0));
    }

    #[test]
    fn the_ceiling_wins_over_the_loudness_target_for_transients() {
        let sr = 16_000;
        // Clicks: loud peaks, little loudness.
        let mut x = vec![0f32; 4 * sr as usize];
        for k in 0..8 {
            x[k * 8000 + 100] = 3.0;
        }
        let report = normalize_level(&mut x, sr, LevelTarget::DEFAULT).unwrap();
        let (_, p) = measure(&x, sr).unwrap();
        assert!((p.unwrap() + 1.0).abs() < 0.01, "true peak {p:?} (gain {} dB)", report.gain_db);
    }

    #[test]
    fn silence_stays_silent() {
        let mut x = vec![0f32; 16_000];
        let report = normalize_level(&mut x, 16_000, LevelTarget::DEFAULT).unwrap();
        assert_eq!((report.loudness_lufs, report.true_peak_dbtp, report.gain_db), (None, None, 0.0));
        assert!(x.iter().all(|&s| s == 0.0));
        // A very quiet signal (-63 LUFS) is boosted by at most MAX_BOOST_DB; below the -70 LUFS
        // gate it counts as silence.
        let mut quiet = sine(440.0, 1e-3, 2.0, 16_000);
        let report = normalize_level(&mut quiet, 16_000, LevelTarget::DEFAULT).unwrap();
        assert_eq!(report.gain_db, MAX_BOOST_DB);
    }
}
