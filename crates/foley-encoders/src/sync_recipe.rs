//! The `foley train sync` recipe: render foley-sim scenes in memory, train the sync backbone
//! ([`crate::sync_train`]), measure held-out offset accuracy and write the run's files:
//!
//! * `sync.safetensors` + `sync.json`: the trained backbone (written atomically),
//! * `curve.csv`: per-step losses, `curve.png`: the training curves ([`crate::sync_plot`]),
//! * `result.json`: the options, the held-out offset evaluation and the training time.
//!
//! Training scenes are the first `train_clips` seeds of foley-sim's train split; evaluation uses
//! the first `test_clips` seeds of its test split. The weight initialization is seeded, so a
//! run repeats exactly.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use burn::prelude::*;
use burn::tensor::DType;
use foley_sim::bank::Bank;
use foley_sim::mix::MixConfig;
use foley_sim::render::render_clip;
use foley_sim::scene::SceneConfig;
use foley_sim::splits::Split;
use serde::Serialize;

use crate::sync::{SyncConfig, SyncModel};
use crate::sync_plot::{Curve, plot_curves};
use crate::sync_train::{FRAME_SECONDS, Objective, OffsetEval, StepLog, SyncClip, SyncStack, TrainOptions, offset_eval, train, vama_offset_eval};
use crate::vama::Vama;

/// Sample rate of the rendered soundtracks (the sync encoder's mel is 16 kHz).
const SAMPLE_RATE: u32 = 16_000;

/// Everything a run depends on besides the sound bank.
#[derive(Debug, Clone)]
pub struct RecipeOptions {
    pub train: TrainOptions,
    /// Training scenes: seeds `0..train_clips` of the train split.
    pub train_clips: usize,
    /// Evaluation scenes: the first `test_clips` seeds of the test split.
    pub test_clips: usize,
    /// Length of every scene in seconds.
    pub clip_seconds: f64,
    /// The offset test tries every shift within +-`max_shift_frames` frames (25 = +-1 s).
    pub max_shift_frames: usize,
    /// Store the saved weights as f16 (the model still computes in f32).
    pub f16: bool,
    /// Start from the backbone weights of an earlier run (e.g. Foley-Flow's VAMA pretraining,
    /// then contrastive fine-tuning) instead of the seeded initialization.
    pub init: Option<PathBuf>,
}

impl Default for RecipeOptions {
    /// The recipe of BENCHMARKS.md: 800 steps, batches of 4 clips x 8 windows, 128 training
    /// and 32 test scenes of 4 s.
    fn default() -> Self {
        Self {
            train: TrainOptions { steps: 800, clips_per_batch: 4, windows_per_clip: 8, ..TrainOptions::default() },
            train_clips: 128,
            test_clips: 32,
            clip_seconds: 4.0,
            max_shift_frames: 25,
            f16: false,
            init: None,
        }
    }
}

impl RecipeOptions {
    /// Check the options against `config` before anything expensive runs.
    pub fn validate(&self, config: &SyncConfig) -> Result<()> {
        let t = &self.train;
        ensure!(t.steps >= 1, "--steps must be at least 1");
        ensure!(self.train_clips >= 1, "--train-clips must be at least 1");
        ensure!(self.test_clips >= 1, "--test-clips must be at least 1");
        ensure!(t.mask_ratio.is_finite() && t.mask_ratio > 0.0 && t.mask_ratio < 1.0, "--mask-ratio must be strictly between 0 and 1, got {}", t.mask_ratio);
        ensure!(t.clips_per_batch >= 1, "--clips-per-batch must be at least 1");
        ensure!(t.windows_per_clip >= 1, "--windows-per-clip must be at least 1");
        ensure!(t.learning_rate.is_finite() && t.learning_rate > 0.0, "the learning rate must be positive");
        if let Some(init) = &self.init {
            ensure!(init.is_file(), "--init {}: no such file (give the sync.safetensors of an earlier `foley train sync` run)", init.display());
        }
        if t.objective != Objective::Vama {
            ensure!(
                t.clips_per_batch * t.windows_per_clip >= 2,
                "InfoNCE needs at least 2 windows per batch (--clips-per-batch x --windows-per-clip), got {}",
                t.clips_per_batch * t.windows_per_clip
            );
        }
        let frames = self.clip_frames();
        let starts = frames.saturating_sub(config.window_frames) + 1;
        ensure!(
            t.windows_per_clip <= starts,
            "--windows-per-clip {} exceeds the {starts} window positions of a {} s clip",
            t.windows_per_clip,
            self.clip_seconds
        );
        let needed = config.window_frames + 2 * self.max_shift_frames + 1;
        ensure!(frames >= needed, "{} s clips are too short for the +-{} frame offset test ({needed} frames needed)", self.clip_seconds, self.max_shift_frames);
        for (split, n) in [(Split::Train, self.train_clips), (Split::Test, self.test_clips)] {
            let seeds = split.seeds();
            ensure!((n as u64) <= seeds.end - seeds.start, "the {} split has only {} scenes", split.name(), seeds.end - seeds.start);
        }
        Ok(())
    }

