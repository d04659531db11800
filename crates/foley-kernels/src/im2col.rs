//! Dense 2-D convolutions of many small images, channels-last, tile by tile.
//!
//! burn flex convolves each image on its own (NCHW im2col and a small gemm per image): for the
//! sync backbone's 200 frames of 32x32 and less, the per-image work is too small to pay for its
//! set-up. Here images are NHWC, so a row of the im2col matrix is `kh` contiguous runs of
//! `kw * c` floats (copies, not gathers), and the product `[pixels, co]` is already the next
//! layer's NHWC input. Each task takes a tile of output pixels of the whole batch: its patches
//! go into an L2-sized scratch, one single-threaded gemm writes the tile straight into its place
//! in the output, and the bias and activation are applied while the tile is still in cache.

use burn::tensor::{Tensor, TensorData};
use burn_flex::FlexTensor;
use gemm::{Parallelism, gemm};
use rayon::prelude::*;

use crate::conv::{Activation, finish_rows};
use crate::flex::{SendPtr, flex_f32, flex_primitive, optional_flex_f32, tensor};

/// Floats of a task's patch matrix (128 KiB: in L2 beside its slice of the output).
const TILE_FLOATS: usize = 32 * 1024;
/// Fewest output pixels per task, so that deep layers still amortise packing the weights.
const MIN_TILE: usize = 64;
/// Tiles are whole multiples of the gemm microkernel's rows (2 x 8 floats on AVX2).
const TILE_ROWS: usize = 16;

/// Channels-last images `[n, h, w, c]`: a contiguous f32 flex tensor.
#[derive(Debug, Clone)]
pub struct Nhwc(FlexTensor);

impl Nhwc {
    /// The images of an NCHW tensor, channels-last: no copy when its buffer already is (a
    /// permuted view, as `foley_encoders::sync::frame_input` makes), else a transposing copy.
    /// `None` unless it is f32 on flex (e.g. under autodiff), so the caller runs burn's ops.
    pub fn from_nchw(x: &Tensor<4>) -> Option<Self> {
        let last = flex_primitive(x)?.permute(&[0, 2, 3, 1]);
        Some(Self(if last.is_contiguous() { last } else { last.to_contiguous() }))
    }

    /// `[n, h, w, c]`.
    pub fn dims(&self) -> [usize; 4] {
        let shape = self.0.layout().shape();
        [shape[0], shape[1], shape[2], shape[3]]
    }

    fn data(&self) -> &[f32] {
        self.0.as_slice::<f32>().expect("contiguous f32")
    }

    /// The NCHW tensor `[n, c, h, w]` of these images (a permuted view of the same buffer).
    pub fn into_nchw(self) -> Tensor<4> {
        tensor(self.0.permute(&[0, 3, 1, 2]))
    }

    /// Images given channels-last, `[n, h, w, c]` (copied only if not contiguous); `None`
    /// unless f32 on flex.
    pub fn from_channels_last(x: &Tensor<4>) -> Option<Self> {
        let x = flex_primitive(x)?;
        Some(Self(if x.is_contiguous() { x } else { x.to_contiguous() }))
    }

    /// The `[n, h, w, c]` tensor of these images.
    pub fn into_channels_last(self) -> Tensor<4> {
        tensor(self.0)
    }
}

/// Geometry of a dense convolution: square stride; zero padding `[rows, columns]`, the same
/// before and after (a 1-D convolution over time is one with 1-row images and `[0, k / 2]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchedConv {
    pub stride: usize,
    pub padding: [usize; 2],
}

