//! The training configuration: one TOML file describes a whole run (data, network, recipe,
//! output), so a run is reproduced by its file alone.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use foley_flow::{Extensions, FlowConfig};
use foley_seq::SequenceConfig;
use foley_weights::checkpoint::{read_toml, resolve_path};
use serde::{Deserialize, Serialize};

/// A training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Where checkpoints, the final model, the loss log and its plot go (relative paths are
    /// relative to the TOML file; `~/` is the home directory).
    pub out_dir: PathBuf,
    pub data: DataConfig,
    pub model: ModelConfig,
    pub train: RecipeConfig,
}

/// Which clips, and how they become inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Folders of `foley extract` shards (with sync features).
    pub shards: Vec<PathBuf>,
    /// Training window in seconds (clips are extracted at this length).
    #[serde(default = "default_duration")]
    pub duration: f64,
    /// Text auxiliary embedding: the clip's caption (MiniLM token states) or none (always the
    /// empty string).
    #[serde(default)]
    pub text: TextMode,
    /// Text tokens kept (padded with zeros / truncated).
    #[serde(default = "default_text_len")]
    pub text_seq_len: usize,
    /// Positional auxiliary embedding (VTA-LDM): sinusoidal time channels appended to every
    /// semantic frame feature.
    #[serde(default)]
    pub positional_channels: usize,
    /// VTA-LDM concat augmentation: probability that a training example is two clips joined at
    /// a random cut (all streams cut at the same time; its caption becomes empty).
    #[serde(default)]
    pub concat_prob: f64,
    /// CSV `id,score` of audio-visual alignment scores; with `min_alignment`, clips scoring
    /// below it are dropped from training (VTA-LDM's data filter).
    #[serde(default)]
    pub alignment_scores: Option<PathBuf>,
    #[serde(default)]
    pub min_alignment: Option<f64>,
    /// Standardize the semantic features per channel and the sync tokens per position in their
    /// segment and channel, with training-set statistics (kept with the model; see
    /// [`crate::features`]).
    #[serde(default)]
    pub standardize_video: bool,
    /// Append the timing envelope ([`crate::envelope`]) to the sync features: from the target
    /// mel in training, predicted from the video (`foley train envelope`) at generation.
    #[serde(default)]
    pub envelope: bool,
}

/// Caption conditioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextMode {
    #[default]
    Caption,
    None,
}

/// Size of the MM-DiT.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub hidden_dim: usize,
    /// Joint + fused blocks.
    pub depth: usize,
    pub fused_depth: usize,
    pub num_heads: usize,
    #[serde(default = "default_mlp_ratio")]
    pub mlp_ratio: f64,
    /// MMDiT-X extra audio self-attention in joint blocks.
    #[serde(default)]
    pub audio_self_attn: bool,
    /// Time-aligned video features added to the audio tokens (Foley-Flow's dynamic conditions).
    #[serde(default)]
    pub aligned_video: bool,
    /// How the weights start.
    #[serde(default)]
    pub init: InitScheme,
}

/// Initialization of a new generator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitScheme {
    /// PyTorch's default fan-in uniform for every weight (zero-initialized branches included).
    /// Measured here to leave the flow-matching plateau sooner than `mmaudio`.
    #[default]
    FanIn,
    /// MMAudio's `initialize_weights`: adaLN-zero, Xavier linears, zero final layer. At our
    /// batch size (12) and learning rates (5e-4, 8e-4) it stayed on the plateau (flow loss
    /// ~1.09) for the first 1000 steps in two runs.
    Mmaudio,
}

/// Optimizer and SALSA-V recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeConfig {
    pub steps: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub warmup_steps: usize,
    #[serde(default = "default_weight_decay")]
    pub weight_decay: f64,
    /// Global gradient-norm clip.
    #[serde(default = "default_clip")]
    pub grad_clip: f64,
    /// AdamW's second-moment decay; below 0.999 a rare huge gradient is forgotten sooner
    /// instead of scaling the next steps' updates for thousands of steps.
    #[serde(default = "default_beta2")]
    pub adam_beta2: f64,
    pub ema_decay: f64,
    /// Shortcut targets from the EMA weights (a slow target network, as the shortcut-models
    /// code offers) rather than the current ones.
    #[serde(default)]
    pub bootstrap_ema: bool,
    pub seed: u64,
    pub checkpoint_every: usize,
    /// Fraction of each batch trained on shortcut self-consistency targets.
    pub shortcut_fraction: f64,
    /// Smallest shortcut step is `2^-shortcut_levels` (7: 1/128).
    #[serde(default = "default_levels")]
    pub shortcut_levels: u32,
    /// CFG dropout of the video streams (semantic + sync) to the learned empty features.
    pub video_dropout: f64,
    /// CFG dropout of the caption to the empty string.
    pub text_dropout: f64,
    /// Known-audio mask mode probabilities (normalized).
    pub mask: MaskProbs,
    /// Start the semantic projection (`clip_input_proj`) from a VAMA-pretrained one
    /// (`foley train vama`; relative to the TOML file). Only a fresh run reads it.
    #[serde(default)]
    pub init_clip_proj: Option<PathBuf>,
}

