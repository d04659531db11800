//! Element-wise CPU kernels that burn flex would run on one thread (SwiGLU gate, LayerNorm +
//! adaLN modulation, gated residual) and, in `attention`, q/k normalisation and attention.
//!
//! burn flex parallelises matmul, softmax and layer norm, but its unary and binary ops (SiLU's
//! sigmoid among them) run on the calling thread with a scalar `expf`. Profiled on two threads
//! (small_16k, 8 s, batch 1) the SwiGLU gate alone kept one core busy while the other waited.
//! These kernels do the same arithmetic over row chunks on all rayon threads, for contiguous f32
//! tensors on the flex backend outside autodiff; anything else (autodiff during training, bf16,
//! strided views) takes the plain burn ops, so results and gradients do not depend on the path.

use burn::tensor::activation::silu;
use burn::tensor::{Tensor, TensorData};
use burn_flex::{Flex, FlexTensor};
pub(crate) use foley_kernels::flex::{CHUNK, flex_f32, flex_primitive, update_owned};
use foley_seq::nearest_exact_source;
use rayon::prelude::*;

pub mod attention;
mod exp;

/// `silu(a) * b`, the SwiGLU gate, for tensors of one shape.
pub fn silu_mul<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
    if a.dims() == b.dims()
        && let (Some(mut out), Some(b_flex)) = (flex_f32(&a), flex_f32(&b))
    {
        drop(a);
        let b_data = b_flex.as_slice::<f32>().expect("checked contiguous");
        out = update_owned(out, |x| x.par_chunks_mut(CHUNK).zip(b_data.par_chunks(CHUNK)).for_each(|(x, y)| exp::silu_mul(x, y)));
        return Tensor::from_primitive::<Flex>(out);
    }
    silu(a) * b
}

/// adaLN on a `(B, N, D)` stream: `layer_norm(x) * (1 + scale) + shift` (LayerNorm without
/// affine, eps `LN_EPS`) in one pass. `shift` and `scale` are `(B, M, D)` views (chunks of the
/// modulation matrix, so with a row stride of several `D`) at any rate `M`, read as if upsampled
/// to `N` (see [`upsample_rows`]).
pub fn layer_norm_modulate(x: Tensor<3>, shift: Tensor<3>, scale: Tensor<3>) -> Tensor<3> {
    let [b, n, d] = x.dims();
    let fits = |t: &Tensor<3>| {
        let [tb, _, td] = t.dims();
        tb == b && td == d
    };
    if fits(&shift)
        && fits(&scale)
        && let (Some(xf), Some(sh), Some(sc)) = (flex_f32(&x), flex_rows(&shift), flex_rows(&scale))
    {
        let x_data = xf.as_slice::<f32>().expect("checked contiguous");
        let mut out = vec![0f32; x_data.len()];
        out.par_chunks_mut(d).zip(x_data.par_chunks(d)).enumerate().for_each(|(row, (o, x))| {
            let (bi, ni) = (row / n, row % n);
            let (shift, scale) = (sh.row(bi, ni, n, d), sc.row(bi, ni, n, d));
            let mean = x.iter().sum::<f32>() / d as f32;
            let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / d as f32;
            let inv = 1.0 / (var + LN_EPS).sqrt();
            for (((o, &x), &sh), &sc) in o.iter_mut().zip(x).zip(shift).zip(scale) {
                *o = (x - mean) * inv * (1.0 + sc) + sh;
            }
        });
        return Tensor::from_primitive::<Flex>(FlexTensor::from_data(TensorData::new(out, [b, n, d])));
    }
    crate::layers::modulate(crate::layers::layer_norm_plain(x), upsample_rows(shift, n), upsample_rows(scale, n))
}

/// A gated residual, `x + y * gate`, with `x`, `y` `(B, N, D)` and `gate` a `(B, M, D)` view (a
/// chunk of the modulation matrix) read as if upsampled to `N` (see [`upsample_rows`]).
pub fn gated_residual(x: Tensor<3>, y: Tensor<3>, gate: Tensor<3>) -> Tensor<3> {
    let [b, n, d] = x.dims();
    let [gb, _, gd] = gate.dims();
    if y.dims() == x.dims()
        && gb == b
        && gd == d
        && let (Some(xf), Some(mut out), Some(g)) = (flex_f32(&x), flex_f32(&y), flex_rows(&gate))
    {
        drop(y);
        let x_data = xf.as_slice::<f32>().expect("checked contiguous");
        out = update_owned(out, |out| {
            out.par_chunks_mut(d).zip(x_data.par_chunks(d)).enumerate().for_each(|(row, (o, x))| {
                for ((o, &x), &g) in o.iter_mut().zip(x).zip(g.row(row / n, row % n, n, d)) {
                    *o = x + *o * g;
                }
            })
        });
        return Tensor::from_primitive::<Flex>(out);
    }
    x + y * upsample_rows(gate, n)
}

/// `(B, M, D)` -> `(B, N, D)` by nearest-exact upsampling along the sequence (MMAudio's
/// `F.interpolate(mode="nearest-exact")`, row rule [`nearest_exact_source`]); `M = 1`
/// broadcasts, `M = N` is the identity. The
/// kernels read their modulation rows this way without materialising them: the latent stream's
/// adaLN matmul then runs on the 192 sync-rate rows of an 8 s clip instead of 250 latent rows.
pub fn upsample_rows(t: Tensor<3>, n: usize) -> Tensor<3> {
    let [b, m, d] = t.dims();
    match m {
        1 => t.expand([b, n, d]),
        m if m == n => t,
        m => {
            let index: Vec<i64> = (0..n).map(|i| nearest_exact_source(i, m, n) as i64).collect();
            let device = t.device();
            t.select(1, Tensor::<1, burn::tensor::Int>::from_data(TensorData::new(index, [n]), &device))
        }
    }
}

