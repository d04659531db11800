//! Network configuration, keyed by MMAudio's own constructor argument names.

use std::path::Path;

use foley_seq::SequenceConfig;
use serde::{Deserialize, Serialize};

use crate::FlowError;

/// Hyper-parameters of the flow network.
///
/// Field names are those of MMAudio's `MMAudio.__init__`, so a JSON object written for the
/// PyTorch constructor deserializes as is. The three SALSA-V extensions are off by default;
/// with all of them off the network is exactly MMAudio's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowConfig {
    /// Channels of the audio latent (20 at 16 kHz, 40 at 44.1 kHz).
    pub latent_dim: usize,
    /// Channels of the semantic (CLIP) video features.
    pub clip_dim: usize,
    /// Channels of the synchronisation (Synchformer) features.
    pub sync_dim: usize,
    /// Channels of the text features.
    pub text_dim: usize,
    /// Width of every transformer stream.
    pub hidden_dim: usize,
    /// Total number of blocks (joint + fused).
    pub depth: usize,
    /// Number of audio-only blocks at the end.
    pub fused_depth: usize,
    /// Attention heads; `hidden_dim / num_heads` is the head width.
    pub num_heads: usize,
    /// Feed-forward expansion before MMAudio's 2/3 SwiGLU rounding.
    #[serde(default = "default_mlp_ratio")]
    pub mlp_ratio: f64,
    /// Number of latent frames.
    pub latent_seq_len: usize,
    /// Number of CLIP frames.
    pub clip_seq_len: usize,
    /// Number of sync tokens (a multiple of 8).
    pub sync_seq_len: usize,
    /// Number of text tokens.
    #[serde(default = "default_text_seq_len")]
    pub text_seq_len: usize,
    /// MMAudio v2 layout (SiLU input projections, v2 timestep frequencies).
    #[serde(default)]
    pub v2: bool,
    /// SALSA-V extensions (all off = MMAudio).
    #[serde(default, skip_serializing_if = "Extensions::is_none")]
    pub extensions: Extensions,
}

/// SALSA-V additions to the MMAudio network. Each adds parameters under new keys, so an
/// MMAudio checkpoint's keys and numbers are untouched when every flag is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extensions {
    /// Masked audio conditioning: known latents and a 0/1 frame mask enter the audio input
    /// projection as `latent_dim + 1` extra input channels (`audio_input_proj.0.cond_weight`).
    #[serde(default)]
    pub masked_audio: bool,
    /// Shortcut conditioning: a step-size embedding `d_embed(d)` added to the global
    /// conditioning (`d = 0` is plain flow matching).
    #[serde(default)]
    pub shortcut: bool,
    /// MMDiT-X: an extra audio-only self-attention inside every joint block's latent stream.
    #[serde(default)]
    pub audio_self_attn: bool,
    /// Foley-Flow's time-varying video conditions: the projected sync features and the
    /// projected CLIP features (nearest-exact upsampled to the latent length) are also added to
    /// the audio tokens after their input projection (`aligned_sync_proj`, `aligned_clip_proj`),
    /// so every audio frame sees what happens at its time in its residual stream, not only
    /// through the adaLN modulation.
    #[serde(default)]
    pub aligned_video: bool,
}

impl Extensions {
    /// True when the network is plain MMAudio.
    pub fn is_none(&self) -> bool {
        *self == Self::default()
    }
}

fn default_mlp_ratio() -> f64 {
    4.0
}

fn default_text_seq_len() -> usize {
    77
}

/// Names of the released MMAudio configurations.
pub const RELEASED: [&str; 5] = ["small_16k", "small_44k", "medium_44k", "large_44k", "large_44k_v2"];

impl FlowConfig {
    /// One of MMAudio's released configurations (`small_16k`, `small_44k`, `medium_44k`,
    /// `large_44k`, `large_44k_v2`), at its native 8 s lengths.
    pub fn released(name: &str) -> Result<Self, FlowError> {
        let (latent_dim, heads, depth, fused_depth, v2, seq) = match name {
            "small_16k" => (20, 7, 12, 8, false, SequenceConfig::mmaudio_16k(8.0)),
            "small_44k" => (40, 7, 12, 8, false, SequenceConfig::mmaudio_44k(8.0)),
            "medium_44k" => (40, 14, 12, 8, false, SequenceConfig::mmaudio_44k(8.0)),
            "large_44k" => (40, 14, 21, 14, false, SequenceConfig::mmaudio_44k(8.0)),
            "large_44k_v2" => (40, 14, 21, 14, true, SequenceConfig::mmaudio_44k(8.0)),
            other => {
                return Err(FlowError::Config(format!("unknown configuration `{other}` (known: {})", RELEASED.join(", "))));
            }
        };
        let config = Self {
            latent_dim,
            clip_dim: 1024,
            sync_dim: 768,
            text_dim: 1024,
            hidden_dim: 64 * heads,
            depth,
            fused_depth,
            num_heads: heads,
            mlp_ratio: 4.0,
            latent_seq_len: 0,
            clip_seq_len: 0,
            sync_seq_len: 0,
            text_seq_len: 77,
            v2,
            extensions: Extensions::default(),
        };
        Ok(config.with_sequence(&seq))
    }

