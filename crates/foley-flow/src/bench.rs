//! Timing and peak memory of the network (the `foley flow bench` command; BENCHMARKS.md).

use std::time::Instant;

use burn::tensor::{DType, Device, Tensor};

use crate::sampler::{Guided, euler, initial_noise, linspace_schedule};
use crate::{ExtraInputs, FlowConfig, FlowError, FlowNetwork};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchSpec {
    pub config: FlowConfig,
    pub batch: usize,
    pub dtype: DType,
    /// Timed repetitions (after one warm-up).
    pub reps: usize,
    /// Also time a full Euler sampling with this many steps and CFG 4.5 (0 = skip).
    pub sample_steps: usize,
}

/// Measured numbers.
#[derive(Debug, Clone)]
pub struct BenchResult {
    pub params: usize,
    /// (median, fastest) seconds of `forward` (conditions preprocessed inside, as MMAudio's
    /// `forward`). The fastest run is the least disturbed by other processes.
    pub forward_s: (f64, f64),
    /// (median, fastest) seconds of `predict_flow` alone (conditions preprocessed once).
    pub predict_flow_s: (f64, f64),
    /// Seconds of the full sampling, if requested.
    pub sample_s: Option<f64>,
    /// Peak resident set size of the process during the timed runs, in MiB (Linux).
    pub peak_rss_mib: Option<f64>,
}

/// Random weights and inputs of the right shapes, then time forward passes.
pub fn run(spec: &BenchSpec, device: &Device, progress: &mut dyn FnMut(&str)) -> Result<BenchResult, FlowError> {
    let c = &spec.config;
    let net = FlowNetwork::random_as(c, 0, device, spec.dtype)?;
    let params = burn::module::Module::num_params(&net);
    let b = spec.batch;
    if b == 0 || spec.reps == 0 {
        return Err(FlowError::Input("batch and repetitions must be positive".into()));
    }
    let input = |seed, shape: [usize; 3]| initial_noise(seed, shape, device).cast(spec.dtype);
    let latent = input(1, [b, c.latent_seq_len, c.latent_dim]);
    let clip = input(2, [b, c.clip_seq_len, c.clip_dim]);
    let sync = input(3, [b, c.sync_seq_len, c.sync_dim]);
    let text = input(4, [b, c.text_seq_len, c.text_dim]);
    let t = vec![0.5; b];
    let sync_wait = |x: Tensor<3>| {
        let _ = x.into_data();
    };

    progress("warm-up");
    reset_peak_rss();
    sync_wait(net.forward(latent.clone(), clip.clone(), sync.clone(), text.clone(), &t)?);
    let mut forward = Vec::new();
    for i in 0..spec.reps {
        progress(&format!("forward {}/{}", i + 1, spec.reps));
        let start = Instant::now();
        sync_wait(net.forward(latent.clone(), clip.clone(), sync.clone(), text.clone(), &t)?);
        forward.push(start.elapsed().as_secs_f64());
    }
    let cond = net.preprocess_conditions(clip, sync, text)?;
    let mut predict = Vec::new();
    for i in 0..spec.reps {
        progress(&format!("predict_flow {}/{}", i + 1, spec.reps));
        let start = Instant::now();
        sync_wait(net.predict_flow(latent.clone(), &t, &cond, &ExtraInputs::default())?);
        predict.push(start.elapsed().as_secs_f64());
    }
    let sample_s = if spec.sample_steps > 0 {
        progress("sampling");
        let start = Instant::now();
        let cond = net.preprocess_conditions(
            input(2, [b, c.clip_seq_len, c.clip_dim]),
            input(3, [b, c.sync_seq_len, c.sync_dim]),
            input(4, [b, c.text_seq_len, c.text_dim]),
        )?;
        let uncond = net.empty_conditions(b, None)?;
        let guided = Guided::new(cond, &uncond, 4.5);
        let x0 = input(5, [b, c.latent_seq_len, c.latent_dim]);
        let x1 =
            euler(&net, x0, &guided, &linspace_schedule(spec.sample_steps), &ExtraInputs::default(), &mut |i, n| progress(&format!("sampling step {i}/{n}")))?;
        sync_wait(net.unnormalize(x1));
        Some(start.elapsed().as_secs_f64())
    } else {
        None
    };
    Ok(BenchResult { params, forward_s: median(forward), predict_flow_s: median(predict), sample_s, peak_rss_mib: peak_rss_mib() })
}

/// (median, minimum) of non-empty timings.
fn median(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0])
}

/// Reset the kernel's peak-RSS mark for this process (`clear_refs` value 5, Linux >= 4.0).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// `VmHWM` of this process in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
