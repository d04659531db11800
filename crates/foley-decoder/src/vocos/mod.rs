//! foley's own neural vocoder: Vocos (Siuzdak 2023) on MMAudio's 16 kHz mel, trained here on
//! real recordings (`foley train vocoder`).
//!
//! mel `(B, n_mels, T)` -> `embed` (convolution) -> layer norm -> ConvNeXt blocks (depth-wise
//! convolution, layer norm, point-wise MLP with GELU, layer scale, residual) -> layer norm ->
//! `head` (linear to `n_fft + 2`: log-magnitude and phase of every bin) -> inverse STFT at the
//! mel's hop. The network never upsamples in time: every layer runs at the frame rate, which is
//! why it is cheap on a CPU.

mod config;
pub mod spectral;
pub mod train;

use std::path::Path;

use burn::module::{Module, Param};
use burn::nn::conv::Conv1d;
use burn::nn::{Linear, PaddingConfig1d};
use burn::store::{FloatCastAdapter, ModuleSnapshot, SafetensorsStore};
use burn::tensor::module::layer_norm;
use burn::tensor::{DType, Device, Tensor, TensorData};
use foley_kernels::conv::gelu;
use foley_seq::{LogBase, MelConfig};
use foley_weights::{Init, Vars};

pub use config::VocosConfig;
pub use spectral::{InverseStft, LogMel, StftMagnitude};
pub use train::VocoderMeta;

use crate::DecoderError;

/// Layer norm epsilon (Vocos' `nn.LayerNorm(dim, eps=1e-6)`).
const NORM_EPS: f64 = 1e-6;
/// Ceiling of the predicted magnitudes (Vocos clips `exp(log_mag)` at 100).
const MAX_MAGNITUDE: f32 = 100.0;

/// Layer norm over the last (channel) dimension, with gain and bias.
#[derive(Module, Debug)]
pub struct Norm {
    pub weight: Param<Tensor<1>>,
    pub bias: Param<Tensor<1>>,
}

impl Norm {
    fn new(vb: &Vars, dim: usize) -> Self {
        Self { weight: Param::from_tensor(vb.get("weight", [dim], Init::Ones)), bias: Param::from_tensor(vb.get("bias", [dim], Init::Zeros)) }
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        layer_norm(x, self.weight.val(), Some(self.bias.val()), NORM_EPS)
    }
}

fn conv(vb: &Vars, c_in: usize, c_out: usize, kernel: usize, groups: usize) -> Conv1d {
    let pad = kernel / 2;
    Conv1d {
        weight: Param::from_tensor(vb.get("weight", [c_out, c_in / groups, kernel], Init::FanIn)),
        bias: Some(Param::from_tensor(vb.get("bias", [c_out], Init::FanIn))),
        stride: 1,
        kernel_size: kernel,
        dilation: 1,
        groups,
        padding: PaddingConfig1d::Explicit(pad, pad),
    }
}

/// `nn.Linear` stored as burn keeps it, `(in, out)`.
fn linear(vb: &Vars, d_in: usize, d_out: usize) -> Linear {
    Linear { weight: Param::from_tensor(vb.get("weight", [d_in, d_out], Init::FanIn)), bias: Some(Param::from_tensor(vb.get("bias", [d_out], Init::FanIn))) }
}

/// One ConvNeXt block on channel-last `(B, T, dim)` sequences.
#[derive(Module, Debug)]
pub struct ConvNeXtBlock {
    /// Depth-wise convolution over time.
    pub dwconv: Conv1d,
    pub norm: Norm,
    pub pwconv1: Linear,
    pub pwconv2: Linear,
    /// Layer scale: each channel's residual branch starts small (`1 / layers`).
    pub gamma: Param<Tensor<1>>,
}

impl ConvNeXtBlock {
    fn new(vb: &Vars, c: &VocosConfig) -> Self {
        let gamma = Tensor::<1>::from_data(TensorData::new(vec![1.0 / c.layers as f32; c.dim], [c.dim]), vb.device());
        Self {
            dwconv: conv(&vb.pp("dwconv"), c.dim, c.dim, c.kernel, c.dim),
            norm: Norm::new(&vb.pp("norm"), c.dim),
            pwconv1: linear(&vb.pp("pwconv1"), c.dim, c.intermediate),
            pwconv2: linear(&vb.pp("pwconv2"), c.intermediate, c.dim),
            gamma: Param::from_tensor(vb.get("gamma", [c.dim], Init::Ones).mul(gamma)),
        }
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let y = self.dwconv.forward(x.clone().swap_dims(1, 2)).swap_dims(1, 2);
        let y = self.pwconv2.forward(gelu(self.pwconv1.forward(self.norm.forward(y))));
        x + y * self.gamma.val().unsqueeze_dim::<2>(0).unsqueeze_dim(0)
    }
}

