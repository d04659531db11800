//! `foley generate`: give a video a synchronized soundtrack with the shipped generator.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use clap::{Args, ValueEnum};
use foley_encoders::ModelCache;
use foley_gen::Generator;
use foley_gen::generate::{Encoders, Request, SampleOptions, Sampler, Stage, default_model_path, default_sync_model_path, generate_window, plan_window};
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
    #[arg(long, default_value_t = 0.0)]
    pub start: f64,
    /// Length of the window, seconds (default: the rest of the video; at most the generator's
    /// trained window, 8 s).
    #[arg(long)]
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
    #[arg(long, default_value_t = 2.0)]
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
}

/// `<stem>.foley.mp4` beside the input.
fn default_output(input: &Path) -> PathBuf {
    let stem = input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    input.with_file_name(format!("{stem}.foley.mp4"))
}

pub fn run(args: GenerateArgs) -> Result<()> {
    let input = &args.input;
    if !input.is_file() {
        bail!("{}: no such file", input.display());
    }
    let out = args.output.clone().unwrap_or_else(|| default_output(input));
    let wav = out.with_extension("wav");
    foley_media::ensure_not_input(&out, &[input])?;
    foley_media::ensure_not_input(&wav, &[input])?;
    let dir = foley_media::parent_dir(&out);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let info = foley_media::probe(input)?;
    let video = info.video.as_ref().with_context(|| format!("{}: no video stream", input.display()))?;
    let video_duration = video.duration.or(info.duration).with_context(|| format!("{}: unknown duration", input.display()))?;

    let device = Device::flex();
    let model_path = args.model.clone().unwrap_or_else(default_model_path);
    let mut generator = Generator::load(&model_path, &device)?;
    let window = plan_window(input, video_duration, args.start, args.duration, generator.meta.duration)?;
    let sampler = match args.sampler {
        SamplerKind::Shortcut => Sampler::Shortcut(args.steps),
        SamplerKind::Euler => Sampler::Euler(args.steps),
    };
    let sync_path = args.sync_model.clone().unwrap_or_else(default_sync_model_path);
    let enc = Encoders::load(&ModelCache::from_env()?, &sync_path, &device)?;

    let request = Request {
        video: input,
        window,
        prompt: args.prompt.as_deref(),
        negative: args.negative.as_deref(),
        options: SampleOptions { sampler, cfg: args.cfg, seed: args.seed, use_video: true },
    };
    let mut bar: Option<(Stage, ProgressBar)> = None;
    let (wave, _) = generate_window(&mut generator, &enc, &request, &mut |stage, done, total| {
        if bar.as_ref().is_none_or(|(s, _)| *s != stage) {
            if let Some((_, b)) = bar.take() {
                b.finish_and_clear();
            }
            let name = match stage {
                Stage::Features => "features",
                Stage::Sampling => "sampling",
                Stage::Vocoding => "griffin-lim",
            };
            bar = Some((stage, output::progress(total as u64, name)));
        }
        if let Some((_, b)) = &bar {
            b.set_position(done as u64);
        }
    })?;
    if let Some((_, b)) = bar.take() {
        b.finish_and_clear();
    }

    // The soundtrack of the whole video: silence outside the generated window.
    let sr = generator.sequence().sample_rate() as usize;
    let mut track = vec![0f32; (window.start * sr as f64).round() as usize];
    track.extend(&wave);
    // The wav is published only once the mp4 exists: a failed mux leaves neither.
    let wav_out = foley_media::AtomicOutput::new(&wav)?;
    foley_media::write_wav(wav_out.path(), &track, sr as u32).with_context(|| format!("writing {}", wav.display()))?;
    foley_media::mux(input, wav_out.path(), &out)?;
    wav_out.commit()?;
    println!("{} s from {:.2} s of {} -> {} and {}", window.duration, window.start, input.display(), out.display(), wav.display());
    Ok(())
}
