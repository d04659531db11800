//! The training loop: masked flow matching with logit-normal times on the frames that are not
//! given, shortcut self-consistency on a fraction of each batch, CFG dropout, AdamW with linear
//! warm-up and gradient clipping, EMA, checkpoints.
//!
//! Every random draw of step `n` comes from generators seeded by `(seed, n)`, so a run resumed
//! from a checkpoint continues exactly as if it had never stopped.

use std::path::Path;
use std::time::Instant;

use anyhow::{Result, ensure};
use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{DType, Device, Tensor, TensorData};
use foley_dist::{Collective, Solo};
use foley_flow::noise::SplitMix64;
use foley_flow::{AudioPrompt, ExtraInputs, FlowNetwork};

use crate::checkpoint::{self, RunState};
use crate::config::TrainConfig;
use crate::data::Dataset;
use crate::data_parallel::{check_ranks_agree, examples_of_rank, in_batch_order, sum_gradients};
use crate::ema::Ema;
use crate::model::{GenMeta, Generator, TrainingSummary, conditions};
use crate::shortcut::{sample_step, shortcut_target};

/// What one step did.
#[derive(Debug, Clone, Copy)]
pub struct StepLog {
    /// Steps done after this one.
    pub step: usize,
    pub loss: f64,
    /// Mean loss of the plain flow-matching examples.
    pub flow_loss: f64,
    /// Mean loss of the shortcut examples (NaN without any).
    pub shortcut_loss: f64,
    pub learning_rate: f64,
}

/// A run in progress.
pub struct Trainer {
    pub config: TrainConfig,
    pub dataset: Dataset,
    pub meta: GenMeta,
    pub state: RunState,
    net: Option<FlowNetwork>,
    optim: ModuleOptimizer,
    ema: Ema,
    /// Device of the data (without autodiff); the network lives on its autodiff twin.
    device: Device,
    /// The ranks of a data-parallel run ([`Solo`] for one process).
    comm: Box<dyn Collective>,
}

/// A seed for draw `what` of step `step`.
fn step_seed(seed: u64, step: usize, what: u64) -> u64 {
    let mut r = SplitMix64::new(seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ what.wrapping_mul(0xD1B5_4A32_D192_ED03));
    r.next_u64()
}

impl Trainer {
    /// Start fresh, or resume from the last checkpoint in `config.out_dir`.
    pub fn new(config: TrainConfig, dataset: Dataset, device: &Device) -> Result<Self> {
        Self::data_parallel(config, dataset, device, Box::new(Solo))
    }

    /// [`Trainer::new`] as one rank of `comm`: every rank must be given the same config and
    /// dataset and see the same `out_dir` (rank 0 writes it; all resume from it).
    pub fn data_parallel(config: TrainConfig, dataset: Dataset, device: &Device, comm: Box<dyn Collective>) -> Result<Self> {
        let r = &config.train;
        ensure!(
            r.batch_size % comm.size() == 0,
            "batch_size {} is not a multiple of the {} ranks (every rank computes an equal share of the batch)",
            r.batch_size,
            comm.size()
        );
        let meta = GenMeta {
            flow: config.flow_config(dataset.sync_dim),
            duration: config.data.duration,
            stats: dataset.stats.clone(),
            positional_channels: config.data.positional_channels,
            empty_text: dataset.empty_text.clone(),
            video_stats: dataset.video_stats.clone(),
            envelope: dataset.envelope_stats.clone(),
            training: None,
        };
        let mut net = Generator::init(meta.clone(), r.seed, config.model.init, &device.clone().autodiff())?.net;
        if let Some(path) = &r.init_clip_proj {
            crate::semantic_vama::load_projection(&mut net.clip_input_proj, path)?;
            tracing::info!(from = %path.display(), "semantic projection from VAMA");
        }
        let mut optim = AdamWConfig::new()
            .with_weight_decay(r.weight_decay as f32)
            .with_beta_2(r.adam_beta2 as f32)
            .with_grad_clipping(Some(GradientClippingConfig::Norm(r.grad_clip as f32)))
            .init();
        let mut state = RunState { step: 0, losses: Vec::new(), wall_seconds: 0.0 };
        let mut ema = Ema::new(&net, r.ema_decay);
        if let Some(ckpt) = checkpoint::latest(&config.out_dir)? {
            state = checkpoint::read_state(&ckpt)?;
            checkpoint::load_module(&mut net, &ckpt.join(checkpoint::MODEL))?;
            let mut ema_net = net.clone();
            checkpoint::load_module(&mut ema_net, &ckpt.join(checkpoint::EMA))?;
            ema = Ema::new(&ema_net, r.ema_decay);
            let optim_path = ckpt.join(checkpoint::OPTIMIZER);
            optim = optim.load(&optim_path).map_err(|e| anyhow::anyhow!("{}: {e:?}", optim_path.display()))?;
            tracing::info!(step = state.step, checkpoint = %ckpt.display(), "resumed");
        }
        check_ranks_agree(&*comm, state.step, &checkpoint::flat_weights(&net))?;
        Ok(Self { config, dataset, meta, state, net: Some(net), optim, ema, device: device.clone(), comm })
    }

