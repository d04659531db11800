//! Onset agreement and synchronization between generated audio and a reference.
//!
//! * Onset accuracy (CondFoleyGen): a pair counts as correct when both have the same number of
//!   onsets; averaged over pairs it is the fraction of clips with the right count.
//! * Onset AP (CondFoleyGen): detections ranked by onset strength, each matched to an unused
//!   ground-truth onset within the tolerance; non-interpolated average precision.
//! * Onset precision / recall / F1 (mir_eval's onset F-measure): maximum one-to-one matching
//!   within ±tolerance (greedy in time order is maximal for intervals on a line).
//! * Sync offset: the lag maximizing the cross-correlation of the two onset envelopes
//!   (zero-mean, unit-norm), refined to sub-frame precision by a parabola through the peak.
//!   Positive = the generated audio is late.

/// Default matching tolerance: mir_eval's onset window (50 ms).
pub const F1_TOLERANCE_S: f64 = 0.05;
/// CondFoleyGen's AP tolerance (0.1 s).
pub const AP_TOLERANCE_S: f64 = 0.1;

/// Scores of one detected onset list against ground truth.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct OnsetScores {
    /// 1 if the counts agree, else 0.
    pub count_match: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub ap: f64,
}

/// Number of one-to-one matches between two increasing time lists within `tol`.
pub fn match_count(detected: &[f64], truth: &[f64], tol: f64) -> usize {
    let (mut i, mut j, mut hits) = (0, 0, 0);
    while i < detected.len() && j < truth.len() {
        let d = detected[i] - truth[j];
        if d.abs() <= tol {
            hits += 1;
            i += 1;
            j += 1;
        } else if d < 0.0 {
            i += 1;
        } else {
            j += 1;
        }
    }
    hits
}

/// Average precision of detections `(time, confidence)` against ground-truth times.
pub fn average_precision(detections: &[(f64, f64)], truth: &[f64], tol: f64) -> f64 {
    if truth.is_empty() {
        return if detections.is_empty() { 1.0 } else { 0.0 };
    }
    let mut order: Vec<&(f64, f64)> = detections.iter().collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut used = vec![false; truth.len()];
    let (mut tp, mut sum) = (0usize, 0f64);
    for (rank, (t, _)) in order.iter().enumerate() {
        let best = (0..truth.len()).filter(|&k| !used[k] && (truth[k] - t).abs() <= tol).min_by(|&a, &b| (truth[a] - t).abs().total_cmp(&(truth[b] - t).abs()));
        if let Some(k) = best {
            used[k] = true;
            tp += 1;
            sum += tp as f64 / (rank + 1) as f64;
        }
    }
    sum / truth.len() as f64
}

/// All onset scores of one pair. `detections` are `(time, confidence)`, increasing in time.
pub fn onset_scores(detections: &[(f64, f64)], truth: &[f64]) -> OnsetScores {
    let times: Vec<f64> = detections.iter().map(|d| d.0).collect();
    let hits = match_count(&times, truth, F1_TOLERANCE_S) as f64;
    let (precision, recall) = match (times.is_empty(), truth.is_empty()) {
        (true, true) => (1.0, 1.0),
        _ => (hits / times.len().max(1) as f64, hits / truth.len().max(1) as f64),
    };
    let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
    OnsetScores {
        count_match: if times.len() == truth.len() { 1.0 } else { 0.0 },
        precision,
        recall,
        f1,
        ap: average_precision(detections, truth, AP_TOLERANCE_S),
    }
}

/// Result of envelope cross-correlation.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SyncOffset {
    /// Seconds by which the generated audio lags the reference (negative = early).
    pub offset_s: f64,
    /// Normalized correlation at the peak, in [-1, 1].
    pub correlation: f64,
}

