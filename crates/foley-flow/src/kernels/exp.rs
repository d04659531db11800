//! A vectorisable `exp` for the softmax and SiLU kernels.
//!
//! `f32::exp` is a libm call per element, which the compiler cannot vectorise; softmax and
//! SiLU evaluate ~16 M of them per small_16k forward. This is Cephes' `expf` (Cody-Waite range
//! reduction, degree-5 polynomial, 2^n from the exponent bits), within 2 ulp of `f32::exp`
//! (tested below), written as straight-line arithmetic so that loops over it vectorise. Each
//! loop is compiled for AVX2 + FMA (taken when the CPU has them) and for the baseline target.

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split in two (Cody-Waite) so that `x - n ln 2` is exact for |n| <= 128.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
const P: [f32; 6] = [1.987_569_1e-4, 1.398_2e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 5.000_000_1e-1];
/// Inputs are clamped so that `2^n` stays a normal float (n in [-126, 127]).
const MIN_X: f32 = -87.33;
const MAX_X: f32 = 88.0;

/// `e^x` for `x` in [-87.33, 88]; outside, the value at the nearer bound (~1.2e-38 or ~1.7e38).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(MIN_X, MAX_X);
    let n = (x * LOG2E + 0.5).floor();
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = ((((P[0] * r + P[1]) * r + P[2]) * r + P[3]) * r + P[4]) * r + P[5];
    let two_n = f32::from_bits(((n as i32 + 127) as u32) << 23);
    (p * r * r + r + 1.0) * two_n
}

#[inline(always)]
fn silu_mul_body(x: &mut [f32], y: &[f32]) {
    for (x, &y) in x.iter_mut().zip(y) {
        *x = *x / (1.0 + exp(-*x)) * y;
    }
}

/// Lanes of the max and sum reductions: independent accumulators let them vectorise.
const LANES: usize = 16;

#[inline(always)]
fn softmax_body(row: &mut [f32]) {
    let mut max = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for (m, &x) in max.iter_mut().zip(c) {
            *m = m.max(x);
        }
    }
    let max = chunks.remainder().iter().chain(&max).copied().fold(f32::NEG_INFINITY, f32::max);
    for x in row.iter_mut() {
        *x = exp(*x - max);
    }
    let mut sum = [0f32; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for (s, &x) in sum.iter_mut().zip(c) {
            *s += x;
        }
    }
    let inv = 1.0 / (sum.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>());
    for x in row.iter_mut() {
        *x *= inv;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn silu_mul_avx2(x: &mut [f32], y: &[f32]) {
    silu_mul_body(x, y)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn softmax_avx2(row: &mut [f32]) {
    softmax_body(row)
}

#[cfg(target_arch = "x86_64")]
fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// In place, `x = silu(x) * y` (`y` at least as long as `x`).
pub fn silu_mul(x: &mut [f32], y: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU has the features the function is compiled for.
        return unsafe { silu_mul_avx2(x, y) };
    }
    silu_mul_body(x, y)
}

/// In-place softmax of one row.
pub fn softmax(row: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: as above.
        return unsafe { softmax_avx2(row) };
    }
    softmax_body(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulp_of_libm() {
        let mut worst = (0u32, 0f32);
        let mut x = -87.0f32;
        while x < 88.0 {
            let ulps = x.exp().to_bits().abs_diff(exp(x).to_bits());
            if ulps > worst.0 {
                worst = (ulps, x);
            }
            x += 0.000_97;
        }
        assert!(worst.0 <= 2, "{} ulp at x = {}", worst.0, worst.1);
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1000.0) < 1.3e-38 && exp(1000.0).is_finite());
    }

    #[test]
    fn loops_match_the_libm_formulas() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) * 0.07).collect();
        let y: Vec<f32> = (0..1000).map(|i| (i % 7) as f32 - 3.0).collect();
        let mut gated = x.clone();
        silu_mul(&mut gated, &y);
        for i in 0..1000 {
            let want = x[i] / (1.0 + (-x[i]).exp()) * y[i];
            assert!((gated[i] - want).abs() <= 1e-6 * want.abs().max(1.0), "{i}: {} vs {want}", gated[i]);
        }
        let mut row = x.clone();
        softmax(&mut row);
        let max = x.iter().copied().fold(f32::MIN, f32::max);
        let sum: f64 = x.iter().map(|v| ((v - max) as f64).exp()).sum();
        for (p, v) in row.iter().zip(&x) {
            assert!((*p as f64 - ((v - max) as f64).exp() / sum).abs() < 1e-7);
        }
    }
}
