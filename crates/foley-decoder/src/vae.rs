//! MMAudio's mel VAE (`mmaudio/ext/autoencoder`): an EDM2-style magnitude-preserving 1-D
//! encoder/decoder between a log-mel spectrogram `(B, data_dim, T)` and a latent
//! `(B, embed_dim, T / 2)`. Weights are read as saved (before `remove_weight_norm()`) and
//! normalized at load, as `AutoEncoderModule` does.

mod coder;
mod layers;
mod stats;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use foley_weights::{KeyReport, StateDict, Vars};
use serde::{Deserialize, Serialize};

use crate::DecoderError;
use coder::{Decoder, Encoder, Shapes};

/// `VAE(data_dim, embed_dim, hidden_dim)`. Everything else (widths `hidden * (1, 2, 4)`, two
/// residual blocks per level, one 2x resampling, attention in the middle) is fixed by the
/// official constructor; `data_dim` picks the mel statistics (80 or 128 bands).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaeConfig {
    /// Mel bands: 80 (16 kHz) or 128 (44.1 kHz).
    pub data_dim: usize,
    /// Latent channels.
    pub embed_dim: usize,
    /// Width of the first level.
    pub hidden_dim: usize,
}

impl VaeConfig {
    /// From a JSON object with the official constructor's argument names (data_dim, embed_dim, hidden_dim).
    pub fn from_json(value: &serde_json::Value) -> Result<Self, DecoderError> {
        let config: Self = serde_json::from_value(value.clone()).map_err(|e| DecoderError::Config(format!("VAE configuration: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    /// The released configurations: "16k" (80/20/384) and "44k" (128/40/512).
    pub fn released(mode: &str) -> Result<Self, DecoderError> {
        match mode {
            "16k" => Ok(Self { data_dim: 80, embed_dim: 20, hidden_dim: 384 }),
            "44k" => Ok(Self { data_dim: 128, embed_dim: 40, hidden_dim: 512 }),
            other => Err(DecoderError::Config(format!("unknown VAE mode `{other}` (expected 16k or 44k)"))),
        }
    }

    /// Every key and shape of a state dict of this configuration, as the official code saves it (before remove_weight_norm).
    pub fn expected_shapes(&self) -> BTreeMap<String, Vec<usize>> {
        let mut shapes = Shapes::default();
        shapes.insert("data_mean", vec![1, self.data_dim, 1]);
        shapes.insert("data_std", vec![1, self.data_dim, 1]);
        Encoder::shapes(&mut shapes, self.data_dim, self.embed_dim, self.hidden_dim);
        Decoder::shapes(&mut shapes, self.data_dim, self.embed_dim, self.hidden_dim);
        shapes.0
    }

    fn validate(&self) -> Result<(), DecoderError> {
        if self.data_dim != 80 && self.data_dim != 128 {
            return Err(DecoderError::Config(format!("VAE data_dim must be 80 or 128 (the mel sizes it has statistics for), got {}", self.data_dim)));
        }
        if self.embed_dim == 0 || self.hidden_dim == 0 {
            return Err(DecoderError::Config(format!("VAE embed_dim and hidden_dim must be positive, got {} and {}", self.embed_dim, self.hidden_dim)));
        }
        Ok(())
    }
}

/// MMAudio's VAE, ready for inference (weight normalization applied).
#[derive(Module, Debug)]
pub struct Vae {
    encoder: Encoder,
    decoder: Decoder,
    /// Mel statistics `(1, data_dim, 1)`: `encode` standardizes by them, `decode` undoes it.
    data_mean: Tensor<3>,
    data_std: Tensor<3>,
    #[module(skip)]
    config: VaeConfig,
}

impl Vae {
    /// Load a VAE state dict (`.pth` as released, or `.safetensors`) for `config`.
    pub fn load(config: &VaeConfig, path: &Path, device: &Device) -> Result<Self, DecoderError> {
        Self::from_state_dict(config, StateDict::read(path)?, path, device)
    }

    /// From a state dict already read (e.g. the `vae` part of a pipeline checkpoint); keys checked first, `source` names the file in errors.
    pub fn from_state_dict(config: &VaeConfig, mut dict: StateDict, source: &Path, device: &Device) -> Result<Self, DecoderError> {
        config.validate()?;
        let report = KeyReport::compare(&config.expected_shapes(), &dict.shapes(), &BTreeSet::new());
        if !report.is_ok() {
            return Err(DecoderError::Keys { path: source.to_path_buf(), report });
        }
        // Scalars and buffers are taken out here; the rest goes by key to the modules.
        let mut take = |key: &str| dict.take(key).expect("keys were checked").data;
        let (mean, std) = (take("data_mean"), take("data_std"));
        let gains = [take("encoder.learnable_gain")[0], take("decoder.learnable_gain")[0]];
        Ok(Self::build(config, &Vars::from_state_dict(dict, false, device), &mean, &std, gains))
    }

    /// Random weights of this configuration (benchmarks), with the released mel statistics.
    pub fn random(config: &VaeConfig, seed: u64, device: &Device) -> Self {
        let d = config.data_dim;
        let (mean, std) = match d {
            80 => (stats::DATA_MEAN_80D.to_vec(), stats::DATA_STD_80D.to_vec()),
            128 => (stats::DATA_MEAN_128D.to_vec(), stats::DATA_STD_128D.to_vec()),
            // No official statistics: the identity standardization.
            _ => (vec![0.0; d], vec![1.0; d]),
        };
        // The official initialization of both gains is zero (a factor of one).
        Self::build(config, &Vars::random(seed, device), &mean, &std, [0.0, 0.0])
    }

    fn build(config: &VaeConfig, vb: &Vars, mean: &[f32], std: &[f32], [encoder_gain, decoder_gain]: [f32; 2]) -> Self {
        let (d, e, h) = (config.data_dim, config.embed_dim, config.hidden_dim);
        let column = |v: &[f32]| Tensor::<3>::from_data(TensorData::new(v.to_vec(), [1, v.len(), 1]), vb.device());
        Self {
            encoder: Encoder::new(&vb.pp("encoder"), d, e, h, encoder_gain),
            decoder: Decoder::new(&vb.pp("decoder"), d, e, h, decoder_gain),
            data_mean: column(mean),
            data_std: column(std),
            config: config.clone(),
        }
    }

    /// The configuration this VAE was built for.
    pub fn config(&self) -> &VaeConfig {
        &self.config
    }

    /// (mean, std) of the latent distribution of a mel (B, data_dim, T), channels first like the official code.
    ///
    /// The mel is standardized by the data statistics first; the encoder's moments split into
    /// the mean and a log-variance clamped to [-30, 20], and `std = exp(logvar / 2)`. Both are
    /// `(B, embed_dim, T / 2)` (an odd last frame is dropped).
    pub fn encode(&self, mel: Tensor<3>) -> Result<(Tensor<3>, Tensor<3>), DecoderError> {
        let [b, c, t] = mel.dims();
        if b == 0 || c != self.config.data_dim || t < 2 {
            return Err(DecoderError::Input(format!(
                "VAE encoder input has shape [{b}, {c}, {t}], expected [B >= 1, {} mel bands, T >= 2 frames]",
                self.config.data_dim
            )));
        }
        let x = (mel - self.data_mean.clone()) / self.data_std.clone();
        let moments = self.encoder.forward(x);
        let e = self.config.embed_dim;
        let mean = moments.clone().narrow(1, 0, e);
        let logvar = moments.narrow(1, e, e).clamp(-30.0, 20.0);
        Ok((mean, logvar.mul_scalar(0.5).exp()))
    }

    /// A latent (B, embed_dim, T') back to an unnormalized mel (B, data_dim, T).
    ///
    /// `T = 2 T'`; the decoder's output is mapped back through the data statistics.
    pub fn decode(&self, latent: Tensor<3>) -> Result<Tensor<3>, DecoderError> {
        let [b, c, t] = latent.dims();
        if b == 0 || c != self.config.embed_dim || t == 0 {
            return Err(DecoderError::Input(format!(
                "VAE decoder input has shape [{b}, {c}, {t}], expected [B >= 1, {} latent channels, T >= 1 frames]",
                self.config.embed_dim
            )));
        }
        Ok(self.decoder.forward(latent) * self.data_std.clone() + self.data_mean.clone())
    }
}
