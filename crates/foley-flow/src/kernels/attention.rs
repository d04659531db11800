//! Attention without layout copies (CPU, f32 inference).
//!
//! burn's path: narrow q/k/v out of the qkv projection, RMSNorm and RoPE as ~10 element-wise
//! passes each, transpose to heads-first (a copy inside flex's attention), attend, transpose back
//! (another copy). Here q and k are normalised and rotated in one pass straight out of the
//! projection's rows, and attention reads q, k, v and writes its output in the `(B, N, H, d)`
//! token-major layout through strided matrix products, one task per (batch, head, query block).

use burn::tensor::{Tensor, TensorData};
use burn_flex::{Flex, FlexTensor};
use gemm::{Parallelism, gemm};
use rayon::prelude::*;

/// Query rows per attention task: 391 tokens x 7 heads gives 49 tasks for two threads, and a
/// score block of 64 x 391 floats stays in L2.
const QUERY_BLOCK: usize = 64;

/// One `(B, M, H, d)` f32 operand whose head vectors are contiguous, with its strides over
/// batch and sequence (a q/k/v slice of the qkv projection, or a contiguous tensor).
struct HeadRows {
    tensor: FlexTensor,
    offset: usize,
    batch_stride: usize,
    row_stride: usize,
}

impl HeadRows {
    fn of(t: &Tensor<4>) -> Option<Self> {
        let tensor = super::flex_primitive(t)?;
        let (layout, [_, _, h, d]) = (tensor.layout(), t.dims());
        let st = layout.strides();
        if st[3] != 1 || st[2] != d as isize || st[1] < (h * d) as isize || st[0] < 0 {
            return None;
        }
        let (offset, batch_stride, row_stride) = (layout.start_offset(), st[0] as usize, st[1] as usize);
        Some(Self { tensor, offset, batch_stride, row_stride })
    }

    fn ptr(&self) -> *const f32 {
        self.tensor.storage::<f32>()[self.offset..].as_ptr()
    }
}

/// A raw pointer that may cross threads: every task touches its own elements only.
#[derive(Clone, Copy)]
struct Shared<T>(T);
unsafe impl<T> Send for Shared<T> {}
unsafe impl<T> Sync for Shared<T> {}

impl<T: Copy> Shared<T> {
    /// By method, so that closures capture the `Send` wrapper, not the bare pointer field.
    fn get(self) -> T {
        self.0
    }
}

/// Scaled dot-product attention of `(B, N, H, d)` q and `(B, M, H, d)` k, v, returning
/// `(B, N, H * d)`; `None` when an operand is not an f32 flex tensor with contiguous heads.
pub fn attention(q: &Tensor<4>, k: &Tensor<4>, v: &Tensor<4>) -> Option<Tensor<3>> {
    let ([b, n, h, d], [kb, m, kh, kd]) = (q.dims(), k.dims());
    if [kb, kh, kd] != [b, h, d] || v.dims() != k.dims() {
        return None;
    }
    let (q, k, v) = (HeadRows::of(q)?, HeadRows::of(k)?, HeadRows::of(v)?);
    let mut out = vec![0f32; b * n * h * d];
    let out_ptr = Shared(out.as_mut_ptr());
    let (qp, kp, vp) = (Shared(q.ptr()), Shared(k.ptr()), Shared(v.ptr()));
    let scale = 1.0 / (d as f32).sqrt();
    let blocks = n.div_ceil(QUERY_BLOCK);
    (0..b * h * blocks).into_par_iter().for_each(|task| {
        let (bh, block) = (task / blocks, task % blocks);
        let (bi, hi) = (bh / h, bh % h);
        let r0 = block * QUERY_BLOCK;
        let rows = QUERY_BLOCK.min(n - r0);
        let mut scores = vec![0f32; rows * m];
        // SAFETY: all offsets stay inside the operands (strides checked in `HeadRows::of`), and
        // each task writes only rows r0..r0 + rows of head hi of batch bi of `out`.
        unsafe {
            let q0 = qp.get().add(bi * q.batch_stride + r0 * q.row_stride + hi * d);
            let k0 = kp.get().add(bi * k.batch_stride + hi * d);
            let v0 = vp.get().add(bi * v.batch_stride + hi * d);
            let o0 = out_ptr.get().add(((bi * n + r0) * h + hi) * d);
            // scores = scale * Q K^T: K^T's element (i, j) is k[j, i].
            gemm(
                rows,
                m,
                d,
                scores.as_mut_ptr(),
                1,
                m as isize,
                false,
                q0,
                1,
                q.row_stride as isize,
                k0,
                k.row_stride as isize,
                1,
                0.0,
                scale,
                false,
                false,
                false,
                Parallelism::None,
            );
            for row in scores.chunks_mut(m) {
                super::exp::softmax(row);
            }
            // out = P V, written in the token-major layout.
            gemm(
                rows,
                d,
                m,
                o0,
                1,
                (h * d) as isize,
                false,
                scores.as_ptr(),
                1,
                m as isize,
                v0,
                1,
                v.row_stride as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                Parallelism::None,
            );
        }
    });
    Some(Tensor::from_primitive::<Flex>(FlexTensor::from_data(TensorData::new(out, [b, n, h * d]))))
}

/// RoPE angles of one sequence: `cos`, `sin` of `pos * f_i`, `[N, d / 2]`.
#[derive(Debug, Clone)]
pub struct RopeAngles {
    pub cos: Vec<f32>,
    pub sin: Vec<f32>,
}

