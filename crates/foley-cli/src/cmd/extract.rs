//! `foley extract`: conditioning features of many clips into resumable safetensors shards.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use foley_encoders::ModelCache;
use foley_encoders::extract::{ExtractOptions, Extractor, ShardSpec, is_complete, items_from_folder, items_from_manifest, plan};
use foley_encoders::sync::{default_model_path, resolve_model_path};
use foley_seq::SequenceConfig;

use crate::output;

#[derive(Args)]
pub struct ExtractArgs {
    /// A folder of videos (searched recursively) or a CSV manifest with a `file` or `path`
    /// column and an optional `text`, `caption` or `label` column.
    input: PathBuf,
    /// Output folder for the `shard-<i>-of-<n>-<k>.safetensors` files.
    #[arg(short, long)]
    out: PathBuf,
    /// This job's part of the work, `i/n`: items i, i+n, i+2n, ... (run n jobs to cover all).
    #[arg(long, default_value = "0/1")]
    shard: ShardSpec,
    /// Clips per shard file (the unit of resumption).
    #[arg(long, default_value_t = 64)]
    items_per_shard: usize,
    /// Longest clip in seconds; shorter videos are taken whole.
    #[arg(long, default_value_t = 8.0)]
    duration: f64,
    /// Audio sample rate of the mel target: 16000 or 44100 (MMAudio's two geometries).
    #[arg(long, default_value_t = 16_000)]
    sample_rate: u32,
    /// The sync backbone (`.safetensors` with its `.json` config beside it) whose features
    /// (24 tokens/s) every clip gets. Default: $FOLEY_SYNC_MODEL, else the shipped
    /// models/sync/sync.safetensors.
    #[arg(long)]
    sync_model: Option<PathBuf>,
    /// Leave out the sync features.
    #[arg(long, conflicts_with = "sync_model")]
    no_sync: bool,
    /// Frames per EfficientNet forward pass.
    #[arg(long, default_value_t = 16)]
    batch: usize,
}

pub fn run(args: ExtractArgs) -> Result<()> {
    if !(args.duration > 0.0) {
        bail!("--duration must be positive, got {}", args.duration);
    }
    let sequence: fn(f64) -> SequenceConfig = match args.sample_rate {
        16_000 => SequenceConfig::mmaudio_16k,
        44_100 => SequenceConfig::mmaudio_44k,
        other => bail!("--sample-rate must be 16000 or 44100, got {other}"),
    };
    let items = if args.input.is_dir() {
        items_from_folder(&args.input)?
    } else if args.input.is_file() {
        items_from_manifest(&args.input)?
    } else {
        bail!("{}: no such folder or manifest", args.input.display());
    };
    let options = ExtractOptions { max_duration: args.duration, sequence, items_per_shard: args.items_per_shard, shard: args.shard, batch: args.batch };
    let chunks = plan(&items, &args.out, &options);
    let todo: Vec<_> = chunks.iter().filter(|c| !is_complete(c)).collect();
    let skipped: usize = chunks.iter().filter(|c| is_complete(c)).map(|c| c.items.len()).sum();
    tracing::info!(items = items.len(), chunks = chunks.len(), skipped, "extract plan");

    let mut extractor = Extractor::from_cache(&ModelCache::from_env()?)?;
    if !args.no_sync {
        match resolve_model_path(args.sync_model.as_deref())? {
            Some(path) => extractor = extractor.with_sync_model(&path)?,
            None => tracing::warn!("no sync model at {}: extracting without sync features", default_model_path().display()),
        }
    }
    let total: usize = todo.iter().map(|c| c.items.len()).sum();
    let bar = output::progress(total as u64, "extract");
    for chunk in &todo {
        extractor.write_chunk(chunk, &options, &mut |_| bar.inc(1))?;
    }
    bar.finish_and_clear();
    println!("{} shard file(s) in {} ({} clip(s) extracted, {} already done)", chunks.len(), args.out.display(), total, skipped);
    Ok(())
}
