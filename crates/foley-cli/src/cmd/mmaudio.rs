//! `foley mmaudio check`: MMAudio's pipeline, component by component, on tensors from a file;
//! and the check of a folder of its released files behind `foley models check`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use foley_flow::Device;
use foley_flow::io::safetensors_bytes;
use foley_gen::mmaudio::bench::{self, BenchSpec};
use foley_gen::mmaudio::check::{self, Component, Configs};
use foley_gen::mmaudio::variant::{MmaudioFiles, Part, VARIANTS, Variant};

use crate::output;

#[derive(Args)]
pub struct MmaudioArgs {
    #[command(subcommand)]
    command: MmaudioCommand,
}

#[derive(Subcommand)]
enum MmaudioCommand {
    /// Run one component (or the whole pipeline) on the input tensors of a test-vector file and
    /// write every output tensor that file holds, under the same names.
    Check(CheckArgs),
    /// Time each part of a released pipeline on random weights of its size, in the units a clip
    /// is made of; print a BENCHMARKS.md table with the cost of an 8 s clip.
    Bench(BenchArgs),
}

#[derive(Args)]
struct BenchArgs {
    /// small_16k, small_44k, medium_44k, large_44k or large_44k_v2.
    #[arg(long, default_value = "small_16k")]
    model: String,
    /// Precision of the flow network.
    #[arg(long, value_enum, default_value = "f32")]
    dtype: super::flow::Precision,
    /// CLIP frames per timed call.
    #[arg(long, default_value_t = 8)]
    clip_frames: usize,
    /// Synchformer segments per timed call.
    #[arg(long, default_value_t = 4)]
    sync_segments: usize,
    /// Timed repetitions after one warm-up (the median is reported).
    #[arg(long, default_value_t = 3)]
    reps: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum ComponentArg {
    Vae,
    Bigvgan,
    BigvganV2,
    Synchformer,
    Clip,
    Pipeline,
}

#[derive(Args)]
struct CheckArgs {
    /// vae, bigvgan (16 kHz), bigvgan-v2 (44.1 kHz), synchformer, clip or pipeline.
    #[arg(value_enum)]
    component: ComponentArg,
    /// JSON file of named configurations (official constructor arguments).
    #[arg(long)]
    config: PathBuf,
    /// The configuration's key in that file (e.g. `vae_16k_shared`).
    #[arg(long)]
    name: String,
    /// The component's weights as the official code saves them (`.pth`, `.pt`, `.safetensors`).
    #[arg(long)]
    weights: PathBuf,
    /// `.safetensors` with the input tensors (a golden `.io.safetensors` file).
    #[arg(long)]
    inputs: PathBuf,
    /// Output `.safetensors`.
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(args: MmaudioArgs) -> Result<()> {
    match args.command {
        MmaudioCommand::Check(a) => run_check(a),
        MmaudioCommand::Bench(a) => run_bench(a),
    }
}

fn run_check(args: CheckArgs) -> Result<()> {
    let component = match args.component {
        ComponentArg::Vae => Component::Vae,
        ComponentArg::Bigvgan => Component::Bigvgan,
        ComponentArg::BigvganV2 => Component::BigvganV2,
        ComponentArg::Synchformer => Component::Synchformer,
        ComponentArg::Clip => Component::Clip,
        ComponentArg::Pipeline => Component::Pipeline,
    };
    let configs = Configs::read(&args.config)?;
    let spinner = output::spinner("mmaudio check");
    let outputs = check::run(component, &configs, &args.name, &args.weights, &args.inputs, &Device::flex());
    spinner.finish_and_clear();
    let bytes = safetensors_bytes(&outputs?)?;
    output::write_atomic(&args.output, |tmp| std::fs::write(tmp, &bytes).context("write"))?;
    tracing::info!("wrote {}", args.output.display());
    Ok(())
}

fn run_bench(args: BenchArgs) -> Result<()> {
    if args.clip_frames == 0 || args.sync_segments == 0 || args.reps == 0 {
        bail!("--clip-frames, --sync-segments and --reps must be positive");
    }
    let dtype = match args.dtype {
        super::flow::Precision::F32 => foley_flow::DType::F32,
        super::flow::Precision::Bf16 => foley_flow::DType::BF16,
    };
    let spec = BenchSpec { variant: args.model.parse()?, dtype, clip_frames: args.clip_frames, sync_segments: args.sync_segments, reps: args.reps };
    let bar = output::spinner("mmaudio bench");
    let rows = bench::run(&spec, &Device::flex(), &mut |what| bar.set_message(what.to_string()));
    bar.finish_and_clear();
    let rows = rows?;
    println!("| part ({}, flow {:?}) | per call | median / min | calls per 8 s clip | per 8 s clip | peak RSS |", spec.variant, dtype);
    println!("|---|---|---|---|---|---|");
    let mut total = 0.0;
    for r in &rows {
        let clip = r.median_s * r.per_clip;
        total += clip;
        let rss = r.peak_rss_mib.map_or("-".to_string(), |m| format!("{m:.0} MiB"));
        println!("| {} | {} | {:.3} / {:.3} s | {:.1} | {clip:.2} s | {rss} |", r.part, r.unit, r.median_s, r.min_s, r.per_clip);
    }
    println!("| **8 s clip, Euler {} steps** | | | | **{total:.1} s** | |", foley_gen::mmaudio::DEFAULT_STEPS);
    Ok(())
}

/// `foley models check DIR`: which of MMAudio's released files `dir` lacks, and whether each
/// present one has the keys and shapes of the released configuration.
pub fn check_weights(dir: &std::path::Path, model: Option<&str>) -> Result<()> {
    let variants: Vec<Variant> = match model {
        Some(m) => vec![m.parse()?],
        None => VARIANTS
            .into_iter()
            .filter(|v| v.file_names().iter().any(|(p, names)| *p == Part::Network && foley_gen::mmaudio::variant::find_file(&dir, names).is_some()))
            .collect(),
    };
    if variants.is_empty() {
        bail!(
            "{}: no MMAudio network file (mmaudio_small_16k.pth ... mmaudio_large_44k_v2.pth) found; name one with --model to see what is missing",
            dir.display()
        );
    }
    let mut bad = 0;
    for variant in variants {
        let files = match MmaudioFiles::find(variant, &dir) {
            Ok(f) => f,
            Err(e) => {
                println!("{variant}: {e:#}");
                bad += 1;
                continue;
            }
        };
        for (part, path, report) in files.check(variant)? {
            if report.is_ok() {
                println!("{variant} {part}: ok ({})", path.display());
            } else {
                println!("{variant} {part}: {} {report}", path.display());
                bad += 1;
            }
        }
    }
    if bad > 0 {
        bail!("{bad} problem(s) in {}", dir.display());
    }
    Ok(())
}