/// Probabilities of SALSA-V's mask modes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskProbs {
    pub none: f64,
    pub spans: f64,
    pub prefix: f64,
    pub suffix: f64,
}

fn default_duration() -> f64 {
    8.0
}
fn default_text_len() -> usize {
    16
}
fn default_mlp_ratio() -> f64 {
    4.0
}
fn default_beta2() -> f64 {
    0.999
}

fn default_weight_decay() -> f64 {
    0.01
}
fn default_clip() -> f64 {
    1.0
}
fn default_levels() -> u32 {
    7
}

/// Channels of one latent token: two 80-bin mel frames.
pub fn token_channels(seq: &SequenceConfig) -> usize {
    seq.mel.n_mels * mel_frames_per_token(seq)
}

/// Mel frames per latent token (2 for MMAudio-16k's geometry: 62.5 / 31.25).
pub fn mel_frames_per_token(seq: &SequenceConfig) -> usize {
    (seq.mel.frames_per_second() / seq.latent_rate()).round() as usize
}

impl TrainConfig {
    /// Read and check a TOML file; relative paths become relative to its folder.
    pub fn from_file(path: &Path) -> Result<Self> {
        let (mut config, base): (Self, _) = read_toml(path)?;
        config.out_dir = resolve_path(&base, &config.out_dir);
        for s in &mut config.data.shards {
            *s = resolve_path(&base, s);
        }
        if let Some(p) = &mut config.data.alignment_scores {
            *p = resolve_path(&base, p);
        }
        if let Some(p) = &mut config.train.init_clip_proj {
            *p = resolve_path(&base, p);
        }
        config.validate().with_context(|| format!("{}", path.display()))?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<()> {
        let r = &self.train;
        ensure!(!self.data.shards.is_empty(), "data.shards is empty");
        ensure!(r.steps > 0 && r.batch_size > 0, "train.steps and train.batch_size must be positive");
        ensure!((0.0..=1.0).contains(&r.shortcut_fraction), "train.shortcut_fraction must be in [0, 1]");
        ensure!((0.0..1.0).contains(&r.ema_decay), "train.ema_decay must be in [0, 1)");
        ensure!(r.checkpoint_every > 0, "train.checkpoint_every must be positive");
        let m = r.mask;
        ensure!(
            [m.none, m.spans, m.prefix, m.suffix].iter().all(|p| *p >= 0.0) && m.none + m.spans + m.prefix + m.suffix > 0.0,
            "train.mask: probabilities must be >= 0 with a positive sum"
        );
        ensure!(self.data.min_alignment.is_none() || self.data.alignment_scores.is_some(), "data.min_alignment needs data.alignment_scores");
        self.flow_config(128).validate().map_err(|e| anyhow::anyhow!("model: {e}"))?;
        Ok(())
    }

    /// Sequence geometry of the training window.
    pub fn sequence(&self) -> SequenceConfig {
        SequenceConfig::mmaudio_16k(self.data.duration)
    }

    /// The flow network for sync features of width `sync_dim`.
    pub fn flow_config(&self, sync_dim: usize) -> FlowConfig {
        let seq = self.sequence();
        let m = &self.model;
        FlowConfig {
            latent_dim: token_channels(&seq),
            clip_dim: foley_encoders::efficientnet::FEATURE_DIM + self.data.positional_channels,
            sync_dim,
            text_dim: foley_encoders::bert::HIDDEN_DIM,
            hidden_dim: m.hidden_dim,
            depth: m.depth,
            fused_depth: m.fused_depth,
            num_heads: m.num_heads,
            mlp_ratio: m.mlp_ratio,
            latent_seq_len: 0,
            clip_seq_len: 0,
            sync_seq_len: 0,
            text_seq_len: self.data.text_seq_len,
            v2: true,
            extensions: Extensions { masked_audio: true, shortcut: true, audio_self_attn: m.audio_self_attn, aligned_video: m.aligned_video },
        }
        .with_sequence(&seq)
    }
}
