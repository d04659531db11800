//! `foley train vama CONFIG.toml`: Foley-Flow's masked video-audio alignment as pretraining of
//! the semantic projection of a generator run (the same TOML as `foley train gen`); the result
//! is what that run's `[train] init_clip_proj` loads.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use burn::module::Module;
use burn::tensor::Device;
use clap::Args;
use foley_gen::TrainConfig;
use foley_gen::data::{Dataset, load_clips};
use foley_gen::semantic_vama::{VamaOptions, examples, held_out_errors, train};

/// Options of `foley train vama`.
#[derive(Args)]
pub struct TrainVamaArgs {
    /// The generator run's TOML (its data and model size are used).
    pub config: PathBuf,
    /// Where to write the pretrained projection (default `<out_dir>/clip_proj_vama.safetensors`).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Folder of held-out `foley extract` shards: reconstruction error with own vs another clip's video.
    #[arg(long)]
    pub test: Option<PathBuf>,
    #[arg(long, default_value_t = VamaOptions::default().steps)]
    pub steps: usize,
    /// Fraction of mel tokens hidden (in 8-token spans).
    #[arg(long, default_value_t = VamaOptions::default().mask_ratio)]
    pub mask_ratio: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

pub fn run(args: TrainVamaArgs) -> Result<()> {
    anyhow::ensure!((0.0..1.0).contains(&args.mask_ratio) && args.mask_ratio > 0.0, "--mask-ratio must be in (0, 1), got {}", args.mask_ratio);
    let config = TrainConfig::from_file(&args.config)?;
    let device = Device::flex();
    let dataset = Dataset::load(&config, Vec::new())?;
    let flow = config.flow_config(dataset.sync_dim);
    let train_examples = examples(&dataset.clips, &dataset);
    let options = VamaOptions { steps: args.steps, mask_ratio: args.mask_ratio, seed: args.seed, ..VamaOptions::default() };
    let bar = super::train::train_bar(options.steps as u64);
    let started = Instant::now();
    let mut smooth = None::<f64>;
    let model = train(&train_examples, &flow, &options, &device, &mut |step, loss| {
        let s = super::train::smoothed(&mut smooth, loss);
        bar.set_position(step as u64);
        bar.set_message(format!("loss {s:.4}"));
        if step % 100 == 0 {
            tracing::info!(step, loss = s, "train vama");
        }
    })?;
    bar.finish_and_clear();
    println!(
        "{} clips, {} parameters ({} in the projection), {} steps at mask ratio {} in {:.0} s, final loss {:.4}",
        train_examples.len(),
        model.num_params(),
        model.clip_proj.num_params(),
        options.steps,
        options.mask_ratio,
        started.elapsed().as_secs_f64(),
        smooth.unwrap_or(f64::NAN)
    );
    if let Some(dir) = &args.test {
        let clips: Vec<_> = load_clips(&[dir], &dataset.seq, config.data.text_seq_len)?.0.into_iter().map(|c| dataset.prepare(c)).collect();
        let (own, other) = held_out_errors(&model, &examples(&clips, &dataset), &flow, options.mask_ratio, &device)?;
        println!("held-out reconstruction error of the hidden spans ({} clips): own video {own:.4}, next clip's video {other:.4}", clips.len());
    }
    let path = args.output.unwrap_or_else(|| config.out_dir.join("clip_proj_vama.safetensors"));
    model.save_projection(&path)?;
    println!("-> {}", path.display());
    Ok(())
}
