//! Video -> soundtrack: the conditions of a window of the video (the same frames and encoders
//! as `foley extract`), flow sampling (shortcut or Euler, with classifier-free guidance), the
//! log-mel it denotes, and its waveform (Griffin-Lim or foley's vocoder).

use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result, ensure};
use burn::tensor::{Device, Tensor, TensorData};
use foley_decoder::vocos::Vocoder;
use foley_dsp::{GriffinLim, Mel, MelSpectrogram};
use foley_encoders::ModelCache;
use foley_encoders::bert::{HIDDEN_DIM, MiniLm};
use foley_encoders::efficientnet::{self, EfficientNetLite0};
use foley_encoders::sync::{SyncConfig, SyncModel, frame_input};
use foley_flow::sampler::{Guided, KnownFrames, euler, initial_noise, linspace_schedule, shortcut};
use foley_flow::{AudioPrompt, ExtraInputs};
use foley_media::{Frame, FrameReader, FrameRequest, Rational, Resize};
use foley_seq::SequenceConfig;

use crate::config::token_channels;
use crate::data::{fit_text, tokens_to_mel};
use crate::model::Generator;

/// The conditioning encoders, loaded once.
pub struct Encoders {
    pub frames: EfficientNetLite0,
    /// MiniLM, loaded on the first prompt: a job without one does not need its 90 MB (the
    /// generator carries its own empty-prompt condition).
    text: OnceLock<MiniLm>,
    cache: ModelCache,
    pub sync: SyncModel,
    pub sync_config: SyncConfig,
    pub device: Device,
}

impl Encoders {
    /// EfficientNet-Lite0 from the model cache, the sync backbone from `sync_model`, MiniLM too
    /// when `with_text` (else when a prompt first needs it). Reading and converting the files is
    /// serial work: they load side by side.
    pub fn load(cache: &ModelCache, sync_model: &Path, device: &Device, with_text: bool) -> Result<Self> {
        let (frames, text, sync) = std::thread::scope(|scope| {
            let frames = scope.spawn(|| EfficientNetLite0::from_cache(cache, device));
            let text = with_text.then(|| scope.spawn(|| MiniLm::from_cache(cache, device)));
            let sync = SyncModel::load(sync_model, device);
            (frames.join().expect("EfficientNet loading panicked"), text.map(|t| t.join().expect("MiniLM loading panicked")), sync)
        });
        let (sync, sync_config) = sync?;
        let loaded = OnceLock::new();
        if let Some(text) = text {
            let _ = loaded.set(text?);
        }
        Ok(Self { frames: frames?, text: loaded, cache: cache.clone(), sync, sync_config, device: device.clone() })
    }

    /// The text encoder, loaded on first use (two jobs starting at once may both load it; one
    /// copy is kept).
    pub fn text(&self) -> Result<&MiniLm> {
        if let Some(m) = self.text.get() {
            return Ok(m);
        }
        let m = MiniLm::from_cache(&self.cache, &self.device)?;
        Ok(self.text.get_or_init(|| m))
    }

    /// `[text_seq_len, 384]` MiniLM token states of `text`, zero-padded / truncated.
    pub fn text_tokens(&self, text: &str, seq_len: usize) -> Result<Vec<f32>> {
        let enc = self.text()?.encode(&[text])?;
        let tokens: Vec<f32> = enc.tokens.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok(fit_text(&tokens, HIDDEN_DIM, seq_len))
    }
}

/// The video conditions of one window.
#[derive(Debug, Clone)]
pub struct VideoFeatures {
    /// `[clip_seq_len, 1280]`.
    pub semantic: Vec<f32>,
    /// `[sync_seq_len, sync_dim]` sync-backbone tokens.
    pub sync: Vec<f32>,
    pub sync_dim: usize,
    /// A raw timing envelope `[sync_seq_len, ENVELOPE_DIM]` to use instead of the predicted one
    /// (generators trained with an envelope only; evaluation feeds the true one).
    pub envelope: Option<Vec<f32>>,
}