fn mel_pinv_transposed(mel: &MelConfig) -> std::sync::Arc<[f32]> {
    let pinv = foley_dsp::MelSpectrogram::new(*mel).pseudo_inverse();
    let (n_mels, f) = (mel.n_mels, mel.n_freqs());
    let pinv = &pinv;
    (0..n_mels).flat_map(|m| (0..f).map(move |k| pinv[k * n_mels + m] as f32)).collect()
}

/// The vocoder network and its inverse STFT.
#[derive(Module, Debug)]
pub struct Vocos {
    pub embed: Conv1d,
    pub norm: Norm,
    pub blocks: Vec<ConvNeXtBlock>,
    pub final_norm: Norm,
    /// Channels -> `n_fft / 2 + 1` log-magnitudes, then as many phases.
    pub head: Linear,
    #[module(skip)]
    pub config: VocosConfig,
    /// The mel filterbank's pseudo-inverse transposed, `(n_mels, F)` row-major, when
    /// `config.magnitude_prior` is set (computed, not stored in the weights).
    #[module(skip)]
    mel_pinv: Option<std::sync::Arc<[f32]>>,
}

impl Vocos {
    /// A fresh network for training, deterministic in `seed`.
    pub fn init(config: &VocosConfig, seed: u64, device: &Device) -> Result<Self, DecoderError> {
        config.validate()?;
        Ok(Self::new(config, &Vars::training(seed, |_, _, init, _| init, device)))
    }

    fn new(c: &VocosConfig, vb: &Vars) -> Self {
        Self {
            embed: conv(&vb.pp("embed"), c.mel.n_mels, c.dim, c.kernel, 1),
            norm: Norm::new(&vb.pp("norm"), c.dim),
            blocks: (0..c.layers).map(|i| ConvNeXtBlock::new(&vb.pp("blocks").pp(i), c)).collect(),
            final_norm: Norm::new(&vb.pp("final_norm"), c.dim),
            head: linear(&vb.pp("head"), c.dim, c.mel.n_fft + 2),
            config: c.clone(),
            mel_pinv: c.magnitude_prior.then(|| mel_pinv_transposed(&c.mel)),
        }
    }

    /// Weights saved by [`save`](Self::save) (any float dtype; computed in f32).
    pub fn load(config: &VocosConfig, path: &Path, device: &Device) -> Result<Self, DecoderError> {
        let mut net = Self::init(config, 0, device)?;
        let mut store = SafetensorsStore::from_file(path.to_path_buf()).with_from_adapter(FloatCastAdapter::to(DType::F32));
        net.load_from(&mut store).map_err(|e| DecoderError::Config(format!("{}: cannot load vocoder weights: {e}", path.display())))?;
        Ok(net)
    }

    /// The weights as `dtype` safetensors at `path` (written in place: callers stage it).
    pub fn save(&self, path: &Path, dtype: DType) -> Result<(), DecoderError> {
        let mut store = SafetensorsStore::from_file(path.to_path_buf()).overwrite(true).with_to_adapter(FloatCastAdapter::to(dtype));
        self.save_into(&mut store).map_err(|e| DecoderError::Config(format!("{}: cannot write vocoder weights: {e}", path.display())))
    }

    /// Real and imaginary parts `(B, T, n_fft / 2 + 1)` of the spectrum of every frame.
    pub fn spectrum(&self, mel: Tensor<3>) -> Result<(Tensor<3>, Tensor<3>), DecoderError> {
        let (magnitude, phase) = self.polar(mel)?;
        Ok((magnitude.clone() * phase.clone().cos(), magnitude * phase.sin()))
    }

    /// Magnitude and phase (radians, unwrapped as the head outputs it), each
    /// `(B, T, n_fft / 2 + 1)`.
    fn polar(&self, mel: Tensor<3>) -> Result<(Tensor<3>, Tensor<3>), DecoderError> {
        let [b, m, t] = mel.dims();
        if m != self.config.mel.n_mels || b == 0 || t == 0 {
            return Err(DecoderError::Input(format!(
                "the vocoder expects a mel of shape (batch >= 1, {}, frames >= 1), found ({b}, {m}, {t})",
                self.config.mel.n_mels
            )));
        }
        let mut x = self.norm.forward(self.embed.forward(mel.clone()).swap_dims(1, 2));
        for block in &self.blocks {
            x = block.forward(x);
        }
        let h = self.head.forward(self.final_norm.forward(x));
        let f = self.config.n_freqs();
        let mut log_magnitude = h.clone().slice([0..b, 0..t, 0..f]);
        if let Some(pinv) = &self.mel_pinv {
            log_magnitude = log_magnitude + self.log_prior(mel, pinv);
        }
        let magnitude = log_magnitude.exp().clamp_max(MAX_MAGNITUDE);
        Ok((magnitude, h.slice([0..b, 0..t, f..2 * f])))
    }