/// Epsilon of MMAudio's `nn.LayerNorm(elementwise_affine=False)`.
pub const LN_EPS: f32 = 1e-5;

/// A `(B, M, D)` f32 view whose rows are contiguous (any strides over `B` and `M`).
struct Rows {
    tensor: FlexTensor,
    offset: usize,
    strides: [usize; 2],
    rows: usize,
}

impl Rows {
    /// Row `(b, n)` of the view upsampled to `out_len` rows.
    fn row(&self, b: usize, n: usize, out_len: usize, d: usize) -> &[f32] {
        let n = match self.rows {
            1 => 0,
            m if m == out_len => n,
            m => nearest_exact_source(n, m, out_len),
        };
        let start = self.offset + b * self.strides[0] + n * self.strides[1];
        &self.tensor.storage::<f32>()[start..start + d]
    }
}

fn flex_rows(t: &Tensor<3>) -> Option<Rows> {
    let tensor = flex_primitive(t)?;
    let layout = tensor.layout();
    let st = layout.strides();
    if st[2] != 1 || st[0] < 0 || st[1] < 0 {
        return None;
    }
    let (offset, strides, rows) = (layout.start_offset(), [st[0] as usize, st[1] as usize], layout.shape()[1]);
    Some(Rows { tensor, offset, strides, rows })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn gated_residual_matches_burn_ops() {
        let device = Device::flex();
        let (b, n, d) = (2, 37, 24);
        let x = Tensor::<3>::from_data(TensorData::new(values(b * n * d, 7), [b, n, d]), &device);
        let y = Tensor::<3>::from_data(TensorData::new(values(b * n * d, 8), [b, n, d]), &device);
        for m in [n, 1, 23, 24] {
            let modulation = Tensor::<3>::from_data(TensorData::new(values(b * m * 2 * d, 9), [b, m, 2 * d]), &device);
            let gate = modulation.narrow(2, d, d);
            let want = (x.clone() + y.clone() * upsample_rows(gate.clone(), n)).into_data().try_to_vec::<f32>().unwrap();
            // `y` shared, then unique (written in place).
            for y in [y.clone(), y.clone() * 1.0] {
                let got = gated_residual(x.clone(), y, gate.clone()).into_data().try_to_vec::<f32>().unwrap();
                assert_eq!(got, want, "m = {m}");
            }
        }
        assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), values(b * n * d, 8), "a shared input is not modified");
    }

    #[test]
    fn layer_norm_modulate_matches_burn_ops() {
        let device = Device::flex();
        let (b, n, d) = (2, 37, 24);
        let x = Tensor::<3>::from_data(TensorData::new(values(b * n * d, 4), [b, n, d]), &device);
        // Per-token modulation: chunks of a (B, N, 3D) matrix; global: (B, 1, 3D); at a lower
        // rate (B, 23, 3D).
        for m in [n, 1, 23, 24] {
            let modulation =
                Tensor::<3>::from_data(TensorData::new(values(b * m * 3 * d, 5).iter().map(|v| v / 40.0).collect::<Vec<_>>(), [b, m, 3 * d]), &device);
            let [shift, scale, _] = modulation.chunk(3, 2).try_into().unwrap();
            assert!(flex_rows(&shift).is_some(), "the fast path applies");
            let want = crate::layers::modulate(crate::layers::layer_norm_plain(x.clone()), upsample_rows(shift.clone(), n), upsample_rows(scale.clone(), n));
            let got = layer_norm_modulate(x.clone(), shift, scale);
            let (want, got) = (want.into_data().try_to_vec::<f32>().unwrap(), got.into_data().try_to_vec::<f32>().unwrap());
            let err = want.iter().zip(&got).map(|(w, g)| (w - g).abs()).fold(0f32, f32::max);
            assert!(err < 1e-5, "m = {m}: max error {err}");
        }
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n).map(|i| (((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 8) as f32 / (1 << 24) as f32 - 0.5) * 40.0).collect()
    }

    #[test]
    fn silu_mul_matches_burn_ops_on_every_path() {
        let device = Device::flex();
        let rows = 3 * CHUNK / 17 + 5;
        let n = rows * 17;
        let a = Tensor::<2>::from_data(TensorData::new(values(n, 1), [rows, 17]), &device);
        let b = Tensor::<2>::from_data(TensorData::new(values(n, 2), [rows, 17]), &device);
        let want = (silu(a.clone()) * b.clone()).into_data().try_to_vec::<f32>().unwrap();
        assert!(flex_f32(&a).is_some() && flex_f32(&b).is_some(), "the fast path applies");
        // `a` shared (allocating path), then unique (in place).
        let shared = silu_mul(a.clone(), b.clone()).into_data().try_to_vec::<f32>().unwrap();
        let unique = silu_mul(a.clone() * 1.0, b.clone()).into_data().try_to_vec::<f32>().unwrap();
        for got in [shared, unique] {
            let err = want.iter().zip(&got).map(|(w, g)| (w - g).abs() / w.abs().max(1.0)).fold(0f32, f32::max);
            assert!(err < 1e-6, "relative error {err}");
        }
        assert_eq!(a.clone().into_data().try_to_vec::<f32>().unwrap(), values(n, 1), "the shared input is not modified");

        // A strided `b` (every other column) takes burn's ops.
        let wide = Tensor::<2>::from_data(TensorData::new(values(2 * n, 3), [rows, 34]), &device);
        let b = wide.narrow(1, 0, 17);
        assert!(flex_f32(&b).is_none());
        let want = (silu(a.clone()) * b.clone()).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(silu_mul(a, b).into_data().try_to_vec::<f32>().unwrap(), want);
    }
}