/// Features of `seq.duration` seconds of `video` from `start`, exactly as `foley extract`
/// computes them (8 fps semantic frames and 25 fps sync frames, the last frame repeated when
/// the video ends early).
pub fn video_features(enc: &Encoders, video: &Path, start: f64, seq: &SequenceConfig, progress: &mut dyn FnMut(&str)) -> Result<VideoFeatures> {
    let n = seq.clip_seq_len();
    let semantic = efficientnet::sample_frames(video, seq.clip_frame_rate, start, Some(n as f64 / seq.clip_frame_rate))?;
    let request =
        FrameRequest { fps: sync_fps(seq)?, start, duration: Some(seq.sync_frames_read().max(1) as f64 / seq.sync_frame_rate), resize: sync_resize(enc) };
    let sync = FrameReader::open(video, &request)?.collect::<Result<Vec<_>, _>>()?;
    ensure!(!semantic.is_empty() && !sync.is_empty(), "{}: no video frames after {start} s", video.display());
    features_from_frames(enc, semantic, sync, seq, progress)
}

/// The features of one window from its frames: `semantic` at the clip rate and `sync` at the
/// sync rate, each padded with its last frame to the window's length.
pub fn features_from_frames(
    enc: &Encoders,
    semantic: Vec<Frame>,
    sync: Vec<Frame>,
    seq: &SequenceConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<VideoFeatures> {
    let (n, needed) = (seq.clip_seq_len(), seq.sync_frames_read());
    let (semantic, sync) = (pad_frames(semantic, n)?, pad_frames(sync, needed)?);
    let semantic =
        enc.frames.encode_frames(&semantic, 16, &enc.device).into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    progress("semantic");
    let rgb: Vec<&[u8]> = sync.iter().map(|f| f.rgb.as_slice()).collect();
    let tokens = enc.sync.clip_tokens(frame_input(&rgb, enc.sync_config.frame_size, &enc.device), seq);
    let sync_dim = tokens.dims()[1];
    let sync = tokens.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    progress("sync");
    Ok(VideoFeatures { semantic, sync, sync_dim, envelope: None })
}

/// Exactly `len` frames: `frames` cut, or padded with its last frame (a video that ends inside
/// a window).
pub fn pad_frames(mut frames: Vec<Frame>, len: usize) -> Result<Vec<Frame>> {
    let last = frames.last().cloned().context("a window without video frames")?;
    frames.resize(len, last);
    Ok(frames)
}

/// The sync frame rate as a rational.
pub fn sync_fps(seq: &SequenceConfig) -> Result<Rational> {
    Rational::approximate(seq.sync_frame_rate).context("sync frame rate")
}

/// How sync frames are resized for the backbone.
pub fn sync_resize(enc: &Encoders) -> Resize {
    Resize::CropSquare(enc.sync_config.frame_size as u32)
}

/// How to integrate the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampler {
    /// SALSA-V shortcut sampling with `k` steps (a power of two).
    Shortcut(usize),
    /// Euler with `k` uniform steps (step size input 0: the flow-matching velocity).
    Euler(usize),
}

/// Sampling settings.
#[derive(Debug, Clone)]
pub struct SampleOptions {
    pub sampler: Sampler,
    /// Guidance weight (1: no guidance).
    pub cfg: f32,
    pub seed: u64,
    /// `false` drops the video conditions to the learned empty features (a baseline).
    pub use_video: bool,
}

impl SampleOptions {
    /// Rejects settings the sampler cannot run, before any work is done.
    pub fn validate(&self) -> Result<()> {
        match self.sampler {
            Sampler::Shortcut(k) => ensure!(
                k >= 1 && k.is_power_of_two(),
                "--steps {k}: the shortcut sampler takes a power of two (1, 2, 4, 8, ...); use --sampler euler for other counts"
            ),
            Sampler::Euler(k) => ensure!(k >= 1, "--steps must be at least 1"),
        }
        ensure!(self.cfg.is_finite() && self.cfg >= 1.0, "--cfg {}: the guidance weight must be a number >= 1 (1 = no guidance)", self.cfg);
        Ok(())
    }
}

/// Known audio to keep: raw log-mel tokens `[latent_seq_len, token_channels]` and a 0/1 mask per
/// token.
#[derive(Debug, Clone)]
pub struct KnownAudio {
    pub tokens: Vec<f32>,
    pub mask: Vec<f32>,
}

