//! The generator's hyper-parameters (the official `h`), the released configurations and the
//! key listing a checkpoint of a configuration holds.

use std::collections::BTreeMap;

use foley_weights::KeyReport;
use serde::Deserialize;

use crate::DecoderError;

/// Taps of the anti-aliasing low-pass filters (fixed by `Activation1d`'s defaults).
pub(crate) const FILTER_TAPS: usize = 12;

/// Kernel of `conv_pre` and `conv_post`.
pub(crate) const OUTER_KERNEL: usize = 7;

/// The residual block of each kernel size (`h.resblock`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResBlock {
    /// `"1"`, `AMPBlock1`: per dilation, activation -> dilated conv -> activation -> conv.
    Amp1,
    /// `"2"`, `AMPBlock2`: per dilation, activation -> dilated conv.
    Amp2,
}

/// The periodic activation (`h.activation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Snake {
    /// `x + 1/a sin²(a x)`.
    Snake,
    /// `x + 1/b sin²(a x)`.
    SnakeBeta,
}

/// A BigVGAN generator (MMAudio's 16 kHz `BigVGANVocoder` and BigVGAN v2 are the same network
/// apart from the final tanh/clamp and bias, which v1 always has: v2's defaults).
///
/// Each upsampling stage pairs `resblock_kernel_sizes[j]` with `resblock_dilation_sizes[j]`
/// (extra dilation lists are ignored, as `zip` does), and a block has one convolution (pair)
/// per dilation, as v2 builds it; the v1 code reads exactly the first three (two for
/// `AMPBlock2`), which is what every released configuration lists, and any other length
/// shows up as a key mismatch at load, never as a silent difference.
#[derive(Debug, Clone, PartialEq)]
pub struct BigVganConfig {
    /// Mel bands of the input.
    pub num_mels: usize,
    /// Stride of each transposed-convolution upsampler.
    pub upsample_rates: Vec<usize>,
    /// Kernel of each upsampler.
    pub upsample_kernel_sizes: Vec<usize>,
    /// Channels after `conv_pre`; halved by every upsampler.
    pub upsample_initial_channel: usize,
    /// Kernel of each residual block of a stage (their outputs are averaged).
    pub resblock_kernel_sizes: Vec<usize>,
    /// Dilations of each residual block.
    pub resblock_dilation_sizes: Vec<Vec<usize>>,
    /// Which residual block.
    pub resblock: ResBlock,
    /// Which periodic activation.
    pub activation: Snake,
    /// Alphas (and betas) are stored as logarithms.
    pub snake_logscale: bool,
    /// `tanh` on the output (else a clamp to [-1, 1]).
    pub use_tanh_at_final: bool,
    /// `conv_post` has a bias.
    pub use_bias_at_final: bool,
}

/// The keys of the official configuration this port reads (everything else is training).
#[derive(Deserialize)]
struct Official {
    num_mels: usize,
    upsample_rates: Vec<usize>,
    upsample_kernel_sizes: Vec<usize>,
    upsample_initial_channel: usize,
    resblock_kernel_sizes: Vec<usize>,
    resblock_dilation_sizes: Vec<Vec<usize>>,
    resblock: String,
    activation: String,
    snake_logscale: bool,
    use_tanh_at_final: Option<bool>,
    use_bias_at_final: Option<bool>,
}

