//! Depthwise 2-D convolution (one filter per channel) with its bias and activation, in one
//! parallel pass over the planes.
//!
//! burn flex runs a grouped convolution with one channel per group through a generic direct
//! path; EfficientNet-Lite0 spends about a quarter of its time there. Here every (image,
//! channel) plane is one task: the plane is padded once into a scratch buffer split by row and
//! column phase, so that for every stride each tap is one contiguous, vectorized run.

use std::mem::MaybeUninit;

use burn::tensor::Tensor;
use rayon::prelude::*;

use crate::conv::Activation;
use crate::flex::{flex_f32, optional_flex_f32, tensor};
use burn_flex::FlexTensor;

/// Geometry of a depthwise convolution: square stride, padding before and after each axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Depthwise {
    pub stride: usize,
    /// `(top, bottom)` rows and `(left, right)` columns of zeros.
    pub padding: [(usize, usize); 2],
}

impl Depthwise {
    fn output_len(input: usize, kernel: usize, stride: usize, (before, after): (usize, usize)) -> Option<usize> {
        (input + before + after).checked_sub(kernel).map(|span| span / stride + 1)
    }

    /// `act(conv(x, weight) + bias)` for `x` `[n, c, h, w]`, `weight` `[c, 1, kh, kw]`, `bias`
    /// `[c]`; `None` when the fast path does not apply (not contiguous f32 on flex, shapes that
    /// do not fit), so the caller runs burn's convolution instead.
    pub fn forward(&self, x: &Tensor<4>, weight: &Tensor<4>, bias: Option<&Tensor<1>>, act: Activation) -> Option<Tensor<4>> {
        let [n, c, h, w] = x.dims();
        let [wc, one, kh, kw] = weight.dims();
        if wc != c || one != 1 || self.stride == 0 || bias.is_some_and(|b| b.dims() != [c]) {
            return None;
        }
        let oh = Self::output_len(h, kh, self.stride, self.padding[0])?;
        let ow = Self::output_len(w, kw, self.stride, self.padding[1])?;
        let (x, weight) = (flex_f32(x)?, flex_f32(weight)?);
        let bias = optional_flex_f32(bias)?;
        let input = x.as_slice::<f32>()?;
        let weights = weight.as_slice::<f32>()?;
        let bias = bias.as_ref().map(|b| b.as_slice::<f32>().expect("checked contiguous"));
        let plane = Plane::new(h, w, kh, kw, ow, self.stride, self.padding);
        let len = n * c * oh * ow;
        // Not zeroed first: every output float is written once, below.
        let mut out: Vec<f32> = Vec::with_capacity(len);
        out.spare_capacity_mut()[..len].par_chunks_mut((oh * ow).max(1)).enumerate().for_each_init(Scratch::default, |scratch, (i, out)| {
            let ch = i % c;
            let b = bias.map_or(0.0, |b| b[ch]);
            plane.run(&input[i * h * w..(i + 1) * h * w], &weights[ch * kh * kw..(ch + 1) * kh * kw], b, act, scratch, out);
        });
        // SAFETY: `Plane::run` writes every float of its plane's output (all `oh` rows of `ow`).
        unsafe { out.set_len(len) };
        Some(tensor(FlexTensor::from_data(burn::tensor::TensorData::new(out, [n, c, oh, ow]))))
    }
}

/// One channel plane's geometry, the same for every plane of a call (see [`Plane::run_body`]
/// for the layout).
struct Plane {
    h: usize,
    w: usize,
    ow: usize,
    stride: usize,
    padding: [(usize, usize); 2],
    /// Columns of a phase sub-plane, which is also the pitch of the output computed.
    phase_w: usize,
    /// Floats of one sub-plane, slack included.
    sub_len: usize,
    /// Where tap `ky * kw + kx` starts reading in the phase-split plane.
    tap_offsets: Vec<usize>,
}

impl Plane {
    fn new(h: usize, w: usize, kh: usize, kw: usize, ow: usize, s: usize, padding: [(usize, usize); 2]) -> Self {
        let ((top, bottom), (left, right)) = (padding[0], padding[1]);
        let (phase_h, phase_w) = ((h + top + bottom).div_ceil(s), (w + left + right).div_ceil(s));
        // One spare row and a vector of slack: the discarded columns of the last output rows
        // read past the plane.
        let sub_len = (phase_h + 1) * phase_w + LANES;
        let tap_offsets = (0..kh * kw)
            .map(|t| {
                let (ky, kx) = (t / kw, t % kw);
                (ky % s * s + kx % s) * sub_len + ky / s * phase_w + kx / s
            })
            .collect();
        Self { h, w, ow, stride: s, padding, phase_w, sub_len, tap_offsets }
    }

