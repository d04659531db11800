//! Shared by the unit tests.

use foley_flow::{Extensions, FlowConfig};

/// A flow network small enough for unit tests (16 latent tokens of 8 channels, 4 semantic frames
/// of 32, 8 sync tokens of 16, 3 text tokens of 24).
pub(crate) fn tiny_flow_config(aligned_video: bool) -> FlowConfig {
    FlowConfig {
        latent_dim: 8,
        clip_dim: 32,
        sync_dim: 16,
        text_dim: 24,
        hidden_dim: 64,
        depth: 2,
        fused_depth: 1,
        num_heads: 2,
        mlp_ratio: 2.0,
        latent_seq_len: 16,
        clip_seq_len: 4,
        sync_seq_len: 8,
        text_seq_len: 3,
        v2: true,
        extensions: Extensions { masked_audio: true, shortcut: true, audio_self_attn: false, aligned_video },
    }
}
