//! `foley train <model>`: training commands, one variant per model; each lives in its own module.

use std::path::Path;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Args)]
pub struct TrainArgs {
    #[command(subcommand)]
    command: TrainCommand,
}

#[derive(Subcommand)]
pub enum TrainCommand {
    /// The generator from a TOML configuration (`foley train gen CONFIG.toml`).
    Gen(super::train_gen::TrainGenArgs),
    /// The timing-envelope predictor of a generator run with `envelope = true` (same TOML).
    Envelope(super::train_envelope::TrainEnvelopeArgs),
    /// The sync backbone (SALSA-V InfoNCE and/or Foley-Flow VAMA) on foley-sim scenes; writes the
    /// model, training curves and held-out offset accuracy.
    Sync(super::train_sync::TrainSyncArgs),
    /// Foley-Flow VAMA pretraining of a generator run's semantic projection (same TOML as gen).
    Vama(super::train_vama::TrainVamaArgs),
    /// foley's vocoder (Vocos) on the real-recording corpus of `foley sim corpus`, from a TOML
    /// configuration; writes checkpoints, loss curves and the exported weights.
    Vocoder(super::train_vocoder::TrainVocoderArgs),
}

pub fn run(args: TrainArgs) -> Result<()> {
    match args.command {
        TrainCommand::Gen(args) => super::train_gen::run(args),
        TrainCommand::Envelope(args) => super::train_envelope::run(args),
        TrainCommand::Sync(args) => super::train_sync::run(args),
        TrainCommand::Vama(args) => super::train_vama::run(args),
        TrainCommand::Vocoder(args) => super::train_vocoder::run(args),
    }
}

/// The progress bar of the training commands: steps, current losses, steps/s.
pub(super) fn train_bar(steps: u64) -> ProgressBar {
    let bar = ProgressBar::new(steps);
    bar.set_style(ProgressStyle::with_template("train [{bar:32}] {pos}/{len} {msg} {per_sec} eta {eta}").expect("static template").progress_chars("=> "));
    bar
}

/// `loss` folded into the running average the bar shows (one step's loss is noisy).
pub(super) fn smoothed(average: &mut Option<f64>, loss: f64) -> f64 {
    let s = average.map_or(loss, |s| 0.98 * s + 0.02 * loss);
    *average = Some(s);
    s
}

/// Write a run's `loss.csv` (one row per step) and `loss.png` in `out`.
pub(super) fn write_loss_curve(out: &Path, losses: &[f32], title: &str) -> Result<()> {
    let csv: String = std::iter::once("step,loss\n".to_string()).chain(losses.iter().enumerate().map(|(i, l)| format!("{},{l}\n", i + 1))).collect();
    let path = out.join("loss.csv");
    std::fs::write(&path, csv).with_context(|| format!("writing {}", path.display()))?;
    foley_gen::plot::write_loss_png(&out.join("loss.png"), losses, title).map_err(|e| anyhow::anyhow!(e))
}

/// How a run ended: where the finished run's weights went, or where its checkpoint is.
pub(super) fn report_end(state: &foley_gen::checkpoint::RunState, out: &Path, weights: Option<&Path>) {
    match weights {
        Some(weights) => {
            println!("{} steps in {:.0} s -> {} (+ .json), loss curve {}", state.step, state.wall_seconds, weights.display(), out.join("loss.png").display())
        }
        None => println!("stopped at step {} (checkpoint in {})", state.step, foley_gen::checkpoint::dir(out).display()),
    }
}