    fn run(&self, input: &[f32], weights: &[f32], bias: f32, act: Activation, scratch: &mut Scratch, out: &mut [MaybeUninit<f32>]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features the function is compiled for.
            return unsafe { self.run_avx2(input, weights, bias, act, scratch, out) };
        }
        self.run_body(input, weights, bias, act, scratch, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn run_avx2(&self, input: &[f32], weights: &[f32], bias: f32, act: Activation, scratch: &mut Scratch, out: &mut [MaybeUninit<f32>]) {
        self.run_body(input, weights, bias, act, scratch, out)
    }

    /// The padded plane is split by row and column phase into `s * s` sub-planes (phase
    /// `(py, px)` holds padded rows `py, py + s, ...` and columns `px, px + s, ...`), so that
    /// every tap `(ky, kx)` reads one sub-plane at a fixed offset. The output is computed with
    /// the sub-planes' row pitch (the `phase_w - ow` extra columns are discarded): each tap is
    /// then one contiguous run over the whole plane, eight outputs kept in registers across
    /// all taps, with no per-row loop overhead on the small planes of the late stages.
    #[inline(always)]
    fn run_body(&self, input: &[f32], weights: &[f32], bias: f32, act: Activation, scratch: &mut Scratch, out: &mut [MaybeUninit<f32>]) {
        let (s, phase_w, sub_len) = (self.stride, self.phase_w, self.sub_len);
        let (top, left) = (self.padding[0].0, self.padding[1].0);
        let planes = &mut scratch.planes;
        planes.clear();
        planes.resize(s * s * sub_len, 0.0);
        // Padded row y + top is row (y + top) / s of row phase (y + top) % s, kept by counting.
        let (mut next_py, mut next_row) = (top % s, top / s);
        for y in 0..self.h {
            let src = &input[y * self.w..(y + 1) * self.w];
            let (py, row) = (next_py, next_row);
            (next_py, next_row) = if py + 1 == s { (0, row + 1) } else { (py + 1, row) };
            if s == 1 {
                planes[row * phase_w + left..][..self.w].copy_from_slice(src);
                continue;
            }
            if s == 2 {
                // Even and odd padded columns, by pairs (vectorizes; the general loop below does not).
                let (first, second) = (py * 2 * sub_len, (py * 2 + 1) * sub_len);
                let (even, odd) = if left % 2 == 0 { (first, second) } else { (second, first) };
                let (even, odd) = (even + row * phase_w + left / 2, odd + row * phase_w + left.div_ceil(2));
                let pairs = self.w / 2;
                for (j, pair) in src.chunks_exact(2).enumerate() {
                    planes[even + j] = pair[0];
                    planes[odd + j] = pair[1];
                }
                if self.w % 2 == 1 {
                    planes[even + pairs] = src[self.w - 1];
                }
                continue;
            }
            for px in 0..s {
                // Input columns x with (x + left) % s == px, in order (no division per element).
                let first_x = (px + s - left % s) % s;
                let base = (py * s + px) * sub_len + row * phase_w + (first_x + left) / s;
                for (j, &v) in src.iter().skip(first_x).step_by(s).enumerate() {
                    planes[base + j] = v;
                }
            }
        }
        let taps = (&self.tap_offsets[..], weights);
        let oh = out.len() / self.ow;
        let len = (oh * phase_w).next_multiple_of(LANES);
        if scratch.acc.len() < len {
            scratch.acc.resize(len, 0.0);
        }
        // Every element is written below: no need to clear.
        let acc = &mut scratch.acc[..len];
        let (blocks, rest) = acc.split_at_mut(len / BLOCK * BLOCK);
        for (b, block) in blocks.chunks_exact_mut(BLOCK).enumerate() {
            block.copy_from_slice(&accumulate::<BLOCK>(planes, taps, b * BLOCK, bias));
        }
        for (c, chunk) in rest.chunks_exact_mut(LANES).enumerate() {
            chunk.copy_from_slice(&accumulate::<LANES>(planes, taps, blocks.len() + c * LANES, bias));
        }
        for (out_row, acc_row) in out.chunks_exact_mut(self.ow).zip(acc.chunks(phase_w)) {
            for (o, &a) in out_row.iter_mut().zip(acc_row) {
                o.write(act.apply(a));
            }
        }
    }
}

/// Floats of one AVX2 register, and of the register block one pass over the taps keeps.
const LANES: usize = 8;
const BLOCK: usize = 4 * LANES;

/// `bias + sum over taps of w * planes[offset + start + i]` for `i < N`, the taps given as
/// `(offsets, weights)`: `N / 8` vector accumulators stay in registers while every tap is read
/// once.
#[inline(always)]
fn accumulate<const N: usize>(planes: &[f32], (offsets, weights): (&[usize], &[f32]), start: usize, bias: f32) -> [f32; N] {
    let mut sum = [bias; N];
    for (&offset, &w) in offsets.iter().zip(weights) {
        let src: &[f32; N] = planes[offset + start..][..N].try_into().expect("N floats");
        for (s, &v) in sum.iter_mut().zip(src) {
            *s = v.mul_add(w, *s);
        }
    }
    sum
}

/// A task's reusable buffers: the phase-split padded plane and the pitched output.
#[derive(Default)]
struct Scratch {
    planes: Vec<f32>,
    acc: Vec<f32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;
    use burn::tensor::{Device, TensorData};

