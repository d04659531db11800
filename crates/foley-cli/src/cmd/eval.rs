//! `foley eval`: score generated soundtracks against references (FD, KL, IS, onsets, sync,
//! AV-Align) and write a report directory (JSON, Markdown, PNG figures).

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use foley_eval::pipeline::{EvalOptions, Evaluator, pair_inputs};
use foley_eval::run::{Progress, check_report_dest, evaluate_pairs, publish_report};
use foley_eval::yamnet::Precision;

use crate::output::progress;

/// Score generated audio against reference audio, pairing files by name.
#[derive(Args)]
pub struct EvalArgs {
    /// Directory of generated audio or videos with audio (wav, flac, mp3, ogg, mp4, ...).
    #[arg(long)]
    pub generated: PathBuf,
    /// Directory of reference audio/videos; files pair with generated ones by file stem.
    #[arg(long)]
    pub reference: PathBuf,
    /// Directory of the source videos (by stem), for AV-Align.
    #[arg(long)]
    pub videos: Option<PathBuf>,
    /// Directory of ground-truth events (`<stem>.json`, foley-sim's events.json layout or a JSON
    /// array of onset seconds); otherwise the reference audio's onsets are the ground truth.
    #[arg(long)]
    pub events: Option<PathBuf>,
    /// YAMNet assets directory (graph.json, yamnet_constants.safetensors, yamnet_class_map.csv);
    /// default: $FOLEY_YAMNET, else ~/.cache/foley/models/yamnet.
    #[arg(long)]
    pub yamnet: Option<PathBuf>,
    /// How YAMNet's int8 layers run.
    #[arg(long, value_enum, default_value_t = PrecisionArg::Tflite)]
    pub precision: PrecisionArg,
    /// Inception Score splits.
    #[arg(long, default_value_t = 10)]
    pub is_splits: usize,
    /// Largest sync offset searched, seconds.
    #[arg(long, default_value_t = 2.0)]
    pub max_lag: f64,
    /// Output report directory (report.json, report.md, figures/): new, empty, or holding an
    /// earlier foley report, whose files alone are replaced (other files are never touched).
    #[arg(short, long)]
    pub output: PathBuf,
}

/// YAMNet precision.
#[derive(Clone, Copy, ValueEnum)]
pub enum PrecisionArg {
    /// Exact emulation of TF-Lite's hybrid int8 kernels (matches the released model).
    Tflite,
    /// Plain f32 with dequantized weights.
    Float,
}

fn default_yamnet_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FOLEY_YAMNET") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("foley/models/yamnet")
}

fn check_dir(path: &Path, what: &str) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => bail!("{}: is not a directory; --{what} takes a directory of files paired by name", path.display()),
        Err(_) => bail!("{}: {what} directory not found", path.display()),
    }
}

pub fn run(args: EvalArgs) -> Result<()> {
    check_dir(&args.generated, "generated")?;
    check_dir(&args.reference, "reference")?;
    for (dir, what) in [(&args.videos, "videos"), (&args.events, "events")] {
        if let Some(d) = dir {
            check_dir(d, what)?;
        }
    }
    check_report_dest(&args.output)?;
    let yamnet_dir = args.yamnet.clone().unwrap_or_else(default_yamnet_dir);
    if !yamnet_dir.join("graph.json").is_file() {
        bail!(
            "{}: YAMNet assets not found (need graph.json, yamnet_constants.safetensors, yamnet_class_map.csv); pass --yamnet DIR or set FOLEY_YAMNET",
            yamnet_dir.display()
        );
    }
    let pairing = pair_inputs(&args.generated, &args.reference, args.videos.as_deref(), args.events.as_deref())?;
    for note in &pairing.notes {
        tracing::warn!("{note}");
    }
    if pairing.clips.is_empty() {
        bail!("no generated file in {} has a reference of the same name in {}", args.generated.display(), args.reference.display());
    }
    let precision = match args.precision {
        PrecisionArg::Tflite => Precision::TfliteHybrid,
        PrecisionArg::Float => Precision::Float,
    };
    let evaluator = Evaluator::load(&yamnet_dir, precision, EvalOptions { is_splits: args.is_splits, max_lag_s: args.max_lag })?;

    let staging = foley_media::StagingDir::for_dest(&args.output)?;
    let bar = progress(pairing.clips.len() as u64, "eval");
    let result = evaluate_pairs(&evaluator, &pairing, staging.path(), |p| match p {
        Progress::Clip { index, name, .. } => {
            bar.set_position(index as u64);
            bar.set_message(name.chars().take(24).collect::<String>());
        }
    });
    bar.finish_and_clear();
    let report = result?;
    publish_report(staging, &args.output)?;
    let s = &report.summary;
    let show = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{x:.4}"));
    println!(
        "{} pairs: FD {} | KL softmax {} sigmoid {} | IS {} | onset acc {} AP {} F1 {} | |offset| {} s | AV-Align {}",
        s.pairs,
        show(s.fd),
        show(s.kl_softmax),
        show(s.kl_sigmoid),
        show(s.is_mean),
        show(s.onset_accuracy),
        show(s.onset_ap),
        show(s.onset_f1),
        show(s.sync_mean_abs_offset_s),
        show(s.av_align),
    );
    println!("report: {}", args.output.join("report.md").display());
    // Clips that could not be read were left out: say which, and fail, so a script notices.
    let skipped: Vec<&String> = report.notes.iter().filter(|n| !pairing.notes.contains(n) && n.contains(": skipped: ")).collect();
    for note in &skipped {
        eprintln!("warning: {note}");
    }
    if !skipped.is_empty() {
        bail!("{} of {} clips could not be evaluated (listed above); the report covers the other {}", skipped.len(), pairing.clips.len(), s.pairs);
    }
    Ok(())
}
