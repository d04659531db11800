//! `foley train vocoder CONFIG.toml`: one TOML file describes a whole run.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use foley_seq::MelConfig;
use foley_weights::checkpoint::{read_toml, resolve_path};
use serde::{Deserialize, Serialize};

use crate::vocos::VocosConfig;

/// A vocoder training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VocoderTrainConfig {
    /// Checkpoints, the exported weights and the loss log (relative to the TOML file; `~/` is home).
    pub out_dir: PathBuf,
    #[serde(default)]
    pub data: DataConfig,
    #[serde(default)]
    pub model: ModelConfig,
    pub train: RecipeConfig,
}

/// Where the audio comes from and how it is cut.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// The corpus folder (`foley vocoder corpus`); default: its cache location.
    #[serde(default)]
    pub corpus: Option<PathBuf>,
    /// Mel frames per training segment (64 frames = 16384 samples, ~1 s at 16 kHz).
    pub segment_frames: usize,
    /// Each segment is scaled to a peak drawn uniformly in [min_peak_db, max_peak_db] dBFS, so
    /// the vocoder learns every level.
    pub min_peak_db: f64,
    pub max_peak_db: f64,
    /// Validation segments (from the corpus's validation files) scored every `validate_every` steps.
    pub validation_segments: usize,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self { corpus: None, segment_frames: 64, min_peak_db: -30.0, max_peak_db: -1.0, validation_segments: 64 }
    }
}

/// Size of the network (see [`VocosConfig`]); the mel is MMAudio's 16 kHz one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub dim: usize,
    pub intermediate: usize,
    pub layers: usize,
    pub kernel: usize,
    /// See [`VocosConfig::magnitude_prior`].
    #[serde(default)]
    pub magnitude_prior: bool,
}

impl Default for ModelConfig {
    fn default() -> Self {
        let c = VocosConfig::foley_16k();
        Self { dim: c.dim, intermediate: c.intermediate, layers: c.layers, kernel: c.kernel, magnitude_prior: c.magnitude_prior }
    }
}

/// The optimization recipe and the losses' weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeConfig {
    pub steps: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Linear warm-up, then cosine decay to `final_lr_fraction` of the rate at `steps`.
    pub warmup_steps: usize,
    #[serde(default = "default_final_lr_fraction")]
    pub final_lr_fraction: f64,
    #[serde(default = "default_beta1")]
    pub adam_beta1: f64,
    #[serde(default = "default_beta2")]
    pub adam_beta2: f64,
    #[serde(default)]
    pub weight_decay: f64,
    pub grad_clip: f64,
    pub seed: u64,
    pub checkpoint_every: usize,
    pub validate_every: usize,
    /// Weight of the L1 distance between log10 mels.
    pub mel_weight: f64,
    /// Weight of the multi-resolution STFT loss (spectral convergence + log-magnitude L1,
    /// averaged over `stft_resolutions`).
    pub stft_weight: f64,
    /// `(n_fft, hop)` of every resolution of the multi-resolution STFT loss.
    pub stft_resolutions: Vec<(usize, usize)>,
}

fn default_final_lr_fraction() -> f64 {
    0.1
}
fn default_beta1() -> f64 {
    0.8
}
fn default_beta2() -> f64 {
    0.9
}

impl VocoderTrainConfig {
    /// Reads and checks a run's TOML; paths become absolute.
    pub fn from_file(path: &Path) -> Result<Self> {
        let (mut config, base): (Self, _) = read_toml(path)?;
        config.out_dir = resolve_path(&base, &config.out_dir);
        if let Some(c) = &mut config.data.corpus {
            *c = resolve_path(&base, c);
        }
        config.validate().with_context(|| format!("{}", path.display()))?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<()> {
        let (r, d) = (&self.train, &self.data);
        ensure!(r.steps > 0 && r.batch_size > 0, "train.steps and train.batch_size must be positive");
        ensure!(r.checkpoint_every > 0 && r.validate_every > 0, "train.checkpoint_every and train.validate_every must be positive");
        ensure!(r.learning_rate > 0.0 && (0.0..=1.0).contains(&r.final_lr_fraction), "train.learning_rate must be positive and final_lr_fraction in [0, 1]");
        ensure!(d.segment_frames >= 8, "data.segment_frames must be at least 8");
        ensure!(d.min_peak_db <= d.max_peak_db && d.max_peak_db <= 0.0, "data: need min_peak_db <= max_peak_db <= 0");
        ensure!(
            r.mel_weight >= 0.0 && r.stft_weight >= 0.0 && r.mel_weight + r.stft_weight > 0.0,
            "train: loss weights must be >= 0, mel_weight + stft_weight > 0"
        );
        for &(n_fft, hop) in &r.stft_resolutions {
            ensure!(hop > 0 && n_fft >= 2 * hop, "train.stft_resolutions: ({n_fft}, {hop}) needs n_fft >= 2 hop > 0");
            ensure!(
                (n_fft - hop) / 2 < self.segment_samples(),
                "train.stft_resolutions: n_fft {n_fft} is too long for segments of {} samples",
                self.segment_samples()
            );
        }
        self.vocos().validate().map_err(anyhow::Error::from)
    }

    /// The network this run trains.
    pub fn vocos(&self) -> VocosConfig {
        let m = &self.model;
        VocosConfig {
            mel: MelConfig::MMAUDIO_16K,
            dim: m.dim,
            intermediate: m.intermediate,
            layers: m.layers,
            kernel: m.kernel,
            magnitude_prior: m.magnitude_prior,
        }
    }

    /// Samples per training segment.
    pub fn segment_samples(&self) -> usize {
        self.data.segment_frames * MelConfig::MMAUDIO_16K.hop
    }

    /// Learning rate at `step` (0-based): linear warm-up, then cosine decay.
    pub fn learning_rate(&self, step: usize) -> f64 {
        let r = &self.train;
        if step < r.warmup_steps {
            return r.learning_rate * (step + 1) as f64 / r.warmup_steps as f64;
        }
        let span = r.steps.saturating_sub(r.warmup_steps).max(1) as f64;
        let p = ((step - r.warmup_steps) as f64 / span).min(1.0);
        let floor = r.final_lr_fraction;
        r.learning_rate * (floor + (1.0 - floor) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos()))
    }
}
