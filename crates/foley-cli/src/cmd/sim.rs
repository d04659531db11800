//! `foley sim`: the procedural audio-visual scene simulator (sound bank, rendering, benchmark).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use foley_sim::bank::{self, Bank};
use foley_sim::corpus;
use foley_sim::mix::MixConfig;
use foley_sim::render::{render_clip, write_png, write_scene};
use foley_sim::scene::{Family, Scene, SceneConfig};
use foley_sim::splits::Split;

use crate::output::{progress, spinner};

/// Procedural scenes with real recorded sounds and exact event ground truth.
#[derive(Args)]
pub struct SimArgs {
    #[command(subcommand)]
    pub command: SimCommand,
}

/// `foley sim` subcommands.
#[derive(Subcommand)]
pub enum SimCommand {
    /// Build the sound bank from Debian packages (apt-get download + dpkg-deb -x; nothing is
    /// installed). Returns at once when a complete bank is already there.
    Bank(BankArgs),
    /// Build the vocoder corpus: every recorded sound effect, ambience and voice of fourteen Debian
    /// game packages at 16 kHz, split train / validation by file (several GB downloaded, about
    /// 2 GB kept). Returns at once when a complete corpus is already there.
    Corpus(CorpusArgs),
    /// Render one scene: scene.mp4 (H.264 + AAC), scene.wav and events.json.
    Render(RenderArgs),
    /// Write chosen frames of a scene as PNG pictures.
    Frames(FramesArgs),
    /// Measure rendering throughput (seconds of audio-video per wall second), in memory and to mp4.
    Bench(BenchArgs),
}

/// Options of `foley sim bank`.
#[derive(Args)]
pub struct BankArgs {
    /// Bank directory (default: $FOLEY_SIM_BANK or ${XDG_CACHE_HOME:-~/.cache}/foley/sound-bank).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Options of `foley sim corpus`.
#[derive(Args)]
pub struct CorpusArgs {
    /// Corpus directory (default: $FOLEY_VOCODER_CORPUS or ${XDG_CACHE_HOME:-~/.cache}/foley/vocoder-corpus).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// What defines a scene.
#[derive(Args, Clone)]
pub struct SceneArgs {
    /// Scene seed (splits: train 0..800000, val ..850000, test ..900000, held-out >= 900000).
    #[arg(long)]
    pub seed: u64,
    /// Duration in seconds (any length).
    #[arg(long, default_value_t = 8.0)]
    pub duration: f64,
    /// Frame width in pixels (even).
    #[arg(long, default_value_t = 224)]
    pub width: u32,
    /// Frame height in pixels (even).
    #[arg(long, default_value_t = 224)]
    pub height: u32,
    /// Frames per second.
    #[arg(long, default_value_t = 25)]
    pub fps: u32,
    /// Place only these families (repeatable: walk, drop, door, glass, gun, explosion, fire,
    /// cart, water); default: sampled from the seed.
    #[arg(long = "family", value_parser = parse_family)]
    pub families: Vec<Family>,
    /// Leave out the silent distractors.
    #[arg(long)]
    pub no_distractors: bool,
}

impl SceneArgs {
    fn config(&self) -> SceneConfig {
        SceneConfig {
            seed: self.seed,
            duration: self.duration,
            width: self.width,
            height: self.height,
            fps: self.fps,
            families: self.families.clone(),
            distractors: !self.no_distractors,
        }
    }
}

fn parse_family(s: &str) -> Result<Family, String> {
    Family::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = Family::ALL.iter().map(|f| f.name()).collect();
        format!("unknown family `{s}` (one of {})", names.join(", "))
    })
}

/// Options of `foley sim render`.
#[derive(Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub scene: SceneArgs,
    /// Output directory (created if missing).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Audio sample rate: 16000 or 44100.
    #[arg(long, default_value_t = 16_000)]
    pub sample_rate: u32,
    /// Wet level of the room reverb (0 = dry).
    #[arg(long, default_value_t = 0.0)]
    pub reverb: f32,
    /// Background noise level in dBFS; `off` for digital silence.
    #[arg(long, default_value = "-60")]
    pub noise_floor: String,
    /// Bank directory (default: the cache location).
    #[arg(long)]
    pub bank: Option<PathBuf>,
}

/// Options of `foley sim frames`.
#[derive(Args)]
pub struct FramesArgs {
    #[command(flatten)]
    pub scene: SceneArgs,
    /// Frame indices to write (comma-separated).
    #[arg(long, value_delimiter = ',', required = true)]
    pub frames: Vec<usize>,
    /// Output directory; frames are written as <prefix>_<k>.png.
    #[arg(short, long)]
    pub output: PathBuf,
    /// File name prefix.
    #[arg(long, default_value = "frame")]
    pub prefix: String,
}

/// Options of `foley sim bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Number of scenes (seeds 0..N of the training range).
    #[arg(long, default_value_t = 8)]
    pub scenes: u64,
    /// Duration of each scene in seconds.
    #[arg(long, default_value_t = 8.0)]
    pub duration: f64,
    /// Scenes also written to mp4 (a subset: encoding is the slow part).
    #[arg(long, default_value_t = 2)]
    pub mp4_scenes: u64,
    /// Bank directory (default: the cache location).
    #[arg(long)]
    pub bank: Option<PathBuf>,
}

