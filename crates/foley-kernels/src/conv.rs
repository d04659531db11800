//! The element-wise tail of a convolution in one parallel pass: per-channel bias (a batch norm
//! folded into the convolution leaves exactly that), activation, residual; and activations of
//! tensors of any rank ([`activate`], [`gelu`]).

use burn::tensor::Tensor;
use rayon::prelude::*;

use crate::flex::{CHUNK, flex_f32, optional_flex_f32, tensor, update_owned};

/// The activation after a convolution's bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Identity,
    /// `min(max(x, 0), 6)` (MobileNet / EfficientNet-Lite); NaN stays NaN, as burn's clamp.
    Relu6,
    /// `x / 2 * (1 + erf(x / sqrt 2))` with the vectorisable [`crate::math::erf`] (within
    /// `|x| / 2 * 5e-7` of burn flex's `gelu`, which the fallback runs).
    Gelu,
}

impl Activation {
    #[inline]
    pub(crate) fn apply(self, x: f32) -> f32 {
        match self {
            Self::Identity => x,
            Self::Relu6 => x.clamp(0.0, 6.0),
            Self::Gelu => crate::math::gelu(x),
        }
    }

    fn apply_tensor(self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Identity => x,
            Self::Relu6 => x.clamp(0.0, 6.0),
            Self::Gelu => burn::tensor::activation::gelu(x),
        }
    }
}

/// `act(x)` for a tensor of any rank, over all rayon threads and in place when `x` is a fresh op
/// output (burn flex runs activations on the calling thread, GELU with libm's `erff` per element);
/// burn's op for other dtypes or backends (autodiff).
pub fn activate<const D: usize>(x: Tensor<D>, act: Activation) -> Tensor<D> {
    let Some(out) = flex_f32(&x) else {
        return match act {
            Activation::Identity => x,
            Activation::Relu6 => x.clamp(0.0, 6.0),
            Activation::Gelu => burn::tensor::activation::gelu(x),
        };
    };
    drop(x);
    tensor(update_owned(out, |data| data.par_chunks_mut(CHUNK).for_each(|chunk| finish_rows(chunk, None, 1, act))))
}

/// [`activate`] with GELU: the drop-in for `burn::tensor::activation::gelu` at inference.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    activate(x, Activation::Gelu)
}

