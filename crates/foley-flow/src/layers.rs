//! MMAudio's low-level layers (`low_level.py`, `embeddings.py`) on channel-last sequences.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::activation::silu;
use burn::tensor::module::layer_norm;
use burn::tensor::{DType, Tensor, TensorData};

use crate::weights::{Init, Vars, contiguous};

/// `nn.Linear(d_in, d_out)` from PyTorch's `(out, in)` weight.
pub fn linear(vb: &Vars, d_in: usize, d_out: usize, bias: bool) -> Linear {
    let weight = contiguous(vb.get("weight", [d_out, d_in], Init::FanIn).transpose());
    let bias = bias.then(|| Param::from_tensor(vb.get("bias", [d_out], Init::FanIn)));
    Linear { weight: Param::from_tensor(weight), bias }
}

/// Same as [`linear`] for a SALSA-V parameter (created with `init` when the file lacks it).
pub fn linear_new(vb: &Vars, d_in: usize, d_out: usize, init: Init) -> Linear {
    let weight = contiguous(vb.get_new("weight", [d_out, d_in], init).transpose());
    let bias = Some(Param::from_tensor(vb.get_new("bias", [d_out], init)));
    Linear { weight: Param::from_tensor(weight), bias }
}

/// MMAudio's `ChannelLastConv1d` (a "same"-padded `nn.Conv1d` applied to `(B, N, C)`), and
/// with `kernel == 1` a plain `nn.Linear` (2-D weight key).
///
/// The weight is kept as one `(kernel * c_in, c_out)` matrix so that the convolution is a
/// single matmul over overlapping windows of the padded input (im2col), without ever
/// transposing the sequence to channel-first.
#[derive(Module, Debug)]
pub struct SeqConv {
    pub weight: Param<Tensor<2>>,
    pub bias: Option<Param<Tensor<1>>>,
    pub kernel: usize,
}

impl SeqConv {
    pub fn new(vb: &Vars, c_in: usize, c_out: usize, kernel: usize, bias: bool) -> Self {
        let weight = conv_matrix(vb, c_in, c_out, kernel, None);
        let bias = bias.then(|| Param::from_tensor(vb.get("bias", [c_out], Init::FanIn)));
        Self { weight: Param::from_tensor(weight), bias, kernel }
    }

    /// A SALSA-V convolution with bias, created with `init` when the file lacks it.
    pub fn new_ext(vb: &Vars, c_in: usize, c_out: usize, kernel: usize, init: Init) -> Self {
        let weight = conv_matrix(vb, c_in, c_out, kernel, Some(init));
        let bias = Some(Param::from_tensor(vb.get_new("bias", [c_out], init)));
        Self { weight: Param::from_tensor(weight), bias, kernel }
    }

    /// A bias-free SALSA-V convolution stored under `name` next to an MMAudio layer's weight.
    pub fn new_named(vb: &Vars, name: &str, c_in: usize, c_out: usize, kernel: usize, init: Init) -> Self {
        Self { weight: Param::from_tensor(conv_matrix_named(vb, name, c_in, c_out, kernel, Some(init))), bias: None, kernel }
    }

    /// `(B, N, c_in) -> (B, N, c_out)`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, n, c_in] = x.dims();
        let w = self.weight.val();
        let c_out = w.dims()[1];
        let y = if self.kernel == 1 {
            // Fold the batch into the rows: one large matmul.
            x.reshape([b * n, c_in]).matmul(w).reshape([b, n, c_out])
        } else {
            windows(x, self.kernel).matmul(w.unsqueeze_dim(0))
        };
        match &self.bias {
            Some(bias) => y + bias.val().unsqueeze_dim::<2>(0).unsqueeze_dim(0),
            None => y,
        }
    }
}

/// im2col without a copy: `(B, N, C) -> (B, N, kernel * C)` where row `n` is the zero-padded
/// input `x[n - k/2 ..= n + k/2]` flattened time-major. On the padded, flattened sequence the
/// rows are overlapping windows of `kernel * C` values at a stride of `C`, i.e. a strided view
/// (`unfold`) that the matmul reads in place.
fn windows(x: Tensor<3>, kernel: usize) -> Tensor<3> {
    let [b, n, c] = x.dims();
    let pad = kernel / 2;
    let padded = x.pad([(pad, pad), (0, 0)], burn::tensor::ops::PadMode::Constant(0.0));
    padded.reshape([b, (n + 2 * pad) * c]).unfold(1, kernel * c, c)
}

/// The `weight` key of a convolution (`(out, in, k)`, or `(out, in)` for kernel 1) as the
/// `(k * in, out)` matrix [`SeqConv`] multiplies with: row `j * in + c` weighs `x[n + j - k/2, c]`.
/// `new` = `Some(init)` marks a SALSA-V parameter.
fn conv_matrix(vb: &Vars, c_in: usize, c_out: usize, kernel: usize, new: Option<Init>) -> Tensor<2> {
    conv_matrix_named(vb, "weight", c_in, c_out, kernel, new)
}