    fn clip_frames(&self) -> usize {
        (self.clip_seconds / FRAME_SECONDS).round() as usize
    }
}

/// The foley-sim sound bank in `dir` at the rate the recipe renders at.
pub fn load_bank(dir: &Path) -> Result<Bank> {
    Bank::load(dir, SAMPLE_RATE).with_context(|| format!("loading the foley-sim sound bank from {} (made by `foley sim bank`)", dir.display()))
}

/// Render the scenes of `seeds` (in memory, `size x size` frames at 25 fps, 16 kHz audio).
pub fn sim_clips(seeds: impl Iterator<Item = u64>, seconds: f64, size: usize, bank: &Bank) -> Result<Vec<SyncClip>> {
    ensure!(bank.sample_rate == SAMPLE_RATE, "the sound bank is loaded at {} Hz; the sync backbone needs {SAMPLE_RATE}", bank.sample_rate);
    seeds
        .map(|seed| {
            let config = SceneConfig { width: size as u32, height: size as u32, ..SceneConfig::new(seed, seconds) };
            let clip = render_clip(&config, bank, &MixConfig::default()).with_context(|| format!("rendering foley-sim scene {seed}"))?;
            Ok(SyncClip::new(clip.frames, clip.num_frames, size, &clip.waveform))
        })
        .collect()
}

/// Where a run is, for progress display.
#[derive(Debug)]
pub enum Stage<'a> {
    /// Rendering `clips` scenes.
    Rendering { clips: usize },
    /// One training step done (of `steps`).
    Step { log: &'a StepLog, steps: usize },
    /// Evaluating the trained model.
    Evaluating,
}

/// The `result.json` of a run.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub objective: Objective,
    pub steps: usize,
    pub train_clips: usize,
    pub test_clips: usize,
    pub mask_ratio: f64,
    pub clips_per_batch: usize,
    pub windows_per_clip: usize,
    pub learning_rate: f64,
    pub seed: u64,
    /// The weights the run started from (`None`: the seeded initialization).
    pub init: Option<PathBuf>,
    pub max_shift_seconds: f64,
    /// Held-out offset test scored by embedding similarity (the number BENCHMARKS reports).
    pub offset: OffsetEval,
    /// The same test before training (chance level of this initialization).
    pub untrained: OffsetEval,
    /// The offset test scored by VAMA's reconstruction error (runs with a VAMA objective).
    pub vama_scored: Option<OffsetEval>,
    pub train_seconds: f64,
    /// Last step's losses.
    pub final_contrastive: Option<f64>,
    pub final_vama: Option<f64>,
}

/// The files of a run in `dir`.
#[derive(Debug, Clone)]
pub struct RunFiles {
    pub model: PathBuf,
    pub curve_csv: PathBuf,
    pub curve_png: PathBuf,
    pub result: PathBuf,
}

impl RunFiles {
    pub fn in_dir(dir: &Path) -> Self {
        Self { model: dir.join("sync.safetensors"), curve_csv: dir.join("curve.csv"), curve_png: dir.join("curve.png"), result: dir.join("result.json") }
    }
}