impl BigVganConfig {
    /// From the official JSON/YAML config object; unknown (training) keys ignored; v2 flags default as the official code does.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, DecoderError> {
        let h = Official::deserialize(value).map_err(|e| DecoderError::Config(format!("BigVGAN config: {e}")))?;
        let resblock = match h.resblock.as_str() {
            "1" => ResBlock::Amp1,
            "2" => ResBlock::Amp2,
            other => return Err(DecoderError::Config(format!("BigVGAN resblock must be \"1\" or \"2\", found {other:?}"))),
        };
        let activation = match h.activation.as_str() {
            "snake" => Snake::Snake,
            "snakebeta" => Snake::SnakeBeta,
            other => return Err(DecoderError::Config(format!("BigVGAN activation must be \"snake\" or \"snakebeta\", found {other:?}"))),
        };
        let config = Self {
            num_mels: h.num_mels,
            upsample_rates: h.upsample_rates,
            upsample_kernel_sizes: h.upsample_kernel_sizes,
            upsample_initial_channel: h.upsample_initial_channel,
            resblock_kernel_sizes: h.resblock_kernel_sizes,
            resblock_dilation_sizes: h.resblock_dilation_sizes,
            resblock,
            activation,
            snake_logscale: h.snake_logscale,
            use_tanh_at_final: h.use_tanh_at_final.unwrap_or(true),
            use_bias_at_final: h.use_bias_at_final.unwrap_or(true),
        };
        config.validate()?;
        Ok(config)
    }

    /// "16k" (MMAudio's bigvgan_vocoder.yml) or "v2_44k" (bigvgan_v2_44khz_128band_512x).
    pub fn released(name: &str) -> Result<Self, DecoderError> {
        let (num_mels, upsample_rates, upsample_kernel_sizes, v2) = match name {
            "16k" => (80, vec![4, 4, 2, 2, 2, 2], vec![8, 8, 4, 4, 4, 4], false),
            "v2_44k" => (128, vec![8, 4, 2, 2, 2, 2], vec![16, 8, 4, 4, 4, 4], true),
            other => return Err(DecoderError::Config(format!("no released BigVGAN named {other:?} (known: \"16k\", \"v2_44k\")"))),
        };
        Ok(Self {
            num_mels,
            upsample_rates,
            upsample_kernel_sizes,
            upsample_initial_channel: 1536,
            resblock_kernel_sizes: vec![3, 7, 11],
            resblock_dilation_sizes: vec![vec![1, 3, 5]; 3],
            resblock: ResBlock::Amp1,
            activation: Snake::SnakeBeta,
            snake_logscale: true,
            use_tanh_at_final: !v2,
            use_bias_at_final: !v2,
        })
    }

    /// Samples per mel frame (the product of the upsample rates).
    pub fn hop(&self) -> usize {
        self.upsample_rates.iter().product()
    }

    /// Channels after upsampling stage `i` (`None` = after `conv_pre`).
    pub(crate) fn channels(&self, stage: Option<usize>) -> usize {
        stage.map_or(self.upsample_initial_channel, |i| self.upsample_initial_channel.checked_shr(i as u32 + 1).unwrap_or(0))
    }

    /// (kernel, dilations) of the residual blocks of every stage.
    pub(crate) fn blocks(&self) -> impl Iterator<Item = (usize, &[usize])> {
        self.resblock_kernel_sizes.iter().zip(&self.resblock_dilation_sizes).map(|(&k, d)| (k, d.as_slice()))
    }

    /// Refuse what the network cannot be built from, and shapes whose output would not be
    /// exactly `frames * hop` samples (a "same" convolution needs an odd kernel, an upsampler
    /// an even `kernel - rate`).
    pub(crate) fn validate(&self) -> Result<(), DecoderError> {
        let err = |msg: String| Err(DecoderError::Config(format!("BigVGAN: {msg}")));
        let n = self.upsample_rates.len();
        if n == 0 || n != self.upsample_kernel_sizes.len() {
            return err(format!("{n} upsample rates for {} upsample kernels", self.upsample_kernel_sizes.len()));
        }
        if self.num_mels == 0 || self.channels(Some(n - 1)) == 0 {
            return err(format!("{} mels, {} initial channels for {n} halvings", self.num_mels, self.upsample_initial_channel));
        }
        for (&u, &k) in self.upsample_rates.iter().zip(&self.upsample_kernel_sizes) {
            if u == 0 || k < u || (k - u) % 2 != 0 {
                return err(format!("upsampler with rate {u} and kernel {k} (needs rate >= 1, kernel - rate even and >= 0)"));
            }
        }
        if self.resblock_kernel_sizes.is_empty() || self.resblock_dilation_sizes.len() < self.resblock_kernel_sizes.len() {
            return err(format!("{} resblock kernels for {} dilation lists", self.resblock_kernel_sizes.len(), self.resblock_dilation_sizes.len()));
        }
        for (k, d) in self.blocks() {
            if k % 2 == 0 || d.is_empty() || d.contains(&0) {
                return err(format!("resblock kernel {k} with dilations {d:?} (needs an odd kernel and dilations >= 1)"));
            }
        }
        Ok(())
    }

    /// What is wrong between a state dict's key -> shape listing (no `generator.` prefix) and
    /// this configuration, in whichever weight-norm layout the file uses (see
    /// [`BigVgan::from_state_dict`](super::BigVgan::from_state_dict)).
    pub fn check_keys(&self, found: &BTreeMap<String, Vec<usize>>) -> KeyReport {
        let expected = super::weight_norm::WeightLayout::detect(found).rename(self.expected_shapes());
        KeyReport::compare(&expected, found, &Default::default())
    }

    /// Every key and shape of a released-style state dict of this configuration (parametrizations layout).
    pub fn expected_shapes(&self) -> BTreeMap<String, Vec<usize>> {
        let mut keys = BTreeMap::new();
        let mut conv = |name: String, shape: [usize; 3], bias: Option<usize>| {
            if let Some(len) = bias {
                keys.insert(format!("{name}.bias"), vec![len]);
            }
            keys.insert(format!("{name}.parametrizations.weight.original0"), vec![shape[0], 1, 1]);
            keys.insert(format!("{name}.parametrizations.weight.original1"), shape.to_vec());
        };
        let c0 = self.channels(None);
        conv("conv_pre".into(), [c0, self.num_mels, OUTER_KERNEL], Some(c0));
        for (i, &k) in self.upsample_kernel_sizes.iter().enumerate() {
            // ConvTranspose1d weights are (in, out, k), normalized per input channel.
            let out = self.channels(Some(i));
            conv(format!("ups.{i}.0"), [self.channels(i.checked_sub(1)), out, k], Some(out));
        }
        let mut activations = Vec::new();
        let blocks: Vec<_> = self.blocks().collect();
        for i in 0..self.upsample_rates.len() {
            let ch = self.channels(Some(i));
            for (j, &(k, dilations)) in blocks.iter().enumerate() {
                let block = format!("resblocks.{}", i * blocks.len() + j);
                let groups: &[&str] = match self.resblock {
                    ResBlock::Amp1 => &["convs1", "convs2"],
                    ResBlock::Amp2 => &["convs"],
                };
                for group in groups {
                    for n in 0..dilations.len() {
                        conv(format!("{block}.{group}.{n}"), [ch, ch, k], Some(ch));
                    }
                }
                for n in 0..groups.len() * dilations.len() {
                    activations.push((format!("{block}.activations.{n}"), ch));
                }
            }
        }
        let last = self.channels(self.upsample_rates.len().checked_sub(1));
        conv("conv_post".into(), [1, last, OUTER_KERNEL], self.use_bias_at_final.then_some(1));
        activations.push(("activation_post".into(), last));
        for (name, ch) in activations {
            keys.insert(format!("{name}.act.alpha"), vec![ch]);
            if self.activation == Snake::SnakeBeta {
                keys.insert(format!("{name}.act.beta"), vec![ch]);
            }
            keys.insert(format!("{name}.upsample.filter"), vec![1, 1, FILTER_TAPS]);
            keys.insert(format!("{name}.downsample.lowpass.filter"), vec![1, 1, FILTER_TAPS]);
        }
        keys
    }
}