    fn values(n: usize, seed: u32) -> Vec<f32> {
        crate::test_values(n, seed, 4.0)
    }

    /// Against burn's grouped convolution: kernels 3 and 5, strides 1 and 2, even and odd
    /// sizes, asymmetric (TensorFlow "SAME") padding, with and without bias.
    #[test]
    fn matches_burn_grouped_convolution() {
        let device = Device::flex();
        let cases = [
            ([2, 3, 9, 7], 3, 1, [(1, 1), (1, 1)]),
            ([1, 4, 8, 8], 3, 2, [(0, 1), (0, 1)]),
            ([2, 2, 11, 10], 5, 2, [(1, 2), (1, 2)]),
            ([1, 5, 6, 13], 5, 1, [(2, 2), (2, 2)]),
            ([1, 1, 1, 1], 3, 2, [(1, 1), (1, 1)]),
        ];
        for ([n, c, h, w], k, stride, padding) in cases {
            let x = Tensor::<4>::from_data(TensorData::new(values(n * c * h * w, 1), [n, c, h, w]), &device);
            let weight = Tensor::<4>::from_data(TensorData::new(values(c * k * k, 2), [c, 1, k, k]), &device);
            let bias = Tensor::<1>::from_data(TensorData::new(values(c, 3), [c]), &device);
            for with_bias in [false, true] {
                for act in [Activation::Identity, Activation::Relu6] {
                    let b = with_bias.then_some(&bias);
                    let got = Depthwise { stride, padding }.forward(&x, &weight, b, act).expect("fast path");
                    let options = ConvOptions::new_with_padding([stride, stride], padding, [1, 1], c);
                    let want = conv2d(x.clone(), weight.clone(), b.cloned(), options);
                    let want = if act == Activation::Relu6 { want.clamp(0.0, 6.0) } else { want };
                    assert_eq!(got.dims(), want.dims(), "[{n},{c},{h},{w}] k{k} s{stride}");
                    let (got, want) = (got.into_data().try_to_vec::<f32>().unwrap(), want.into_data().try_to_vec::<f32>().unwrap());
                    let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                    assert!(worst < 1e-5, "[{n},{c},{h},{w}] k{k} s{stride}: {worst}");
                }
            }
        }
    }

    #[test]
    fn mismatched_shapes_fall_back() {
        let device = Device::flex();
        let x = Tensor::<4>::zeros([1, 3, 4, 4], &device);
        let weight = Tensor::<4>::zeros([2, 1, 3, 3], &device);
        assert!(Depthwise { stride: 1, padding: [(1, 1), (1, 1)] }.forward(&x, &weight, None, Activation::Identity).is_none());
        let weight = Tensor::<4>::zeros([3, 1, 5, 5], &device);
        assert!(Depthwise { stride: 1, padding: [(0, 0), (0, 0)] }.forward(&x, &weight, None, Activation::Identity).is_none());
    }
}