/// `values[i] = act(values[i] + bias) + residual[i]`: one channel's run of a convolution's output.
pub(crate) fn finish(values: &mut [f32], bias: f32, residual: Option<&[f32]>, act: Activation) {
    #[cfg(target_arch = "x86_64")]
    if crate::math::has_avx2_fma() {
        // SAFETY: the CPU has the features the function is compiled for.
        return unsafe { finish_avx2(values, bias, residual, act) };
    }
    finish_body(values, bias, residual, act)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn finish_avx2(values: &mut [f32], bias: f32, residual: Option<&[f32]>, act: Activation) {
    finish_body(values, bias, residual, act)
}

/// `values[i] = act(values[i] + bias[i % bias.len()])`: rows of channels-last output.
pub(crate) fn finish_rows(values: &mut [f32], bias: Option<&[f32]>, channels: usize, act: Activation) {
    #[cfg(target_arch = "x86_64")]
    if crate::math::has_avx2_fma() {
        // SAFETY: as in `finish`.
        return unsafe { finish_rows_avx2(values, bias, channels, act) };
    }
    finish_rows_body(values, bias, channels, act)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn finish_rows_avx2(values: &mut [f32], bias: Option<&[f32]>, channels: usize, act: Activation) {
    finish_rows_body(values, bias, channels, act)
}

#[inline(always)]
fn finish_rows_body(values: &mut [f32], bias: Option<&[f32]>, channels: usize, act: Activation) {
    // One loop per activation, so that each vectorises.
    #[inline(always)]
    fn each(values: &mut [f32], bias: Option<&[f32]>, channels: usize, f: impl Fn(f32) -> f32) {
        match bias {
            Some(b) => values.chunks_exact_mut(channels).for_each(|row| row.iter_mut().zip(b).for_each(|(o, &b)| *o = f(*o + b))),
            None => values.iter_mut().for_each(|o| *o = f(*o)),
        }
    }
    match act {
        Activation::Identity => each(values, bias, channels, |x| x),
        Activation::Relu6 => each(values, bias, channels, |x| Activation::Relu6.apply(x)),
        Activation::Gelu => each(values, bias, channels, crate::math::gelu),
    }
}

#[inline(always)]
fn finish_body(values: &mut [f32], bias: f32, residual: Option<&[f32]>, act: Activation) {
    match residual {
        Some(r) => values.iter_mut().zip(r).for_each(|(o, &r)| *o = act.apply(*o + bias) + r),
        None => values.iter_mut().for_each(|o| *o = act.apply(*o + bias)),
    }
}

/// `act(x + bias[c]) + residual` for an NCHW tensor `x` `[n, c, h, w]`, `bias` `[c]` and
/// `residual` of `x`'s shape: in place in `x` when it is a fresh op output (a convolution's).
pub fn bias_act(x: Tensor<4>, bias: Option<Tensor<1>>, residual: Option<Tensor<4>>, act: Activation) -> Tensor<4> {
    let [_, c, h, w] = x.dims();
    let bias_fits = bias.as_ref().is_none_or(|b| b.dims() == [c]);
    let residual_fits = residual.as_ref().is_none_or(|r| r.dims() == x.dims());
    if bias_fits
        && residual_fits
        && let Some(out) = flex_f32(&x)
        && let Some(bias) = optional_flex_f32(bias.as_ref())
        && let Some(residual) = optional_flex_f32(residual.as_ref())
    {
        drop(x);
        let plane = h * w;
        let bias = bias.as_ref().map(|b| b.as_slice::<f32>().expect("checked contiguous"));
        let residual = residual.as_ref().map(|r| r.as_slice::<f32>().expect("checked contiguous"));
        // Whole planes per task, so each task reads one bias value per plane.
        let per_task = (CHUNK / plane.max(1)).max(1) * plane;
        let out = update_owned(out, |data| {
            data.par_chunks_mut(per_task.max(1)).enumerate().for_each(|(task, chunk)| {
                let first = task * per_task;
                for (i, plane_data) in chunk.chunks_mut(plane.max(1)).enumerate() {
                    let start = first + i * plane;
                    let b = bias.map_or(0.0, |b| b[(start / plane) % c]);
                    finish(plane_data, b, residual.map(|r| &r[start..start + plane_data.len()]), act);
                }
            })
        });
        return tensor(out);
    }
    let x = match bias {
        Some(b) => x + b.reshape([1, c, 1, 1]),
        None => x,
    };
    let x = act.apply_tensor(x);
    match residual {
        Some(r) => x + r,
        None => x,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn values(n: usize, seed: u32) -> Vec<f32> {
        crate::test_values(n, seed, 20.0)
    }

    fn vec(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// The fast path equals burn's ops (exactly but for GELU's erf), on planes smaller and larger than a task, with
    /// and without bias and residual, and never modifies a shared input.
    #[test]
    fn matches_burn_ops_on_every_path() {
        let device = Device::flex();
        for [n, c, h, w] in [[2, 5, 7, 7], [1, 3, 150, 130], [3, 1, 1, 1]] {
            let len = n * c * h * w;
            let x = Tensor::<4>::from_data(TensorData::new(values(len, 1), [n, c, h, w]), &device);
            let r = Tensor::<4>::from_data(TensorData::new(values(len, 2), [n, c, h, w]), &device);
            let b = Tensor::<1>::from_data(TensorData::new(values(c, 3), [c]), &device);
            for act in [Activation::Identity, Activation::Relu6, Activation::Gelu] {
                for (bias, residual) in [(None, None), (Some(b.clone()), None), (Some(b.clone()), Some(r.clone())), (None, Some(r.clone()))] {
                    let mut want = x.clone();
                    if let Some(b) = &bias {
                        want = want + b.clone().reshape([1, c, 1, 1]);
                    }
                    want = act.apply_tensor(want);
                    if let Some(r) = &residual {
                        want = want + r.clone();
                    }
                    let want = vec(want);
                    // Shared `x` (copy), then a fresh one (in place). GELU's erf is another
                    // approximation than burn's: |x| / 2 * 5e-7 at most (x up to 20 here).
                    for got in
                        [vec(bias_act(x.clone(), bias.clone(), residual.clone(), act)), vec(bias_act(x.clone() * 1.0, bias.clone(), residual.clone(), act))]
                    {
                        if act == Activation::Gelu {
                            let worst = got.iter().zip(&want).map(|(g, w)| (g - w).abs() / w.abs().max(1.0)).fold(0f32, f32::max);
                            assert!(worst <= 1e-6, "{act:?} [{n},{c},{h},{w}]: {worst}");
                        } else {
                            assert_eq!(got, want, "{act:?} [{n},{c},{h},{w}]");
                        }
                    }
                }
            }
            assert_eq!(vec(x), values(len, 1), "a shared input is not modified");
        }
    }

    /// Any rank, in place or on a copy: burn's values (GELU within its erf's tolerance), a shared
    /// input left as it was.
    #[test]
    fn activate_matches_burn_ops() {
        let device = Device::flex();
        let x = Tensor::<3>::from_data(TensorData::new(values(3 * 50 * 700, 5), [3, 50, 700]), &device);
        let copy: Vec<f32> = x.clone().into_data().try_to_vec().unwrap();
        let relu6: Vec<f32> = activate(x.clone(), Activation::Relu6).into_data().try_to_vec().unwrap();
        assert_eq!(relu6, x.clone().clamp(0.0, 6.0).into_data().try_to_vec::<f32>().unwrap());
        let want: Vec<f32> = burn::tensor::activation::gelu(x.clone()).into_data().try_to_vec().unwrap();
        for got in [gelu(x.clone()), gelu(x.clone() * 1.0)] {
            let got: Vec<f32> = got.into_data().try_to_vec().unwrap();
            let worst = got.iter().zip(&want).map(|(g, w)| (g - w).abs() / w.abs().max(1.0)).fold(0f32, f32::max);
            assert!(worst <= 1e-6, "{worst}");
        }
        assert_eq!(x.into_data().try_to_vec::<f32>().unwrap(), copy, "a shared input is not modified");
    }

    #[test]
    fn strided_input_takes_burn_ops() {
        let device = Device::flex();
        let x = Tensor::<4>::from_data(TensorData::new(values(2 * 3 * 4 * 5, 1), [2, 3, 4, 5]), &device).swap_dims(2, 3);
        let b = Tensor::<1>::from_data(TensorData::new(values(3, 3), [3]), &device);
        let want = vec((x.clone() + b.clone().reshape([1, 3, 1, 1])).clamp(0.0, 6.0));
        assert_eq!(vec(bias_act(x, Some(b), None, Activation::Relu6)), want);
    }
}
