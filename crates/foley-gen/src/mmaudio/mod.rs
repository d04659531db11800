//! MMAudio end to end (Cheng et al., CVPR 2025) from its released weights: CLIP frame and text
//! features, Synchformer sync features, the flow network sampled with Euler and
//! classifier-free guidance against a negative prompt, the VAE's decoder and BigVGAN — the
//! composition of the official `eval_utils.generate`, on foley's ports of each part.
//!
//! * [`variant`]: the released models (`small_16k` ... `large_44k_v2`), the files each needs
//!   and how they are found in a user's weights directory.
//! * [`window`]: the pipeline as a long-form window generator (any length).
//! * [`bench`]: `foley mmaudio bench`, each part timed on random weights of its released size.
//! * [`check`]: `foley mmaudio check`, each component (or the whole pipeline) on tensors from a
//!   file, for comparison with the official code's outputs.

pub mod bench;
pub mod check;
pub mod variant;
pub mod window;

use anyhow::{Context, Result, ensure};
use burn::tensor::{Device, Int, Tensor, TensorData};
use foley_decoder::bigvgan::BigVgan;
use foley_decoder::vae::Vae;
use foley_encoders::clip::{Clip, ClipTokenizer};
use foley_encoders::synchformer::Synchformer;
use foley_flow::sampler::{Guided, KnownFrames, euler, linspace_schedule};
use foley_flow::{ExtraInputs, FlowNetwork};

pub use variant::{MmaudioFiles, Variant};
pub use window::MmaudioWindows;

/// CLIP frames encoded per batch: the ViT-H tower's attention over 730 tokens would need
/// gigabytes for a whole clip at once; 8 frames keep the matmuls large.
pub const CLIP_BATCH: usize = 8;

/// Synchformer segments encoded per batch (each is 16 frames x 197 tokens; a whole 8 s window's
/// 24 at once would hold ~0.7 GB of attention scores).
pub const SYNC_BATCH: usize = 4;

/// MMAudio's sampling defaults (`demo.py`): Euler, 25 steps, guidance 4.5.
pub const DEFAULT_STEPS: usize = 25;
/// Guidance weight of MMAudio's demo.
pub const DEFAULT_CFG: f32 = 4.5;

/// The six networks of MMAudio's pipeline and the CLIP tokenizer (clones share the weights).
#[derive(Debug, Clone)]
pub struct Mmaudio {
    pub clip: Clip,
    pub tokenizer: ClipTokenizer,
    pub synchformer: Synchformer,
    pub net: FlowNetwork,
    pub vae: Vae,
    pub vocoder: BigVgan,
    pub device: Device,
}

/// The conditions of one clip, as `eval_utils.generate` computes them (batch 1).
#[derive(Debug, Clone)]
pub struct MmaudioFeatures {
    /// `(1, clip frames, clip dim)` normalized CLIP image embeddings.
    pub clip_f: Tensor<3>,
    /// `(1, 8 * segments, sync dim)` Synchformer tokens.
    pub sync_f: Tensor<3>,
    /// `(1, 77, text dim)` CLIP text token states.
    pub text_f: Tensor<3>,
    /// The negative prompt's token states (`None`: the network's learned empty string).
    pub negative_text_f: Option<Tensor<3>>,
}

impl Mmaudio {
    /// CLIP image features of frames `(T, 3, S, S)` (values 0..255): `(1, T, embed_dim)`.
    pub fn clip_features(&self, frames: Tensor<4>) -> Result<Tensor<3>> {
        let t = frames.dims()[0];
        ensure!(t > 0, "no CLIP frames");
        let mut parts = Vec::with_capacity(t.div_ceil(CLIP_BATCH));
        for start in (0..t).step_by(CLIP_BATCH) {
            parts.push(self.clip.encode_image(frames.clone().narrow(0, start, CLIP_BATCH.min(t - start)))?);
        }
        Ok(Tensor::cat(parts, 0).unsqueeze_dim(0))
    }

