//! A dense 2-D convolution of many small images as one matrix product, with its bias and
//! activation.
//!
//! burn flex convolves each image on its own (im2col tiles and a small gemm per image): for the
//! sync backbone's 200 frames of 32x32 and less, the per-image work is too small to pay for its
//! set-up. Here the patches of a whole group of images form one `[ci * kh * kw, images * oh *
//! ow]` matrix, one gemm over both cores multiplies it by the weights, and the result is
//! scattered to NCHW with the bias and activation applied on the way.

use burn::tensor::{Tensor, TensorData};
use burn_flex::FlexTensor;
use gemm::{Parallelism, gemm};
use rayon::prelude::*;

use crate::conv::Activation;
use crate::flex::{flex_f32, optional_flex_f32, tensor};

/// Floats of the patch matrix per group of images (16 MiB): bounds the scratch memory for any
/// batch size.
const PATCH_FLOATS: usize = 4 << 20;

/// Geometry of a dense convolution: square stride, the same zero padding on every side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchedConv {
    pub stride: usize,
    pub padding: usize,
}

impl BatchedConv {
    /// `act(conv(x, weight) + bias)` for `x` `[n, ci, h, w]`, `weight` `[co, ci, kh, kw]` (one
    /// group), `bias` `[co]`; `None` when the fast path does not apply (not contiguous f32 on
    /// flex, e.g. under autodiff, or shapes that do not fit), so the caller runs burn's.
    pub fn forward(&self, x: &Tensor<4>, weight: &Tensor<4>, bias: Option<&Tensor<1>>, act: Activation) -> Option<Tensor<4>> {
        let [n, ci, h, w] = x.dims();
        let [co, wci, kh, kw] = weight.dims();
        let (s, p) = (self.stride, self.padding);
        if wci != ci || s == 0 || n == 0 || bias.is_some_and(|b| b.dims() != [co]) || h + 2 * p < kh || w + 2 * p < kw {
            return None;
        }
        let (oh, ow) = ((h + 2 * p - kh) / s + 1, (w + 2 * p - kw) / s + 1);
        let (x, weight) = (flex_f32(x)?, flex_f32(weight)?);
        let bias = optional_flex_f32(bias)?;
        let (input, weights) = (x.as_slice::<f32>()?, weight.as_slice::<f32>()?);
        let bias = bias.as_ref().map(|b| b.as_slice::<f32>().expect("checked contiguous"));
        let (k, pixels) = (ci * kh * kw, oh * ow);
        let group = (PATCH_FLOATS / (k * pixels).max(1)).clamp(1, n);
        let mut out = vec![0f32; n * co * pixels];
        let mut patches = vec![0f32; k * group * pixels];
        let mut product = vec![0f32; co * group * pixels];
        for first in (0..n).step_by(group) {
            let images = group.min(n - first);
            let cols = images * pixels;
            // Row r = (c, ky, kx) of the patch matrix, column = (image, oy, ox).
            patches[..k * cols].par_chunks_mut(cols).enumerate().for_each(|(r, row)| {
                let (c, ky, kx) = (r / (kh * kw), r / kw % kh, r % kw);
                for (i, image_row) in row.chunks_exact_mut(pixels).enumerate() {
                    let plane = &input[((first + i) * ci + c) * h * w..][..h * w];
                    for (oy, out_row) in image_row.chunks_exact_mut(ow).enumerate() {
                        let y = (oy * s + ky).wrapping_sub(p);
                        for (ox, v) in out_row.iter_mut().enumerate() {
                            let x = (ox * s + kx).wrapping_sub(p);
                            *v = if y < h && x < w { plane[y * w + x] } else { 0.0 };
                        }
                    }
                }
            });
            // SAFETY: `product` is co x cols (row stride cols), `weights` co x k (row stride
            // k), `patches` k x cols (row stride cols); all three hold at least that much.
            unsafe {
                gemm(
                    co,
                    cols,
                    k,
                    product.as_mut_ptr(),
                    1,
                    cols as isize,
                    false,
                    weights.as_ptr(),
                    1,
                    k as isize,
                    patches.as_ptr(),
                    1,
                    cols as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    Parallelism::Rayon(0),
                );
            }
            // [co, image, pixel] -> [image, co, pixel], with bias and activation.
            let product = &product[..co * cols];
            out[first * co * pixels..(first + images) * co * pixels].par_chunks_mut(pixels).enumerate().for_each(|(j, plane)| {
                let (i, c) = (j / co, j % co);
                let b = bias.map_or(0.0, |b| b[c]);
                for (o, &v) in plane.iter_mut().zip(&product[c * cols + i * pixels..][..pixels]) {
                    *o = act.apply(v + b);
                }
            });
        }
        Some(tensor(FlexTensor::from_data(TensorData::new(out, [n, co, oh, ow]))))
    }
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

    /// Against burn's convolution then GELU: strides 1 and 2, padding 0 and 1, odd sizes, a
    /// batch larger than one patch group.
    #[test]
    fn matches_burn_convolution() {
        let device = Device::flex();
        let cases =
            [([3, 6, 32, 32], 24, 3, 2, 1), ([2, 5, 9, 7], 4, 3, 1, 1), ([2, 3, 8, 8], 2, 2, 2, 0), ([300, 64, 4, 4], 64, 3, 2, 1), ([1, 1, 1, 1], 3, 3, 2, 1)];
        for ([n, ci, h, w], co, k, stride, padding) in cases {
            let x = Tensor::<4>::from_data(TensorData::new(values(n * ci * h * w, 1), [n, ci, h, w]), &device);
            let weight = Tensor::<4>::from_data(TensorData::new(values(co * ci * k * k, 2), [co, ci, k, k]), &device);
            let bias = Tensor::<1>::from_data(TensorData::new(values(co, 3), [co]), &device);
            for b in [None, Some(&bias)] {
                let got = BatchedConv { stride, padding }.forward(&x, &weight, b, Activation::Gelu).expect("fast path");
                let options = ConvOptions::new([stride; 2], [padding; 2], [1, 1], 1);
                let want = burn::tensor::activation::gelu(conv2d(x.clone(), weight.clone(), b.cloned(), options));
                assert_eq!(got.dims(), want.dims(), "[{n},{ci},{h},{w}] -> {co}, k{k} s{stride} p{padding}");
                let (got, want) = (got.into_data().try_to_vec::<f32>().unwrap(), want.into_data().try_to_vec::<f32>().unwrap());
                // Sums of up to 576 products, in another order than burn's: relative to the scale.
                let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
                let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max) / scale;
                assert!(worst < 1e-5, "[{n},{ci},{h},{w}] -> {co}, k{k} s{stride} p{padding}: {worst}");
            }
        }
    }

    #[test]
    fn grouped_or_mismatched_weights_fall_back() {
        let device = Device::flex();
        let x = Tensor::<4>::zeros([1, 4, 5, 5], &device);
        assert!(BatchedConv { stride: 1, padding: 1 }.forward(&x, &Tensor::zeros([4, 2, 3, 3], &device), None, Activation::Identity).is_none());
        assert!(BatchedConv { stride: 1, padding: 0 }.forward(&x, &Tensor::zeros([4, 4, 7, 7], &device), None, Activation::Identity).is_none());
    }
}