fn zero_mean_unit_norm(x: &[f32]) -> Vec<f64> {
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / x.len().max(1) as f64;
    let centred: Vec<f64> = x.iter().map(|&v| v as f64 - mean).collect();
    let norm = centred.iter().map(|v| v * v).sum::<f64>().sqrt();
    centred.into_iter().map(|v| if norm > 0.0 { v / norm } else { 0.0 }).collect()
}

/// Offset between two onset envelopes sampled at `frame_rate`, searched over ±`max_lag_s`.
/// `None` if either envelope is empty.
pub fn sync_offset(generated: &[f32], reference: &[f32], frame_rate: f64, max_lag_s: f64) -> Option<SyncOffset> {
    if generated.is_empty() || reference.is_empty() {
        return None;
    }
    let (g, r) = (zero_mean_unit_norm(generated), zero_mean_unit_norm(reference));
    let max_lag = (max_lag_s * frame_rate).round() as isize;
    let corr = |lag: isize| -> f64 { r.iter().enumerate().filter_map(|(t, rv)| g.get(usize::try_from(t as isize + lag).ok()?).map(|gv| gv * rv)).sum() };
    let lags: Vec<isize> = (-max_lag..=max_lag).collect();
    let values: Vec<f64> = lags.iter().map(|&l| corr(l)).collect();
    let best = (0..values.len()).max_by(|&a, &b| values[a].total_cmp(&values[b]))?;
    // Parabolic refinement through the neighbours of the peak.
    let frac = if best > 0 && best + 1 < values.len() {
        let (a, b, c) = (values[best - 1], values[best], values[best + 1]);
        let denom = a - 2.0 * b + c;
        if denom < 0.0 { (0.5 * (a - c) / denom).clamp(-0.5, 0.5) } else { 0.0 }
    } else {
        0.0
    };
    Some(SyncOffset { offset_s: (lags[best] as f64 + frac) / frame_rate, correlation: values[best] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_is_one_to_one_within_tolerance() {
        assert_eq!(match_count(&[0.0, 0.04, 1.0], &[0.02, 1.06], 0.05), 1);
        assert_eq!(match_count(&[0.0, 0.04, 1.0], &[0.02, 0.05, 1.03], 0.05), 3);
        let s = onset_scores(&[(0.0, 1.0), (0.5, 0.5)], &[0.01, 2.0]);
        assert_eq!((s.precision, s.recall, s.f1, s.count_match), (0.5, 0.5, 0.5, 1.0));
        assert_eq!(onset_scores(&[], &[]).f1, 1.0);
        assert_eq!(onset_scores(&[(1.0, 1.0)], &[]).f1, 0.0);
    }

    #[test]
    fn average_precision_ranks_by_confidence() {
        // Ranked: hit, miss, hit over 2 truths -> (1/1 + 2/3) / 2.
        let d = [(0.0, 0.9), (5.0, 0.8), (1.0, 0.1)];
        let ap = average_precision(&d, &[0.05, 1.02], 0.1);
        assert!((ap - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        // A false alarm ranked last costs nothing.
        let ap = average_precision(&[(0.0, 0.9), (1.0, 0.8), (5.0, 0.1)], &[0.0, 1.0], 0.1);
        assert_eq!(ap, 1.0);
    }

    #[test]
    fn recovers_a_known_shift_with_sub_frame_precision() {
        // A smooth bump train, delayed by 7.3 frames.
        let bump = |t: f64| (-(t * t) / 4.0).exp() as f32;
        let events = [20.0, 55.0, 71.0, 130.0];
        let env = |shift: f64| (0..200).map(|i| events.iter().map(|e| bump(i as f64 - e - shift)).sum()).collect::<Vec<f32>>();
        let s = sync_offset(&env(7.3), &env(0.0), 1.0, 20.0).unwrap();
        assert!((s.offset_s - 7.3).abs() < 0.15, "{s:?}");
        assert!(s.correlation > 0.9);
        let early = sync_offset(&env(-4.0), &env(0.0), 1.0, 20.0).unwrap();
        assert!((early.offset_s + 4.0).abs() < 0.15, "{early:?}");
    }
}
