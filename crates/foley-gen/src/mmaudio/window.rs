//! MMAudio as a [`WindowModel`]: its released networks generate any length through the
//! long-form planner. Its flow network has no mask channels, so known latents (the previous
//! window's overlap, kept audio) are imposed by replacement at every Euler step
//! (`foley_flow::sampler::KnownFrames`); given audio enters through the VAE's encoder.

use std::path::Path;

use anyhow::{Context, Result, ensure};
use burn::tensor::{DType, Device, Tensor, TensorData};
use foley_decoder::bigvgan::BigVgan;
use foley_decoder::vae::Vae;
use foley_encoders::ModelCache;
use foley_encoders::clip::{Clip, ClipConfig, ClipTokenizer};
use foley_encoders::synchformer::{Synchformer, SynchformerConfig};
use foley_flow::FlowNetwork;
use foley_flow::io::to_raw;
use foley_flow::sampler::{KnownFrames, initial_noise};
use foley_media::{Frame, Resize};
use foley_seq::SequenceConfig;

use super::{Mmaudio, MmaudioFeatures, Variant};
use crate::generate::{KnownAudio, SampleOptions, Sampler, pad_frames};
use crate::windows::{Crossfade, WindowModel};

/// CLIP's input side (DFN5B-CLIP ViT-H/14-384).
pub const CLIP_SIZE: u32 = 384;
/// Synchformer's input side.
pub const SYNC_SIZE: u32 = 224;

/// A loaded MMAudio pipeline with its text conditions.
#[derive(Debug, Clone)]
pub struct MmaudioWindows {
    pub mmaudio: Mmaudio,
    /// The rates of its audio (16 kHz or 44.1 kHz) and the window it was trained on.
    pub window: SequenceConfig,
    text_f: Option<Tensor<3>>,
    negative_text_f: Option<Tensor<3>>,
}

impl MmaudioWindows {
    /// Load every part of `variant` from the user's weights directory `dir` (the flow network
    /// in `dtype`: f32, or bf16 to halve its memory).
    pub fn load(variant: Variant, dir: &Path, dtype: DType, cache: &ModelCache, device: &Device) -> Result<Self> {
        let files = super::MmaudioFiles::find(variant, dir)?;
        let net = FlowNetwork::load_as(&variant.flow()?, &files.network, device, dtype)?;
        let mmaudio = Mmaudio {
            clip: Clip::load(&ClipConfig::released(), &files.clip, device)?,
            tokenizer: ClipTokenizer::from_cache(cache)?,
            synchformer: Synchformer::load(&SynchformerConfig::released(), &files.synchformer, device)?,
            net,
            vae: Vae::load(&variant.vae()?, &files.vae, device)?,
            vocoder: BigVgan::load(&variant.vocoder()?, &files.vocoder, device)?,
            device: device.clone(),
        };
        // Every released network was trained on 8 s clips.
        Ok(Self::new(mmaudio, variant.sequence(8.0)))
    }

    /// Any pipeline (e.g. other sizes), trained on windows of `window.duration` seconds.
    pub fn new(mmaudio: Mmaudio, window: SequenceConfig) -> Self {
        Self { mmaudio, window, text_f: None, negative_text_f: None }
    }

    /// Frames `(T, 3, S, S)` with values 0..255 from decoded RGB frames.
    fn frames_tensor(&self, frames: &[Frame]) -> Result<Tensor<4>> {
        let first = frames.first().context("a window without video frames")?;
        let (w, h) = (first.width as usize, first.height as usize);
        let mut data = Vec::with_capacity(frames.len() * 3 * w * h);
        for f in frames {
            ensure!(f.width as usize == w && f.height as usize == h, "frames of different sizes");
            data.extend(f.to_chw_with(f32::from));
        }
        Ok(Tensor::from_data(TensorData::new(data, [frames.len(), 3, h, w]), &self.mmaudio.device))
    }
}

impl WindowModel for MmaudioWindows {
    type Features = MmaudioFeatures;

    fn sequence(&self, duration: f64) -> SequenceConfig {
        SequenceConfig { duration, ..self.window }
    }

    fn window_duration(&self) -> f64 {
        self.window.duration
    }

    fn token_channels(&self, _seq: &SequenceConfig) -> usize {
        self.mmaudio.net.config.latent_dim
    }

    fn frame_sizes(&self) -> (Resize, Resize) {
        (Resize::Squash { width: CLIP_SIZE, height: CLIP_SIZE }, Resize::CropSquare(SYNC_SIZE))
    }

