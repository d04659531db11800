//! Atomic, resumable checkpoints: `checkpoints/step-<n>/` holds the model, its EMA, the
//! optimizer state and the run state. A checkpoint is written under a temporary name and
//! renamed into place, then `checkpoints/LATEST` is replaced (write + rename) with its name, so
//! a run killed at any point resumes from the last complete checkpoint.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::module::{Module, ModuleVisitor, Param};
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::Tensor;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A run's TOML configuration parsed, with the folder its relative paths are relative to (give
/// them to [`resolve_path`]).
pub fn read_toml<T: DeserializeOwned>(path: &Path) -> Result<(T, PathBuf)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let config = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok((config, path.parent().unwrap_or(Path::new(".")).to_path_buf()))
}

/// A path written in a run's TOML file: `~/` is the home directory, a relative path is relative
/// to the folder of the TOML file (`base`).
pub fn resolve_path(base: &Path, p: &Path) -> PathBuf {
    if let Ok(rest) = p.strip_prefix("~")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    if p.is_absolute() { p.to_path_buf() } else { base.join(p) }
}

/// Progress of a run that is not in the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Steps done.
    pub step: usize,
    /// Loss of every step done.
    pub losses: Vec<f32>,
    /// Training wall time so far (all sessions), seconds.
    pub wall_seconds: f64,
}

pub const MODEL: &str = "model.bpk";
pub const EMA: &str = "ema.bpk";
pub const OPTIMIZER: &str = "optimizer.bpk";
pub const STATE: &str = "state.json";

/// The checkpoint folder of a run.
pub fn dir(out_dir: &Path) -> PathBuf {
    out_dir.join("checkpoints")
}

/// The last complete checkpoint, if any.
pub fn latest(out_dir: &Path) -> Result<Option<PathBuf>> {
    let pointer = dir(out_dir).join("LATEST");
    match std::fs::read_to_string(&pointer) {
        Ok(name) => {
            let path = dir(out_dir).join(name.trim());
            anyhow::ensure!(path.join(STATE).is_file(), "{} names {}, which is incomplete", pointer.display(), path.display());
            Ok(Some(path))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", pointer.display())),
    }
}

/// Write a checkpoint for `state.step`: `fill(tmp_dir)` writes the weight files, then the state
/// is added, the folder renamed into place and `LATEST` updated. Older checkpoints but the
/// previous one are removed.
pub fn write(out_dir: &Path, state: &RunState, fill: impl FnOnce(&Path) -> Result<()>) -> Result<PathBuf> {
    let root = dir(out_dir);
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let name = format!("step-{:08}", state.step);
    let tmp = root.join(format!(".tmp-{name}"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir_all(&tmp)?;
    fill(&tmp)?;
    std::fs::write(tmp.join(STATE), serde_json::to_string(state)?)?;
    let path = root.join(&name);
    if path.exists() {
        std::fs::remove_dir_all(&path)?;
    }
    std::fs::rename(&tmp, &path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    let pointer_tmp = root.join(".LATEST.tmp");
    std::fs::write(&pointer_tmp, &name)?;
    std::fs::rename(&pointer_tmp, root.join("LATEST"))?;
    // Keep this checkpoint and the one before it.
    let mut old: Vec<PathBuf> = std::fs::read_dir(&root)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("step-")) && *p != path)
        .collect();
    old.sort();
    for p in old.iter().rev().skip(1) {
        let _ = std::fs::remove_dir_all(p);
    }
    Ok(path)
}

/// The run state saved in checkpoint `path`.
pub fn read_state(path: &Path) -> Result<RunState> {
    let file = path.join(STATE);
    serde_json::from_slice(&std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?).with_context(|| format!("parsing {}", file.display()))
}

/// Write `module`'s weights to a burnpack file (a checkpoint's model, EMA).
pub fn save_module<M: ModuleSnapshot>(module: &M, path: &Path) -> Result<()> {
    let mut store = BurnpackStore::from_file(path).auto_extension(false).overwrite(true);
    module.save_into(&mut store).map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))
}

/// Read weights written by [`save_module`] into `module`.
pub fn load_module<M: ModuleSnapshot>(module: &mut M, path: &Path) -> Result<()> {
    let mut store = BurnpackStore::from_file(path).auto_extension(false);
    module.load_from(&mut store).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display())).context("loading checkpoint")?;
    Ok(())
}

/// Every float parameter of `module`, flattened in visiting order (runs are compared with it).
pub fn flat_weights<M: Module>(module: &M) -> Vec<f32> {
    struct Flatten(Vec<f32>);
    impl ModuleVisitor for Flatten {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.0.extend(p.val().without_autodiff().into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 data"));
        }
    }
    let mut v = Flatten(Vec::new());
    module.visit(&mut v);
    v.0
}
