//! `foley generate`: give a video a synchronized soundtrack with the shipped generator or one of
//! MMAudio's released models.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::{DType, Device};
use clap::{Args, ValueEnum};
use foley_dsp::{LevelMeter, LevelTarget, StreamLevel};
use foley_encoders::ModelCache;
use foley_gen::Generator;
use foley_gen::generate::{Encoders, Request, SampleOptions, Sampler, Window, default_model_path, default_sync_model_path, plan_window};
use foley_gen::longform::{DEFAULT_OVERLAP, LongRequest, Splice, generate_long, overlap_tokens, quantum, reference_prefix};
use foley_gen::mmaudio::{MmaudioFiles, MmaudioWindows, Variant};
use foley_gen::windows::{EmbeddedModel, WindowModel};
use indicatif::ProgressBar;

use crate::output;

/// Which ODE integrator.
#[derive(Clone, Copy, ValueEnum)]
pub enum SamplerKind {
    /// SALSA-V shortcut sampling (steps: a power of two).
    Shortcut,
    /// Euler steps of the flow-matching velocity.
    Euler,
}

/// Options of `foley generate`.
#[derive(Args)]
pub struct GenerateArgs {
    /// The video to give sound to (never overwritten).
    pub input: PathBuf,
    /// Output mp4 (default: `<input stem>.foley.mp4` beside the input); the wav is written
    /// beside it with the same stem.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Start of the window to generate, seconds.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub start: f64,
    /// Length of the part to give sound to, seconds (default: the rest of the video). Any
    /// length: beyond the generator's 8 s window, overlapping windows each continue the last.
    #[arg(long, allow_negative_numbers = true)]
    pub duration: Option<f64>,
    /// Text prompt, e.g. "footsteps, glass breaking".
    #[arg(long)]
    pub prompt: Option<String>,
    /// Negative text prompt (replaces the empty string in classifier-free guidance).
    #[arg(long)]
    pub negative: Option<String>,
    /// Sampling steps (default: 8 for foley's generator, 25 for MMAudio).
    #[arg(long)]
    pub steps: Option<usize>,
    /// ODE integrator (default: shortcut for foley's generator; MMAudio samples with euler).
    #[arg(long, value_enum)]
    pub sampler: Option<SamplerKind>,
    /// Classifier-free guidance weight, 1 = none (default: 2 for foley's generator, 4.5 for MMAudio).
    #[arg(long, allow_negative_numbers = true)]
    pub cfg: Option<f32>,
    /// Noise seed (same seed, same output).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Generator: a foley generator's weights (default: the shipped models/gen/gen.safetensors),
    /// or `mmaudio:NAME` for one of MMAudio's released models (small_16k, small_44k, medium_44k,
    /// large_44k, large_44k_v2) with --weights.
    #[arg(long)]
    pub model: Option<String>,
    /// Folder holding MMAudio's released files, for --model mmaudio:NAME (see docs/mmaudio.md;
    /// `foley models check DIR` says what is missing).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Precision of MMAudio's flow network: f32, or bf16 (half the memory).
    #[arg(long, value_enum, default_value = "f32")]
    pub dtype: super::flow::Precision,
    /// Sync backbone (default: the shipped models/sync/sync.safetensors).
    #[arg(long)]
    pub sync_model: Option<PathBuf>,
    /// Overlap between long-form windows, seconds (rounded up to 0.16 s).
    #[arg(long, default_value_t = DEFAULT_OVERLAP, allow_negative_numbers = true)]
    pub overlap: f64,
    /// Integrated loudness of the output, LUFS (BS.1770); the gain is lowered where needed to
    /// keep the true peak at or under --true-peak.
    #[arg(long, default_value_t = LevelTarget::DEFAULT.loudness_lufs, allow_negative_numbers = true)]
    pub loudness: f64,
    /// True-peak ceiling of the output, dBTP.
    #[arg(long, default_value_t = LevelTarget::DEFAULT.true_peak_dbtp, allow_negative_numbers = true)]
    pub true_peak: f64,
    /// Keep the decoder's raw level (no loudness normalization; samples may exceed full scale,
    /// and the mp4's AAC track will clip where they do).
    #[arg(long)]
    pub raw_level: bool,
    /// An existing soundtrack (a wav, or any file with audio) for --inpaint or --extend.
    #[arg(long)]
    pub audio: Option<PathBuf>,
    /// Regenerate only START:END seconds of --audio under the video; everything else stays
    /// sample-identical but for a 25 ms crossfade beside each edge; the new part is set to the
    /// existing audio's loudness.
    #[arg(long, value_name = "START:END")]
    pub inpaint: Option<String>,
    /// Continue --audio past its end by SECONDS (at most to the end of the video).
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub extend: Option<f64>,
    /// A recording whose sound the result should take on: its first --overlap seconds (from
    /// --reference-start) are put before the clip as known audio, and generation continues it.
    #[arg(long)]
    pub reference_audio: Option<PathBuf>,
    /// Print the time each stage took (checks, model loading, features, sampling, Griffin-Lim,
    /// level and wav, mux) on stderr.
    #[arg(long)]
    pub timings: bool,
    /// Also write the soundtrack while it is generated: each window's audio as soon as it is
    /// final, as a float WAV to PATH (a file that grows, valid at any moment) or `-` (standard
    /// output, for a player). The level is then set causally: by the first window's loudness,
    /// lowered where a later window would pass --true-peak (a 50 ms ramp); the wav and mp4
    /// written at the end carry exactly the streamed samples.
    #[arg(long, value_name = "PATH")]
    pub stream: Option<PathBuf>,
    /// Where the reference's excerpt starts, seconds.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub reference_start: f64,
}

