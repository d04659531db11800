//! `foley train envelope CONFIG.toml`: train the timing-envelope predictor of a generator run
//! whose `[data]` has `envelope = true` (the same TOML as `foley train gen`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use burn::module::Module;
use burn::tensor::Device;
use clap::Args;
use foley_gen::TrainConfig;
use foley_gen::data::{Dataset, load_clips};
use foley_gen::envelope_train::{EnvelopeTrainOptions, examples, r2, train_predictor};
use foley_gen::model::{GenMeta, envelope_path, meta_path, save_predictor};

/// Options of `foley train envelope`.
#[derive(Args)]
pub struct TrainEnvelopeArgs {
    /// The generator run's TOML (its data and out_dir are used).
    pub config: PathBuf,
    /// Folder of held-out `foley extract` shards to report R² on.
    #[arg(long)]
    pub test: Option<PathBuf>,
    #[arg(long, default_value_t = EnvelopeTrainOptions::default().steps)]
    pub steps: usize,
    #[arg(long, default_value_t = EnvelopeTrainOptions::default().learning_rate)]
    pub lr: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Train for this existing generator: its `.json` gives the feature and envelope
    /// standardization instead of the run's own data (the generator's files are not touched).
    #[arg(long)]
    pub generator: Option<PathBuf>,
    /// Where to write the predictor (default: beside the run's `out_dir/gen.safetensors`).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

pub fn run(args: TrainEnvelopeArgs) -> Result<()> {
    let config = TrainConfig::from_file(&args.config)?;
    ensure!(config.data.envelope, "{}: [data] has no `envelope = true`, so its generator takes no timing envelope", args.config.display());
    let device = Device::flex();
    // The generator's empty text is irrelevant here; the statistics come from the same clips,
    // or from the generator the predictor is for.
    let like = match &args.generator {
        Some(g) => {
            let path = meta_path(g);
            let meta: GenMeta = serde_json::from_slice(&std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?)
                .with_context(|| format!("parsing {}", path.display()))?;
            ensure!(meta.envelope.is_some(), "{}: this generator takes no timing envelope", g.display());
            Some(meta)
        }
        None => None,
    };
    let dataset = Dataset::load_like(&config, Vec::new(), like.as_ref())?;
    let train = examples(&dataset.clips, dataset.sync_dim);
    let test = match &args.test {
        Some(dir) => {
            let clips: Vec<_> = load_clips(&[dir], &dataset.seq, config.data.text_seq_len)?.0.into_iter().map(|c| dataset.prepare(c)).collect();
            Some(examples(&clips, dataset.sync_dim))
        }
        None => None,
    };
    let options = EnvelopeTrainOptions { steps: args.steps, learning_rate: args.lr, seed: args.seed, ..EnvelopeTrainOptions::default() };
    let bar = super::train::train_bar(options.steps as u64);
    let started = Instant::now();
    let mut smooth = None::<f64>;
    let predictor = train_predictor(&train, &options, &device, &mut |step, loss| {
        let s = super::train::smoothed(&mut smooth, loss);
        bar.set_position(step as u64);
        bar.set_message(format!("loss {s:.4}"));
        if step % 100 == 0 {
            tracing::info!(step, loss = s, "train envelope");
        }
    })?;
    bar.finish_and_clear();
    let fit = r2(&predictor, &train, &device)?;
    println!(
        "{} clips, {} parameters, {} steps in {:.0} s; R² on the training clips: loudness {:.3}, onset strength {:.3}",
        train.len(),
        predictor.num_params(),
        options.steps,
        started.elapsed().as_secs_f64(),
        fit[0],
        fit[1]
    );
    if let Some(test) = &test {
        let held = r2(&predictor, test, &device)?;
        println!("R² on {} held-out clips: loudness {:.3}, onset strength {:.3}", test.len(), held[0], held[1]);
    }
    let path = args.output.clone().unwrap_or_else(|| envelope_path(&config.out_dir.join("gen.safetensors")));
    save_predictor(&predictor, &path)?;
    println!("-> {}", path.display());
    Ok(())
}
