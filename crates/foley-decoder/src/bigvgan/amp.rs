//! Convolutions (weight norm already folded into `weight`) and the anti-aliased
//! multi-periodicity residual blocks (`AMPBlock1`, `AMPBlock2`).

use burn::module::{Module, Param};
use burn::tensor::Tensor;
use burn::tensor::module::{conv_transpose1d, conv1d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use foley_weights::{Init, Vars};

use super::alias_free::{Activation1d, Filters};
use super::config::{BigVganConfig, ResBlock};

/// `nn.Conv1d(c_in, c_out, kernel, dilation=d, padding=d (kernel - 1) / 2)`: length-preserving.
#[derive(Module, Debug)]
pub struct Conv {
    /// `(c_out, c_in, kernel)`.
    pub weight: Param<Tensor<3>>,
    /// `(c_out,)`, absent for v2's bias-free `conv_post`.
    pub bias: Option<Param<Tensor<1>>>,
    /// Dilation of the taps (the padding follows from it).
    pub dilation: usize,
}

impl Conv {
    pub(crate) fn new(vb: &Vars, c_in: usize, c_out: usize, kernel: usize, dilation: usize, bias: bool) -> Self {
        Self {
            weight: Param::from_tensor(vb.get("weight", [c_out, c_in, kernel], Init::FanIn)),
            bias: bias.then(|| Param::from_tensor(vb.get("bias", [c_out], Init::FanIn))),
            dilation,
        }
    }

    /// `(B, c_in, T) -> (B, c_out, T)`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let kernel = self.weight.dims()[2];
        let pad = self.dilation * (kernel - 1) / 2;
        conv1d(x, self.weight.val(), self.bias.as_ref().map(Param::val), ConvOptions::new([1], [pad], [self.dilation], 1))
    }
}

/// `nn.ConvTranspose1d(c_in, c_out, kernel, stride, padding=(kernel - stride) / 2)`: `T -> stride T`.
#[derive(Module, Debug)]
pub struct Upsample {
    /// `(c_in, c_out, kernel)`.
    pub weight: Param<Tensor<3>>,
    /// `(c_out,)`.
    pub bias: Param<Tensor<1>>,
    /// The upsampling rate.
    pub stride: usize,
}

impl Upsample {
    pub(crate) fn new(vb: &Vars, c_in: usize, c_out: usize, kernel: usize, stride: usize) -> Self {
        Self {
            weight: Param::from_tensor(vb.get("weight", [c_in, c_out, kernel], Init::FanIn)),
            bias: Param::from_tensor(vb.get("bias", [c_out], Init::FanIn)),
            stride,
        }
    }

    /// `(B, c_in, T) -> (B, c_out, stride T)`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let kernel = self.weight.dims()[2];
        let options = ConvTransposeOptions::new([self.stride], [(kernel - self.stride) / 2], [0], [1], 1);
        conv_transpose1d(x, self.weight.val(), Some(self.bias.val()), options)
    }
}

/// One residual unit of an AMP block: `x + conv(act(x))`, with a second activation and
/// dilation-1 convolution in `AMPBlock1`.
#[derive(Module, Debug)]
pub struct AmpLayer {
    /// Activation before the dilated convolution.
    pub act1: Activation1d,
    /// The dilated convolution (`convs1.n`, or `convs.n` in `AMPBlock2`).
    pub conv1: Conv,
    /// `AMPBlock1`'s second activation and dilation-1 convolution (`convs2.n`).
    pub second: Option<(Activation1d, Conv)>,
}

impl AmpLayer {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let mut h = self.conv1.forward(self.act1.forward(x.clone()));
        if let Some((act2, conv2)) = &self.second {
            h = conv2.forward(act2.forward(h));
        }
        h + x
    }
}

/// `AMPBlock1` / `AMPBlock2` of `channels` channels: one [`AmpLayer`] per dilation.
#[derive(Module, Debug)]
pub struct AmpBlock {
    /// One unit per dilation, applied in order.
    pub layers: Vec<AmpLayer>,
}

impl AmpBlock {
    /// Keys: `convs1.n`, `convs2.n` and `activations.{2n, 2n+1}` (block 1), or `convs.n` and
    /// `activations.n` (block 2).
    pub(crate) fn new(vb: &Vars, c: &BigVganConfig, channels: usize, kernel: usize, dilations: &[usize], filters: Filters) -> Self {
        let act = |n: usize| Activation1d::new(&vb.pp("activations").pp(n), channels, c.activation, c.snake_logscale, filters);
        let conv = |group: &str, n: usize, dilation| Conv::new(&vb.pp(group).pp(n), channels, channels, kernel, dilation, true);
        let layers = dilations
            .iter()
            .enumerate()
            .map(|(n, &d)| match c.resblock {
                ResBlock::Amp1 => AmpLayer { act1: act(2 * n), conv1: conv("convs1", n, d), second: Some((act(2 * n + 1), conv("convs2", n, 1))) },
                ResBlock::Amp2 => AmpLayer { act1: act(n), conv1: conv("convs", n, d), second: None },
            })
            .collect();
        Self { layers }
    }

    /// `(B, C, T) -> (B, C, T)`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.layers.iter().fold(x, |x, layer| layer.forward(x))
    }
}
