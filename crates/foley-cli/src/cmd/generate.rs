//! `foley generate`: give a video a synchronized soundtrack with the shipped generator or one of
//! MMAudio's released models.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, ValueEnum};
use foley_dsp::LevelTarget;
use foley_gen::longform::DEFAULT_OVERLAP;
use foley_job::{GenerateSpec, Models, Plan, Progress, Timings};
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
    #[command(flatten)]
    pub job: JobOptions,
    /// Print the time each stage took (checks, model loading, features, sampling, Griffin-Lim,
    /// level and wav, mux) on stderr.
    #[arg(long)]
    pub timings: bool,
}

/// Every option of a generation job but its input and output, shared by `foley generate` and
/// `foley batch`.
#[derive(Args)]
pub struct JobOptions {
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
    #[command(flatten)]
    pub models: ModelArgs,
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

impl JobOptions {
    /// The job these flags ask for, on `input` (written to `output`, or beside the input).
    pub fn spec(&self, input: PathBuf, output: Option<PathBuf>) -> GenerateSpec {
        GenerateSpec {
            input,
            output,
            start: self.start,
            duration: self.duration,
            prompt: self.prompt.clone(),
            negative: self.negative.clone(),
            steps: self.steps,
            sampler: self.sampler.map(|k| match k {
                SamplerKind::Shortcut => foley_job::SamplerKind::Shortcut,
                SamplerKind::Euler => foley_job::SamplerKind::Euler,
            }),
            cfg: self.cfg,
            seed: self.seed,
            overlap: self.overlap,
            loudness: self.loudness,
            true_peak: self.true_peak,
            raw_level: self.raw_level,
            audio: self.audio.clone(),
            inpaint: self.inpaint.clone(),
            extend: self.extend,
            reference_audio: self.reference_audio.clone(),
            reference_start: self.reference_start,
            stream: self.stream.clone(),
            ..self.models.spec()
        }
    }
}

/// Which networks a job runs, shared by `foley generate`, `foley batch` and `foley serve`
/// (which loads them once for every job).
#[derive(Args)]
pub struct ModelArgs {
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
    /// What turns foley's generated mel into audio (default: griffin-lim; MMAudio's models use
    /// their own BigVGAN).
    #[arg(long, value_enum)]
    pub decoder: Option<super::vocode::DecoderKind>,
    /// Vocoder weights for --decoder vocoder (default: $FOLEY_VOCODER_MODEL, else the shipped
    /// models/vocoder/vocoder.safetensors).
    #[arg(long)]
    pub vocoder: Option<PathBuf>,
}

impl ModelArgs {
    /// A default job on these networks.
    pub fn spec(&self) -> GenerateSpec {
        GenerateSpec {
            model: self.model.clone(),
            weights: self.weights.clone(),
            sync_model: self.sync_model.clone(),
            decoder: self.decoder.map(|d| match d {
                super::vocode::DecoderKind::Vocoder => foley_job::DecoderKind::Vocoder,
                super::vocode::DecoderKind::GriffinLim => foley_job::DecoderKind::GriffinLim,
            }),
            vocoder: self.vocoder.clone(),
            dtype: match self.dtype {
                super::flow::Precision::F32 => foley_job::Precision::F32,
                super::flow::Precision::Bf16 => foley_job::Precision::Bf16,
            },
            ..Default::default()
        }
    }
}

pub fn run(args: GenerateArgs) -> Result<()> {
    let mut clock = Timings::new();
    // Everything that can be checked is checked before the work starts; the models load
    // meanwhile (the probe mostly waits on ffprobe), and a bad input is still the error reported.
    let spec = args.job.spec(args.input.clone(), args.output.clone());
    let (plan, models) = std::thread::scope(|scope| {
        let with_text = spec.prompt.is_some() || spec.negative.is_some();
        let loading = spec.model_choice().ok().map(|choice| scope.spawn(move || Models::load_with_text(&choice, with_text)));
        // Frame decoding starts too, once the plan says which frames.
        let plan = Plan::new(spec).and_then(|plan| plan.prefetch_frames().map(|()| plan));
        clock.lap("checks and probe");
        (plan, loading.map(|l| l.join().expect("model loading panicked")))
    });
    let plan = plan?;
    let mut models = models.expect("a plan implies a model choice")?;
    clock.lap("model loading");
    let outputs = plan.run(&mut models, &mut Bar(None));
    foley_media::drop_prefetched();
    let outputs = outputs?;
    clock.extend(&outputs.timings);
    if args.timings {
        eprintln!("{clock}");
    }
    let summary =
        format!("{} s from {:.2} s of {} -> {} and {}", outputs.duration, outputs.start, args.input.display(), outputs.mp4.display(), outputs.wav.display());
    // Standard output may be the audio stream itself.
    if args.job.stream.as_deref() == Some(Path::new("-")) {
        eprintln!("{summary}")
    } else {
        println!("{summary}")
    }
    Ok(())
}

/// A progress bar over windows, shown once generation starts.
struct Bar(Option<ProgressBar>);

impl Progress for Bar {
    fn stage(&mut self, _name: &'static str) {
        if let Some(b) = self.0.take() {
            b.finish_and_clear();
        }
    }

    fn windows(&mut self, done: usize, total: usize) -> Result<()> {
        self.0.get_or_insert_with(|| output::progress(total as u64, "windows")).set_position(done as u64);
        Ok(())
    }
}