fn conv_matrix_named(vb: &Vars, name: &str, c_in: usize, c_out: usize, kernel: usize, new: Option<Init>) -> Tensor<2> {
    let (init, is_new) = (new.unwrap_or(Init::FanIn), new.is_some());
    if kernel == 1 {
        contiguous(vb.fetch(name, [c_out, c_in], init, is_new).transpose())
    } else {
        vb.fetch(name, [c_out, c_in, kernel], init, is_new).permute([2, 1, 0]).reshape([kernel * c_in, c_out])
    }
}

/// MMAudio's `MLP` / `ConvMLP`: SwiGLU `w2(silu(w1 x) * w3 x)`, without biases.
/// (`w1` and `w3` stay separate matmuls: their outputs are then contiguous, which makes the
/// element-wise gate much cheaper than splitting one fused product.)
#[derive(Module, Debug)]
pub struct SwiGlu {
    pub w1: SeqConv,
    pub w2: SeqConv,
    pub w3: SeqConv,
}

impl SwiGlu {
    pub fn new(vb: &Vars, dim: usize, hidden: usize, kernel: usize) -> Self {
        Self {
            w1: SeqConv::new(&vb.pp("w1"), dim, hidden, kernel, false),
            w2: SeqConv::new(&vb.pp("w2"), hidden, dim, kernel, false),
            w3: SeqConv::new(&vb.pp("w3"), dim, hidden, kernel, false),
        }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let gate = crate::kernels::silu_mul(self.w1.forward(x.clone()), self.w3.forward(x));
        self.w2.forward(gate)
    }
}

/// `nn.LayerNorm(dim, elementwise_affine=False)` (eps 1e-5) over the last axis.
pub fn layer_norm_plain(x: Tensor<3>) -> Tensor<3> {
    let d = x.dims()[2];
    let ones = Tensor::ones([d], &x.device());
    let dtype = x.dtype();
    if dtype == DType::F32 {
        layer_norm(x, ones, None, crate::kernels::LN_EPS as f64)
    } else {
        layer_norm(x.cast(DType::F32), ones, None, crate::kernels::LN_EPS as f64).cast(dtype)
    }
}

/// adaLN modulation: `x * (1 + scale) + shift`.
pub fn modulate(x: Tensor<3>, shift: Tensor<3>, scale: Tensor<3>) -> Tensor<3> {
    x * (scale + 1.0) + shift
}

/// Sinusoidal embedding of a scalar (DiT's `TimestepEmbedder`, as in MMAudio's
/// `embeddings.py`): `[cos(t f), sin(t f)]` (cos first) through `Linear -> SiLU -> Linear`.
///
/// `f_i = 10000 / max_period / 10000^(2i / F)`: v1 uses `F = 256, max_period = 10000`,
/// v2 `F = hidden, max_period = 1`.
#[derive(Module, Debug)]
pub struct TimestepEmbedder {
    pub fc1: Linear,
    pub fc2: Linear,
    #[module(skip)]
    pub freqs: Vec<f32>,
}

impl TimestepEmbedder {
    pub fn new(vb: &Vars, dim: usize, freq_dim: usize, max_period: f64, new: bool) -> Self {
        let lin = |name: &str, d_in| {
            if new {
                // Zero output layer: a new embedding starts out adding nothing.
                let init = if name == "mlp.2" { Init::Zeros } else { Init::FanIn };
                linear_new(&vb.pp(name), d_in, dim, init)
            } else {
                linear(&vb.pp(name), d_in, dim, true)
            }
        };
        Self { fc1: lin("mlp.0", freq_dim), fc2: lin("mlp.2", dim), freqs: timestep_freqs(freq_dim, max_period) }
    }

    /// `t: (B,) -> (B, dim)`.
    pub fn forward(&self, t: &[f32], device: &burn::tensor::Device) -> Tensor<2> {
        let half = self.freqs.len();
        let mut emb = Vec::with_capacity(t.len() * 2 * half);
        for &ti in t {
            // f32 product as in PyTorch, then a correctly rounded cos / sin.
            let args: Vec<f32> = self.freqs.iter().map(|&f| ti * f).collect();
            emb.extend(args.iter().map(|&a| (a as f64).cos() as f32));
            emb.extend(args.iter().map(|&a| (a as f64).sin() as f32));
        }
        let emb = Tensor::<2>::from_data(TensorData::new(emb, [t.len(), 2 * half]), device).cast(self.fc1.weight.val().dtype());
        self.fc2.forward(silu(self.fc1.forward(emb)))
    }
}

/// The frequency table exactly as MMAudio builds it in f32.
fn timestep_freqs(freq_dim: usize, max_period: f64) -> Vec<f32> {
    let scale = (10000.0 / max_period) as f32;
    (0..freq_dim)
        .step_by(2)
        .map(|i| {
            let e = i as f32 / freq_dim as f32;
            let p = 10000f64.powf(e as f64) as f32;
            scale * (1.0 / p)
        })
        .collect()
}
