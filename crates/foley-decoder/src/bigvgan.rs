//! BigVGAN vocoders (mel -> waveform): MMAudio's 16 kHz `BigVGANVocoder` (`ext/bigvgan`) and
//! BigVGAN v2 (`ext/bigvgan_v2`, e.g. the 44.1 kHz 128-band 512x model), identical to the
//! official PyTorch path (the CUDA kernel computes the same activation).
//!
//! `conv_pre` -> per stage: transposed-conv upsampler, then the average of one AMP residual
//! block per kernel size -> anti-aliased Snake -> `conv_post` -> tanh (v2: optionally a clamp).
//! Weight norm is folded into plain weights at load, as `remove_weight_norm()` does.

mod alias_free;
mod amp;
mod config;
mod weight_norm;

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use foley_weights::{StateDict, Vars};

pub use alias_free::{Activation1d, SnakeAct, kaiser_sinc_filter};
pub use amp::{AmpBlock, AmpLayer, Conv, Upsample};
pub use config::{BigVganConfig, ResBlock, Snake};

use crate::DecoderError;
use alias_free::Filters;
use config::OUTER_KERNEL;
use weight_norm::WeightLayout;

/// A BigVGAN generator with its weights (module paths follow the checkpoint's keys).
#[derive(Module, Debug)]
pub struct BigVgan {
    /// Mel bands -> `upsample_initial_channel`, kernel 7.
    pub conv_pre: Conv,
    /// One transposed-convolution upsampler per stage (`ups.i.0`).
    pub ups: Vec<Upsample>,
    /// `resblocks[i * kernels + j]`: stage `i`, kernel size `j`.
    pub resblocks: Vec<AmpBlock>,
    /// Anti-aliased activation before the output convolution.
    pub activation_post: Activation1d,
    /// Last stage's channels -> 1, kernel 7.
    pub conv_post: Conv,
    /// The configuration the network was built for.
    #[module(skip)]
    pub config: BigVganConfig,
}

impl BigVgan {
    /// A checkpoint as released: `{"generator": sd}` or a plain state dict, either weight-norm layout; folded at load.
    pub fn load(config: &BigVganConfig, path: &Path, device: &Device) -> Result<Self, DecoderError> {
        let dict = StateDict::read(path)?;
        let nested = dict.tensors.keys().any(|k| k.starts_with("generator."));
        let dict = if nested { dict.subset("generator") } else { dict };
        Self::from_state_dict(config, dict, path, device)
    }

    /// From a state dict already read (no `generator.` prefix); keys checked first, `source` names the file in errors.
    ///
    /// Weight norm may be stored as torch parametrizations (`parametrizations.weight.original0/1`),
    /// as the older `weight_g` / `weight_v`, or already removed (`weight`, which v2's loader
    /// falls back to); the layout is the one `conv_pre` uses.
    pub fn from_state_dict(config: &BigVganConfig, mut dict: StateDict, source: &Path, device: &Device) -> Result<Self, DecoderError> {
        config.validate()?;
        let shapes = dict.shapes();
        let report = config.check_keys(&shapes);
        if !report.is_ok() {
            return Err(DecoderError::Keys { path: source.to_path_buf(), report });
        }
        WeightLayout::detect(&shapes).fold(&mut dict);
        Ok(Self::new(config, &Vars::from_state_dict(dict, false, device), Filters::Stored))
    }

    /// Random weights (benchmarks).
    ///
    /// # Panics
    /// If `config` is not valid (see [`BigVganConfig::from_json`], which checks it).
    pub fn random(config: &BigVganConfig, seed: u64, device: &Device) -> Self {
        config.validate().expect("a valid BigVGAN configuration");
        Self::new(config, &Vars::random(seed, device), Filters::Computed)
    }

    fn new(c: &BigVganConfig, vb: &Vars, filters: Filters) -> Self {
        let blocks: Vec<_> = c.blocks().collect();
        let mut ups = Vec::new();
        let mut resblocks = Vec::new();
        for (i, (&rate, &kernel)) in c.upsample_rates.iter().zip(&c.upsample_kernel_sizes).enumerate() {
            let ch = c.channels(Some(i));
            ups.push(Upsample::new(&vb.pp("ups").pp(i).pp(0), c.channels(i.checked_sub(1)), ch, kernel, rate));
            for (j, &(k, dilations)) in blocks.iter().enumerate() {
                resblocks.push(AmpBlock::new(&vb.pp("resblocks").pp(i * blocks.len() + j), c, ch, k, dilations, filters));
            }
        }
        let last = c.channels(Some(c.upsample_rates.len() - 1));
        Self {
            conv_pre: Conv::new(&vb.pp("conv_pre"), c.num_mels, c.channels(None), OUTER_KERNEL, 1, true),
            ups,
            resblocks,
            activation_post: Activation1d::new(&vb.pp("activation_post"), last, c.activation, c.snake_logscale, filters),
            conv_post: Conv::new(&vb.pp("conv_post"), last, 1, OUTER_KERNEL, 1, c.use_bias_at_final),
            config: c.clone(),
        }
    }

    /// Mel (B, num_mels, F) -> waveform (B, 1, F * hop).
    pub fn forward(&self, mel: Tensor<3>) -> Result<Tensor<3>, DecoderError> {
        let [b, mels, frames] = mel.dims();
        if mels != self.config.num_mels || b == 0 || frames == 0 {
            return Err(DecoderError::Input(format!(
                "BigVGAN expects a mel of shape (batch >= 1, {}, frames >= 1), found ({b}, {mels}, {frames})",
                self.config.num_mels
            )));
        }
        let kernels = self.config.resblock_kernel_sizes.len();
        let mut x = self.conv_pre.forward(mel);
        for (up, blocks) in self.ups.iter().zip(self.resblocks.chunks(kernels)) {
            x = up.forward(x);
            let sum = blocks.iter().map(|block| block.forward(x.clone())).reduce(|a, b| a + b).expect("at least one resblock kernel");
            x = sum / kernels as f32;
        }
        let x = self.conv_post.forward(self.activation_post.forward(x));
        Ok(if self.config.use_tanh_at_final { x.tanh() } else { x.clamp(-1.0, 1.0) })
    }
}
