//! SALSA-V's known-audio masks: per training example, none of the audio, random spans, a
//! prefix or a suffix is given; the network sees `[known * mask, mask]` and is trained only on
//! the frames that are not given.

use foley_flow::noise::SplitMix64;

use crate::config::MaskProbs;

/// Which frames of an example are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskMode {
    None,
    Spans,
    Prefix,
    Suffix,
}

impl MaskMode {
    /// Draw a mode with the configured probabilities.
    pub fn sample(p: &MaskProbs, rng: &mut SplitMix64) -> Self {
        let total = p.none + p.spans + p.prefix + p.suffix;
        let u = rng.next_f64() * total;
        if u < p.none {
            Self::None
        } else if u < p.none + p.spans {
            Self::Spans
        } else if u < p.none + p.spans + p.prefix {
            Self::Prefix
        } else {
            Self::Suffix
        }
    }
}

/// A 0/1 mask over `n` tokens (1 = known) for `mode`. Prefixes and suffixes cover 1/8 to 1/2
/// of the clip; spans are 1 to 3 runs of 1/16 to 1/4 each. At least one token always stays
/// unknown, so every example has frames to learn from.
pub fn build_mask(mode: MaskMode, n: usize, rng: &mut SplitMix64) -> Vec<f32> {
    let mut mask = vec![0.0f32; n];
    let between = |rng: &mut SplitMix64, lo: usize, hi: usize| lo + (rng.next_u64() % (hi - lo + 1) as u64) as usize;
    match mode {
        MaskMode::None => {}
        MaskMode::Prefix | MaskMode::Suffix => {
            let k = between(rng, (n / 8).max(1), (n / 2).max(1)).min(n - 1);
            let range = if mode == MaskMode::Prefix { 0..k } else { n - k..n };
            mask[range].fill(1.0);
        }
        MaskMode::Spans => {
            let spans = between(rng, 1, 3);
            for _ in 0..spans {
                let len = between(rng, (n / 16).max(1), (n / 4).max(1)).min(n - 1);
                let start = between(rng, 0, n - len);
                mask[start..start + len].fill(1.0);
            }
            if mask.iter().all(|&m| m == 1.0) {
                mask[n - 1] = 0.0;
            }
        }
    }
    mask
}

/// Known-latent input of one example: its token values where `mask` is 1, zero elsewhere
/// (`x1` is token-major, `channels` values per token).
pub fn known_input(x1: &[f32], mask: &[f32], channels: usize) -> Vec<f32> {
    x1.chunks(channels).zip(mask).flat_map(|(tok, &m)| tok.iter().map(move |v| v * m)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(mask: &[f32]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < mask.len() {
            if mask[i] == 1.0 {
                let s = i;
                while i < mask.len() && mask[i] == 1.0 {
                    i += 1;
                }
                out.push((s, i));
            } else {
                i += 1;
            }
        }
        out
    }

    #[test]
    fn each_mode_builds_its_shape() {
        let n = 250;
        for seed in 0..50 {
            let mut rng = SplitMix64::new(seed);
            assert!(build_mask(MaskMode::None, n, &mut rng).iter().all(|&m| m == 0.0));
            let p = build_mask(MaskMode::Prefix, n, &mut rng);
            let r = runs(&p);
            assert_eq!(r.len(), 1);
            assert_eq!(r[0].0, 0);
            assert!((n / 8..=n / 2).contains(&r[0].1), "{r:?}");
            let s = build_mask(MaskMode::Suffix, n, &mut rng);
            let r = runs(&s);
            assert_eq!((r.len(), r[0].1), (1, n));
            assert!((n / 8..=n / 2).contains(&(n - r[0].0)));
            let sp = build_mask(MaskMode::Spans, n, &mut rng);
            let r = runs(&sp);
            assert!((1..=3).contains(&r.len()), "{r:?}");
            assert!(sp.iter().any(|&m| m == 0.0) && sp.iter().all(|&m| m == 0.0 || m == 1.0));
        }
    }

    #[test]
    fn known_input_keeps_known_tokens_only() {
        let x1: Vec<f32> = (0..12).map(|v| v as f32 + 1.0).collect();
        let known = known_input(&x1, &[1.0, 0.0, 1.0, 0.0], 3);
        assert_eq!(known, vec![1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 7.0, 8.0, 9.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn mode_frequencies_follow_the_probabilities() {
        let p = MaskProbs { none: 0.5, spans: 0.0, prefix: 0.25, suffix: 0.25 };
        let mut rng = SplitMix64::new(3);
        let draws: Vec<MaskMode> = (0..4000).map(|_| MaskMode::sample(&p, &mut rng)).collect();
        let count = |m| draws.iter().filter(|&&d| d == m).count() as f64 / 4000.0;
        assert_eq!(count(MaskMode::Spans), 0.0);
        assert!((count(MaskMode::None) - 0.5).abs() < 0.04);
        assert!((count(MaskMode::Prefix) - 0.25).abs() < 0.04);
    }
}
