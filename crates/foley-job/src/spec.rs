//! What a user asks of a generation job, and the checks made before any model loads.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use foley_dsp::LevelTarget;
use foley_encoders::sync::SyncModel;
use foley_gen::generate::{SampleOptions, Sampler, Window, default_model_path, plan_window};
use foley_gen::longform::{DEFAULT_OVERLAP, frame_requests};
use foley_gen::mmaudio::{MmaudioFiles, Variant};
use foley_gen::windows::embedded_frame_sizes;
use serde::{Deserialize, Serialize};

use crate::models::ModelChoice;

/// Which ODE integrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SamplerKind {
    /// SALSA-V shortcut sampling (steps: a power of two).
    Shortcut,
    /// Euler steps of the flow-matching velocity.
    Euler,
}

/// What turns foley's generated mel into a waveform (MMAudio's models always use their VAE and
/// BigVGAN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecoderKind {
    /// foley's vocoder trained on real recordings (`models/vocoder`, or `vocoder`).
    Vocoder,
    /// Fast Griffin-Lim: no weights.
    GriffinLim,
}

impl DecoderKind {
    /// The decoder of a job that does not name one.
    pub const DEFAULT: DecoderKind = DecoderKind::GriffinLim;
}

/// Precision of MMAudio's flow network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    /// Half the memory (burn's CPU backend computes bf16 matmuls in f32: slower, see BENCHMARKS).
    Bf16,
}

/// Everything `foley generate` takes, as plain data (the CLI's flags, the server's form fields,
/// a batch manifest's columns). `None` means the chosen model's default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerateSpec {
    /// The video to give sound to (never overwritten).
    pub input: PathBuf,
    /// Output mp4 (default: `<input stem>.foley.mp4` beside the input); the wav goes beside it.
    pub output: Option<PathBuf>,
    /// Start of the part to give sound to, seconds.
    pub start: f64,
    /// Length of that part, seconds (default: the rest of the video; any length).
    pub duration: Option<f64>,
    pub prompt: Option<String>,
    pub negative: Option<String>,
    pub steps: Option<usize>,
    pub sampler: Option<SamplerKind>,
    pub cfg: Option<f32>,
    pub seed: u64,
    /// A foley generator's weights, or `mmaudio:NAME` with `weights`.
    pub model: Option<String>,
    /// Folder of MMAudio's released files, for `mmaudio:NAME`.
    pub weights: Option<PathBuf>,
    pub dtype: Precision,
    /// Sync backbone (default: the shipped one).
    pub sync_model: Option<PathBuf>,
    /// Mel decoder of foley's generator (default: [`DecoderKind::DEFAULT`]).
    pub decoder: Option<DecoderKind>,
    /// Vocoder weights for `decoder = vocoder` (default: the shipped one).
    pub vocoder: Option<PathBuf>,
    /// Overlap between long-form windows, seconds.
    pub overlap: f64,
    /// Integrated loudness of the output, LUFS.
    pub loudness: f64,
    /// True-peak ceiling, dBTP.
    pub true_peak: f64,
    /// Keep the decoder's raw level.
    pub raw_level: bool,
    /// An existing soundtrack, for `inpaint` / `extend`.
    pub audio: Option<PathBuf>,
    /// `START:END` seconds of `audio` to regenerate.
    pub inpaint: Option<String>,
    /// Seconds to continue `audio` past its end.
    pub extend: Option<f64>,
    /// A recording whose first `overlap` seconds (from `reference_start`) are known audio before
    /// the clip.
    pub reference_audio: Option<PathBuf>,
    pub reference_start: f64,
    /// Also write the soundtrack as it is generated (a growing WAV, or `-` for stdout).
    pub stream: Option<PathBuf>,
}

impl Default for GenerateSpec {
    fn default() -> Self {
        Self {
            input: PathBuf::new(),
            output: None,
            start: 0.0,
            duration: None,
            prompt: None,
            negative: None,
            steps: None,
            sampler: None,
            cfg: None,
            seed: 0,
            model: None,
            weights: None,
            dtype: Precision::F32,
            sync_model: None,
            decoder: None,
            vocoder: None,
            overlap: DEFAULT_OVERLAP,
            loudness: LevelTarget::DEFAULT.loudness_lufs,
            true_peak: LevelTarget::DEFAULT.true_peak_dbtp,
            raw_level: false,
            audio: None,
            inpaint: None,
            extend: None,
            reference_audio: None,
            reference_start: 0.0,
            stream: None,
        }
    }
}

/// What `inpaint` / `extend` ask of `audio`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EditRange {
    Inpaint(f64, f64),
    Extend(f64),
}