/// Sample the log-mel tokens (raw, token-major) of one window. `text` / `negative` are
/// `[text_seq_len, 384]` token states (`None`: the empty string). Known tokens of `known` are
/// copied into the result unchanged.
pub fn sample_tokens(
    generator: &mut Generator,
    seq: &SequenceConfig,
    video: &VideoFeatures,
    text: Option<&[f32]>,
    negative: Option<&[f32]>,
    known: Option<&KnownAudio>,
    options: &SampleOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<f32>> {
    ensure!(seq.duration <= generator.meta.duration + 1e-9, "window of {} s is longer than the trained {} s", seq.duration, generator.meta.duration);
    let device = generator.net.device();
    let (n, c) = (seq.latent_seq_len(), token_channels(seq));
    let (nc, ns) = (seq.clip_seq_len(), seq.sync_seq_len());
    generator.net.update_seq_lengths(n, nc, ns);
    let lt = generator.meta.flow.text_seq_len;
    let t3 = |v: Vec<f32>, d: [usize; 3]| Tensor::<3>::from_data(TensorData::new(v, d), &device);
    let empty = &generator.meta.empty_text;
    let cond = generator.video_conditions(video, text.unwrap_or(empty), !options.use_video, 1)?;
    let uncond = generator.net.empty_conditions(1, negative.map(|t| t3(t.to_vec(), [1, lt, HIDDEN_DIM])))?;
    let mut guided = Guided::new(cond, &uncond, options.cfg);

    let stats = generator.meta.stats.clone();
    let x0 = initial_noise(options.seed, [1, n, c], &device);
    let mut prompt = None;
    if let Some(k) = known {
        let mut tokens = k.tokens.clone();
        stats.normalize(&mut tokens);
        let (known, mask) = (t3(tokens, [1, n, c]), Tensor::<2>::from_data(TensorData::new(k.mask.clone(), [1, n]), &device));
        // Through the mask channels where the network has them, else by replacement.
        if generator.net.config.extensions.masked_audio {
            prompt = Some(AudioPrompt { known, mask });
        } else {
            guided = guided.with_known(KnownFrames { x0: x0.clone(), x1: known, mask: mask.unsqueeze_dim(2) });
        }
    }
    let extra = ExtraInputs { step_size: None, prompt };
    let x = match options.sampler {
        Sampler::Shortcut(k) => shortcut(&generator.net, x0, &guided, k, &extra, progress)?,
        Sampler::Euler(k) => {
            let extra = ExtraInputs { step_size: Some(vec![0.0]), ..extra };
            euler(&generator.net, x0, &guided, &linspace_schedule(k), &extra, progress)?
        }
    };
    let mut tokens: Vec<f32> = x.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    stats.unnormalize(&mut tokens);
    if let Some(k) = known {
        for (i, &m) in k.mask.iter().enumerate() {
            if m == 1.0 {
                tokens[i * c..(i + 1) * c].copy_from_slice(&k.tokens[i * c..(i + 1) * c]);
            }
        }
    }
    Ok(tokens)
}

/// Raw log-mel tokens -> mel-major [`Mel`].
pub fn tokens_mel(tokens: &[f32], seq: &SequenceConfig) -> Result<Mel> {
    let n_mels = seq.mel.n_mels;
    Ok(Mel::new(n_mels, tokens.len() / n_mels, tokens_to_mel(tokens, n_mels))?)
}

/// Griffin-Lim waveform of `mel`, exactly `seq.num_audio_samples()` long.
pub fn vocode(mel: &Mel, seq: &SequenceConfig, seed: u64) -> Result<Vec<f32>> {
    let converter = MelSpectrogram::new(seq.mel);
    let (mut wave, _) = GriffinLim { seed, ..GriffinLim::default() }.invert(&converter, mel)?;
    wave.resize(seq.num_audio_samples(), 0.0);
    Ok(wave)
}

/// What turns a generated log-mel into a waveform.
#[derive(Clone)]
pub enum MelDecoder {
    /// Fast Griffin-Lim: no weights, phasey transients.
    GriffinLim,
    /// foley's vocoder trained on real recordings (`foley train vocoder`).
    Vocoder(Arc<Vocoder>),
}

impl MelDecoder {
    /// The vocoder at `path`, or Griffin-Lim for `None`.
    pub fn load(path: Option<&Path>, device: &Device) -> Result<Self> {
        let Some(path) = path else { return Ok(Self::GriffinLim) };
        let vocoder = Vocoder::load(path, device).with_context(|| format!("{}: cannot load the vocoder (or use --decoder griffin-lim)", path.display()))?;
        Ok(Self::Vocoder(Arc::new(vocoder)))
    }

    /// Name for timings and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::GriffinLim => "griffin-lim",
            Self::Vocoder(_) => "vocoder",
        }
    }

    /// The waveform of `mel`, exactly `seq.num_audio_samples()` long; `seed` seeds Griffin-Lim's
    /// initial phases (the vocoder is deterministic).
    pub fn decode(&self, mel: &Mel, seq: &SequenceConfig, seed: u64) -> Result<Vec<f32>> {
        match self {
            Self::GriffinLim => vocode(mel, seq, seed),
            Self::Vocoder(v) => {
                ensure!(*v.mel_config() == seq.mel, "the vocoder reads a different mel geometry than the generator writes");
                let mut wave = v.decode(mel)?;
                wave.resize(seq.num_audio_samples(), 0.0);
                Ok(wave)
            }
        }
    }
}

