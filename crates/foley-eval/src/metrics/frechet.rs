//! Fréchet distance between Gaussians fitted to two embedding sets (FID / FAD / FD-PaSST):
//!
//! `FD = |μ₁ - μ₂|² + tr Σ₁ + tr Σ₂ - 2 tr (Σ₁^½ Σ₂ Σ₁^½)^½`.
//!
//! The usual implementation calls `scipy.linalg.sqrtm(Σ₁ Σ₂)` on a non-symmetric product and
//! discards an imaginary part. Here both square roots are of symmetric positive semi-definite
//! matrices, taken by symmetric eigendecomposition in f64 with negative round-off eigenvalues
//! clamped to zero, so the result is real and stable even for singular covariances (fewer
//! samples than dimensions).
//!
//! With few samples (`n₁ n₂ ≤ d²`, e.g. a few hundred YAMNet patches in 1024 dimensions) the
//! cross term is computed exactly from the samples instead: with `Σ₁ = AAᵀ`, `Σ₂ = BBᵀ` (centred
//! samples as columns, scaled by `1/√(n-1)`), the non-zero eigenvalues of `Σ₁^½ Σ₂ Σ₁^½` are the
//! squared singular values of `AᵀB`, so the trace term is the nuclear norm of that `n₁ x n₂`
//! matrix.

use nalgebra::{DMatrix, DVector, SymmetricEigen};

/// Mean and (unbiased, `n - 1`) covariance of a set of vectors, in f64.
#[derive(Debug, Clone)]
pub struct Gaussian {
    pub mean: DVector<f64>,
    pub cov: DMatrix<f64>,
}

impl Gaussian {
    /// Fits a Gaussian to `samples` (all of the same length). Needs at least two samples.
    pub fn fit(samples: &[Vec<f32>]) -> Option<Self> {
        let n = samples.len();
        let d = samples.first()?.len();
        if n < 2 || d == 0 || samples.iter().any(|s| s.len() != d) {
            return None;
        }
        let x = DMatrix::from_fn(n, d, |i, j| samples[i][j] as f64);
        let mean = x.row_mean().transpose();
        let centred = DMatrix::from_fn(n, d, |i, j| x[(i, j)] - mean[j]);
        let cov = centred.tr_mul(&centred) / (n as f64 - 1.0);
        Some(Self { mean, cov })
    }
}

/// `S^½` of a symmetric positive semi-definite matrix.
fn sqrt_psd(s: &DMatrix<f64>) -> DMatrix<f64> {
    let eig = SymmetricEigen::new(symmetrize(s));
    let root = eig.eigenvalues.map(|l| l.max(0.0).sqrt());
    &eig.eigenvectors * DMatrix::from_diagonal(&root) * eig.eigenvectors.transpose()
}

fn symmetrize(s: &DMatrix<f64>) -> DMatrix<f64> {
    (s + s.transpose()) * 0.5
}

/// Fréchet distance between two fitted Gaussians (dimensions must agree).
pub fn frechet_distance(a: &Gaussian, b: &Gaussian) -> f64 {
    assert_eq!(a.mean.len(), b.mean.len(), "embedding dimensions differ");
    let diff = &a.mean - &b.mean;
    let root_a = sqrt_psd(&a.cov);
    let middle = &root_a * &b.cov * &root_a;
    let eig = SymmetricEigen::new(symmetrize(&middle));
    let tr_cross: f64 = eig.eigenvalues.iter().map(|l| l.max(0.0).sqrt()).sum();
    (diff.dot(&diff) + a.cov.trace() + b.cov.trace() - 2.0 * tr_cross).max(0.0)
}

/// Centred samples as columns scaled by `1/√(n-1)` (so that `Σ = AAᵀ`), and the mean.
fn centred_columns(samples: &[Vec<f32>]) -> Option<(DMatrix<f64>, DVector<f64>)> {
    let (n, d) = (samples.len(), samples.first()?.len());
    if n < 2 || samples.iter().any(|s| s.len() != d) {
        return None;
    }
    let mean = DVector::from_fn(d, |j, _| samples.iter().map(|s| s[j] as f64).sum::<f64>() / n as f64);
    let scale = 1.0 / (n as f64 - 1.0).sqrt();
    Some((DMatrix::from_fn(d, n, |j, i| (samples[i][j] as f64 - mean[j]) * scale), mean))
}

