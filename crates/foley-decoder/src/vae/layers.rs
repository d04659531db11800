//! The VAE's building blocks (`vae_modules.py`) and the magnitude-preserving operations of EDM2
//! they rest on (`edm2_utils.py`), on channel-first `(B, C, T)` tensors like the official code.

use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::activation::silu;
use burn::tensor::module::{attention, avg_pool1d, conv1d};
use burn::tensor::ops::{AttentionModuleOptions, AvgPoolOptions, ConvOptions, PadMode};

use foley_weights::{Init, Vars, contiguous};

/// `normalize`'s epsilon, added to the RMS norm.
const NORM_EPS: f32 = 1e-4;
/// Blend of the residual branch in every `mp_sum` of the VAE.
const RESIDUAL_T: f32 = 0.3;

/// EDM2's `normalize(x, dim)`: divide by `eps + ||x|| / sqrt(n)` along `dim`, `n` its length
/// (an RMS normalization to unit magnitude).
fn normalize<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let n = x.dims()[dim] as f64;
    let norm = x.clone().powi_scalar(2).sum_dim(dim).sqrt();
    x / (norm.mul_scalar((1.0 / n).sqrt() as f32) + NORM_EPS)
}

/// Magnitude-preserving SiLU: `silu(x) / 0.596`.
pub fn mp_silu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    silu(x).div_scalar(0.596)
}

/// Magnitude-preserving sum: `lerp(a, b, t) / sqrt((1 - t)^2 + t^2)`.
fn mp_sum(a: Tensor<3>, b: Tensor<3>, t: f32) -> Tensor<3> {
    let t64 = t as f64;
    let scale = ((1.0 - t64).powi(2) + t64.powi(2)).sqrt();
    // torch.lerp for t < 0.5 computes a + t (b - a).
    (a.clone() + (b - a).mul_scalar(t)).div_scalar(scale as f32)
}

/// `MPConv1D` after `remove_weight_norm()`: a bias-free, "same"-padded convolution whose weight
/// is each output channel's raw weight divided by `eps + ||w|| / sqrt(fan_in)`, then by
/// `sqrt(fan_in)`, so every output channel has unit norm. A learned gain (the encoder's and
/// decoder's last convolution) scales the normalized weight.
#[derive(Module, Debug)]
pub struct MpConv {
    pub weight: Tensor<3>,
    pub kernel: usize,
}

impl MpConv {
    pub fn new(vb: &Vars, c_in: usize, c_out: usize, kernel: usize) -> Self {
        Self::with_gain(vb, c_in, c_out, kernel, 1.0)
    }

    pub fn with_gain(vb: &Vars, c_in: usize, c_out: usize, kernel: usize, gain: f32) -> Self {
        // `torch.randn` is the official initialization (the magnitude is normalized away).
        let raw = vb.get("weight", [c_out, c_in, kernel], Init::Normal(1.0));
        Self { weight: normalized_weight(raw, gain), kernel }
    }

    /// `(B, c_in, T) -> (B, c_out, T)`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let pad = self.kernel / 2;
        // Padding first and convolving unpadded takes flex's direct (gemm per tap, no im2col) path.
        let x = if pad > 0 { x.pad([(pad, pad)], PadMode::Constant(0.0)) } else { x };
        conv1d(x, self.weight.clone(), None, ConvOptions::new([1], [0], [1], 1))
    }
}

/// The forced weight normalization of `MPConv1D.remove_weight_norm`, times `gain`.
fn normalized_weight(w: Tensor<3>, gain: f32) -> Tensor<3> {
    let [c_out, c_in, kernel] = w.dims();
    let fan_in = (c_in * kernel) as f64;
    let rms = w.clone().reshape([c_out, c_in * kernel]).powi_scalar(2).sum_dim(1).sqrt().mul_scalar((1.0 / fan_in).sqrt() as f32) + NORM_EPS;
    (w / rms.reshape([c_out, 1, 1])).div_scalar(fan_in.sqrt() as f32).mul_scalar(gain)
}

