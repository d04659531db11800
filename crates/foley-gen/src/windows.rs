//! What the long-form planner needs of a generator: audio for one fixed-length window of video
//! at a time, some of its latent tokens possibly known. [`EmbeddedModel`] is foley's own
//! generator (log-mel tokens, Griffin-Lim or foley's vocoder); `crate::mmaudio::MmaudioWindows` is MMAudio's
//! released pipeline (VAE latents, BigVGAN).

use anyhow::Result;
use foley_encoders::efficientnet;
use foley_encoders::sync::SyncConfig;
use foley_media::{Frame, Resize};
use foley_seq::SequenceConfig;

use crate::config::token_channels;
use crate::generate::{Encoders, KnownAudio, MelDecoder, SampleOptions, VideoFeatures, features_from_frames, sample_tokens, tokens_mel};
use crate::model::Generator;

/// How two windows' decodings of the same overlap are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crossfade {
    /// Equal power (`cos`/`sin`): the two are uncorrelated (Griffin-Lim's phases differ).
    EqualPower,
    /// Equal gain (`1 - x`/`x`): the two are nearly the same waveform (a neural decoder of the
    /// same latents), which an equal-power fade would make 3 dB louder.
    Linear,
}

/// A generator of fixed-length windows (see the module docs).
pub trait WindowModel {
    /// The conditions of one window.
    type Features;

    /// Rates and lengths of a window of `duration` seconds.
    fn sequence(&self, duration: f64) -> SequenceConfig;
    /// The longest window the model was trained on, seconds.
    fn window_duration(&self) -> f64;
    /// Values per latent token.
    fn token_channels(&self, seq: &SequenceConfig) -> usize;
    /// How semantic (clip-rate) and sync frames are resized for the encoders.
    fn frame_sizes(&self) -> (Resize, Resize);
    /// Encodes the prompt and the negative prompt once for all windows.
    fn set_text(&mut self, prompt: Option<&str>, negative: Option<&str>) -> Result<()>;
    /// The conditions of a window from its frames (`seq.clip_seq_len()` semantic frames at the
    /// clip rate, `seq.sync_frames_read()` sync frames; fewer when the video ends early).
    fn features(&mut self, semantic: Vec<Frame>, sync: Vec<Frame>, seq: &SequenceConfig) -> Result<Self::Features>;
    /// Raw tokens (token-major, `latent_seq_len x token_channels`) of a window; the known
    /// tokens of `known` are kept exactly.
    fn sample(&mut self, seq: &SequenceConfig, features: &Self::Features, known: Option<&KnownAudio>, options: &SampleOptions) -> Result<Vec<f32>>;
    /// The waveform of a window's tokens, exactly `seq.latent_seq_len() * seq.samples_per_token()`
    /// samples (the planner cuts the end).
    fn decode(&mut self, tokens: &[f32], seq: &SequenceConfig, seed: u64) -> Result<Vec<f32>>;
    /// Raw tokens of existing audio at the model's sample rate (`tokens` of them, the last
    /// repeated past the end of `wave`): known audio for inpainting, continuation, references.
    fn encode_audio(&mut self, wave: &[f32], seq: &SequenceConfig, tokens: usize) -> Result<Vec<f32>>;
    /// How windows are joined in their overlap.
    fn crossfade(&self) -> Crossfade;
}

/// The semantic and sync frame sizes of foley's own generator with sync backbone `sync`.
pub fn embedded_frame_sizes(sync: &SyncConfig) -> (Resize, Resize) {
    (Resize::CropSquare(efficientnet::INPUT_SIZE as u32), Resize::CropSquare(sync.frame_size as u32))
}

/// foley's own generator with its encoders (EfficientNet-Lite0, the sync backbone, MiniLM).
pub struct EmbeddedModel<'a> {
    pub generator: &'a mut Generator,
    pub encoders: &'a Encoders,
    pub decoder: &'a MelDecoder,
    text: Option<Vec<f32>>,
    negative: Option<Vec<f32>>,
}

impl<'a> EmbeddedModel<'a> {
    pub fn new(generator: &'a mut Generator, encoders: &'a Encoders, decoder: &'a MelDecoder) -> Self {
        Self { generator, encoders, decoder, text: None, negative: None }
    }
}

impl WindowModel for EmbeddedModel<'_> {
    type Features = VideoFeatures;

    fn sequence(&self, duration: f64) -> SequenceConfig {
        SequenceConfig { duration, ..self.generator.sequence() }
    }

    fn window_duration(&self) -> f64 {
        self.generator.meta.duration
    }

    fn token_channels(&self, seq: &SequenceConfig) -> usize {
        token_channels(seq)
    }

    fn frame_sizes(&self) -> (Resize, Resize) {
        embedded_frame_sizes(&self.encoders.sync_config)
    }

    fn set_text(&mut self, prompt: Option<&str>, negative: Option<&str>) -> Result<()> {
        let lt = self.generator.meta.flow.text_seq_len;
        self.text = prompt.map(|p| self.encoders.text_tokens(p, lt)).transpose()?;
        self.negative = negative.map(|p| self.encoders.text_tokens(p, lt)).transpose()?;
        Ok(())
    }

    fn features(&mut self, semantic: Vec<Frame>, sync: Vec<Frame>, seq: &SequenceConfig) -> Result<VideoFeatures> {
        features_from_frames(self.encoders, semantic, sync, seq, &mut |_| {})
    }

    fn sample(&mut self, seq: &SequenceConfig, features: &VideoFeatures, known: Option<&KnownAudio>, options: &SampleOptions) -> Result<Vec<f32>> {
        sample_tokens(self.generator, seq, features, self.text.as_deref(), self.negative.as_deref(), known, options, &mut |_, _| {})
    }

    fn decode(&mut self, tokens: &[f32], seq: &SequenceConfig, seed: u64) -> Result<Vec<f32>> {
        let mut wave = self.decoder.decode(&tokens_mel(tokens, seq)?, seq, seed)?;
        wave.resize(seq.latent_seq_len() * seq.samples_per_token(), 0.0);
        Ok(wave)
    }

    fn encode_audio(&mut self, wave: &[f32], seq: &SequenceConfig, tokens: usize) -> Result<Vec<f32>> {
        let mel = foley_dsp::MelSpectrogram::new(seq.mel).compute(wave);
        Ok(crate::data::mel_to_tokens(&mel.data, mel.n_mels, mel.n_frames.max(1), tokens, seq.latent_downsample_rate))
    }

    fn crossfade(&self) -> Crossfade {
        match self.decoder {
            // Independent random phases in each window's decoding of the overlap.
            MelDecoder::GriffinLim => Crossfade::EqualPower,
            // The same known mel decoded twice: nearly the same waveform.
            MelDecoder::Vocoder(_) => Crossfade::Linear,
        }
    }
}