/// Fréchet distance between two embedding sets; `None` if either has fewer than two samples or
/// the dimensions differ.
pub fn frechet_distance_sets(a: &[Vec<f32>], b: &[Vec<f32>]) -> Option<f64> {
    let d = a.first()?.len();
    if b.first()?.len() != d {
        return None;
    }
    if a.len() * b.len() > d * d {
        return Some(frechet_distance(&Gaussian::fit(a)?, &Gaussian::fit(b)?));
    }
    let (ca, ma) = centred_columns(a)?;
    let (cb, mb) = centred_columns(b)?;
    let diff = &ma - &mb;
    let cross = ca.tr_mul(&cb);
    let nuclear: f64 = cross.singular_values().iter().sum();
    Some((diff.dot(&diff) + ca.norm_squared() + cb.norm_squared() - 2.0 * nuclear).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaussian(mean: Vec<f64>, cov: DMatrix<f64>) -> Gaussian {
        Gaussian { mean: DVector::from_vec(mean), cov }
    }

    #[test]
    fn diagonal_covariances_have_closed_form() {
        // FD = |Δμ|² + Σ (√a - √b)² for commuting (diagonal) covariances.
        let a = gaussian(vec![1.0, 2.0, 0.0], DMatrix::from_diagonal(&DVector::from_vec(vec![4.0, 1.0, 9.0])));
        let b = gaussian(vec![0.0, 0.0, 0.0], DMatrix::from_diagonal(&DVector::from_vec(vec![1.0, 1.0, 0.0])));
        let expected = 1.0 + 4.0 + (2.0f64 - 1.0).powi(2) + 0.0 + 9.0;
        assert!((frechet_distance(&a, &b) - expected).abs() < 1e-9);
    }

    #[test]
    fn rotated_covariances_match_the_univariate_formula_per_axis() {
        // Same eigenbasis (a rotation), eigenvalues (4, 1) vs (1, 9): FD = (2-1)² + (1-3)² = 5.
        let (c, s) = (0.6f64, 0.8f64);
        let r = DMatrix::from_row_slice(2, 2, &[c, -s, s, c]);
        let make = |l1: f64, l2: f64| &r * DMatrix::from_diagonal(&DVector::from_vec(vec![l1, l2])) * r.transpose();
        let a = gaussian(vec![0.0, 0.0], make(4.0, 1.0));
        let b = gaussian(vec![0.0, 0.0], make(1.0, 9.0));
        assert!((frechet_distance(&a, &b) - 5.0).abs() < 1e-9);
    }

    #[test]
    fn identical_sets_are_at_distance_zero_even_when_singular() {
        // 3 samples in 8 dimensions: a rank-2 covariance.
        let set: Vec<Vec<f32>> = (0..3).map(|i| (0..8).map(|j| ((i * 7 + j * 3) % 5) as f32).collect()).collect();
        let d = frechet_distance_sets(&set, &set).unwrap();
        assert!(d.abs() < 1e-6, "{d}");
    }

    #[test]
    fn sample_route_equals_covariance_route() {
        // A deterministic pseudo-random set: 5 and 7 samples in 6 dimensions (n₁n₂ ≤ d² path).
        let mut state = 12345u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        let a: Vec<Vec<f32>> = (0..5).map(|_| (0..6).map(|_| next()).collect()).collect();
        let b: Vec<Vec<f32>> = (0..7).map(|_| (0..6).map(|_| next() * 2.0 + 0.3).collect()).collect();
        let via_samples = frechet_distance_sets(&a, &b).unwrap();
        let via_cov = frechet_distance(&Gaussian::fit(&a).unwrap(), &Gaussian::fit(&b).unwrap());
        // The eigen route takes square roots of round-off eigenvalues of the rank-deficient product.
        assert!((via_samples - via_cov).abs() < 1e-7 * via_cov.max(1.0), "{via_samples} vs {via_cov}");
    }

    #[test]
    fn fit_uses_unbiased_covariance() {
        let g = Gaussian::fit(&[vec![0.0], vec![2.0]]).unwrap();
        assert_eq!(g.mean[0], 1.0);
        assert_eq!(g.cov[(0, 0)], 2.0);
        assert!(Gaussian::fit(&[vec![1.0]]).is_none());
    }
}