    /// This process's rank and the number of ranks.
    pub fn rank(&self) -> (usize, usize) {
        (self.comm.rank(), self.comm.size())
    }

    fn net(&self) -> &FlowNetwork {
        self.net.as_ref().expect("network present between steps")
    }

    pub fn num_params(&self) -> usize {
        self.net().num_params()
    }

    /// One optimization step (of the whole batch: this rank computes its share).
    pub fn step(&mut self) -> Result<StepLog> {
        let started = Instant::now();
        let step = self.state.step;
        let r = self.config.train.clone();
        let b = r.batch_size;
        let mut rng = SplitMix64::new(step_seed(r.seed, step, 0));
        let batch = self.dataset.batch(b, &mut rng, step_seed(r.seed, step, 1), r.video_dropout, r.text_dropout, &r.mask, &self.device);

        // The first k examples learn 2d-steps from two d-steps; the rest plain flow matching
        // at logit-normal times.
        let k = ((b as f64) * r.shortcut_fraction).round() as usize;
        let (mut t, mut step_in, mut half, mut query) = (Vec::with_capacity(b), Vec::with_capacity(b), Vec::new(), Vec::new());
        for i in 0..b {
            if i < k {
                let s = sample_step(r.shortcut_levels, &mut rng);
                t.push(s.t);
                step_in.push(2.0 * s.d);
                half.push(s.d);
                query.push(s.query);
            } else {
                let z = foley_flow::noise::standard_normal(rng.next_u64(), 1)[0];
                t.push(1.0 / (1.0 + (-z).exp()));
                step_in.push(0.0);
            }
        }
        // This rank's examples: every ranks-th from its rank on (a share of the shortcut examples
        // too, which cost two more forward passes each).
        let (rank, ranks) = self.rank();
        let (batch, k) = if ranks == 1 {
            (batch, k)
        } else {
            let mine = examples_of_rank(b, rank, ranks);
            let pick = |v: &[f32]| mine.iter().filter_map(|&i| v.get(i).copied()).collect::<Vec<f32>>();
            (t, step_in, half, query) = (pick(&t), pick(&step_in), pick(&half), pick(&query));
            (batch.rows(&mine), mine.iter().filter(|&&i| i < k).count())
        };
        let local = t.len();
        let tt = Tensor::<1>::from_data(TensorData::new(t.clone(), [local]), &self.device).reshape([local, 1, 1]);
        let xt = batch.x0.clone() * tt.clone().neg().add_scalar(1.0) + batch.x1.clone() * tt;
        let prompt = AudioPrompt { known: batch.known.clone(), mask: batch.mask.clone() };
        let net = self.net.take().expect("network present between steps");

        let mut target = batch.x1.clone() - batch.x0.clone();
        if k > 0 {
            let valid = if r.bootstrap_ema { self.ema.apply(net.valid()) } else { net.valid() };
            let cond = conditions(
                &valid,
                batch.clip.clone().slice([0..k]),
                batch.sync.clone().slice([0..k]),
                batch.text.clone().slice([0..k]),
                batch.video_drop.clone().slice([0..k]),
            )?;
            let sub_prompt = AudioPrompt { known: prompt.known.clone().slice([0..k]), mask: prompt.mask.clone().slice([0..k]) };
            let sc = shortcut_target(&valid, xt.clone().slice([0..k]), &t[..k], &half, &query, &cond, Some(sub_prompt))?;
            target = if k < local { Tensor::cat(vec![sc, target.slice([k..local])], 0) } else { sc };
        }
        let cond = conditions(&net, batch.clip, batch.sync, batch.text, batch.video_drop)?;
        let pred = net.predict_flow(xt, &t, &cond, &ExtraInputs { step_size: Some(step_in), prompt: Some(prompt) })?;
        // Mean squared error over the frames that are not given, per example.
        let err: Tensor<2> = (pred - target).powi_scalar(2).mean_dim(2).squeeze_dim(2);
        let free = batch.mask.neg().add_scalar(1.0);
        let per_example: Tensor<1> = ((err * free.clone()).sum_dim(1) / free.sum_dim(1)).squeeze_dim(1);
        let mine: Vec<f32> = per_example.clone().without_autodiff().into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        // This rank's share of the batch mean: summed over ranks, the mean's gradient.
        let loss = per_example.sum().div_scalar(b as f64);
        let mut grads = GradientsParams::from_grads(loss.backward(), &net);
        if ranks > 1 {
            sum_gradients(&mut grads, &net, &*self.comm, &self.device);
        }
        let lr = r.learning_rate * ((step + 1) as f64 / r.warmup_steps.max(1) as f64).min(1.0);
        let net = self.optim.step(lr, net, grads);
        self.ema.update(&net, step);
        self.net = Some(net);

        let values = if ranks == 1 { mine } else { in_batch_order(&self.comm.gather_f32(&mine), ranks) };
        let k = ((b as f64) * r.shortcut_fraction).round() as usize;
        let mean = |v: &[f32]| if v.is_empty() { f64::NAN } else { v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64 };
        let total = mean(&values);
        self.state.step += 1;
        self.state.losses.push(total as f32);
        self.state.wall_seconds += started.elapsed().as_secs_f64();
        Ok(StepLog { step: self.state.step, loss: total, flow_loss: mean(&values[k..]), shortcut_loss: mean(&values[..k]), learning_rate: lr })
    }