    /// `ln` of the linear magnitudes Griffin-Lim would start from, `(B, T, F)`: the mel made
    /// linear, times the filterbank's pseudo-inverse, floored at the mel's own floor.
    fn log_prior(&self, mel: Tensor<3>, pinv: &[f32]) -> Tensor<3> {
        let [b, m, _] = mel.dims();
        let f = self.config.n_freqs();
        let ln_base = match self.config.mel.log_base {
            LogBase::Ten => std::f32::consts::LN_10,
            LogBase::E => 1.0,
        };
        let pinv = Tensor::<2>::from_data(TensorData::new(pinv.to_vec(), [m, f]), &mel.device()).unsqueeze_dim::<3>(0).expand([b, m, f]);
        let linear = mel.mul_scalar(ln_base).exp().swap_dims(1, 2).matmul(pinv);
        linear.clamp_min(self.config.mel.clamp_min).log()
    }

    /// Mel `(B, n_mels, T)` -> waveform `(B, T * hop)` through `istft` (built for this
    /// configuration's `n_fft` and hop, on the network's device).
    pub fn forward(&self, mel: Tensor<3>, istft: &InverseStft) -> Result<Tensor<2>, DecoderError> {
        let (re, im) = self.spectrum(mel)?;
        Ok(istft.forward(re, im))
    }

    /// The inverse STFT this network's output needs, on `device`.
    pub fn inverse_stft(&self, device: &Device) -> InverseStft {
        InverseStft::new(self.config.mel.n_fft, self.config.mel.hop, device)
    }

    /// Number of parameters.
    pub fn num_params(&self) -> usize {
        Module::num_params(self)
    }
}

/// `<weights>.json`: the metadata beside a vocoder's weights.
pub fn meta_path(weights: &Path) -> std::path::PathBuf {
    weights.with_extension("json")
}

/// Writes `net` as `dtype` safetensors at `path` and its metadata beside it, each through a
/// temporary file renamed into place.
pub fn save_vocoder(net: &Vocos, meta: &VocoderMeta, path: &Path, dtype: DType) -> anyhow::Result<()> {
    use anyhow::Context;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = tempfile::Builder::new().prefix(".foley-").suffix(".safetensors").tempfile_in(dir)?.into_temp_path();
    net.save(&tmp, dtype)?;
    let json = tempfile::Builder::new().prefix(".foley-").suffix(".json").tempfile_in(dir)?.into_temp_path();
    std::fs::write(&json, serde_json::to_string_pretty(meta)?)?;
    tmp.persist(path).with_context(|| format!("writing {}", path.display()))?;
    json.persist(meta_path(path)).with_context(|| format!("writing {}", meta_path(path).display()))?;
    Ok(())
}

/// A trained vocoder ready to decode: the network, its inverse STFT and its metadata.
pub struct Vocoder {
    pub net: Vocos,
    pub meta: VocoderMeta,
    istft: InverseStft,
}

impl Vocoder {
    /// Weights saved by [`save_vocoder`] (`<name>.safetensors` + `<name>.json`).
    pub fn load(path: &Path, device: &Device) -> Result<Self, DecoderError> {
        let json = meta_path(path);
        let text = std::fs::read_to_string(&json).map_err(|e| DecoderError::Config(format!("{}: cannot read the vocoder's metadata: {e}", json.display())))?;
        let meta: VocoderMeta = serde_json::from_str(&text).map_err(|e| DecoderError::Config(format!("{}: not vocoder metadata: {e}", json.display())))?;
        let net = Vocos::load(&meta.vocos, path, device)?;
        Ok(Self { istft: net.inverse_stft(device), net, meta })
    }

    /// The mel geometry the vocoder reads.
    pub fn mel_config(&self) -> &foley_seq::MelConfig {
        &self.meta.vocos.mel
    }

    /// A log-mel (MMAudio's geometry, mel-major as [`foley_dsp::Mel`]) -> `n_frames * hop` samples.
    pub fn decode(&self, mel: &foley_dsp::Mel) -> Result<Vec<f32>, DecoderError> {
        let device = self.istft_device();
        let x = Tensor::<3>::from_data(TensorData::new(mel.data.clone(), [1, mel.n_mels, mel.n_frames]), &device);
        let y = self.net.forward(x, &self.istft)?;
        y.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| DecoderError::Input(format!("vocoder output: {e:?}")))
    }

    fn istft_device(&self) -> Device {
        self.net.head.weight.val().device()
    }
}

/// Environment variable naming the vocoder to use instead of the shipped one.
pub const VOCODER_MODEL_ENV: &str = "FOLEY_VOCODER_MODEL";

/// The shipped vocoder: `$FOLEY_VOCODER_MODEL` if set, else `models/vocoder/vocoder.safetensors`
/// of the source tree this crate was built from (trained by `foley train vocoder`).
pub fn default_model_path() -> std::path::PathBuf {
    match std::env::var_os(VOCODER_MODEL_ENV) {
        Some(path) if !path.is_empty() => path.into(),
        // crates/foley-decoder -> the repository root.
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap_or(Path::new(".")).join("models/vocoder/vocoder.safetensors"),
    }
}
