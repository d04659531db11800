//! `foley train gen CONFIG.toml`: train the generator; the TOML describes the whole run.
//! Under `mpirun -n K` the K processes train one model data-parallel (see foley_gen::data_parallel):
//! rank 0 shows progress and writes checkpoints, the loss curve and the export.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use burn::tensor::{DType, Device};
use clap::Args;
use foley_encoders::ModelCache;
use foley_encoders::bert::{HIDDEN_DIM, MiniLm};
use foley_gen::TrainConfig;
use foley_gen::data::{Dataset, fit_text};
use foley_gen::train::Trainer;

/// Options of `foley train gen`.
#[derive(Args)]
pub struct TrainGenArgs {
    /// The run's TOML configuration (data, model, recipe, out_dir).
    pub config: PathBuf,
    /// Stop once this many steps are done (checkpointed; rerun to continue).
    #[arg(long)]
    pub stop_at: Option<usize>,
    /// Store the exported weights as f32 instead of f16.
    #[arg(long)]
    pub f32: bool,
}

pub fn run(args: TrainGenArgs) -> Result<()> {
    let comm = foley_dist::world()?;
    if comm.size() > 1 {
        share_cores_with_local_ranks();
    }
    let lead = comm.rank() == 0;
    let config = TrainConfig::from_file(&args.config)?;
    let toml_text = std::fs::read_to_string(&args.config)?;
    let device = Device::flex();
    let minilm = MiniLm::from_cache(&ModelCache::from_env()?, &device)?;
    let empty = minilm.encode(&[""])?.tokens.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let empty_text = fit_text(&empty, HIDDEN_DIM, config.data.text_seq_len);
    let dataset = Dataset::load(&config, empty_text)?;
    let clips = dataset.clips.len();
    let ranks = comm.size();
    let mut trainer = Trainer::data_parallel(config.clone(), dataset, &device, comm)?;
    if !lead {
        return trainer.run(args.stop_at, &mut |_| {});
    }
    let on = if ranks > 1 { format!(" on {ranks} ranks ({} examples each per step)", config.train.batch_size / ranks) } else { String::new() };
    println!("{} clips, {} parameters, from step {}{on}", clips, trainer.num_params(), trainer.state.step);

    let total = config.train.steps as u64;
    let bar = super::train::train_bar(total);
    bar.set_position(trainer.state.step as u64);
    let (started, first) = (Instant::now(), trainer.state.step);
    let mut smooth = None::<f64>;
    trainer.run(args.stop_at, &mut |log| {
        let s = super::train::smoothed(&mut smooth, log.loss);
        let rate = (log.step - first) as f64 / started.elapsed().as_secs_f64();
        bar.set_position(log.step as u64);
        bar.set_message(format!("loss {s:.4} (fm {:.3} sc {:.3}) {rate:.2} steps/s", log.flow_loss, log.shortcut_loss));
        if log.step % 50 == 0 {
            tracing::info!(step = log.step, loss = s, flow_loss = log.flow_loss, shortcut_loss = log.shortcut_loss, rate, "train");
        }
    })?;
    bar.finish_and_clear();

    let out = &config.out_dir;
    super::train::write_loss_curve(out, &trainer.state.losses, "generator training loss")?;
    let finished = trainer.state.step >= config.train.steps;
    let weights = out.join("gen.safetensors");
    if finished {
        trainer.export(&weights, if args.f32 { DType::F32 } else { DType::F16 }, &toml_text)?;
    }
    super::train::report_end(&trainer.state, out, finished.then_some(weights.as_path()));
    Ok(())
}

/// Split this machine's cores between the ranks mpirun started on it (unless RAYON_NUM_THREADS
/// says otherwise): K ranks of all cores each would oversubscribe the machine K times.
fn share_cores_with_local_ranks() {
    if std::env::var_os("RAYON_NUM_THREADS").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = (cores / foley_dist::local_ranks()).max(1);
    if rayon::ThreadPoolBuilder::new().num_threads(threads).build_global().is_ok() {
        tracing::info!(threads, "threads per rank");
    }
}
