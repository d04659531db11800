//! Training the vocoder: random 1 s cuts of real recordings -> mel (MMAudio's converter) ->
//! Vocos -> waveform, scored against the cut by the mel L1 and multi-resolution STFT losses;
//! AdamW with warm-up and cosine decay, gradient clipping, atomic resumable checkpoints, a
//! fixed validation set scored as it trains.
//!
//! Every random draw of step `n` comes from a generator seeded by `(seed, n)`, so a resumed run
//! continues exactly as if it had never stopped.

pub mod config;
pub mod data;
pub mod loss;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{DType, Device, Tensor};
use foley_dsp::MelSpectrogram;
use foley_weights::checkpoint::{self, RunState};
use foley_weights::noise::SplitMix64;
use serde::{Deserialize, Serialize};

pub use config::VocoderTrainConfig;
use data::Audio;
use loss::SpectralLoss;

use super::{InverseStft, Vocos, VocosConfig};

/// Validation history, kept in every checkpoint.
const VALIDATION: &str = "validation.json";

/// What one step did.
#[derive(Debug, Clone, Copy)]
pub struct StepLog {
    /// Steps done after this one.
    pub step: usize,
    pub loss: f64,
    pub mel_l1: f64,
    pub stft: f64,
    pub learning_rate: f64,
    /// Validation mel L1 when this step ended with a validation.
    pub validation_mel_l1: Option<f64>,
}

/// What the exported weights' JSON says about the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VocoderMeta {
    pub vocos: VocosConfig,
    pub steps: usize,
    pub parameters: usize,
    pub wall_seconds: f64,
    /// Hours of training audio and how many recordings.
    pub train_hours: f64,
    pub train_files: usize,
    /// Mean log10-mel L1 on the validation segments at the last validation.
    pub validation_mel_l1: Option<f64>,
    /// The run's TOML, verbatim.
    pub config: String,
}

/// A run in progress.
pub struct Trainer {
    pub config: VocoderTrainConfig,
    pub state: RunState,
    /// `(step, validation mel L1)` of every validation so far.
    pub validations: Vec<(usize, f64)>,
    net: Option<Vocos>,
    optim: ModuleOptimizer,
    train: Audio,
    validation: Vec<Vec<f32>>,
    mel: MelSpectrogram,
    loss: SpectralLoss,
    istft: InverseStft,
    /// The base device (no autodiff) of the data and the validation passes.
    device: Device,
}

fn step_seed(seed: u64, step: usize) -> u64 {
    SplitMix64::new(seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).next_u64()
}

impl Trainer {
    /// Start fresh, or resume from the last checkpoint in `config.out_dir`.
    pub fn new(config: VocoderTrainConfig, train: Audio, validation: &Audio, device: &Device) -> Result<Self> {
        anyhow::ensure!(!train.recordings.is_empty(), "no training recordings");
        anyhow::ensure!(!validation.recordings.is_empty(), "no validation recordings");
        let r = &config.train;
        let vocos = config.vocos();
        let ad = device.clone().autodiff();
        let mut net = Vocos::init(&vocos, r.seed, &ad)?;
        let mut optim = AdamWConfig::new()
            .with_beta_1(r.adam_beta1 as f32)
            .with_beta_2(r.adam_beta2 as f32)
            .with_weight_decay(r.weight_decay as f32)
            .with_grad_clipping(Some(GradientClippingConfig::Norm(r.grad_clip as f32)))
            .init();
        let mut state = RunState { step: 0, losses: Vec::new(), wall_seconds: 0.0 };
        let mut validations = Vec::new();
        if let Some(ckpt) = checkpoint::latest(&config.out_dir)? {
            state = checkpoint::read_state(&ckpt)?;
            checkpoint::load_module(&mut net, &ckpt.join(checkpoint::MODEL))?;
            let path = ckpt.join(checkpoint::OPTIMIZER);
            optim = optim.load(&path).map_err(|e| anyhow::anyhow!("{}: {e:?}", path.display()))?;
            let path = ckpt.join(VALIDATION);
            validations = serde_json::from_slice(&std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?)?;
            tracing::info!(step = state.step, checkpoint = %ckpt.display(), "resumed");
        }
        let len = config.segment_samples();
        let validation = (0..config.data.validation_segments).map(|n| validation.validation_segment(n, len)).collect();
        Ok(Self {
            loss: SpectralLoss::new(&vocos.mel, &r.stft_resolutions, &ad),
            istft: InverseStft::new(vocos.mel.n_fft, vocos.mel.hop, &ad),
            mel: MelSpectrogram::new(vocos.mel),
            config,
            state,
            validations,
            net: Some(net),
            optim,
            train,
            validation,
            device: device.clone(),
        })
    }

    fn net(&self) -> &Vocos {
        self.net.as_ref().expect("network present between steps")
    }

    pub fn num_params(&self) -> usize {
        self.net().num_params()
    }

    /// Hours and files of training audio.
    pub fn train_audio(&self) -> (f64, usize) {
        (self.train.seconds(self.config.vocos().mel.sample_rate) / 3600.0, self.train.recordings.len())
    }

