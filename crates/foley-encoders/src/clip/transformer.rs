//! open_clip's `Transformer`: pre-norm residual blocks of multi-head self-attention
//! (`nn.MultiheadAttention`) and a two-layer feed-forward, shared by both towers.

use burn::module::{Module, Param};
use burn::nn::{LayerNorm, LayerNormConfig, Linear};
use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use foley_kernels::conv::gelu;
use foley_weights::{Init, Vars, contiguous};

/// `nn.LayerNorm(dim)` (eps 1e-5) from `weight` and `bias`.
pub fn layer_norm(vb: &Vars, dim: usize) -> LayerNorm {
    let mut norm = LayerNormConfig::new(dim).init(vb.device());
    norm.gamma = Param::from_tensor(vb.get("weight", [dim], Init::Ones));
    norm.beta = Some(Param::from_tensor(vb.get("bias", [dim], Init::Zeros)));
    norm
}

/// `nn.Linear(d_in, d_out)` from PyTorch's `(out, in)` weight.
fn linear(vb: &Vars, d_in: usize, d_out: usize) -> Linear {
    let weight = contiguous(vb.get("weight", [d_out, d_in], Init::FanIn).transpose());
    Linear { weight: Param::from_tensor(weight), bias: Some(Param::from_tensor(vb.get("bias", [d_out], Init::FanIn))) }
}

/// `nn.MultiheadAttention(width, heads)` on `(B, N, width)` sequences.
#[derive(Module, Debug)]
pub struct MultiheadAttention {
    /// The rows of `in_proj_weight` split into q, k and v, so that each projection comes out
    /// contiguous and reshapes into heads without a copy.
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub out_proj: Linear,
    pub heads: usize,
}

impl MultiheadAttention {
    pub fn new(vb: &Vars, width: usize, heads: usize) -> Self {
        let w = vb.get("in_proj_weight", [3 * width, width], Init::FanIn);
        let b = vb.get("in_proj_bias", [3 * width], Init::FanIn);
        let part = |i: usize| Linear {
            weight: Param::from_tensor(contiguous(w.clone().narrow(0, i * width, width).transpose())),
            bias: Some(Param::from_tensor(contiguous(b.clone().narrow(0, i * width, width)))),
        };
        Self { q: part(0), k: part(1), v: part(2), out_proj: linear(&vb.pp("out_proj"), width, width), heads }
    }

    /// Softmax attention scaled by `1/sqrt(head width)`; `causal` lets token `i` see only `0..=i`
    /// (open_clip's `-inf` upper-triangular `attn_mask`).
    pub fn forward(&self, x: Tensor<3>, causal: bool) -> Tensor<3> {
        let [b, n, width] = x.dims();
        let (h, d) = (self.heads, width / self.heads);
        let heads = |t: Tensor<3>| t.reshape([b, n, h, d]).swap_dims(1, 2);
        let (q, k, v) = (heads(self.q.forward(x.clone())), heads(self.k.forward(x.clone())), heads(self.v.forward(x)));
        let options = AttentionModuleOptions { is_causal: causal, ..Default::default() };
        let out = attention(q, k, v, None, None, options).swap_dims(1, 2).reshape([b, n, width]);
        self.out_proj.forward(out)
    }
}

/// `c_fc -> GELU (or QuickGELU) -> c_proj`.
#[derive(Module, Debug)]
pub struct Mlp {
    pub c_fc: Linear,
    pub c_proj: Linear,
    pub quick_gelu: bool,
}

impl Mlp {
    pub fn new(vb: &Vars, width: usize, hidden: usize, quick_gelu: bool) -> Self {
        Self { c_fc: linear(&vb.pp("c_fc"), width, hidden), c_proj: linear(&vb.pp("c_proj"), hidden, width), quick_gelu }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h = self.c_fc.forward(x);
        let h = if self.quick_gelu { h.clone() * sigmoid(h * 1.702) } else { gelu(h) };
        self.c_proj.forward(h)
    }
}

/// `ResidualAttentionBlock`: `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))` (no LayerScale).
#[derive(Module, Debug)]
pub struct ResidualAttentionBlock {
    pub ln_1: LayerNorm,
    pub attn: MultiheadAttention,
    pub ln_2: LayerNorm,
    pub mlp: Mlp,
}

impl ResidualAttentionBlock {
    pub fn new(vb: &Vars, width: usize, heads: usize, mlp_width: usize, quick_gelu: bool) -> Self {
        Self {
            ln_1: layer_norm(&vb.pp("ln_1"), width),
            attn: MultiheadAttention::new(&vb.pp("attn"), width, heads),
            ln_2: layer_norm(&vb.pp("ln_2"), width),
            mlp: Mlp::new(&vb.pp("mlp"), width, mlp_width, quick_gelu),
        }
    }

    pub fn forward(&self, x: Tensor<3>, causal: bool) -> Tensor<3> {
        let x = x.clone() + self.attn.forward(self.ln_1.forward(x), causal);
        x.clone() + self.mlp.forward(self.ln_2.forward(x))
    }
}

/// A stack of [`ResidualAttentionBlock`]s (`<prefix>.resblocks.<i>`).
#[derive(Module, Debug)]
pub struct Transformer {
    pub resblocks: Vec<ResidualAttentionBlock>,
}

impl Transformer {
    pub fn new(vb: &Vars, layers: usize, width: usize, heads: usize, mlp_width: usize, quick_gelu: bool) -> Self {
        let vb = vb.pp("resblocks");
        Self { resblocks: (0..layers).map(|i| ResidualAttentionBlock::new(&vb.pp(i), width, heads, mlp_width, quick_gelu)).collect() }
    }

    pub fn forward(&self, mut x: Tensor<3>, causal: bool) -> Tensor<3> {
        for block in &self.resblocks {
            x = block.forward(x, causal);
        }
        x
    }
}

/// The state-dict keys and shapes of `layers` blocks under `prefix`.
pub fn block_shapes(prefix: &str, layers: usize, width: usize, mlp_width: usize, put: &mut impl FnMut(String, &[usize])) {
    for i in 0..layers {
        let p = format!("{prefix}.resblocks.{i}");
        for ln in ["ln_1", "ln_2"] {
            put(format!("{p}.{ln}.weight"), &[width]);
            put(format!("{p}.{ln}.bias"), &[width]);
        }
        put(format!("{p}.attn.in_proj_weight"), &[3 * width, width]);
        put(format!("{p}.attn.in_proj_bias"), &[3 * width]);
        put(format!("{p}.attn.out_proj.weight"), &[width, width]);
        put(format!("{p}.attn.out_proj.bias"), &[width]);
        put(format!("{p}.mlp.c_fc.weight"), &[mlp_width, width]);
        put(format!("{p}.mlp.c_fc.bias"), &[mlp_width]);
        put(format!("{p}.mlp.c_proj.weight"), &[width, mlp_width]);
        put(format!("{p}.mlp.c_proj.bias"), &[width]);
    }
}
