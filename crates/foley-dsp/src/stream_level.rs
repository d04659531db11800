//! The level of a soundtrack written while it is generated (`foley generate --stream`).
//!
//! [`normalize_level`](crate::normalize_level) needs the whole soundtrack before it can choose
//! its one gain; a stream cannot wait. [`StreamLevel`] decides causally, block by block (a block
//! is the audio a long-form window makes final):
//!
//! * the loudness gain is set by the first block whose loudness is measurable (BS.1770 over
//!   everything so far) and then kept;
//! * the true-peak ceiling is enforced on every block: the gain is never above what keeps any
//!   block so far at or under it, so it only falls after the loudness gain is set;
//! * a change of gain is a linear ramp over the last [`RAMP_S`] of the previous block, held back
//!   until the next block is known (a look-ahead of 50 ms, not of a window: the first audio still
//!   leaves after the first window).
//!
//! A soundtrack of one block gets exactly `normalize_level`'s gain.

use crate::loudness::{LevelMeter, LevelTarget, MAX_BOOST_DB};

/// Length of a gain ramp, and so the audio held back, seconds.
pub const RAMP_S: f64 = 0.05;

/// Causal loudness normalization with a true-peak ceiling (see the module docs).
pub struct StreamLevel {
    target: LevelTarget,
    sample_rate: u32,
    hold: usize,
    /// Everything so far, for the loudness decision.
    meter: LevelMeter,
    /// The loudness gain once decided, dB.
    loudness_db: Option<f64>,
    /// The lowest ceiling gain of any block so far, dB.
    ceiling_db: f64,
    /// Gain of the samples emitted last, dB.
    current_db: f64,
    /// Raw samples held back for the next gain ramp.
    held: Vec<f32>,
}

fn linear(db: f64) -> f32 {
    10f64.powf(db / 20.0) as f32
}

impl StreamLevel {
    pub fn new(sample_rate: u32, target: LevelTarget) -> Result<Self, crate::DspError> {
        Ok(Self {
            target,
            sample_rate,
            hold: (RAMP_S * sample_rate as f64).round() as usize,
            meter: LevelMeter::new(sample_rate)?,
            loudness_db: None,
            ceiling_db: f64::INFINITY,
            current_db: 0.0,
            held: Vec::new(),
        })
    }

    /// The next final raw samples in; the samples now ready at the output level out.
    pub fn push(&mut self, block: &[f32]) -> Result<Vec<f32>, crate::DspError> {
        self.meter.add(block)?;
        if self.loudness_db.is_none() {
            self.loudness_db = self.meter.measured()?.0.map(|l| (self.target.loudness_lufs - l).min(MAX_BOOST_DB));
        }
        // The held samples are emitted now, ramping to the new gain: both ends must respect it.
        let mut peak = LevelMeter::new(self.sample_rate)?;
        peak.add(&self.held)?;
        peak.add(block)?;
        if let Some(p) = peak.measured()?.1 {
            self.ceiling_db = self.ceiling_db.min(self.target.true_peak_dbtp - p);
        }
        let new_db = self.loudness_db.unwrap_or(0.0).min(self.ceiling_db);
        let (from, to) = (linear(self.current_db), linear(new_db));
        let n = self.held.len();
        let mut out: Vec<f32> = self.held.iter().enumerate().map(|(i, &s)| s * (from + (to - from) * (i + 1) as f32 / n as f32)).collect();
        let keep = block.len().saturating_sub(self.hold);
        out.extend(block[..keep].iter().map(|&s| s * to));
        self.held = block[keep..].to_vec();
        self.current_db = new_db;
        Ok(out)
    }

    /// The held samples, at the last gain (they were measured with the block that brought them).
    pub fn finish(self) -> Vec<f32> {
        let gain = linear(self.current_db);
        self.held.iter().map(|&s| s * gain).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loudness::{measure, normalize_level};

    fn noise(seed: u32, amp: f32, n: usize) -> Vec<f32> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                amp * (x as f32 / u32::MAX as f32 * 2.0 - 1.0)
            })
            .collect()
    }

    /// At 16 kHz a ramp is 800 samples.
    fn stream(blocks: &[Vec<f32>]) -> Vec<f32> {
        let mut level = StreamLevel::new(16_000, LevelTarget::DEFAULT).unwrap();
        let mut out = Vec::new();
        for b in blocks {
            out.extend(level.push(b).unwrap());
        }
        out.extend(level.finish());
        out
    }

    #[test]
    fn one_block_gets_exactly_the_whole_clip_gain() {
        let x = noise(1, 3.0, 8 * 16_000);
        let mut whole = x.clone();
        normalize_level(&mut whole, 16_000, LevelTarget::DEFAULT).unwrap();
        assert_eq!(stream(&[x]), whole);
    }

    #[test]
    fn a_loud_later_block_lowers_the_gain_without_passing_the_ceiling() {
        let blocks = [noise(2, 0.05, 6 * 16_000), noise(3, 0.05, 6 * 16_000), noise(4, 4.0, 6 * 16_000)];
        let out = stream(&blocks);
        assert_eq!(out.len(), 18 * 16_000);
        let (_, peak) = measure(&out, 16_000).unwrap();
        assert!(peak.unwrap() <= -1.0 + 0.05, "true peak {peak:?}");
        // The first block is at the target loudness (it set the gain).
        let (first, _) = measure(&out[..6 * 16_000 - 800], 16_000).unwrap();
        assert!((first.unwrap() + 16.0).abs() < 0.2, "first block {first:?} LUFS");
        // The gain falls as a ramp over the 800 samples before the loud block, not a step.
        let raw: Vec<f32> = blocks.concat();
        let gain = |i: usize| out[i] / raw[i];
        let (edge, before, after) = (12 * 16_000 - 800, gain(12 * 16_000 - 801), gain(12 * 16_000));
        assert!(after < before * 0.1, "gain {before} -> {after}");
        let ramp: Vec<f32> = (edge..edge + 800).map(gain).collect();
        assert!(ramp.windows(2).all(|w| w[1] <= w[0] + 1e-4) && (ramp[0] - before).abs() < (before - after) / 100.0, "a monotone ramp");
    }

    #[test]
    fn silence_then_sound_stays_under_the_ceiling() {
        let blocks = [vec![0.0; 16_000], noise(5, 2.0, 16_000), vec![0.1; 100]];
        let out = stream(&blocks);
        assert_eq!(out.len(), 32_100);
        assert!(out.iter().all(|s| s.abs() < 1.0));
    }
}