    /// One optimization step.
    pub fn step(&mut self) -> Result<StepLog> {
        let started = Instant::now();
        let step = self.state.step;
        let (r, d) = (&self.config.train, &self.config.data);
        let mut rng = SplitMix64::new(step_seed(r.seed, step));
        let len = self.config.segment_samples();
        let segments: Vec<Vec<f32>> = (0..r.batch_size).map(|_| self.train.segment(len, d.min_peak_db, d.max_peak_db, &mut rng)).collect();
        let batch = data::batch(&segments, &self.mel, &self.device.clone().autodiff())?;
        let net = self.net.take().expect("network present between steps");
        let pred = net.forward(batch.mel, &self.istft)?;
        let parts = self.loss.parts(pred, batch.audio);
        let loss = parts.mel_l1.clone().mul_scalar(r.mel_weight) + parts.stft.clone().mul_scalar(r.stft_weight);
        let scalar = |t: &Tensor<1>| -> f64 { t.clone().into_scalar::<f32>() as f64 };
        let (loss_v, mel_v, stft_v) = (scalar(&loss), scalar(&parts.mel_l1), scalar(&parts.stft));
        anyhow::ensure!(loss_v.is_finite(), "step {step}: the loss is {loss_v}; lower train.learning_rate or raise train.grad_clip's strictness");
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        let lr = self.config.learning_rate(step);
        self.net = Some(self.optim.step(lr, net, grads));
        self.state.step += 1;
        self.state.losses.push(loss_v as f32);
        self.state.wall_seconds += started.elapsed().as_secs_f64();
        let validation_mel_l1 = if self.state.step % self.config.train.validate_every == 0 || self.state.step == self.config.train.steps {
            let v = self.validate()?;
            self.validations.push((self.state.step, v));
            Some(v)
        } else {
            None
        };
        Ok(StepLog { step: self.state.step, loss: loss_v, mel_l1: mel_v, stft: stft_v, learning_rate: lr, validation_mel_l1 })
    }

    /// Mean log10-mel L1 of the current weights' resynthesis of the validation segments.
    pub fn validate(&self) -> Result<f64> {
        let net = self.net().valid();
        let istft = net.inverse_stft(&self.device);
        let loss = SpectralLoss::new(&net.config.mel, &[], &self.device);
        let mut total = 0.0;
        for chunk in self.validation.chunks(self.config.train.batch_size.max(1)) {
            let batch = data::batch(chunk, &self.mel, &self.device)?;
            let pred = net.forward(batch.mel, &istft)?;
            let l1: Tensor<1> = loss.parts(pred, batch.audio).mel_l1;
            total += l1.into_scalar::<f32>() as f64 * chunk.len() as f64;
        }
        Ok(total / self.validation.len().max(1) as f64)
    }

    /// Train until `config.train.steps` (or `stop_at` steps done), checkpointing every
    /// `checkpoint_every` steps and where the run stops.
    pub fn run(&mut self, stop_at: Option<usize>, on_step: &mut dyn FnMut(&StepLog)) -> Result<()> {
        let end = stop_at.unwrap_or(usize::MAX).min(self.config.train.steps);
        let mut saved = true;
        while self.state.step < end {
            let log = self.step()?;
            on_step(&log);
            saved = log.step % self.config.train.checkpoint_every == 0;
            if saved {
                self.save_checkpoint()?;
            }
        }
        if !saved {
            self.save_checkpoint()?;
        }
        Ok(())
    }

    /// Write a checkpoint of the current step.
    pub fn save_checkpoint(&self) -> Result<PathBuf> {
        checkpoint::write(&self.config.out_dir, &self.state, |dir| {
            checkpoint::save_module(self.net(), &dir.join(checkpoint::MODEL))?;
            std::fs::write(dir.join(VALIDATION), serde_json::to_string(&self.validations)?)?;
            let path = dir.join(checkpoint::OPTIMIZER);
            self.optim.save(&path).map_err(|e| anyhow::anyhow!("{}: {e:?}", path.display()))
        })
    }

    /// The trained network (inference mode) and what its JSON says of it.
    pub fn model(&self, config_toml: &str) -> (Vocos, VocoderMeta) {
        let (train_hours, train_files) = self.train_audio();
        let meta = VocoderMeta {
            vocos: self.config.vocos(),
            steps: self.state.step,
            parameters: self.num_params(),
            wall_seconds: self.state.wall_seconds,
            train_hours,
            train_files,
            validation_mel_l1: self.validations.last().map(|v| v.1),
            config: config_toml.to_string(),
        };
        (self.net().valid(), meta)
    }

    /// Export the weights as `dtype` safetensors at `path`, with `<path>.json` (meta) beside it.
    pub fn export(&self, path: &Path, dtype: DType, config_toml: &str) -> Result<()> {
        let (net, meta) = self.model(config_toml);
        super::save_vocoder(&net, &meta, path, dtype)
    }

    /// The current weights, flattened in visiting order (tests compare runs with it).
    pub fn weights(&self) -> Vec<f32> {
        checkpoint::flat_weights(self.net())
    }
}