/// Run the recipe with `bank` and write the files into `out_dir` (created if needed). `compare`
/// adds earlier runs' curves to `curve.png`; `label` names this run there. Returns the result
/// and the trained model (in inference mode).
pub fn run(
    options: &RecipeOptions,
    bank: &Bank,
    out_dir: &Path,
    label: &str,
    compare: &[Curve],
    on_stage: &mut dyn FnMut(Stage),
) -> Result<(RunResult, SyncModel)> {
    let config = SyncConfig::default();
    options.validate(&config)?;
    if out_dir.exists() && !out_dir.is_dir() {
        bail!("{} exists and is not a directory", out_dir.display());
    }
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let files = RunFiles::in_dir(out_dir);

    let train_seeds = Split::Train.seeds().start..Split::Train.seeds().start + options.train_clips as u64;
    let test_seeds = Split::Test.seeds().start..Split::Test.seeds().start + options.test_clips as u64;
    on_stage(Stage::Rendering { clips: options.train_clips + options.test_clips });
    let train_clips = sim_clips(train_seeds, options.clip_seconds, config.frame_size, bank)?;
    let test_clips = sim_clips(test_seeds, options.clip_seconds, config.frame_size, bank)?;

    let device = Device::flex().autodiff();
    // Seeded initialization: the same options give the same model.
    device.seed(options.train.seed);
    let mut stack = SyncStack { sync: SyncModel::new(&config, &device), vama: Vama::new(&config, &device) };
    if let Some(init) = &options.init {
        stack.sync = load_init(init, &config, stack.sync)?;
    }
    let untrained = offset_eval(&stack.sync, &test_clips, &config, options.max_shift_frames, &device);

    let mut logs = Vec::with_capacity(options.train.steps);
    let mut seconds = Vec::with_capacity(options.train.steps);
    let start = Instant::now();
    let stack = train(stack, &train_clips, &config, &options.train, &device, &mut |log| {
        logs.push(*log);
        seconds.push(start.elapsed().as_secs_f64());
        on_stage(Stage::Step { log, steps: options.train.steps });
    });
    let train_seconds = start.elapsed().as_secs_f64();

    on_stage(Stage::Evaluating);
    let offset = offset_eval(&stack.sync, &test_clips, &config, options.max_shift_frames, &device);
    let vama_scored = (options.train.objective != Objective::Contrastive)
        .then(|| vama_offset_eval(&stack, &test_clips, &config, options.max_shift_frames, options.train.mask_ratio, &device));
    let last = logs.last().copied();
    let result = RunResult {
        objective: options.train.objective,
        steps: options.train.steps,
        train_clips: options.train_clips,
        test_clips: options.test_clips,
        mask_ratio: options.train.mask_ratio,
        clips_per_batch: options.train.clips_per_batch,
        windows_per_clip: options.train.windows_per_clip,
        learning_rate: options.train.learning_rate,
        seed: options.train.seed,
        init: options.init.clone(),
        max_shift_seconds: options.max_shift_frames as f64 * FRAME_SECONDS,
        offset,
        untrained,
        vama_scored,
        train_seconds,
        final_contrastive: last.and_then(|l| l.contrastive),
        final_vama: last.and_then(|l| l.vama),
    };

    let model = stack.sync.valid();
    model.save_as(&config, &files.model, if options.f16 { DType::F16 } else { DType::F32 })?;
    write_atomic(&files.curve_csv, curve_csv(&logs, &seconds).as_bytes())?;
    let mut curves = compare.to_vec();
    curves.push(Curve::from_steps(label, &logs));
    let png_tmp = out_dir.join(".curve.tmp.png");
    plot_curves(&png_tmp, &curves)?;
    std::fs::rename(&png_tmp, &files.curve_png).with_context(|| format!("renaming {} to {}", png_tmp.display(), files.curve_png.display()))?;
    write_atomic(&files.result, serde_json::to_string_pretty(&result)?.as_bytes())?;
    Ok((result, model))
}

/// `model` (trainable) with the weights of the sync model saved at `path`, which must have
/// been trained with the same `config`.
fn load_init(path: &Path, config: &SyncConfig, model: SyncModel) -> Result<SyncModel> {
    let saved = SyncModel::read_config(path).with_context(|| format!("--init {}", path.display()))?;
    ensure!(saved == *config, "--init {}: its config {saved:?} differs from this recipe's {config:?}", path.display());
    model.with_weights(path).with_context(|| format!("--init {}", path.display()))
}

/// `step,contrastive,accuracy,vama,seconds`, one row per step (empty cells for objectives not trained).
pub fn curve_csv(logs: &[StepLog], seconds: &[f64]) -> String {
    let f = |v: Option<f64>| v.map(|x| format!("{x:.5}")).unwrap_or_default();
    let mut out = String::from("step,contrastive,accuracy,vama,seconds\n");
    for (log, s) in logs.iter().zip(seconds) {
        out += &format!("{},{},{},{},{s:.1}\n", log.step, f(log.contrastive), f(log.contrastive_accuracy), f(log.vama));
    }
    out
}

/// Write `bytes` to a temporary sibling of `path`, then rename it into place.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}