/// What `--inpaint` / `--extend` ask of `--audio`.
enum EditRange {
    Inpaint(f64, f64),
    Extend(f64),
}

fn edit_range(args: &GenerateArgs) -> Result<Option<EditRange>> {
    let range = match (&args.inpaint, args.extend) {
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
    match (&range, &args.audio) {
        (Some(_), None) => bail!("--inpaint and --extend work on an existing soundtrack: give it with --audio FILE"),
        (None, Some(a)) => bail!("{}: --audio is used with --inpaint or --extend", a.display()),
        _ => {}
    }
    if range.is_some() && args.reference_audio.is_some() {
        bail!("--reference-audio cannot be combined with --inpaint or --extend (the existing audio already sets the sound)");
    }
    Ok(range)
}

/// `<stem>.foley.mp4` beside the input.
fn default_output(input: &Path) -> PathBuf {
    let stem = input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    input.with_file_name(format!("{stem}.foley.mp4"))
}

/// Which generator `--model` names.
enum ModelChoice {
    /// foley's own generator, from these weights.
    Embedded(PathBuf),
    /// One of MMAudio's released models, from the user's weights folder.
    Mmaudio(Variant, PathBuf),
}

fn model_choice(args: &GenerateArgs) -> Result<ModelChoice> {
    match args.model.as_deref().and_then(|m| m.strip_prefix("mmaudio:")) {
        Some(name) => {
            let variant: Variant = name.parse()?;
            let dir =
                args.weights.clone().with_context(|| format!("--model mmaudio:{name} needs --weights DIR, the folder holding MMAudio's released files"))?;
            Ok(ModelChoice::Mmaudio(variant, dir))
        }
        None => {
            if let Some(w) = &args.weights {
                bail!("{}: --weights is for --model mmaudio:NAME (foley's own generator takes its file with --model)", w.display());
            }
            Ok(ModelChoice::Embedded(args.model.as_ref().map(PathBuf::from).unwrap_or_else(default_model_path)))
        }
    }
}

/// The sampling settings: the user's, else the chosen model's defaults.
fn sample_options(args: &GenerateArgs, choice: &ModelChoice) -> Result<SampleOptions> {
    let mmaudio = matches!(choice, ModelChoice::Mmaudio(..));
    let kind = args.sampler.unwrap_or(if mmaudio { SamplerKind::Euler } else { SamplerKind::Shortcut });
    let steps = args.steps.unwrap_or(if mmaudio { foley_gen::mmaudio::DEFAULT_STEPS } else { 8 });
    let sampler = match kind {
        SamplerKind::Shortcut if mmaudio => bail!("MMAudio's networks have no shortcut sampler: use --sampler euler"),
        SamplerKind::Shortcut => Sampler::Shortcut(steps),
        SamplerKind::Euler => Sampler::Euler(steps),
    };
    let cfg = args.cfg.unwrap_or(if mmaudio { foley_gen::mmaudio::DEFAULT_CFG } else { 2.0 });
    let options = SampleOptions { sampler, cfg, seed: args.seed, use_video: true };
    options.validate()?;
    Ok(options)
}

/// Everything checked before any model loads.
struct Job {
    window: Window,
    video_duration: f64,
    options: SampleOptions,
    edit: Option<EditRange>,
    level: Option<LevelTarget>,
    out: PathBuf,
    wav: PathBuf,
    wav_out: foley_media::AtomicOutput,
    mp4_out: foley_media::AtomicOutput,
}

pub fn run(args: GenerateArgs) -> Result<()> {
    let mut clock = Clock::new();
    // Everything that can be checked is checked before the models load and the work starts.
    let input = &args.input;
    foley_media::check_input(input)?;
    let choice = model_choice(&args)?;
    let options = sample_options(&args, &choice)?;
    let edit = edit_range(&args)?;
    if args.stream.is_some() && edit.is_some() {
        bail!("--stream cannot be combined with --inpaint or --extend (the edited soundtrack is assembled at the end)");
    }
    for file in args.audio.iter().chain(&args.reference_audio) {
        let info = foley_media::probe(file)?;
        if info.audio.is_empty() {
            return Err(foley_media::MediaError::NoAudio { path: file.clone() }.into());
        }
    }
    if !(args.reference_start.is_finite() && args.reference_start >= 0.0) {
        bail!("--reference-start must be >= 0, got {}", args.reference_start);
    }
    let level = (!args.raw_level).then_some(LevelTarget { loudness_lufs: args.loudness, true_peak_dbtp: args.true_peak });
    if let Some(l) = level {
        if !(l.loudness_lufs.is_finite() && l.loudness_lufs < 0.0 && l.true_peak_dbtp.is_finite() && l.true_peak_dbtp <= 0.0) {
            bail!("--loudness must be below 0 LUFS and --true-peak at most 0 dBTP (got {} LUFS, {} dBTP)", l.loudness_lufs, l.true_peak_dbtp);
        }
    }
    if let ModelChoice::Mmaudio(variant, dir) = &choice {
        MmaudioFiles::find(*variant, dir)?;
    }
    let out = args.output.clone().unwrap_or_else(|| default_output(input));
    let wav = out.with_extension("wav");
    foley_media::ensure_not_input(&out, &[input])?;
    foley_media::ensure_not_input(&wav, &[input])?;
    if let Some(stream) = args.stream.as_deref().filter(|p| *p != Path::new("-")) {
        foley_media::ensure_not_input(stream, &[input, &out, &wav])?;
    }
    let info = foley_media::probe(input)?;
    let video = info.video.as_ref().with_context(|| format!("{}: has no video stream", input.display()))?;
    let video_duration = video.duration.or(info.duration).with_context(|| format!("{}: unknown duration", input.display()))?;
    foley_media::check_muxable(input, video, &out)?;
    // Reserving both outputs now proves their directory is writable.
    let wav_out = foley_media::AtomicOutput::new(&wav)?;
    let mp4_out = foley_media::AtomicOutput::new(&out)?;
    let window = plan_window(input, video_duration, args.start, args.duration)?;
    let job = Job { window, video_duration, options, edit, level, out, wav, wav_out, mp4_out };
    clock.lap("checks and probe");

    let device = Device::flex();
    let cache = ModelCache::from_env()?;
    match choice {
        ModelChoice::Embedded(model_path) => {
            let mut generator = Generator::load(&model_path, &device)?;
            let sync_path = args.sync_model.clone().unwrap_or_else(default_sync_model_path);
            let enc = Encoders::load(&cache, &sync_path, &device)?;
            clock.lap("model loading");
            produce(&mut EmbeddedModel::new(&mut generator, &enc), &args, job, clock, "griffin-lim")
        }
        ModelChoice::Mmaudio(variant, dir) => {
            let dtype = match args.dtype {
                super::flow::Precision::F32 => DType::F32,
                super::flow::Precision::Bf16 => DType::BF16,
            };
            let mut model = MmaudioWindows::load(variant, &dir, dtype, &cache, &device)?;
            clock.lap("model loading");
            produce(&mut model, &args, job, clock, "vae and vocoder")
        }
    }
}

/// Generation with a loaded `model`, the level, the wav and the mux.
fn produce<M: WindowModel>(model: &mut M, args: &GenerateArgs, job: Job, mut clock: Clock, decoder: &'static str) -> Result<()> {
    let input = &args.input;
    let Job { window, video_duration, options, edit, level, out, wav, wav_out, mp4_out } = job;
    // Raw samples stream to a scratch wav as windows finish (memory does not grow with the
    // clip) while the loudness meter follows; the final wav is that file at the output level.
    let window_seq = model.sequence(model.window_duration());
    let sr = window_seq.sample_rate();
    let scratch = foley_media::AtomicOutput::new(&out.with_extension("raw.wav"))?;
    let mut raw = foley_media::WavAppender::create(scratch.path(), sr)?;
    let request = Request { video: input, window, prompt: args.prompt.as_deref(), negative: args.negative.as_deref(), options };
    let mut long = LongRequest::new(request, args.overlap);
    let mut splice = None;
    if let (Some(range), Some(audio)) = (&edit, &args.audio) {
        let existing = foley_media::decode_audio(audio, sr)?;
        let (from, to) = match *range {
            EditRange::Inpaint(a, b) => (a, b),
            EditRange::Extend(s) => {
                let end = existing.len() as f64 / sr as f64;
                (end, (end + s).min(video_duration))
            }
        };
        let plan = Splice::new(model, &existing, from, to, video_duration, args.overlap.max(DEFAULT_OVERLAP), &window_seq)
            .with_context(|| audio.display().to_string())?;
        long.request.window = plan.window;
        long.given = Some(plan.given.clone());
        splice = Some((plan, existing));
    } else if let Some(reference) = &args.reference_audio {
        long.prefix = overlap_tokens(args.overlap, &window_seq)?.max(quantum(&window_seq));
        let seconds = long.prefix as f64 / window_seq.latent_rate();
        let audio = foley_media::decode_audio_segment(reference, sr, args.reference_start, Some(seconds + 0.1))?;
        long.given = Some(reference_prefix(model, &audio, long.prefix, &window_seq).with_context(|| reference.display().to_string())?);
    }
    if splice.is_none() {
        raw.push_silence((window.start * sr as f64).round() as usize)?;
    }
    let mut meter = LevelMeter::new(sr)?;
    let mut generated = Vec::new();
    // A stream carries the samples at their final level, decided causally.
    let mut stream = args.stream.as_deref().map(|p| foley_media::WavStream::create(p, sr)).transpose()?;
    let mut stream_level = match (&stream, level) {
        (Some(_), Some(target)) => Some(StreamLevel::new(sr, target)?),
        _ => None,
    };
    if let Some(s) = &mut stream {
        s.push(&vec![0.0; (window.start * sr as f64).round() as usize])?;
    }
    let mut bar: Option<ProgressBar> = None;
    let stages = generate_long(
        model,
        &long,
        &mut |samples| {
            if splice.is_some() {
                generated.extend_from_slice(samples);
                return Ok(());
            }
            let Some(s) = &mut stream else {
                meter.add(samples)?;
                return Ok(raw.push(samples)?);
            };
            let ready = match &mut stream_level {
                Some(l) => l.push(samples)?,
                None => samples.to_vec(),
            };
            raw.push(&ready)?;
            Ok(s.push(&ready)?)
        },
        &mut |done, total| {
            let b = bar.get_or_insert_with(|| output::progress(total as u64, "windows"));
            b.set_position(done as u64);
        },
    )?;
    if let Some(b) = bar.take() {
        b.finish_and_clear();
    }
    clock.add("features", stages.features);
    clock.add("sampling", stages.sampling);
    clock.add(decoder, stages.decoding);
    clock.lap("other generation");
    // An edit keeps the existing audio as it is (the new part is matched to its loudness); a
    // stream is already at its level.
    let level = if let Some((plan, existing)) = &splice {
        raw.push(&plan.apply(existing, &generated, sr)?)?;
        None
    } else if let Some(mut s) = stream.take() {
        let rest = stream_level.take().map(StreamLevel::finish).unwrap_or_default();
        raw.push(&rest)?;
        s.push(&rest)?;
        s.finish()?;
        None
    } else {
        level
    };
    raw.finish()?;
    let gain = match level {
        Some(target) => {
            let report = meter.report(target)?;
            tracing::info!("output level: {:?} LUFS, true peak {:?} dBTP before; gain {:.1} dB", report.loudness_lufs, report.true_peak_dbtp, report.gain_db);
            report.gain()
        }
        None => 1.0,
    };
    foley_media::copy_wav_scaled(scratch.path(), wav_out.path(), gain).with_context(|| format!("writing {}", wav.display()))?;
    drop(scratch);
    clock.lap("level and wav");
    // The wav is published only once the mp4 exists: a failed mux leaves neither.
    foley_media::mux(input, wav_out.path(), mp4_out.path())?;
    mp4_out.commit()?;
    wav_out.commit()?;
    clock.lap("mux");
    if args.timings {
        eprintln!("{clock}");
    }
    let summary = format!("{} s from {:.2} s of {} -> {} and {}", window.duration, window.start, input.display(), out.display(), wav.display());
    // Standard output may be the audio stream itself.
    if args.stream.as_deref() == Some(Path::new("-")) {
        eprintln!("{summary}")
    } else {
        println!("{summary}")
    }
    Ok(())
}

/// Wall time per stage of one run, for `--timings`.
struct Clock {
    start: std::time::Instant,
    since: std::time::Instant,
    stages: Vec<(&'static str, std::time::Duration)>,
    /// Time already attributed inside the current lap (generation's own stages).
    attributed: std::time::Duration,
}

impl Clock {
    fn new() -> Self {
        let now = std::time::Instant::now();
        Self { start: now, since: now, stages: Vec::new(), attributed: std::time::Duration::ZERO }
    }

    /// Closes the current lap as `name` (what `add` did not attribute of it).
    fn lap(&mut self, name: &'static str) {
        let now = std::time::Instant::now();
        let rest = (now - self.since).saturating_sub(std::mem::take(&mut self.attributed));
        self.stages.push((name, rest));
        self.since = now;
    }

    /// Time a stage measured inside the current lap.
    fn add(&mut self, name: &'static str, d: std::time::Duration) {
        self.stages.push((name, d));
        self.attributed += d;
    }
}

impl std::fmt::Display for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "timings:")?;
        for (name, d) in &self.stages {
            write!(f, " {name} {:.2} s |", d.as_secs_f64())?;
        }
        write!(f, " total {:.2} s (process start not counted)", (self.since - self.start).as_secs_f64())
    }
}
