//! `SpatialTransformerEncoderLayer`: a learned CLS token prepended to each frame's patches, one
//! pre-norm `nn.TransformerEncoderLayer` (GELU, eps 1e-6, feed-forward 4 x D), and the CLS
//! output as the frame's token.

use burn::module::{Module, Param};
use burn::nn::{LayerNorm, Linear};
use burn::tensor::Tensor;
use foley_weights::{Init, Vars, contiguous};

use super::MLP_RATIO;
use super::motionformer::{Mlp, layer_norm, linear, sdpa};

/// The spatial CLS aggregator. Only the CLS row is read out, and every operation after the
/// attention is row-wise, so the query, the output projection and the feed-forward are computed
/// for that row alone (the keys and values still come from every token).
#[derive(Module, Debug)]
pub struct SpatialAggregator {
    pub cls_token: Param<Tensor<3>>,
    /// The query rows of `self_attn.in_proj_weight` / `in_proj_bias`.
    pub q_proj: Linear,
    /// The key and value rows of `self_attn.in_proj_weight` / `in_proj_bias`.
    pub kv_proj: Linear,
    pub out_proj: Linear,
    pub norm1: LayerNorm,
    pub norm2: LayerNorm,
    /// `linear1` -> GELU -> `linear2`.
    pub ffn: Mlp,
    pub num_heads: usize,
}

impl SpatialAggregator {
    pub(super) fn new(vb: &Vars, dim: usize, num_heads: usize) -> Self {
        let attn = vb.pp("self_attn");
        let weight = attn.get("in_proj_weight", [3 * dim, dim], Init::Xavier);
        let bias = attn.get("in_proj_bias", [3 * dim], Init::Zeros);
        let rows = |start: usize, len: usize| Linear {
            weight: Param::from_tensor(contiguous(weight.clone().narrow(0, start, len).transpose())),
            bias: Some(Param::from_tensor(bias.clone().narrow(0, start, len))),
        };
        let hidden = MLP_RATIO * dim;
        Self {
            cls_token: Param::from_tensor(vb.get("cls_token", [1, 1, dim], Init::Normal(0.02))),
            q_proj: rows(0, dim),
            kv_proj: rows(dim, 2 * dim),
            out_proj: linear(&attn.pp("out_proj"), dim, dim),
            norm1: layer_norm(&vb.pp("norm1"), dim),
            norm2: layer_norm(&vb.pp("norm2"), dim),
            ffn: Mlp { fc1: linear(&vb.pp("linear1"), dim, hidden), fc2: linear(&vb.pp("linear2"), hidden, dim) },
            num_heads,
        }
    }

    /// `(B, N, D)` patches of `B` frames -> `(B, D)`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<2> {
        let [b, n, d] = x.dims();
        let (h, hd, len) = (self.num_heads, d / self.num_heads, n + 1);
        let cls = self.cls_token.val().expand([b, 1, d]);
        let normed = self.norm1.forward(Tensor::cat(vec![cls.clone(), x], 1));

        let q = self.q_proj.forward(normed.clone().narrow(1, 0, 1)).reshape([b, 1, h, hd]).swap_dims(1, 2);
        let kv = self.kv_proj.forward(normed).reshape([b, len, 2, h, hd]);
        let part = |j: usize| kv.clone().narrow(2, j, 1).reshape([b, len, h, hd]).swap_dims(1, 2);
        let attended = sdpa(q, part(0), part(1)).swap_dims(1, 2).reshape([b, 1, d]);

        let y = cls + self.out_proj.forward(attended);
        let y = y.clone() + self.ffn.forward(self.norm2.forward(y));
        y.reshape([b, d])
    }
}