/// Shortest window generated (the sync backbone needs 16 frames at 25 fps); shorter clips are
/// generated at this length and cut.
pub const MIN_DURATION: f64 = 1.0;

/// The part of a video to give sound to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub start: f64,
    pub duration: f64,
}

/// Check `--start` / `--duration` against the video: the part to give sound to (any length;
/// long-form generation covers it window by window).
pub fn plan_window(video: &Path, video_duration: f64, start: f64, duration: Option<f64>) -> Result<Window> {
    let name = video.display();
    ensure!(start >= 0.0 && start.is_finite(), "--start must be >= 0, got {start}");
    ensure!(start < video_duration, "{name}: --start {start} s is past the end of the video ({video_duration:.2} s)");
    let rest = video_duration - start;
    let duration = match duration {
        Some(d) => {
            ensure!(d.is_finite() && d > 0.0, "--duration must be positive, got {d}");
            ensure!(start + d <= video_duration + 0.05, "{name}: --start {start} + --duration {d} goes past the end of the video ({video_duration:.2} s)");
            d.min(rest)
        }
        None => rest,
    };
    Ok(Window { start, duration })
}

/// The shipped generator: `$FOLEY_GEN_MODEL` or `models/gen/gen.safetensors` in the repository.
pub fn default_model_path() -> std::path::PathBuf {
    std::env::var_os("FOLEY_GEN_MODEL").map(Into::into).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/gen/gen.safetensors"))
}

/// The sync backbone the generator was trained with (`foley_encoders::sync::default_model_path`:
/// `$FOLEY_SYNC_MODEL` or `models/sync/sync.safetensors`).
pub fn default_sync_model_path() -> std::path::PathBuf {
    foley_encoders::sync::default_model_path()
}

/// Stages of [`generate_window`], for progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Features,
    Sampling,
    Vocoding,
}

/// Everything to generate one window.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub video: &'a Path,
    pub window: Window,
    pub prompt: Option<&'a str>,
    pub negative: Option<&'a str>,
    pub options: SampleOptions,
}

/// One window of `request.video` -> its waveform (`duration * 16000` samples) and log-mel
/// tokens. `progress(stage, done, total)`.
pub fn generate_window(
    generator: &mut Generator,
    enc: &Encoders,
    request: &Request,
    progress: &mut dyn FnMut(Stage, usize, usize),
) -> Result<(Vec<f32>, Vec<f32>)> {
    let seq = SequenceConfig::mmaudio_16k(request.window.duration);
    let features = video_features(enc, request.video, request.window.start, &seq, &mut |_| progress(Stage::Features, 1, 1))?;
    let lt = generator.meta.flow.text_seq_len;
    let text = request.prompt.map(|p| enc.text_tokens(p, lt)).transpose()?;
    let negative = request.negative.map(|p| enc.text_tokens(p, lt)).transpose()?;
    let tokens =
        sample_tokens(generator, &seq, &features, text.as_deref(), negative.as_deref(), None, &request.options, &mut |i, n| progress(Stage::Sampling, i, n))?;
    progress(Stage::Vocoding, 0, 1);
    let wave = vocode(&tokens_mel(&tokens, &seq)?, &seq, request.options.seed)?;
    progress(Stage::Vocoding, 1, 1);
    Ok((wave, tokens))
}
