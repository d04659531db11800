//! `foley train <model>`: training commands, one variant per model; each lives in its own module.

use anyhow::Result;
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