impl GenerateSpec {
    /// The generator `model` names (no files are read).
    pub fn model_choice(&self) -> Result<ModelChoice> {
        match self.model.as_deref().and_then(|m| m.strip_prefix("mmaudio:")) {
            Some(name) => {
                let variant: Variant = name.parse()?;
                if self.decoder.is_some() || self.vocoder.is_some() {
                    bail!("--decoder and --vocoder are for foley's generator; MMAudio's models decode with their own VAE and BigVGAN");
                }
                let dir =
                    self.weights.clone().with_context(|| format!("--model mmaudio:{name} needs --weights DIR, the folder holding MMAudio's released files"))?;
                Ok(ModelChoice::Mmaudio { variant, dir, dtype: self.dtype })
            }
            None => {
                if let Some(w) = &self.weights {
                    bail!("{}: --weights is for --model mmaudio:NAME (foley's own generator takes its file with --model)", w.display());
                }
                let generator = self.model.as_ref().map(PathBuf::from).unwrap_or_else(default_model_path);
                let sync = self.sync_model.clone().unwrap_or_else(foley_gen::generate::default_sync_model_path);
                let vocoder = match self.decoder.unwrap_or(DecoderKind::DEFAULT) {
                    DecoderKind::Vocoder => Some(self.vocoder.clone().unwrap_or_else(foley_decoder::vocos::default_model_path)),
                    DecoderKind::GriffinLim if self.vocoder.is_some() => bail!("--vocoder is for --decoder vocoder"),
                    DecoderKind::GriffinLim => None,
                };
                Ok(ModelChoice::Embedded { generator, sync, vocoder })
            }
        }
    }

    /// The sampling settings: the user's, else the chosen model's defaults.
    pub fn sample_options(&self, choice: &ModelChoice) -> Result<SampleOptions> {
        let mmaudio = matches!(choice, ModelChoice::Mmaudio { .. });
        let kind = self.sampler.unwrap_or(if mmaudio { SamplerKind::Euler } else { SamplerKind::Shortcut });
        let steps = self.steps.unwrap_or(if mmaudio { foley_gen::mmaudio::DEFAULT_STEPS } else { 8 });
        let sampler = match kind {
            SamplerKind::Shortcut if mmaudio => bail!("MMAudio's networks have no shortcut sampler: use --sampler euler"),
            SamplerKind::Shortcut => Sampler::Shortcut(steps),
            SamplerKind::Euler => Sampler::Euler(steps),
        };
        let cfg = self.cfg.unwrap_or(if mmaudio { foley_gen::mmaudio::DEFAULT_CFG } else { 2.0 });
        let options = SampleOptions { sampler, cfg, seed: self.seed, use_video: true };
        options.validate()?;
        Ok(options)
    }

    /// The checks of the options alone (no file is read): model choice, sampler, guidance,
    /// level and reference start. [`Plan::new`] runs them too; a batch runs them once, up front.
    pub fn check_options(&self) -> Result<()> {
        let choice = self.model_choice()?;
        self.sample_options(&choice)?;
        self.level()?;
        self.check_reference_start()
    }

    fn check_reference_start(&self) -> Result<()> {
        if !(self.reference_start.is_finite() && self.reference_start >= 0.0) {
            bail!("--reference-start must be >= 0, got {}", self.reference_start);
        }
        Ok(())
    }

    fn edit_range(&self) -> Result<Option<EditRange>> {
        let range = match (&self.inpaint, self.extend) {
            (Some(_), Some(_)) => bail!("--inpaint and --extend cannot be combined"),
            (Some(r), None) => {
                let parsed = r.split_once(':').and_then(|(a, b)| Some((a.trim().parse::<f64>().ok()?, b.trim().parse::<f64>().ok()?)));
                match parsed {
                    Some((a, b)) if a.is_finite() && b.is_finite() && 0.0 <= a && a < b => Some(EditRange::Inpaint(a, b)),
                    _ => bail!("--inpaint {r}: expected START:END seconds with 0 <= START < END, e.g. 2.5:4"),
                }
            }
            (None, Some(s)) if s.is_finite() && s > 0.0 => Some(EditRange::Extend(s)),
            (None, Some(s)) => bail!("--extend {s}: must be a positive number of seconds"),
            (None, None) => None,
        };
        match (&range, &self.audio) {
            (Some(_), None) => bail!("--inpaint and --extend work on an existing soundtrack: give it with --audio FILE"),
            (None, Some(a)) => bail!("{}: --audio is used with --inpaint or --extend", a.display()),
            _ => {}
        }
        if range.is_some() && self.reference_audio.is_some() {
            bail!("--reference-audio cannot be combined with --inpaint or --extend (the existing audio already sets the sound)");
        }
        if self.stream.is_some() && range.is_some() {
            bail!("--stream cannot be combined with --inpaint or --extend (the edited soundtrack is assembled at the end)");
        }
        Ok(range)
    }