impl BatchedConv {
    /// `act(conv(x, weight) + bias)` for channels-last `x` `[n, h, w, ci]`, `weight` `[co, ci,
    /// kh, kw]` (one group, burn's layout), `bias` `[co]`: channels-last `[n, oh, ow, co]`.
    /// `None` when the weights are not contiguous f32 on flex or the shapes do not fit.
    pub fn forward(&self, x: &Nhwc, weight: &Tensor<4>, bias: Option<&Tensor<1>>, act: Activation) -> Option<Nhwc> {
        let [n, h, w, ci] = x.dims();
        let [co, wci, kh, kw] = weight.dims();
        let (s, [ph, pw]) = (self.stride, self.padding);
        if wci != ci || s == 0 || co == 0 || bias.is_some_and(|b| b.dims() != [co]) || h + 2 * ph < kh || w + 2 * pw < kw {
            return None;
        }
        let (oh, ow) = ((h + 2 * ph - kh) / s + 1, (w + 2 * pw - kw) / s + 1);
        let weight = flex_f32(weight)?;
        let bias = optional_flex_f32(bias)?;
        let bias = bias.as_ref().map(|b| b.as_slice::<f32>().expect("checked contiguous"));
        let k = kh * kw * ci;
        // The weights as the `[k, co]` right-hand side, k in the patch rows' (ky, kx, c) order.
        let burn_weights = weight.as_slice::<f32>()?;
        let mut rhs = vec![0f32; k * co];
        for (i, &v) in burn_weights.iter().enumerate() {
            let (o, c, ky, kx) = (i / (ci * kh * kw), i / (kh * kw) % ci, i / kw % kh, i % kw);
            rhs[((ky * kw + kx) * ci + c) * co + o] = v;
        }
        let rows = n * oh * ow;
        let tile = (TILE_FLOATS / k.max(1) / TILE_ROWS * TILE_ROWS).max(MIN_TILE).min(rows.max(1));
        let mut out: Vec<f32> = Vec::with_capacity(rows * co);
        let dst = SendPtr(out.as_mut_ptr());
        let input = x.data();
        (0..rows.div_ceil(tile)).into_par_iter().for_each_init(Vec::new, |patches: &mut Vec<f32>, t| {
            let first = t * tile;
            let count = tile.min(rows - first);
            // Zeros are the padding; every tap inside the image is copied over them.
            patches.clear();
            patches.resize(count * k, 0.0);
            for (r, patch) in patches.chunks_exact_mut(k).enumerate() {
                let pixel = first + r;
                let (image, oy, ox) = (pixel / (oh * ow), pixel / ow % oh, pixel % ow);
                // Taps kx in [lo, hi) fall inside the image's columns.
                let x0 = (ox * s) as isize - pw as isize;
                let lo = (-x0).max(0) as usize;
                let hi = (w as isize - x0).clamp(0, kw as isize) as usize;
                if lo >= hi {
                    continue;
                }
                for ky in 0..kh {
                    let y = (oy * s + ky).wrapping_sub(ph);
                    if y >= h {
                        continue;
                    }
                    let row = ((image * h + y) * w) as isize + x0;
                    let src = &input[(row + lo as isize) as usize * ci..(row + hi as isize) as usize * ci];
                    patch[(ky * kw + lo) * ci..(ky * kw + hi) * ci].copy_from_slice(src);
                }
            }
            let dst = &dst;
            // SAFETY: this task writes rows [first, first + count) of the `[rows, co]` output
            // (row stride co), which no other task touches, inside the capacity allocated;
            // the product is written without reading the output (read_dst false) before the
            // epilogue reads it. `patches` is count x k (row stride k), `rhs` k x co (row
            // stride co).
            let tile_out = unsafe {
                let tile_dst = dst.0.add(first * co);
                gemm(
                    count,
                    co,
                    k,
                    tile_dst,
                    1,
                    co as isize,
                    false,
                    patches.as_ptr(),
                    1,
                    k as isize,
                    rhs.as_ptr(),
                    1,
                    co as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    Parallelism::None,
                );
                std::slice::from_raw_parts_mut(tile_dst, count * co)
            };
            finish_rows(tile_out, bias, co, act);
        });
        // SAFETY: every float of the `rows * co` was written by exactly one task above.
        unsafe { out.set_len(rows * co) };
        Some(Nhwc(FlexTensor::from_data(TensorData::new(out, [n, oh, ow, co]))))
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

    /// Against burn's convolution then GELU: strides 1 and 2, padding 0 and 1, odd sizes, more
    /// pixels than one tile, a kernel as wide as the padded image.
    #[test]
    fn matches_burn_convolution() {
        let device = Device::flex();
        let cases = [
            ([3, 6, 32, 32], 24, [3, 3], 2, [1, 1]),
            ([2, 5, 9, 7], 4, [3, 3], 1, [1, 1]),
            ([2, 3, 8, 8], 2, [2, 2], 2, [0, 0]),
            ([300, 64, 4, 4], 64, [3, 3], 2, [1, 1]),
            ([1, 1, 1, 1], 3, [3, 3], 2, [1, 1]),
            ([2, 2, 5, 6], 3, [5, 5], 1, [0, 0]),
            // 1-D over time: the sync backbone's temporal blocks and downsampling.
            ([24, 16, 1, 16], 16, [1, 3], 1, [0, 1]),
            ([24, 16, 1, 16], 8, [1, 2], 2, [0, 0]),
        ];
        for ([n, ci, h, w], co, [kh, kw], stride, padding) in cases {
            let x = Tensor::<4>::from_data(TensorData::new(values(n * ci * h * w, 1), [n, ci, h, w]), &device);
            let weight = Tensor::<4>::from_data(TensorData::new(values(co * ci * kh * kw, 2), [co, ci, kh, kw]), &device);
            let bias = Tensor::<1>::from_data(TensorData::new(values(co, 3), [co]), &device);
            for b in [None, Some(&bias)] {
                let input = Nhwc::from_nchw(&x).expect("flex f32");
                let got = BatchedConv { stride, padding }.forward(&input, &weight, b, Activation::Gelu).expect("fast path").into_nchw();
                let options = ConvOptions::new([stride; 2], padding, [1, 1], 1);
                let want = burn::tensor::activation::gelu(conv2d(x.clone(), weight.clone(), b.cloned(), options));
                assert_eq!(got.dims(), want.dims(), "[{n},{ci},{h},{w}] -> {co}, k{kh}x{kw} s{stride} p{padding:?}");
                let (got, want) = (got.into_data().try_to_vec::<f32>().unwrap(), want.into_data().try_to_vec::<f32>().unwrap());
                // Sums of up to 576 products, in another order than burn's: relative to the scale.
                let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
                let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max) / scale;
                assert!(worst < 1e-5, "[{n},{ci},{h},{w}] -> {co}, k{kh}x{kw} s{stride} p{padding:?}: {worst}");
            }
        }
    }

