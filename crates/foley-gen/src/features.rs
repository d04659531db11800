//! Standardization of the video conditions, with statistics of the training set.
//!
//! The sync backbone's tokens are a fixed code for their position inside a 16-frame segment
//! (norm ~11) plus a small content part (~1 % of it, measured on foley-sim): to the flow network
//! they look nearly constant. Subtracting the per-position mean and dividing by the
//! per-position, per-channel standard deviation leaves only what changes with the video. The
//! semantic (EfficientNet) features are standardized per channel.

use serde::{Deserialize, Serialize};

use crate::data::Clip;

/// Smallest standard deviation divided by (a constant channel stays constant, not amplified noise).
const MIN_STD: f64 = 1e-3;

/// Per-channel means and standard deviations of the video conditions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoStats {
    /// `[semantic_dim]`.
    pub semantic_mean: Vec<f32>,
    pub semantic_std: Vec<f32>,
    /// Sync tokens per segment: statistics are kept per position in the segment.
    pub sync_period: usize,
    /// `[sync_period, sync_dim]`.
    pub sync_mean: Vec<f32>,
    pub sync_std: Vec<f32>,
}

/// Mean and standard deviation of `period * dim` channels: column `c` of row `i` of `rows`
/// (each `dim` wide) belongs to channel `(i % period) * dim + c`.
pub(crate) fn moments<'a>(rows: impl Iterator<Item = &'a [f32]>, dim: usize, period: usize) -> (Vec<f32>, Vec<f32>) {
    let (mut sum, mut sq, mut count) = (vec![0f64; period * dim], vec![0f64; period * dim], vec![0usize; period]);
    for (i, row) in rows.enumerate() {
        let p = i % period;
        for (c, &v) in row.iter().enumerate() {
            sum[p * dim + c] += v as f64;
            sq[p * dim + c] += (v as f64).powi(2);
        }
        count[p] += 1;
    }
    let mut mean = Vec::with_capacity(sum.len());
    let mut std = Vec::with_capacity(sum.len());
    for (k, (s, q)) in sum.iter().zip(&sq).enumerate() {
        let n = count[k / dim].max(1) as f64;
        let m = s / n;
        mean.push(m as f32);
        std.push((q / n - m * m).max(0.0).sqrt().max(MIN_STD) as f32);
    }
    (mean, std)
}

impl VideoStats {
    /// Statistics over every frame / token of `clips` (whose sync tokens come in segments of
    /// `sync_period`).
    pub fn of(clips: &[Clip], semantic_dim: usize, sync_dim: usize, sync_period: usize) -> Self {
        let (semantic_mean, semantic_std) = moments(clips.iter().flat_map(|c| c.semantic.chunks(semantic_dim)), semantic_dim, 1);
        // Each clip starts a new segment and holds whole segments, so the position of row `i`
        // of the concatenation is still `i % sync_period`.
        debug_assert!(clips.iter().all(|c| (c.sync.len() / sync_dim) % sync_period == 0));
        let (sync_mean, sync_std) = moments(clips.iter().flat_map(|c| c.sync.chunks(sync_dim)), sync_dim, sync_period);
        Self { semantic_mean, semantic_std, sync_period, sync_mean, sync_std }
    }

    /// Standardize one clip's `[frames, semantic_dim]` semantic features and `[tokens, sync_dim]`
    /// sync tokens in place.
    pub fn apply(&self, semantic: &mut [f32], sync: &mut [f32]) {
        let sem_dim = self.semantic_mean.len();
        for (i, v) in semantic.iter_mut().enumerate() {
            let c = i % sem_dim;
            *v = (*v - self.semantic_mean[c]) / self.semantic_std[c];
        }
        let sync_dim = self.sync_mean.len() / self.sync_period;
        for (i, v) in sync.iter_mut().enumerate() {
            let k = (i / sync_dim) % self.sync_period * sync_dim + i % sync_dim;
            *v = (*v - self.sync_mean[k]) / self.sync_std[k];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(semantic: Vec<f32>, sync: Vec<f32>) -> Clip {
        Clip { id: "c".into(), semantic, sync, mel: vec![], text: None }
    }

    #[test]
    fn standardized_features_have_zero_mean_and_unit_std_per_position() {
        // Sync dim 2, period 2: position 0 is 10 + small content, position 1 is -5 + content.
        let sync_a = vec![10.0, 1.0, -5.0, 2.0, 10.2, 1.0, -5.2, 2.0];
        let sync_b = vec![9.8, 1.0, -4.8, 2.0, 10.0, 1.0, -5.0, 2.0];
        let clips = [clip(vec![1.0, 2.0, 3.0, 4.0], sync_a.clone()), clip(vec![5.0, 6.0, 7.0, 8.0], sync_b)];
        let stats = VideoStats::of(&clips, 2, 2, 2);
        assert_eq!(stats.semantic_mean, [4.0, 5.0]);
        assert!((stats.sync_mean[0] - 10.0).abs() < 1e-5 && (stats.sync_mean[2] + 5.0).abs() < 1e-5);
        assert_eq!(stats.sync_std[1], MIN_STD as f32, "a constant channel is not amplified");

        let (mut sem, mut sync) = (clips[0].semantic.clone(), sync_a);
        stats.apply(&mut sem, &mut sync);
        let s = (20f32 / 4.0).sqrt(); // semantic channel 0 over 1, 3, 5, 7: std sqrt(5)
        assert!((sem[0] - (1.0 - 4.0) / s).abs() < 1e-5);
        // Position 0, channel 0 over 10, 10.2, 9.8, 10: std 0.1414.
        assert!(sync[0].abs() < 1e-4 && (sync[4] - 2f32.sqrt()).abs() < 1e-3);
        assert_eq!(sync[1], 0.0);
    }
}
