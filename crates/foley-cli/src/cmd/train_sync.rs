//! `foley train sync`: train the sync backbone on foley-sim (foley_encoders::sync_recipe).

use std::path::PathBuf;

use anyhow::{Result, anyhow};
use clap::{Args, ValueEnum};
use foley_encoders::sync_plot::Curve;
use foley_encoders::sync_recipe::{self, RecipeOptions, Stage};
use foley_encoders::sync_train::{Objective, TrainOptions};
use indicatif::ProgressBar;

use crate::output;

#[derive(Clone, Copy, ValueEnum)]
enum ObjectiveArg {
    /// InfoNCE over aligned windows (SALSA-V).
    Contrastive,
    /// Masked audio reconstruction from video (Foley-Flow VAMA).
    Vama,
    /// InfoNCE plus VAMA.
    Both,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum DTypeArg {
    F32,
    F16,
}

#[derive(Args)]
pub struct TrainSyncArgs {
    /// Output folder: sync.safetensors + sync.json, curve.csv, curve.png, result.json.
    #[arg(short, long)]
    out: PathBuf,
    /// Training objective.
    #[arg(long, value_enum, default_value = "both")]
    objective: ObjectiveArg,
    /// Optimizer steps.
    #[arg(long, default_value_t = 800)]
    steps: usize,
    /// Training scenes (the first seeds of foley-sim's train split).
    #[arg(long, default_value_t = 128)]
    train_clips: usize,
    /// Evaluation scenes (the first seeds of foley-sim's test split).
    #[arg(long, default_value_t = 32)]
    test_clips: usize,
    /// Fraction of audio tokens VAMA hides per window (8 tokens: rounded to whole tokens).
    #[arg(long, default_value_t = foley_encoders::vama::DEFAULT_MASK_RATIO)]
    mask_ratio: f64,
    /// Clips per batch.
    #[arg(long, default_value_t = 4)]
    clips_per_batch: usize,
    /// Windows per clip in a batch (at distinct starts: each other's hard negatives).
    #[arg(long, default_value_t = 8)]
    windows_per_clip: usize,
    /// AdamW learning rate (after a 50-step linear warm-up).
    #[arg(long, default_value_t = 3e-4)]
    learning_rate: f64,
    /// Seed of the weight initialization, batch sampling and VAMA masks.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Start from an earlier run's sync.safetensors instead of a fresh initialization, e.g. a
    /// `--objective vama` run (Foley-Flow pretraining) fine-tuned with `--objective contrastive`.
    #[arg(long, value_name = "SYNC.safetensors")]
    init: Option<PathBuf>,
    /// Storage precision of the saved weights (the model always computes in f32).
    #[arg(long, value_enum, default_value = "f32")]
    dtype: DTypeArg,
    /// Sound bank folder (default: $FOLEY_SIM_BANK or the cache; made by `foley sim bank`).
    #[arg(long)]
    bank: Option<PathBuf>,
    /// This run's name in curve.png (default: objective and mask ratio).
    #[arg(long)]
    label: Option<String>,
    /// Also plot an earlier run's curve.csv in curve.png, as LABEL=PATH (repeatable).
    #[arg(long, value_name = "LABEL=CSV")]
    compare: Vec<String>,
}

pub fn run(args: TrainSyncArgs) -> Result<()> {
    let objective = match args.objective {
        ObjectiveArg::Contrastive => Objective::Contrastive,
        ObjectiveArg::Vama => Objective::Vama,
        ObjectiveArg::Both => Objective::Both,
    };
    let options = RecipeOptions {
        train: TrainOptions {
            steps: args.steps,
            clips_per_batch: args.clips_per_batch,
            windows_per_clip: args.windows_per_clip,
            learning_rate: args.learning_rate,
            objective,
            mask_ratio: args.mask_ratio,
            seed: args.seed,
            ..TrainOptions::default()
        },
        train_clips: args.train_clips,
        test_clips: args.test_clips,
        f16: args.dtype == DTypeArg::F16,
        init: args.init.clone(),
        ..RecipeOptions::default()
    };
    // Everything that can be wrong is checked before minutes of training.
    options.validate(&Default::default())?;
    let compare = args
        .compare
        .iter()
        .map(|spec| {
            let (label, path) = spec.split_once('=').ok_or_else(|| anyhow!("--compare expects LABEL=PATH, got `{spec}`"))?;
            Curve::read_csv(label, path.as_ref())
        })
        .collect::<Result<Vec<_>>>()?;
    let label = args.label.unwrap_or_else(|| match objective {
        Objective::Contrastive => "contrastive".to_string(),
        Objective::Vama => format!("vama {}", args.mask_ratio),
        Objective::Both => format!("both {}", args.mask_ratio),
    });
    let bank = sync_recipe::load_bank(&args.bank.unwrap_or_else(foley_sim::bank::default_dir))?;

    let mut spinner: Option<ProgressBar> = None;
    let mut bar: Option<ProgressBar> = None;
    let result = sync_recipe::run(&options, &bank, &args.out, &label, &compare, &mut |stage| match stage {
        Stage::Rendering { clips } => spinner = Some(output::spinner(&format!("rendering {clips} scenes"))),
        Stage::Step { log, steps } => {
            let bar = bar.get_or_insert_with(|| {
                if let Some(s) = spinner.take() {
                    s.finish_and_clear();
                }
                super::train::train_bar(steps as u64)
            });
            let loss = |name: &str, v: Option<f64>| v.map(|v| format!(" {name} {v:.3}")).unwrap_or_default();
            bar.set_message(format!("{}{}", loss("nce", log.contrastive), loss("vama", log.vama)).trim().to_string());
            bar.inc(1);
            if log.step % 50 == 0 {
                tracing::info!(step = log.step, contrastive = log.contrastive, vama = log.vama, "train sync");
            }
        }
        Stage::Evaluating => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            spinner = Some(output::spinner("evaluating offsets"));
        }
    });
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    let (result, _) = result?;
    let e = result.offset;
    println!(
        "{:?}, {} steps in {:.0} s: held-out top-1 offset accuracy {:.1} % ({}/{} clips), mean |offset| {:.3} s",
        result.objective,
        result.steps,
        result.train_seconds,
        100.0 * e.accuracy,
        (e.accuracy * e.clips as f64).round(),
        e.clips,
        e.mean_abs_offset
    );
    println!("wrote {}/{{sync.safetensors, sync.json, curve.csv, curve.png, result.json}}", args.out.display());
    Ok(())
}