pub fn run(args: SimArgs) -> Result<()> {
    match args.command {
        SimCommand::Bank(a) => run_bank(a),
        SimCommand::Corpus(a) => run_corpus(a),
        SimCommand::Render(a) => run_render(a),
        SimCommand::Frames(a) => run_frames(a),
        SimCommand::Bench(a) => run_bench(a),
    }
}

fn run_bank(args: BankArgs) -> Result<()> {
    let dir = args.dir.unwrap_or_else(bank::default_dir);
    let bar = progress(0, "converting");
    let report = bank::build(&dir, &|done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    let total: usize = report.per_class.iter().map(|c| c.1).sum();
    let verb = if report.built { "built" } else { "already up to date:" };
    println!("sound bank {verb} {} ({total} recordings)", report.dir.display());
    for p in &report.packages {
        println!("  package {} {}", p.name, p.version);
    }
    for (class, n) in &report.per_class {
        println!("  {:<16} {n}", class.name());
    }
    Ok(())
}

fn run_corpus(args: CorpusArgs) -> Result<()> {
    let dir = args.dir.unwrap_or_else(corpus::default_dir);
    let bar = progress(0, "converting");
    let report = corpus::build(&dir, &|done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    let verb = if report.built { "built" } else { "already up to date:" };
    println!("vocoder corpus {verb} {}", report.dir.display());
    for p in &report.packages {
        println!("  package {} {}", p.name, p.version);
    }
    let hours = |s: f64| s / 3600.0;
    println!("  train      {:>6} files {:>6.2} h", report.files_train, hours(report.seconds_train));
    println!("  validation {:>6} files {:>6.2} h", report.files_validation, hours(report.seconds_validation));
    Ok(())
}

fn load_bank(dir: Option<PathBuf>, sample_rate: u32) -> Result<Bank> {
    let dir = dir.unwrap_or_else(bank::default_dir);
    Bank::load(&dir, sample_rate)
}

fn run_render(args: RenderArgs) -> Result<()> {
    let config = args.scene.config();
    config.validate()?;
    let noise_floor_db = match args.noise_floor.as_str() {
        "off" => None,
        s => Some(s.parse::<f32>().with_context(|| format!("--noise-floor: `{s}` is not a number of dBFS or `off`"))?),
    };
    if !(0.0..=1.0).contains(&args.reverb) {
        bail!("--reverb must be in [0, 1], got {}", args.reverb);
    }
    let mix = MixConfig { reverb: args.reverb, noise_floor_db, ..MixConfig::default() };
    let bank = load_bank(args.bank, args.sample_rate)?;
    let bar = progress(config.num_frames() as u64, "frames");
    let files = write_scene(&config, &bank, &mix, &args.output, &mut |k, _| bar.set_position(k as u64))?;
    bar.finish_and_clear();
    println!(
        "seed {} ({} split): {} events -> {}, {}, {}",
        config.seed,
        Split::of(config.seed).name(),
        files.num_events,
        files.mp4.display(),
        files.wav.display(),
        files.events.display()
    );
    Ok(())
}

fn run_frames(args: FramesArgs) -> Result<()> {
    let scene = Scene::generate(&args.scene.config())?;
    if let Some(k) = args.frames.iter().find(|&&k| k >= scene.num_frames()) {
        bail!("frame {k} is past the end of the scene ({} frames)", scene.num_frames());
    }
    std::fs::create_dir_all(&args.output).with_context(|| format!("{}: cannot create", args.output.display()))?;
    for &k in &args.frames {
        let path = args.output.join(format!("{}_{k}.png", args.prefix));
        write_png(&scene, k, &path)?;
        println!("{}", path.display());
    }
    Ok(())
}

fn run_bench(args: BenchArgs) -> Result<()> {
    let bank = load_bank(args.bank, 16_000)?;
    let mix = MixConfig::default();
    let seconds = args.scenes as f64 * args.duration;
    let spin = spinner("in memory");
    let t = Instant::now();
    let mut frames_only = 0.0;
    for seed in 0..args.scenes {
        let config = SceneConfig::new(seed, args.duration);
        let t0 = Instant::now();
        let scene = Scene::generate(&config)?;
        std::hint::black_box(foley_sim::render::render_frames(&scene));
        frames_only += t0.elapsed().as_secs_f64();
        std::hint::black_box(render_clip(&config, &bank, &mix)?);
    }
    let full = t.elapsed().as_secs_f64() - frames_only;
    spin.finish_and_clear();

    let tmp = tempfile::tempdir()?;
    let spin = spinner("to mp4");
    let t = Instant::now();
    for seed in 0..args.mp4_scenes {
        write_scene(&SceneConfig::new(seed, args.duration), &bank, &mix, &tmp.path().join(seed.to_string()), &mut |_, _| {})?;
    }
    let mp4 = t.elapsed().as_secs_f64();
    spin.finish_and_clear();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("| path | scenes | audio-video seconds | wall seconds | AV seconds per wall second |");
    println!("| --- | --- | --- | --- | --- |");
    println!("| frames only, in memory ({threads} threads) | {} | {seconds:.0} | {frames_only:.2} | {:.1} |", args.scenes, seconds / frames_only);
    println!("| frames + mix, in memory (`render_clip`) | {} | {seconds:.0} | {full:.2} | {:.1} |", args.scenes, seconds / full);
    let mp4_seconds = args.mp4_scenes as f64 * args.duration;
    println!("| mp4 + wav + events.json (`write_scene`) | {} | {mp4_seconds:.0} | {mp4:.2} | {:.1} |", args.mp4_scenes, mp4_seconds / mp4);
    Ok(())
}
