//! `foley generate`: give a video a synchronized soundtrack with the shipped generator.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use clap::{Args, ValueEnum};
use foley_dsp::{LevelMeter, LevelTarget};
use foley_encoders::ModelCache;
use foley_gen::Generator;
use foley_gen::generate::{Encoders, Request, SampleOptions, Sampler, default_model_path, default_sync_model_path, plan_window};
use foley_gen::longform::{DEFAULT_OVERLAP, LongRequest, Splice, generate_long, overlap_tokens, reference_prefix};
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
    /// Sampling steps.
    #[arg(long, default_value_t = 8)]
    pub steps: usize,
    /// ODE integrator.
    #[arg(long, value_enum, default_value_t = SamplerKind::Shortcut)]
    pub sampler: SamplerKind,
    /// Classifier-free guidance weight (1 = none).
    #[arg(long, default_value_t = 2.0, allow_negative_numbers = true)]
    pub cfg: f32,
    /// Noise seed (same seed, same output).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Generator weights (default: the shipped models/gen/gen.safetensors).
    #[arg(long)]
    pub model: Option<PathBuf>,
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

pub fn run(args: GenerateArgs) -> Result<()> {
    let mut clock = Clock::new();
    // Everything that can be checked is checked before the models load and the work starts.
    let input = &args.input;
    foley_media::check_input(input)?;
    let sampler = match args.sampler {
        SamplerKind::Shortcut => Sampler::Shortcut(args.steps),
        SamplerKind::Euler => Sampler::Euler(args.steps),
    };
    let options = SampleOptions { sampler, cfg: args.cfg, seed: args.seed, use_video: true };
    options.validate()?;
    let edit = edit_range(&args)?;
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
    let out = args.output.clone().unwrap_or_else(|| default_output(input));
    let wav = out.with_extension("wav");
    foley_media::ensure_not_input(&out, &[input])?;
    foley_media::ensure_not_input(&wav, &[input])?;
    let info = foley_media::probe(input)?;
    let video = info.video.as_ref().with_context(|| format!("{}: has no video stream", input.display()))?;
    let video_duration = video.duration.or(info.duration).with_context(|| format!("{}: unknown duration", input.display()))?;
    foley_media::check_muxable(input, video, &out)?;
    // Reserving both outputs now proves their directory is writable.
    let wav_out = foley_media::AtomicOutput::new(&wav)?;
    let mp4_out = foley_media::AtomicOutput::new(&out)?;

    clock.lap("checks and probe");
    let device = Device::flex();
    let model_path = args.model.clone().unwrap_or_else(default_model_path);
    let mut generator = Generator::load(&model_path, &device)?;
    let window = plan_window(input, video_duration, args.start, args.duration)?;
    let sync_path = args.sync_model.clone().unwrap_or_else(default_sync_model_path);
    let enc = Encoders::load(&ModelCache::from_env()?, &sync_path, &device)?;

    clock.lap("model loading");
    // Raw samples stream to a scratch wav as windows finish (memory does not grow with the
    // clip) while the loudness meter follows; the final wav is that file at the output level.
    let sr = generator.sequence().sample_rate();
    let window_seq = generator.sequence();
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
        let plan =
            Splice::new(&existing, from, to, video_duration, args.overlap.max(DEFAULT_OVERLAP), &window_seq).with_context(|| audio.display().to_string())?;
        long.request.window = plan.window;
        long.given = Some(plan.given.clone());
        splice = Some((plan, existing));
    } else if let Some(reference) = &args.reference_audio {
        long.prefix = overlap_tokens(args.overlap, &window_seq)?.max(window_seq.sync_aligned_tokens());
        let seconds = long.prefix as f64 / window_seq.latent_rate();
        let audio = foley_media::decode_audio_segment(reference, sr, args.reference_start, Some(seconds + 0.1))?;
        long.given = Some(reference_prefix(&audio, long.prefix, &window_seq).with_context(|| reference.display().to_string())?);
    }
    if splice.is_none() {
        raw.push_silence((window.start * sr as f64).round() as usize)?;
    }
    let mut meter = LevelMeter::new(sr)?;
    let mut generated = Vec::new();
    let mut bar: Option<ProgressBar> = None;
    let stages = generate_long(
        &mut generator,
        &enc,
        &long,
        &mut |samples| {
            if splice.is_some() {
                generated.extend_from_slice(samples);
                return Ok(());
            }
            meter.add(samples)?;
            Ok(raw.push(samples)?)
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
    clock.add("griffin-lim", stages.decoding);
    clock.lap("other generation");
    // An edit keeps the existing audio as it is (the new part is matched to its loudness).
    let level = if let Some((plan, existing)) = &splice {
        raw.push(&plan.apply(existing, &generated, sr)?)?;
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
    println!("{} s from {:.2} s of {} -> {} and {}", window.duration, window.start, input.display(), out.display(), wav.display());
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