    /// A contiguous NCHW tensor is transposed; a permuted view of channels-last data is taken
    /// as it is; both give the same images.
    #[test]
    fn channels_last_round_trips() {
        let device = Device::flex();
        let x = Tensor::<4>::from_data(TensorData::new(values(2 * 3 * 4 * 5, 1), [2, 3, 4, 5]), &device);
        let want = x.clone().permute([0, 2, 3, 1]).into_data().try_to_vec::<f32>().unwrap();
        let view = Tensor::<4>::from_data(TensorData::new(want.clone(), [2, 4, 5, 3]), &device).permute([0, 3, 1, 2]);
        for input in [&x, &view] {
            let nhwc = Nhwc::from_nchw(input).unwrap();
            assert_eq!(nhwc.dims(), [2, 4, 5, 3]);
            assert_eq!(nhwc.data(), &want[..]);
            assert_eq!(nhwc.into_nchw().into_data().try_to_vec::<f32>().unwrap(), x.clone().into_data().try_to_vec::<f32>().unwrap());
        }
    }

    #[test]
    fn grouped_or_mismatched_weights_fall_back() {
        let device = Device::flex();
        let x = Nhwc::from_nchw(&Tensor::<4>::zeros([1, 4, 5, 5], &device)).unwrap();
        assert!(BatchedConv { stride: 1, padding: [1, 1] }.forward(&x, &Tensor::zeros([4, 2, 3, 3], &device), None, Activation::Identity).is_none());
        assert!(BatchedConv { stride: 1, padding: [0, 0] }.forward(&x, &Tensor::zeros([4, 4, 7, 7], &device), None, Activation::Identity).is_none());
    }
}