/// Part `part` (0 = q, 1 = k) of a `(B, N, 3 * H * d)` qkv projection (laid out q/k/v, head,
/// dim), RMS-normalised per head with `gamma` (`eps` as `nn.RMSNorm`) and, with `rope`, rotated
/// pairwise: `(B, N, H, d)` contiguous. `None` when the projection is not a contiguous f32 flex
/// tensor.
pub fn rms_rope(qkv: &Tensor<3>, part: usize, heads: usize, gamma: &Tensor<1>, eps: f32, rope: Option<&RopeAngles>) -> Option<Tensor<4>> {
    let [b, n, three_dim] = qkv.dims();
    let dim = three_dim / 3;
    let d = dim / heads;
    let src = super::flex_f32(qkv)?;
    let gamma = super::flex_f32(gamma)?;
    let (src, gamma) = (src.as_slice::<f32>()?, gamma.as_slice::<f32>()?);
    if rope.is_some_and(|r| r.cos.len() != n * d / 2) {
        return None;
    }
    let mut out = vec![0f32; b * n * dim];
    out.par_chunks_mut(dim).enumerate().for_each(|(row, o)| {
        let x = &src[row * three_dim + part * dim..][..dim];
        let pos = row % n;
        for (o, x) in o.chunks_mut(d).zip(x.chunks(d)) {
            let rms = (x.iter().map(|v| v * v).sum::<f32>() / d as f32 + eps).sqrt();
            for ((o, &x), &g) in o.iter_mut().zip(x).zip(gamma) {
                *o = (x / rms) * g;
            }
            if let Some(r) = rope {
                let (cos, sin) = (&r.cos[pos * d / 2..][..d / 2], &r.sin[pos * d / 2..][..d / 2]);
                for ((pair, &c), &s) in o.chunks_mut(2).zip(cos).zip(sin) {
                    let (a, b) = (pair[0], pair[1]);
                    pair[0] = a * c + b * -s;
                    pair[1] = b * c + a * s;
                }
            }
        }
    });
    Some(Tensor::from_primitive::<Flex>(FlexTensor::from_data(TensorData::new(out, [b, n, heads, d]))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;
    use burn::nn::RmsNorm;
    use burn::tensor::Device;
    use burn::tensor::module::attention as sdpa;
    use burn::tensor::ops::AttentionModuleOptions;

    use crate::rope::Rope;

    fn noise<const D: usize>(seed: u64, shape: [usize; D], device: &Device) -> Tensor<D> {
        let n = shape.iter().product();
        Tensor::from_data(TensorData::new(crate::noise::standard_normal(seed, n), shape), device)
    }

    fn max_rel_err<const D: usize>(want: Tensor<D>, got: Tensor<D>) -> f32 {
        let (w, g) = (want.into_data().try_to_vec::<f32>().unwrap(), got.into_data().try_to_vec::<f32>().unwrap());
        let scale = w.iter().fold(0f32, |m, v| m.max(v.abs()));
        w.iter().zip(&g).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max) / scale
    }

    #[test]
    fn rms_rope_matches_rmsnorm_then_rope() {
        let device = Device::flex();
        let (b, n, h, d) = (2, 37, 3, 8);
        let qkv = noise(1, [b, n, 3 * h * d], &device);
        let gamma = noise(2, [d], &device);
        let rope = Rope::new(n, d, 0.7, &device);
        let norm = RmsNorm { gamma: Param::from_tensor(gamma.clone()), epsilon: f32::EPSILON as f64 };
        for (part, rope) in [(0, Some(&rope)), (1, Some(&rope)), (1, None)] {
            let slice = qkv.clone().reshape([b, n, 3, h, d]).narrow(2, part, 1).reshape([b, n, h, d]);
            let normed = norm.forward(slice);
            let want = rope.map_or(normed.clone(), |r| r.apply(normed));
            let got = rms_rope(&qkv, part, h, &gamma, f32::EPSILON, rope.map(|r| &r.angles)).expect("fast path applies");
            assert!(max_rel_err(want, got) < 1e-6);
        }
    }

    #[test]
    fn attention_matches_sdpa_with_strided_values() {
        let device = Device::flex();
        let (b, n, m, h, d) = (2, 70, 45, 3, 16);
        let q = noise(3, [b, n, h, d], &device);
        let k = noise(4, [b, m, h, d], &device);
        // v as the projection slice it is in the network: every third head vector of a row.
        let v = noise(5, [b, m, 3, h, d], &device).narrow(2, 2, 1).reshape([b, m, h, d]);
        let heads_first = |t: Tensor<4>| t.swap_dims(1, 2);
        let want = sdpa(heads_first(q.clone()), heads_first(k.clone()), heads_first(v.clone()), None, None, AttentionModuleOptions::default())
            .swap_dims(1, 2)
            .reshape([b, n, h * d]);
        let got = attention(&q, &k, &v).expect("fast path applies");
        assert!(max_rel_err(want, got) < 1e-5);
        // A heads-first buffer seen token-major (heads not adjacent in a row) is left to burn.
        let q_heads_first = noise(6, [b, h, n, d], &device).swap_dims(1, 2);
        assert_eq!(q_heads_first.dims(), [b, n, h, d]);
        assert!(attention(&q_heads_first, &k, &v).is_none());
    }
}