    /// Train until `config.train.steps` (or `stop_at` steps done, whichever is first),
    /// checkpointing every `checkpoint_every` steps and where the run stops. With several ranks,
    /// rank 0 writes the checkpoints, after checking that every rank holds the same weights.
    pub fn run(&mut self, stop_at: Option<usize>, on_step: &mut dyn FnMut(&StepLog)) -> Result<()> {
        let end = stop_at.unwrap_or(usize::MAX).min(self.config.train.steps);
        let mut saved = true;
        while self.state.step < end {
            let log = self.step()?;
            on_step(&log);
            saved = log.step % self.config.train.checkpoint_every == 0;
            if saved {
                self.checkpoint_on_rank_0()?;
            }
        }
        if !saved {
            self.checkpoint_on_rank_0()?;
        }
        Ok(())
    }

    fn checkpoint_on_rank_0(&self) -> Result<()> {
        check_ranks_agree(&*self.comm, self.state.step, &self.weights())?;
        if self.comm.rank() == 0 {
            self.save_checkpoint()?;
        }
        Ok(())
    }

    /// Write a checkpoint of the current step.
    pub fn save_checkpoint(&self) -> Result<std::path::PathBuf> {
        let net = self.net();
        checkpoint::write(&self.config.out_dir, &self.state, |dir| {
            checkpoint::save_module(net, &dir.join(checkpoint::MODEL))?;
            checkpoint::save_module(&self.ema.apply(net.valid()), &dir.join(checkpoint::EMA))?;
            let path = dir.join(checkpoint::OPTIMIZER);
            self.optim.save(&path).map_err(|e| anyhow::anyhow!("{}: {e:?}", path.display()))
        })
    }

    /// The EMA generator (inference mode), with its training summary.
    pub fn ema_generator(&self, config_toml: &str) -> Generator {
        let losses = &self.state.losses;
        let tail = &losses[losses.len().saturating_sub(100)..];
        let mut meta = self.meta.clone();
        meta.training = Some(TrainingSummary {
            steps: self.state.step,
            parameters: self.num_params(),
            wall_seconds: self.state.wall_seconds,
            final_loss: tail.iter().map(|&l| l as f64).sum::<f64>() / tail.len().max(1) as f64,
            clips: self.dataset.clips.len(),
            config: config_toml.to_string(),
        });
        Generator { net: self.ema.apply(self.net().valid()), meta, envelope: None }
    }

    /// The current (non-EMA) weights, flattened in visiting order (tests compare runs with it).
    pub fn weights(&self) -> Vec<f32> {
        checkpoint::flat_weights(self.net())
    }

    /// Export the EMA generator as `dtype` safetensors.
    pub fn export(&self, path: &Path, dtype: DType, config_toml: &str) -> Result<()> {
        self.ema_generator(config_toml).save(path, dtype)
    }
}
