//! A 1x1 convolution with its bias, activation and residual, block by block.
//!
//! burn flex runs a 1x1 convolution as one gemm per image into a zero-filled output, and the
//! bias, activation and residual then take another pass over that output ([`crate::conv`]).
//! EfficientNet-Lite0's expansions write up to 96 x 112 x 112 floats per image (4.8 MB), so the
//! second pass reads everything back from memory. Here each task multiplies the weights by one
//! block of an image's pixels into its place in the output (not zeroed first: the product
//! overwrites it) and finishes that block while it is still in cache.

use burn::tensor::{Tensor, TensorData};
use burn_flex::FlexTensor;
use gemm::{Parallelism, gemm};
use rayon::prelude::*;

use crate::conv::{Activation, finish};
use crate::flex::{SendPtr, flex_f32, optional_flex_f32, tensor};

/// Output floats a task finishes at once (256 KiB: fits in L2 with its inputs).
const BLOCK_FLOATS: usize = 64 * 1024;

/// `act(conv1x1(x, weight) + bias) + residual` for `x` `[n, ci, h, w]`, `weight` `[co, ci, 1, 1]`,
/// `bias` `[co]`, `residual` `[n, co, h, w]`; `None` when the fast path does not apply (not
/// contiguous f32 on flex, e.g. under autodiff, or shapes that do not fit), so the caller runs
/// burn's ops.
pub fn forward(x: &Tensor<4>, weight: &Tensor<4>, bias: Option<&Tensor<1>>, residual: Option<&Tensor<4>>, act: Activation) -> Option<Tensor<4>> {
    let [n, ci, h, w] = x.dims();
    let [co, wci, kh, kw] = weight.dims();
    if wci != ci || (kh, kw) != (1, 1) || n * h * w == 0 || bias.is_some_and(|b| b.dims() != [co]) || residual.is_some_and(|r| r.dims() != [n, co, h, w]) {
        return None;
    }
    let (x, weight) = (flex_f32(x)?, flex_f32(weight)?);
    let (bias, residual) = (optional_flex_f32(bias)?, optional_flex_f32(residual)?);
    let (input, weights) = (x.as_slice::<f32>()?, weight.as_slice::<f32>()?);
    let bias = bias.as_ref().map(|b| b.as_slice::<f32>().expect("checked contiguous"));
    let residual = residual.as_ref().map(|r| r.as_slice::<f32>().expect("checked contiguous"));
    let pixels = h * w;
    let cols = (BLOCK_FLOATS / co.max(1)).max(16).min(pixels);
    let blocks = pixels.div_ceil(cols);
    let len = n * co * pixels;
    let mut out: Vec<f32> = Vec::with_capacity(len);
    let dst = SendPtr(out.as_mut_ptr());
    (0..n * blocks).into_par_iter().for_each(|task| {
        let (image, block) = (task / blocks, task % blocks);
        let first = block * cols;
        let width = cols.min(pixels - first);
        let dst = &dst;
        // SAFETY: the task writes the columns [first, first + width) of every row of its image's
        // [co, pixels] output (row stride `pixels`), a region no other task touches, inside the
        // `len` floats allocated; the product is written without reading `out` (read_dst
        // false) before the epilogue below reads it. `weights` is co x ci (row stride ci), the
        // image's input ci x pixels (row stride pixels).
        unsafe {
            let out_image = dst.0.add(image * co * pixels);
            gemm(
                co,
                width,
                ci,
                out_image.add(first),
                1,
                pixels as isize,
                false,
                weights.as_ptr(),
                1,
                ci as isize,
                input.as_ptr().add(image * ci * pixels + first),
                1,
                pixels as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                Parallelism::None,
            );
            for c in 0..co {
                let row = std::slice::from_raw_parts_mut(out_image.add(c * pixels + first), width);
                let residual = residual.map(|r| &r[(image * co + c) * pixels + first..][..width]);
                finish(row, bias.map_or(0.0, |b| b[c]), residual, act);
            }
        }
    });
    // SAFETY: every float of the `len` was written by exactly one task above.
    unsafe { out.set_len(len) };
    Some(tensor(FlexTensor::from_data(TensorData::new(out, [n, co, h, w]))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        crate::test_values(n, seed, 4.0)
    }

    /// Against burn's convolution then bias, activation and residual, on EfficientNet-Lite0's
    /// shapes (an expansion at 112x112, a projection with residual, the head) and odd ones.
    #[test]
    fn matches_burn_convolution() {
        let device = Device::flex();
        let cases = [([2, 16, 112, 112], 96), ([3, 144, 28, 28], 24), ([1, 320, 7, 7], 1280), ([2, 5, 3, 7], 3), ([1, 1, 1, 1], 1)];
        for ([n, ci, h, w], co) in cases {
            let x = Tensor::<4>::from_data(TensorData::new(values(n * ci * h * w, 1), [n, ci, h, w]), &device);
            let weight = Tensor::<4>::from_data(TensorData::new(values(co * ci, 2), [co, ci, 1, 1]), &device);
            let bias = Tensor::<1>::from_data(TensorData::new(values(co, 3), [co]), &device);
            let residual = Tensor::<4>::from_data(TensorData::new(values(n * co * h * w, 4), [n, co, h, w]), &device);
            for act in [Activation::Identity, Activation::Relu6] {
                for (b, r) in [(None, None), (Some(&bias), None), (Some(&bias), Some(&residual))] {
                    let got = forward(&x, &weight, b, r, act).expect("fast path");
                    let plain = conv2d(x.clone(), weight.clone(), None, ConvOptions::new([1, 1], [0, 0], [1, 1], 1));
                    let want = crate::conv::bias_act(plain, b.cloned(), r.cloned(), act);
                    let (got, want) = (got.into_data().try_to_vec::<f32>().unwrap(), want.into_data().try_to_vec::<f32>().unwrap());
                    // Sums of up to 320 products; the gemm may split them differently per block.
                    let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
                    let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max) / scale;
                    assert!(worst < 1e-6, "[{n},{ci},{h},{w}] -> {co} {act:?}: {worst}");
                }
            }
        }
    }

    #[test]
    fn other_kernels_fall_back() {
        let device = Device::flex();
        let x = Tensor::<4>::zeros([1, 4, 5, 5], &device);
        assert!(forward(&x, &Tensor::zeros([4, 4, 3, 3], &device), None, None, Activation::Identity).is_none());
        assert!(forward(&x, &Tensor::zeros([4, 2, 1, 1], &device), None, None, Activation::Identity).is_none());
    }
}
