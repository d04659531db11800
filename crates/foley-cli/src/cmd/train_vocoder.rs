//! `foley train vocoder CONFIG.toml`: train foley's Vocos vocoder on the real-recording corpus.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use burn::tensor::{DType, Device};
use clap::Args;
use foley_decoder::vocos::train::data::Audio;
use foley_decoder::vocos::train::{Trainer, VocoderTrainConfig};
use foley_sim::corpus::{self, Split};

/// Options of `foley train vocoder`.
#[derive(Args)]
pub struct TrainVocoderArgs {
    /// The run's TOML configuration (data, model, recipe, out_dir).
    pub config: PathBuf,
    /// Stop once this many steps are done (checkpointed; rerun to continue).
    #[arg(long)]
    pub stop_at: Option<usize>,
    /// Store the exported weights as f32 instead of f16.
    #[arg(long)]
    pub f32: bool,
    /// Export the weights where the run stops to this file (+ .json), finished or not, instead
    /// of `out_dir/vocoder.safetensors` at the end: `--stop-at 0 --export W.safetensors`
    /// exports the latest checkpoint of a run without training.
    #[arg(long)]
    pub export: Option<PathBuf>,
}

pub fn run(args: TrainVocoderArgs) -> Result<()> {
    let config = VocoderTrainConfig::from_file(&args.config)?;
    let toml_text = std::fs::read_to_string(&args.config)?;
    let dir = config.data.corpus.clone().unwrap_or_else(corpus::default_dir);
    let train = Audio::from_corpus(&dir, Split::Train)?;
    let validation = Audio::from_corpus(&dir, Split::Validation)?;
    let device = Device::flex();
    let mut trainer = Trainer::new(config.clone(), train, &validation, &device)?;
    let (hours, files) = trainer.train_audio();
    println!("{files} training recordings ({hours:.2} h), {} parameters, from step {}", trainer.num_params(), trainer.state.step);

    let bar = super::train::train_bar(config.train.steps as u64);
    bar.set_position(trainer.state.step as u64);
    let (started, first) = (Instant::now(), trainer.state.step);
    let mut smooth = None::<f64>;
    trainer.run(args.stop_at, &mut |log| {
        let s = super::train::smoothed(&mut smooth, log.loss);
        let rate = (log.step - first) as f64 / started.elapsed().as_secs_f64();
        bar.set_position(log.step as u64);
        bar.set_message(format!("loss {s:.4} (mel {:.3} stft {:.3}) {rate:.2} steps/s", log.mel_l1, log.stft));
        if let Some(v) = log.validation_mel_l1 {
            // println as well as the log: a hidden bar (no terminal) drops its println.
            bar.println(format!("step {}: validation mel L1 {v:.4}", log.step));
            tracing::info!(step = log.step, validation_mel_l1 = v, "validation");
        }
        if log.step % 50 == 0 {
            tracing::info!(step = log.step, loss = s, mel_l1 = log.mel_l1, stft = log.stft, rate, "train");
        }
    })?;
    bar.finish_and_clear();

    let out = &config.out_dir;
    super::train::write_loss_curve(out, &trainer.state.losses, "vocoder training loss (mel L1 + MR-STFT)")?;
    let csv: String = std::iter::once("step,validation_mel_l1\n".to_string()).chain(trainer.validations.iter().map(|(s, v)| format!("{s},{v}\n"))).collect();
    std::fs::write(out.join("validation.csv"), csv).with_context(|| format!("writing {}", out.join("validation.csv").display()))?;
    let dtype = if args.f32 { DType::F32 } else { DType::F16 };
    if let Some(path) = &args.export {
        trainer.export(path, dtype, &toml_text)?;
        println!("step {} -> {}", trainer.state.step, path.display());
        return Ok(());
    }
    let finished = trainer.state.step >= config.train.steps;
    let weights = out.join("vocoder.safetensors");
    if finished {
        trainer.export(&weights, dtype, &toml_text)?;
    }
    super::train::report_end(&trainer.state, out, finished.then_some(weights.as_path()));
    Ok(())
}
