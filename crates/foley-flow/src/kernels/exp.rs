//! Softmax and the SwiGLU gate over the vectorisable `exp` of [`foley_kernels::math`] (libm's
//! is a call per element; these evaluate ~16 M exponentials per small_16k forward). Each loop is
//! compiled for AVX2 + FMA (taken when the CPU has them) and for the baseline target.

use foley_kernels::math::exp;
#[cfg(target_arch = "x86_64")]
use foley_kernels::math::has_avx2_fma;

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
