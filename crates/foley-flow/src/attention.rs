//! Multi-head self-attention with per-head RMSNorm on queries and keys
//! (`transformer_layers.SelfAttention`).

use burn::module::{Module, Param};
use burn::nn::{Linear, RmsNorm};
use burn::tensor::Tensor;
use burn::tensor::module::attention as sdpa;
use burn::tensor::ops::AttentionModuleOptions;

use crate::kernels::attention as kernels;
use crate::rope::Rope;
use crate::weights::{Init, Vars, contiguous};

/// Queries, keys and values of one stream, each `(B, N, H, d)`.
pub struct Qkv {
    pub q: Tensor<4>,
    pub k: Tensor<4>,
    pub v: Tensor<4>,
}

#[derive(Module, Debug)]
pub struct SelfAttention {
    /// `qkv` with its output rows reordered from MMAudio's `(head, dim, q/k/v)` interleave to
    /// `(q/k/v, head, dim)`, so q, k and v come out as contiguous slices.
    pub qkv: Linear,
    pub q_norm: RmsNorm,
    pub k_norm: RmsNorm,
    pub num_heads: usize,
}

impl SelfAttention {
    pub fn new(vb: &Vars, dim: usize, num_heads: usize, new: bool) -> Self {
        let head_dim = dim / num_heads;
        let vq = vb.pp("qkv");
        let w = vq.fetch("weight", [3 * dim, dim], Init::FanIn, new);
        let b = vq.fetch("bias", [3 * dim], Init::FanIn, new);
        // rows h * 3d + i * 3 + j  ->  j * dim + h * d + i
        let w = w.reshape([num_heads, head_dim, 3, dim]).permute([2, 0, 1, 3]).reshape([3 * dim, dim]);
        let b = b.reshape([num_heads, head_dim, 3]).permute([2, 0, 1]).reshape([3 * dim]);
        let norm = |name: &str| RmsNorm {
            gamma: Param::from_tensor(vb.pp(name).fetch("weight", [head_dim], Init::Ones, new)),
            // PyTorch's nn.RMSNorm with eps=None uses the dtype's machine epsilon.
            epsilon: f32::EPSILON as f64,
        };
        Self {
            qkv: Linear { weight: Param::from_tensor(contiguous(w.transpose())), bias: Some(Param::from_tensor(b)) },
            q_norm: norm("q_norm"),
            k_norm: norm("k_norm"),
            num_heads,
        }
    }

    /// `x: (B, N, D)` -> normalised (and rotated, when `rope` is given) q, k and v.
    pub fn pre_attention(&self, x: Tensor<3>, rope: Option<&Rope>) -> Qkv {
        let [b, n, dim] = x.dims();
        let (h, d) = (self.num_heads, dim / self.num_heads);
        let qkv = self.qkv.forward(x);
        let eps = self.q_norm.epsilon as f32;
        if let (Some(q), Some(k)) = (
            kernels::rms_rope(&qkv, 0, h, &self.q_norm.gamma.val(), eps, rope.map(|r| &r.angles)),
            kernels::rms_rope(&qkv, 1, h, &self.k_norm.gamma.val(), eps, rope.map(|r| &r.angles)),
        ) {
            return Qkv { q, k, v: qkv.reshape([b, n, 3, h, d]).narrow(2, 2, 1).reshape([b, n, h, d]) };
        }
        let qkv = qkv.reshape([b, n, 3, h, d]);
        let part = |j: usize| qkv.clone().narrow(2, j, 1).reshape([b, n, h, d]);
        let q = self.q_norm.forward(part(0));
        let k = self.k_norm.forward(part(1));
        let v = part(2);
        match rope {
            Some(rope) => Qkv { q: rope.apply(q), k: rope.apply(k), v },
            None => Qkv { q, k, v },
        }
    }
}

/// Scaled dot-product attention over `(B, N, H, d)` inputs, returning `(B, N, H * d)`.
pub fn attention(qkv: Qkv) -> Tensor<3> {
    if let Some(out) = kernels::attention(&qkv.q, &qkv.k, &qkv.v) {
        return out;
    }
    let [b, n, h, d] = qkv.q.dims();
    let heads_first = |t: Tensor<4>| t.swap_dims(1, 2);
    let out = sdpa(heads_first(qkv.q), heads_first(qkv.k), heads_first(qkv.v), None, None, AttentionModuleOptions::default());
    out.swap_dims(1, 2).reshape([b, n, h * d])
}

/// Concatenate several streams' q, k and v along the sequence (joint attention).
pub fn concat(parts: Vec<Qkv>) -> Qkv {
    let (mut q, mut k, mut v) = (Vec::new(), Vec::new(), Vec::new());
    for p in parts {
        q.push(p.q);
        k.push(p.k);
        v.push(p.v);
    }
    Qkv { q: Tensor::cat(q, 1), k: Tensor::cat(k, 1), v: Tensor::cat(v, 1) }
}