    /// Read a JSON file of MMAudio constructor arguments.
    pub fn from_json_file(path: &Path) -> Result<Self, FlowError> {
        let text = std::fs::read_to_string(path).map_err(|e| FlowError::Config(format!("{}: {e}", path.display())))?;
        let config: Self = serde_json::from_str(&text).map_err(|e| FlowError::Config(format!("{}: {e}", path.display())))?;
        config.validate().map_err(|e| FlowError::Config(format!("{}: {e}", path.display())))?;
        Ok(config)
    }

    /// The same network with sequence lengths for `seq`'s duration.
    pub fn with_sequence(mut self, seq: &SequenceConfig) -> Self {
        self.latent_seq_len = seq.latent_seq_len();
        self.clip_seq_len = seq.clip_seq_len();
        self.sync_seq_len = seq.sync_seq_len();
        self
    }

    /// Check the invariants the network relies on.
    pub fn validate(&self) -> Result<(), String> {
        if self.num_heads == 0 || self.hidden_dim % self.num_heads != 0 {
            return Err(format!("hidden_dim {} is not a multiple of num_heads {}", self.hidden_dim, self.num_heads));
        }
        if self.head_dim() % 2 != 0 {
            return Err(format!("head width {} must be even for RoPE", self.head_dim()));
        }
        if self.fused_depth >= self.depth {
            return Err(format!("fused_depth {} must be below depth {}", self.fused_depth, self.depth));
        }
        if self.sync_seq_len % SYNC_TOKENS_PER_SEGMENT != 0 {
            return Err(format!("sync_seq_len {} is not a multiple of {SYNC_TOKENS_PER_SEGMENT}", self.sync_seq_len));
        }
        let lens = [self.latent_seq_len, self.clip_seq_len, self.sync_seq_len, self.text_seq_len];
        if lens.contains(&0) {
            return Err(format!("sequence lengths must be positive, got {lens:?}"));
        }
        Ok(())
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_dim / self.num_heads
    }

    /// Number of joint (latent + clip + text) blocks.
    pub fn joint_depth(&self) -> usize {
        self.depth - self.fused_depth
    }

    /// Hidden width of MMAudio's SwiGLU MLPs: `2/3 * mlp_ratio * dim`, rounded up to 256.
    pub fn mlp_hidden_dim(&self) -> usize {
        swiglu_hidden((self.hidden_dim as f64 * self.mlp_ratio) as usize)
    }
}

/// Synchformer emits 8 feature frames per video segment.
pub const SYNC_TOKENS_PER_SEGMENT: usize = 8;

/// MMAudio's (and SD3's) SwiGLU width rule: `int(2 * hidden / 3)` rounded up to a
/// multiple of 256.
pub fn swiglu_hidden(hidden: usize) -> usize {
    let multiple_of = 256;
    let h = 2 * hidden / 3;
    multiple_of * h.div_ceil(multiple_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_small_16k_matches_mmaudio() {
        let c = FlowConfig::released("small_16k").unwrap();
        assert_eq!((c.hidden_dim, c.mlp_hidden_dim(), c.joint_depth()), (448, 1280, 4));
        assert_eq!((c.latent_seq_len, c.clip_seq_len, c.sync_seq_len), (250, 64, 192));
        let l = FlowConfig::released("large_44k_v2").unwrap();
        assert_eq!((l.hidden_dim, l.mlp_hidden_dim(), l.latent_seq_len, l.v2), (896, 2560, 345, true));
    }

    #[test]
    fn lengths_follow_the_duration() {
        let c = FlowConfig::released("small_16k").unwrap().with_sequence(&SequenceConfig::mmaudio_16k(4.0));
        assert_eq!((c.latent_seq_len, c.clip_seq_len, c.sync_seq_len), (125, 32, 88));
    }

    #[test]
    fn mmaudio_json_parses_and_unknown_fields_are_rejected() {
        let json = r#"{"latent_dim": 8, "clip_dim": 32, "sync_dim": 16, "text_dim": 24, "hidden_dim": 128,
            "num_heads": 2, "depth": 5, "fused_depth": 3, "latent_seq_len": 40, "clip_seq_len": 8,
            "sync_seq_len": 24, "text_seq_len": 6, "v2": true}"#;
        let c: FlowConfig = serde_json::from_str(json).unwrap();
        assert!(c.v2 && c.extensions.is_none() && c.validate().is_ok());
        assert!(serde_json::from_str::<FlowConfig>(&json.replace("\"v2\"", "\"v3\"")).is_err());
    }
}
