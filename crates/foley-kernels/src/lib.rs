//! CPU kernels for work burn flex leaves on one thread or spreads over several passes.
//!
//! burn flex parallelises matmul, convolution, softmax and layer norm, but runs its unary and
//! binary element-wise ops (clamp, add, the arithmetic of batch norm) on the calling thread, one
//! full pass over memory each. These kernels do such work over chunks on all rayon threads, in
//! one pass, for contiguous f32 tensors on the flex backend outside autodiff; every entry point
//! falls back to the plain burn ops otherwise, so results do not depend on the path (beyond
//! rounding and GELU's erf, see [`math`]). The depthwise convolution replaces flex's generic
//! grouped path (a quarter of EfficientNet-Lite0's time), the channels-last im2col convolution
//! flex's per-image path on many small images (the sync backbone), the pointwise one flex's 1x1
//! path plus its separate bias pass (EfficientNet-Lite0). [`math`] holds the vectorisable `exp`,
//! `erf` and GELU they use; [`heap`] the allocator settings they are run and measured with.

pub mod conv;
pub mod depthwise;
pub mod flex;
pub mod heap;
pub mod im2col;
pub mod math;
pub mod pointwise;

/// Deterministic test inputs: `n` values spread evenly over `[-scale / 2, scale / 2)` in a
/// scrambled order (a multiplicative hash of the index).
#[cfg(test)]
pub(crate) fn test_values(n: usize, seed: u32, scale: f32) -> Vec<f32> {
    (0..n).map(|i| (((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 8) as f32 / (1 << 24) as f32 - 0.5) * scale).collect()
}
