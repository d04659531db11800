//! Vectorisable `exp`, `erf` and GELU.
//!
//! libm's `expf` and `erff` are a call per element, which the compiler cannot vectorise: the
//! sync backbone spent a fifth of its time in `erff`, the flow network's softmax and SiLU need
//! ~16 M exponentials per small_16k forward. These are straight-line arithmetic, so loops over
//! them vectorise; [`has_avx2_fma`] lets callers compile such loops for AVX2 as well as for the
//! baseline target. No fused multiply-adds are written, so both builds give the same bits.

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split in two (Cody-Waite) so that `x - n ln 2` is exact for |n| <= 128.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
const EXP_P: [f32; 6] = [1.987_569_1e-4, 1.398_2e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 5.000_000_1e-1];
/// Inputs are clamped so that `2^n` stays a normal float (n in [-126, 127]).
const EXP_MIN_X: f32 = -87.33;
const EXP_MAX_X: f32 = 88.0;

/// `e^x` (Cephes' `expf`: Cody-Waite range reduction, degree-5 polynomial, 2^n from the
/// exponent bits), within 2 ulp of libm for `x` in [-87.33, 88]; outside, the value at the
/// nearer bound (~1.2e-38 or ~1.7e38).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(EXP_MIN_X, EXP_MAX_X);
    let n = (x * LOG2E + 0.5).floor();
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = ((((EXP_P[0] * r + EXP_P[1]) * r + EXP_P[2]) * r + EXP_P[3]) * r + EXP_P[4]) * r + EXP_P[5];
    let two_n = f32::from_bits(((n as i32 + 127) as u32) << 23);
    (p * r * r + r + 1.0) * two_n
}

/// Coefficients of `erf(x) ~ x P(x^2) / Q(x^2)` on [-4, 4] (the single-precision rational
/// approximation of Eigen and XLA), highest power first.
const ERF_P: [f32; 7] = [-2.726_142_3e-10, 2.770_681_4e-8, -2.101_024e-6, -5.692_506_4e-5, -7.349_906_3e-4, -2.954_600e-3, -1.609_603_3e-2];
const ERF_Q: [f32; 5] = [-1.456_607_2e-5, -2.133_740_6e-4, -1.682_827e-3, -7.373_329_2e-3, -1.426_473_9e-2];
/// Beyond this, erf is +-1 in single precision.
const ERF_MAX_X: f32 = 4.0;

/// `erf(x)` within 5e-7 of libm's `erff`, absolute and relative (so also near 0).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-ERF_MAX_X, ERF_MAX_X);
    let x2 = x * x;
    let p = ERF_P[1..].iter().fold(ERF_P[0], |acc, &c| acc * x2 + c);
    let q = ERF_Q[1..].iter().fold(ERF_Q[0], |acc, &c| acc * x2 + c);
    // Exactly +-1 beyond the range (the rational gives 1 - 1 ulp there), so that GELU's tail
    // is exactly 0 as it is in single precision.
    if x.abs() == ERF_MAX_X { 1f32.copysign(x) } else { x * p / q }
}

/// The exact (erf) GELU, `x / 2 * (1 + erf(x / sqrt 2))`.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// Whether the CPU runs code compiled with `#[target_feature(enable = "avx2,fma")]`.
#[cfg(target_arch = "x86_64")]
#[inline]
pub fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
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
    fn erf_and_gelu_are_close_to_libm() {
        let (mut worst_erf, mut worst_gelu) = ((0f32, 0f32), (0f32, 0f32));
        let mut x = -12.0f32;
        while x < 12.0 {
            let want = libm::erff(x);
            let e = (erf(x) - want).abs() / want.abs().clamp(1e-3, 1.0);
            if e > worst_erf.0 {
                worst_erf = (e, x);
            }
            // GELU's error scales with x: compare relative to max(|x|, 1).
            let want = 0.5 * x * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2));
            let g = (gelu(x) - want).abs() / x.abs().max(1.0);
            if g > worst_gelu.0 {
                worst_gelu = (g, x);
            }
            x += 0.000_31;
        }
        assert!(worst_erf.0 <= 5e-7, "erf off by {} at {}", worst_erf.0, worst_erf.1);
        assert!(worst_gelu.0 <= 3e-7, "gelu off by {} at {}", worst_gelu.0, worst_gelu.1);
        assert_eq!((erf(0.0), erf(100.0), erf(-100.0)), (0.0, 1.0, -1.0));
        assert!(erf(f32::NAN).is_nan() && gelu(f32::NAN).is_nan());
    }
}
