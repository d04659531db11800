//! Class-distribution metrics on classifier logits, as av-benchmark / AudioLDM-eval report them.
//!
//! * Paired KL: for each generated clip and its reference, `KL(ref ‖ gen)` =
//!   `Σ_c p_ref (ln p_ref - ln(p_gen + 1e-6))` (PyTorch's `kl_div(log(p_gen + eps), p_ref)`),
//!   summed over classes and averaged over pairs. "softmax" takes `p = softmax(logits)`;
//!   "sigmoid" takes `p = sigmoid(logits)` per class (not a normalized distribution — the
//!   field's definition, kept as is).
//! * Inception Score: `exp E_x KL(p(y|x) ‖ p(y))` with softmax posteriors, over `splits`
//!   consecutive chunks; mean and (population) standard deviation over chunks.

/// The ε that av-benchmark adds inside the generated distribution's logarithm.
pub const KL_EPS: f64 = 1e-6;

fn softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
    let exp: Vec<f64> = logits.iter().map(|&v| (v as f64 - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

fn sigmoid(logits: &[f32]) -> Vec<f64> {
    logits.iter().map(|&v| 1.0 / (1.0 + (-(v as f64)).exp())).collect()
}

/// `Σ p_ref (ln p_ref - ln(p_gen + ε))`, with `0 ln 0 = 0`.
fn kl_div(p_gen: &[f64], p_ref: &[f64]) -> f64 {
    p_ref.iter().zip(p_gen).map(|(&r, &g)| if r > 0.0 { r * (r.ln() - (g + KL_EPS).ln()) } else { 0.0 }).sum()
}

/// Paired KL divergences between generated and reference clips.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PairedKl {
    /// Mean over pairs, softmax posteriors.
    pub softmax: f64,
    /// Mean over pairs, per-class sigmoid posteriors.
    pub sigmoid: f64,
    pub per_pair_softmax: Vec<f64>,
    pub per_pair_sigmoid: Vec<f64>,
}

/// KL(reference ‖ generated) for each pair of logit vectors; `None` if there is no pair or the
/// class counts differ.
pub fn paired_kl(generated: &[Vec<f32>], reference: &[Vec<f32>]) -> Option<PairedKl> {
    if generated.is_empty() || generated.len() != reference.len() {
        return None;
    }
    let mut out = PairedKl::default();
    for (g, r) in generated.iter().zip(reference) {
        if g.len() != r.len() {
            return None;
        }
        out.per_pair_softmax.push(kl_div(&softmax(g), &softmax(r)));
        out.per_pair_sigmoid.push(kl_div(&sigmoid(g), &sigmoid(r)));
    }
    let n = generated.len() as f64;
    out.softmax = out.per_pair_softmax.iter().sum::<f64>() / n;
    out.sigmoid = out.per_pair_sigmoid.iter().sum::<f64>() / n;
    Some(out)
}

/// Inception Score (mean, std over splits) of a set of logit vectors. Splits are consecutive
/// chunks `[i N / s, (i + 1) N / s)`; `splits` is clamped to the number of samples.
pub fn inception_score(logits: &[Vec<f32>], splits: usize) -> Option<(f64, f64)> {
    let n = logits.len();
    if n == 0 || splits == 0 {
        return None;
    }
    let splits = splits.min(n);
    let p: Vec<Vec<f64>> = logits.iter().map(|l| softmax(l)).collect();
    let classes = p[0].len();
    let mut scores = Vec::with_capacity(splits);
    for i in 0..splits {
        let chunk = &p[i * n / splits..(i + 1) * n / splits];
        let mut q = vec![0f64; classes];
        for row in chunk {
            for (qc, pc) in q.iter_mut().zip(row) {
                *qc += pc / chunk.len() as f64;
            }
        }
        let mean_kl: f64 =
            chunk.iter().map(|row| row.iter().zip(&q).map(|(&pc, &qc)| if pc > 0.0 { pc * (pc.ln() - qc.ln()) } else { 0.0 }).sum::<f64>()).sum::<f64>()
                / chunk.len() as f64;
        scores.push(mean_kl.exp());
    }
    let mean = scores.iter().sum::<f64>() / splits as f64;
    let var = scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / splits as f64;
    Some((mean, var.sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_kl_matches_the_closed_form() {
        // logits = ln p reproduce p under softmax; reference p = (9, 12, 4)/25, generated uniform.
        let p = [9.0 / 25.0, 12.0 / 25.0, 4.0 / 25.0];
        let reference = vec![p.iter().map(|v: &f64| v.ln() as f32).collect::<Vec<_>>()];
        let generated = vec![vec![0.0f32; 3]];
        let kl = paired_kl(&generated, &reference).unwrap();
        let expected: f64 = p.iter().map(|r| r * (r.ln() - (1.0 / 3.0 + KL_EPS).ln())).sum();
        assert!((kl.softmax - expected).abs() < 1e-6, "{} vs {expected}", kl.softmax);
        assert!((expected - 0.0853).abs() < 1e-3); // the value SpecVQGAN's kl.py documents
    }

    #[test]
    fn sigmoid_kl_matches_the_closed_form() {
        let kl = paired_kl(&[vec![0.0]], &[vec![(3.0f64).ln() as f32]]).unwrap();
        // sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4.
        let expected = 0.75 * (0.75f64.ln() - (0.5 + KL_EPS).ln());
        assert!((kl.sigmoid - expected).abs() < 1e-6);
    }

    #[test]
    fn identical_pairs_have_near_zero_kl_and_mismatches_are_refused() {
        let x = vec![vec![1.0, -2.0, 0.5], vec![0.0, 3.0, -1.0]];
        let kl = paired_kl(&x, &x).unwrap();
        assert!(kl.softmax.abs() < 1e-5 && kl.sigmoid.abs() < 1e-5);
        assert!(paired_kl(&x, &x[..1]).is_none());
    }

    #[test]
    fn inception_score_counts_confident_distinct_classes() {
        // Four confident, distinct predictions: IS = 4; identical predictions: IS = 1.
        let distinct: Vec<Vec<f32>> = (0..4).map(|i| (0..4).map(|j| if i == j { 50.0 } else { 0.0 }).collect()).collect();
        let (mean, std) = inception_score(&distinct, 1).unwrap();
        assert!((mean - 4.0).abs() < 1e-6 && std == 0.0);
        let same = vec![vec![50.0f32, 0.0, 0.0, 0.0]; 4];
        assert!((inception_score(&same, 2).unwrap().0 - 1.0).abs() < 1e-9);
        // Two splits of two distinct classes each: IS = 2 in both.
        let (mean, std) = inception_score(&distinct, 2).unwrap();
        assert!((mean - 2.0).abs() < 1e-6 && std < 1e-9);
    }
}