    /// Synchformer features of 25 fps frames `(T, 3, 224, 224)` (values 0..255).
    pub fn sync_features(&self, frames: Tensor<4>) -> Result<Tensor<3>> {
        use foley_encoders::synchformer::{SEGMENT_FRAMES, SEGMENT_STEP, segment_count};
        let segments = segment_count(frames.dims()[0]);
        ensure!(segments > 0, "{} sync frames: Synchformer needs at least {SEGMENT_FRAMES}", frames.dims()[0]);
        let mut parts = Vec::with_capacity(segments.div_ceil(SYNC_BATCH));
        for first in (0..segments).step_by(SYNC_BATCH) {
            // Segments first..first+n read frames from first*step, 16 + (n - 1) * step of them.
            let n = SYNC_BATCH.min(segments - first);
            parts.push(self.synchformer.encode_frames(frames.clone().narrow(0, first * SEGMENT_STEP, SEGMENT_FRAMES + (n - 1) * SEGMENT_STEP))?);
        }
        Ok(Tensor::cat(parts, 1))
    }

    /// Token ids of `text` through open_clip's tokenizer, `(1, context)`.
    pub fn text_ids(&self, text: &str) -> Tensor<2, Int> {
        let context = self.net.config.text_seq_len;
        let ids: Vec<i64> = self.tokenizer.encode(text, context).into_iter().map(i64::from).collect();
        Tensor::from_data(TensorData::new(ids, [1, context]), &self.device)
    }

    /// CLIP text token states of `text`, `(1, 77, width)`.
    pub fn text_features(&self, text: &str) -> Result<Tensor<3>> {
        self.clip.encode_text(self.text_ids(text))
    }

    /// All conditions of a clip.
    pub fn features(&self, clip_frames: Tensor<4>, sync_frames: Tensor<4>, prompt: &str, negative: Option<&str>) -> Result<MmaudioFeatures> {
        Ok(MmaudioFeatures {
            clip_f: self.clip_features(clip_frames)?,
            sync_f: self.sync_features(sync_frames)?,
            text_f: self.text_features(prompt)?,
            negative_text_f: negative.map(|n| self.text_features(n)).transpose()?,
        })
    }

    /// Euler sampling from noise `x0` `(1, latent_seq_len, latent_dim)` to the unnormalized
    /// latent, guided with weight `cfg` against the empty conditions (with the negative
    /// prompt). `known` frames, if any, are imposed by replacement at every step (MMAudio's
    /// networks have no mask channels). The network's sequence lengths must match the features.
    pub fn sample(
        &self,
        features: &MmaudioFeatures,
        x0: Tensor<3>,
        steps: usize,
        cfg: f32,
        known: Option<KnownFrames>,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Tensor<3>> {
        ensure!(steps >= 1, "at least one sampling step");
        let f = features;
        let cond = self.net.preprocess_conditions(f.clip_f.clone(), f.sync_f.clone(), f.text_f.clone())?;
        let uncond = self.net.empty_conditions(1, f.negative_text_f.clone())?;
        let mut guided = Guided::new(cond, &uncond, cfg);
        if let Some(known) = known {
            guided = guided.with_known(known);
        }
        let x1 = euler(&self.net, x0, &guided, &linspace_schedule(steps), &ExtraInputs::default(), progress)?;
        Ok(self.net.unnormalize(x1))
    }

    /// An unnormalized latent `(1, N, latent_dim)` -> the VAE's mel `(1, mels, 2N)` and
    /// BigVGAN's waveform `(1, 1, 2N * hop)`.
    pub fn decode(&self, latent: Tensor<3>) -> Result<(Tensor<3>, Tensor<3>)> {
        let mel = self.vae.decode(latent.swap_dims(1, 2)).context("VAE decoder")?;
        let wav = self.vocoder.forward(mel.clone()).context("vocoder")?;
        Ok((mel, wav))
    }
}