    fn set_text(&mut self, prompt: Option<&str>, negative: Option<&str>) -> Result<()> {
        // MMAudio encodes a missing prompt as the empty string through CLIP.
        self.text_f = Some(self.mmaudio.text_features(prompt.unwrap_or(""))?);
        self.negative_text_f = negative.map(|n| self.mmaudio.text_features(n)).transpose()?;
        Ok(())
    }

    fn features(&mut self, semantic: Vec<Frame>, sync: Vec<Frame>, seq: &SequenceConfig) -> Result<MmaudioFeatures> {
        let clip = self.frames_tensor(&pad_frames(semantic, seq.clip_seq_len())?)?;
        let sync = self.frames_tensor(&pad_frames(sync, seq.sync_frames_read())?)?;
        Ok(MmaudioFeatures {
            clip_f: self.mmaudio.clip_features(clip)?,
            sync_f: self.mmaudio.sync_features(sync)?,
            text_f: self.text_f.clone().context("text conditions are set before the first window")?,
            negative_text_f: self.negative_text_f.clone(),
        })
    }

    fn sample(&mut self, seq: &SequenceConfig, features: &MmaudioFeatures, known: Option<&KnownAudio>, options: &SampleOptions) -> Result<Vec<f32>> {
        let Sampler::Euler(steps) = options.sampler else {
            anyhow::bail!("MMAudio's networks sample with Euler steps (--sampler euler), not the shortcut sampler");
        };
        let m = &mut self.mmaudio;
        let (n, c) = (seq.latent_seq_len(), m.net.config.latent_dim);
        m.net.update_seq_lengths(n, seq.clip_seq_len(), seq.sync_seq_len());
        let x0 = initial_noise(options.seed, [1, n, c], &m.device);
        let imposed = known.map(|k| {
            let x1 = m.net.normalize(Tensor::from_data(TensorData::new(k.tokens.clone(), [1, n, c]), &m.device));
            let mask = Tensor::<2>::from_data(TensorData::new(k.mask.clone(), [1, n]), &m.device).unsqueeze_dim(2);
            KnownFrames { x0: x0.clone(), x1, mask }
        });
        let latent = m.sample(features, x0, steps, options.cfg, imposed, &mut |_, _| {})?;
        let mut tokens = to_raw(latent).data;
        // Replacement leaves the known latents exact but for normalization's rounding: keep them bit for bit.
        if let Some(k) = known {
            for (i, _) in k.mask.iter().enumerate().filter(|(_, m)| **m == 1.0) {
                tokens[i * c..(i + 1) * c].copy_from_slice(&k.tokens[i * c..(i + 1) * c]);
            }
        }
        Ok(tokens)
    }

    fn decode(&mut self, tokens: &[f32], seq: &SequenceConfig, _seed: u64) -> Result<Vec<f32>> {
        let (n, c) = (seq.latent_seq_len(), self.mmaudio.net.config.latent_dim);
        ensure!(tokens.len() == n * c, "{} latent values for {n} tokens of {c}", tokens.len());
        let latent = Tensor::from_data(TensorData::new(tokens.to_vec(), [1, n, c]), &self.mmaudio.device);
        let (_, wav) = self.mmaudio.decode(latent)?;
        let mut wave = to_raw(wav).data;
        wave.resize(n * seq.samples_per_token(), 0.0);
        Ok(wave)
    }

    fn encode_audio(&mut self, wave: &[f32], seq: &SequenceConfig, tokens: usize) -> Result<Vec<f32>> {
        let mel = foley_dsp::MelSpectrogram::new(seq.mel).compute(wave);
        let mel = Tensor::<3>::from_data(TensorData::new(mel.data.clone(), [1, mel.n_mels, mel.n_frames]), &self.mmaudio.device);
        let (mean, _) = self.mmaudio.vae.encode(mel)?;
        // (1, C, N') -> token-major, the last token repeated to `tokens`.
        let raw = to_raw(mean.swap_dims(1, 2));
        let (have, c) = (raw.shape[1], raw.shape[2]);
        ensure!(have > 0, "no audio to encode");
        Ok((0..tokens).flat_map(|i| raw.data[i.min(have - 1) * c..(i.min(have - 1) + 1) * c].to_vec()).collect())
    }

    fn crossfade(&self) -> Crossfade {
        Crossfade::Linear
    }
}