    fn level(&self) -> Result<Option<LevelTarget>> {
        let level = (!self.raw_level).then_some(LevelTarget { loudness_lufs: self.loudness, true_peak_dbtp: self.true_peak });
        if let Some(l) = level {
            if !(l.loudness_lufs.is_finite() && l.loudness_lufs < 0.0 && l.true_peak_dbtp.is_finite() && l.true_peak_dbtp <= 0.0) {
                bail!("--loudness must be below 0 LUFS and --true-peak at most 0 dBTP (got {} LUFS, {} dBTP)", l.loudness_lufs, l.true_peak_dbtp);
            }
        }
        Ok(level)
    }
}

/// `<stem>.foley.mp4` beside the input.
pub fn default_output(input: &Path) -> PathBuf {
    let stem = input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    input.with_file_name(format!("{stem}.foley.mp4"))
}

/// A checked job: its options resolved, its input probed and its outputs reserved (temporary
/// files beside them, removed if the job is dropped unfinished).
pub struct Plan {
    pub spec: GenerateSpec,
    pub choice: ModelChoice,
    pub window: Window,
    pub video_duration: f64,
    pub options: SampleOptions,
    pub edit: Option<EditRange>,
    pub level: Option<LevelTarget>,
    /// The mp4 and wav this job publishes.
    pub mp4: PathBuf,
    pub wav: PathBuf,
    pub(crate) wav_out: foley_media::AtomicOutput,
    pub(crate) mp4_out: foley_media::AtomicOutput,
}

impl Plan {
    /// Everything that can be checked before the models load: the input, the options, the
    /// model's files, the outputs (never an input; their folder writable).
    pub fn new(spec: GenerateSpec) -> Result<Self> {
        let input = &spec.input;
        foley_media::check_input(input)?;
        let choice = spec.model_choice()?;
        let options = spec.sample_options(&choice)?;
        let edit = spec.edit_range()?;
        for file in spec.audio.iter().chain(&spec.reference_audio) {
            let info = foley_media::probe(file)?;
            if info.audio.is_empty() {
                return Err(foley_media::MediaError::NoAudio { path: file.clone() }.into());
            }
        }
        spec.check_reference_start()?;
        let level = spec.level()?;
        if let ModelChoice::Mmaudio { variant, dir, .. } = &choice {
            MmaudioFiles::find(*variant, dir)?;
        }
        let mp4 = spec.output.clone().unwrap_or_else(|| default_output(input));
        let wav = mp4.with_extension("wav");
        foley_media::ensure_not_input(&mp4, &[input])?;
        foley_media::ensure_not_input(&wav, &[input])?;
        if let Some(stream) = spec.stream.as_deref().filter(|p| *p != Path::new("-")) {
            foley_media::ensure_not_input(stream, &[input, &mp4, &wav])?;
        }
        let info = foley_media::probe(input)?;
        let video = info.video.as_ref().with_context(|| format!("{}: has no video stream", input.display()))?;
        let video_duration = video.duration.or(info.duration).with_context(|| format!("{}: unknown duration", input.display()))?;
        foley_media::check_muxable(input, video, &mp4)?;
        // Reserving both outputs now proves their folder is writable.
        let wav_out = foley_media::AtomicOutput::new(&wav)?;
        let mp4_out = foley_media::AtomicOutput::new(&mp4)?;
        let window = plan_window(input, video_duration, spec.start, spec.duration)?;
        Ok(Self { spec, choice, window, video_duration, options, edit, level, mp4, wav, wav_out, mp4_out })
    }

    /// Starts decoding the frames a plain job of foley's own generator will read, so ffmpeg's
    /// start-up overlaps the model loading (`foley_media::prefetch`). Edits and references
    /// shift the frames read, and MMAudio has its own frame sizes: those start at generation.
    /// A reader this guessed wrong is never used; [`foley_media::drop_prefetched`] stops it.
    pub fn prefetch_frames(&self) -> Result<()> {
        let ModelChoice::Embedded { sync, .. } = &self.choice else { return Ok(()) };
        if self.edit.is_some() || self.spec.reference_audio.is_some() {
            return Ok(());
        }
        let seq = foley_gen::Generator::sequence_of(self.window.duration);
        let sizes = embedded_frame_sizes(&SyncModel::read_config(sync)?);
        for request in frame_requests(self.window, &seq, sizes)? {
            foley_media::prefetch(&self.spec.input, &request)?;
        }
        Ok(())
    }
}