/// `ResnetBlock1D` (pixel norm, no conv shortcut): `mp_sum(x, conv2(silu(conv1(silu(x)))), 0.3)`
/// on the normalized input, with a 1x1 `nin_shortcut` when the width changes.
#[derive(Module, Debug)]
pub struct ResnetBlock {
    pub conv1: MpConv,
    pub conv2: MpConv,
    pub nin_shortcut: Option<MpConv>,
}

impl ResnetBlock {
    pub fn new(vb: &Vars, c_in: usize, c_out: usize, kernel: usize) -> Self {
        Self {
            conv1: MpConv::new(&vb.pp("conv1"), c_in, c_out, kernel),
            conv2: MpConv::new(&vb.pp("conv2"), c_out, c_out, kernel),
            nin_shortcut: (c_in != c_out).then(|| MpConv::new(&vb.pp("nin_shortcut"), c_in, c_out, 1)),
        }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let x = normalize(x, 1);
        let h = self.conv2.forward(mp_silu(self.conv1.forward(mp_silu(x.clone()))));
        let x = match &self.nin_shortcut {
            Some(conv) => conv.forward(x),
            None => x,
        };
        mp_sum(x, h, RESIDUAL_T)
    }
}

/// `AttnBlock1D` with one head: q, k and v from a 1x1 convolution, each normalized over the
/// channels, attention over time, a 1x1 projection and `mp_sum(x, h, 0.3)`.
#[derive(Module, Debug)]
pub struct AttnBlock {
    /// `qkv` with its output channels reordered from the official `(channel, q/k/v)`
    /// interleave to `(q/k/v, channel)`, so that q, k and v are contiguous channel ranges.
    pub qkv: MpConv,
    pub proj_out: MpConv,
}

impl AttnBlock {
    pub fn new(vb: &Vars, channels: usize) -> Self {
        let mut qkv = MpConv::new(&vb.pp("qkv"), channels, 3 * channels, 1);
        // Normalization is per output channel, so reordering after it changes nothing else.
        qkv.weight = contiguous(qkv.weight.reshape([channels, 3, channels, 1]).swap_dims(0, 1).reshape([3 * channels, channels, 1]));
        Self { qkv, proj_out: MpConv::new(&vb.pp("proj_out"), channels, channels, 1) }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, c, t] = x.dims();
        let qkv = normalize(self.qkv.forward(x.clone()).reshape([b, 3, c, t]), 2);
        // (B, C, T) -> (B, heads = 1, T, C)
        let part = |j: usize| qkv.clone().narrow(1, j, 1).reshape([b, c, t]).swap_dims(1, 2).unsqueeze_dim::<4>(1);
        let h = attention(part(0), part(1), part(2), None, None, AttentionModuleOptions::default());
        let h = self.proj_out.forward(h.reshape([b, t, c]).swap_dims(1, 2));
        mp_sum(x, h, RESIDUAL_T)
    }
}

/// `Downsample1D` with convolutions: 1x1 conv, average pooling by 2 (an odd last frame is
/// dropped), 1x1 conv.
#[derive(Module, Debug)]
pub struct Downsample {
    pub conv1: MpConv,
    pub conv2: MpConv,
}

impl Downsample {
    pub fn new(vb: &Vars, channels: usize) -> Self {
        Self { conv1: MpConv::new(&vb.pp("conv1"), channels, channels, 1), conv2: MpConv::new(&vb.pp("conv2"), channels, channels, 1) }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.conv2.forward(avg_pool1d(self.conv1.forward(x), AvgPoolOptions::new([2])))
    }
}

/// `Upsample1D` with a convolution: each frame repeated twice (`nearest-exact` at scale 2), then
/// a kernel-3 conv.
#[derive(Module, Debug)]
pub struct Upsample {
    pub conv: MpConv,
}

impl Upsample {
    pub fn new(vb: &Vars, channels: usize) -> Self {
        Self { conv: MpConv::new(&vb.pp("conv"), channels, channels, 3) }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, c, t] = x.dims();
        let repeated = x.unsqueeze_dim::<4>(3).expand([b, c, t, 2]).reshape([b, c, 2 * t]);
        self.conv.forward(repeated)
    }
}
