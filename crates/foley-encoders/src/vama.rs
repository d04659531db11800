//! VAMA (Foley-Flow's masked audio-visual alignment): hide most audio tokens of a window and
//! reconstruct their mel frames from the frame-wise video tokens and the audio left visible,
//! through cross-attention. Trained alone it pretrains the sync backbone's two encoders (the
//! video encoder must say what the hidden audio is, and when); trained with InfoNCE it is an
//! auxiliary loss. The mask ratio is configurable (default 0.8).

use burn::module::{Module, Param};
use burn::nn::attention::{MhaInput, MultiHeadAttention, MultiHeadAttentionConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use foley_kernels::conv::gelu;

use crate::sync::{SYNC_MEL, SyncConfig, SyncModel};

/// Default fraction of audio tokens hidden per window.
pub const DEFAULT_MASK_RATIO: f64 = 0.8;

/// Cross-attention reconstructor of masked audio tokens.
#[derive(Module, Debug)]
pub struct Vama {
    /// Added to the tokens of hidden positions.
    mask_embed: Param<Tensor<1>>,
    /// Learned position of each token in the window (shared by both modalities).
    position: Param<Tensor<2>>,
    norm_query: LayerNorm,
    norm_context: LayerNorm,
    cross: MultiHeadAttention,
    norm_mlp: LayerNorm,
    mlp_in: Linear,
    mlp_out: Linear,
    predict: Linear,
    mels_per_token: usize,
}

impl Vama {
    pub fn new(config: &SyncConfig, device: &Device) -> Self {
        let d = config.dim;
        let mels_per_token = config.window_mels() / config.tokens_per_window;
        let small = Initializer::Normal { mean: 0.0, std: 0.02 };
        Self {
            mask_embed: small.init([d], device),
            position: small.init([config.tokens_per_window, d], device),
            norm_query: LayerNormConfig::new(d).init(device),
            norm_context: LayerNormConfig::new(d).init(device),
            cross: MultiHeadAttentionConfig::new(d, 4).with_dropout(0.0).init(device),
            norm_mlp: LayerNormConfig::new(d).init(device),
            mlp_in: LinearConfig::new(d, 4 * d).init(device),
            mlp_out: LinearConfig::new(4 * d, d).init(device),
            predict: LinearConfig::new(d, mels_per_token * SYNC_MEL.n_mels).init(device),
            mels_per_token,
        }
    }

    /// Reconstructed mel patches `[b, k, mels_per_token * n_mels]` (frame-major inside a patch)
    /// of a window whose audio tokens flagged in `mask` (`[b, k]`, 1 = hidden) are hidden.
    ///
    /// `frames`: `[b, t, 6, s, s]`; `mel`: `[b, n_mels, m]` (the full window; hidden frames are
    /// zeroed here before the audio encoder sees them).
    pub fn reconstruct(&self, sync: &SyncModel, frames: Tensor<5>, mel: Tensor<3>, mask: Tensor<2>) -> Tensor<3> {
        let [b, _, m] = mel.dims();
        let k = mask.dims()[1];
        // Token mask spread over its mel frames: [b, k] -> [b, 1, m].
        let frame_mask = mask.clone().unsqueeze_dim::<3>(2).repeat_dim(2, m / k).reshape([b, 1, m]);
        let visible_mel = mel * (frame_mask.neg() + 1.0);
        let position = self.position.val().unsqueeze_dim::<3>(0);
        let d = position.dims()[2];
        let audio = sync.audio.forward(visible_mel) + mask.unsqueeze_dim::<3>(2) * self.mask_embed.val().reshape([1, 1, d]) + position.clone();
        let video = sync.video.forward(frames) + position;
        // Queries: every audio token; keys/values: the video tokens and the audio tokens.
        let context = self.norm_context.forward(Tensor::cat(vec![video, audio.clone()], 1));
        let query = self.norm_query.forward(audio.clone());
        let x = audio + self.cross.forward(MhaInput::new(query, context.clone(), context)).context;
        let x = x.clone() + self.mlp_out.forward(gelu(self.mlp_in.forward(self.norm_mlp.forward(x))));
        self.predict.forward(x)
    }

    /// Mean squared error over the hidden tokens only (MAE's objective).
    pub fn loss(&self, sync: &SyncModel, frames: Tensor<5>, mel: Tensor<3>, mask: Tensor<2>) -> Tensor<1> {
        let per_token = self.token_errors(sync, frames, mel, mask.clone());
        let hidden = mask.clone().sum().clamp_min(1.0);
        (per_token * mask).sum().div(hidden)
    }

    /// Reconstruction error of each window `[b]`, averaged over its hidden tokens: low when the
    /// video explains the hidden audio, which makes VAMA usable as an alignment score.
    pub fn window_errors(&self, sync: &SyncModel, frames: Tensor<5>, mel: Tensor<3>, mask: Tensor<2>) -> Tensor<1> {
        let per_token = self.token_errors(sync, frames, mel, mask.clone());
        let hidden = mask.clone().sum_dim(1).clamp_min(1.0);
        (per_token * mask).sum_dim(1).div(hidden).squeeze_dim(1)
    }

    /// Squared error per token `[b, k]`.
    fn token_errors(&self, sync: &SyncModel, frames: Tensor<5>, mel: Tensor<3>, mask: Tensor<2>) -> Tensor<2> {
        let target = mel_patches(mel.clone(), mask.dims()[1]);
        let prediction = self.reconstruct(sync, frames, mel, mask);
        (prediction - target).powf_scalar(2.0).mean_dim(2).squeeze_dim::<2>(2)
    }

    /// Mel frames per token.
    pub fn mels_per_token(&self) -> usize {
        self.mels_per_token
    }
}

/// `[b, n_mels, m]` -> `[b, k, (m / k) * n_mels]`: the mel frames of each token, frame-major.
pub fn mel_patches(mel: Tensor<3>, k: usize) -> Tensor<3> {
    let [b, n_mels, m] = mel.dims();
    mel.swap_dims(1, 2).reshape([b, k, (m / k) * n_mels])
}
