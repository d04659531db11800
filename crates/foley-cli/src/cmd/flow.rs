//! `foley flow`: the flow network on its own (researcher commands).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use foley_flow::bench::{BenchSpec, run as run_bench};
use foley_flow::io::{Named, forward_file, safetensors_bytes};
use foley_flow::{DType, Device, FlowConfig};

use crate::output;

/// Run or measure the flow network (MMAudio's MM-DiT).
#[derive(Args)]
pub struct FlowArgs {
    #[command(subcommand)]
    pub command: FlowCommand,
}

#[derive(Subcommand)]
pub enum FlowCommand {
    /// One forward pass, MMAudio's `forward(latent, clip_f, sync_f, text_f, t)`, on tensors from a file.
    Forward(ForwardArgs),
    /// Time the forward pass and a full sampling on random weights; print a BENCHMARKS.md row.
    Bench(BenchArgs),
}

#[derive(Args)]
pub struct ForwardArgs {
    /// JSON of MMAudio constructor arguments (latent_dim, clip_dim, sync_dim, text_dim, hidden_dim,
    /// num_heads, depth, fused_depth, latent_seq_len, clip_seq_len, sync_seq_len, text_seq_len, v2).
    #[arg(long)]
    pub config: PathBuf,
    /// State dict with MMAudio's keys: PyTorch `.pth` or `.safetensors`.
    #[arg(long)]
    pub weights: PathBuf,
    /// `.safetensors` holding `latent` (B,N,C), `clip_f`, `sync_f`, `text_f` and `t` (B).
    #[arg(long)]
    pub inputs: PathBuf,
    /// Output `.safetensors` with the tensor `flow` (B,N,C).
    #[arg(short, long)]
    pub output: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Precision {
    F32,
    Bf16,
}

#[derive(Args)]
pub struct BenchArgs {
    /// Released configuration to build with random weights.
    #[arg(long, default_value = "small_16k")]
    pub config: String,
    /// Clip duration in seconds (sets the sequence lengths).
    #[arg(long, default_value_t = 8.0)]
    pub duration: f64,
    /// Batch size (2 = conditional + unconditional).
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Weight and activation precision.
    #[arg(long, value_enum, default_value = "f32")]
    pub dtype: Precision,
    /// Timed repetitions after one warm-up (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
    /// Also time a full Euler sampling with CFG 4.5 and this many steps (0 = skip).
    #[arg(long, default_value_t = 0)]
    pub sample_steps: usize,
}

pub fn run(args: FlowArgs) -> Result<()> {
    match args.command {
        FlowCommand::Forward(a) => forward(a),
        FlowCommand::Bench(a) => bench(a),
    }
}

fn forward(args: ForwardArgs) -> Result<()> {
    let config = FlowConfig::from_json_file(&args.config)?;
    let spinner = output::spinner("flow forward");
    let flow = forward_file(&config, &args.weights, &args.inputs, &Device::flex())?;
    spinner.finish_and_clear();
    let tensors: Named = [("flow".to_string(), flow)].into();
    let bytes = safetensors_bytes(&tensors)?;
    output::write_atomic(&args.output, |tmp| std::fs::write(tmp, &bytes).context("write"))?;
    tracing::info!("wrote {}", args.output.display());
    Ok(())
}

fn bench(args: BenchArgs) -> Result<()> {
    if args.batch == 0 || args.reps == 0 {
        bail!("--batch and --reps must be positive");
    }
    let seq = match args.config.as_str() {
        "small_16k" => foley_seq::SequenceConfig::mmaudio_16k(args.duration),
        _ => foley_seq::SequenceConfig::mmaudio_44k(args.duration),
    };
    let config = FlowConfig::released(&args.config)?.with_sequence(&seq);
    let dtype = match args.dtype {
        Precision::F32 => DType::F32,
        Precision::Bf16 => DType::BF16,
    };
    let spec = BenchSpec { config, batch: args.batch, dtype, reps: args.reps, sample_steps: args.sample_steps };
    let bar = output::spinner("flow bench");
    let r = run_bench(&spec, &Device::flex(), &mut |what| bar.set_message(what.to_string()))?;
    bar.finish_and_clear();
    let dtype = match args.dtype {
        Precision::F32 => "f32",
        Precision::Bf16 => "bf16",
    };
    let sample = r.sample_s.map_or("-".to_string(), |s| format!("{s:.2} s ({} steps)", args.sample_steps));
    let rss = r.peak_rss_mib.map_or("-".to_string(), |m| format!("{m:.0} MiB"));
    println!("| config | duration | batch | dtype | params | forward (median / min) | predict_flow (median / min) | sampling (CFG 4.5) | peak RSS |");
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} s | {} | {dtype} | {:.1}M | {:.3} / {:.3} s | {:.3} / {:.3} s | {sample} | {rss} |",
        args.config,
        args.duration,
        args.batch,
        r.params as f64 / 1e6,
        r.forward_s.0,
        r.forward_s.1,
        r.predict_flow_s.0,
        r.predict_flow_s.1
    );
    Ok(())
}
