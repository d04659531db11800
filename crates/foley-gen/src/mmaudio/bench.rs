//! `foley mmaudio bench`: each part of a released MMAudio pipeline timed on random weights of
//! its released size, in the units a clip is made of (CLIP frames, Synchformer segments, guided
//! flow evaluations, the VAE and the vocoder on a whole window), so that the cost of a clip and
//! the ratio to PyTorch eager (measured by the same units in a dev script, BENCHMARKS.md) follow.

use std::time::Instant;

use anyhow::Result;
use burn::tensor::{DType, Device, Int, Tensor, TensorData};
use foley_decoder::bigvgan::BigVgan;
use foley_decoder::vae::Vae;
use foley_encoders::clip::{Clip, ClipConfig};
use foley_encoders::synchformer::{SEGMENT_FRAMES, SEGMENT_STEP, Synchformer, SynchformerConfig};
use foley_flow::bench::{peak_rss_mib, reset_peak_rss};
use foley_flow::noise::standard_normal;
use foley_flow::sampler::{Guided, initial_noise};
use foley_flow::{ExtraInputs, FlowNetwork};

use super::Variant;

/// What to time.
#[derive(Debug, Clone)]
pub struct BenchSpec {
    pub variant: Variant,
    /// Precision of the flow network.
    pub dtype: DType,
    /// CLIP frames per timed call (a clip has `8 x seconds`).
    pub clip_frames: usize,
    /// Synchformer segments per timed call (an 8 s clip has 24).
    pub sync_segments: usize,
    /// Timed repetitions after one warm-up.
    pub reps: usize,
}

/// One part's timings.
#[derive(Debug, Clone)]
pub struct PartTime {
    pub part: &'static str,
    /// What one call covers, e.g. "8 frames".
    pub unit: String,
    pub median_s: f64,
    pub min_s: f64,
    /// Calls of this size an 8 s clip needs.
    pub per_clip: f64,
    /// Peak resident memory of the process after this part, MiB.
    pub peak_rss_mib: Option<f64>,
}

fn time(reps: usize, mut f: impl FnMut() -> Result<()>) -> Result<(f64, f64)> {
    f()?;
    let mut t = Vec::with_capacity(reps);
    for _ in 0..reps {
        let start = Instant::now();
        f()?;
        t.push(start.elapsed().as_secs_f64());
    }
    t.sort_by(f64::total_cmp);
    Ok((t[t.len() / 2], t[0]))
}

fn random<const D: usize>(shape: [usize; D], scale: f32, offset: f32, seed: u64, device: &Device) -> Tensor<D> {
    let n = shape.iter().product();
    let data: Vec<f32> = standard_normal(seed, n).into_iter().map(|v| (v * scale + offset).clamp(0.0, 255.0)).collect();
    Tensor::from_data(TensorData::new(data, shape), device)
}

/// Time every part of `spec.variant` (8 s window); `progress` names the part being built or run.
pub fn run(spec: &BenchSpec, device: &Device, progress: &mut dyn FnMut(&str)) -> Result<Vec<PartTime>> {
    let seq = spec.variant.sequence(8.0);
    let mut rows = Vec::new();
    let mut push = |part, unit: String, (median_s, min_s): (f64, f64), per_clip| {
        rows.push(PartTime { part, unit, median_s, min_s, per_clip, peak_rss_mib: peak_rss_mib() });
    };
    reset_peak_rss();

    progress("CLIP (random weights)");
    let clip = Clip::random(&ClipConfig::released(), 1, device);
    let images = random([spec.clip_frames, 3, 384, 384], 60.0, 120.0, 2, device);
    progress("CLIP images");
    let t = time(spec.reps, || clip.encode_image(images.clone()).map(|_| ()))?;
    push("clip image tower", format!("{} frames", spec.clip_frames), t, seq.clip_seq_len() as f64 / spec.clip_frames as f64);
    let ids: Vec<i64> = (0..77)
        .map(|i| {
            if i == 0 {
                49406
            } else if i < 8 {
                320 + i
            } else if i == 8 {
                49407
            } else {
                0
            }
        })
        .collect();
    let ids: Tensor<2, Int> = Tensor::from_data(TensorData::new(ids, [1, 77]), device);
    progress("CLIP text");
    let t = time(spec.reps, || clip.encode_text(ids.clone()).map(|_| ()))?;
    push("clip text tower", "1 prompt".into(), t, 2.0);
    drop(clip);

    progress("Synchformer (random weights)");
    let sync = Synchformer::random(&SynchformerConfig::released(), 3, device);
    let frames = random([SEGMENT_FRAMES + (spec.sync_segments - 1) * SEGMENT_STEP, 3, 224, 224], 60.0, 120.0, 4, device);
    progress("Synchformer");
    let t = time(spec.reps, || sync.encode_frames(frames.clone()).map(|_| ()))?;
    push("synchformer", format!("{} segments", spec.sync_segments), t, seq.sync_num_segments() as f64 / spec.sync_segments as f64);
    drop(sync);

    progress("flow network (random weights)");
    let config = spec.variant.flow()?;
    let net = FlowNetwork::random_as(&config, 5, device, spec.dtype)?;
    let (n, c) = (seq.latent_seq_len(), config.latent_dim);
    let clip_f = Tensor::from_data(TensorData::new(standard_normal(6, seq.clip_seq_len() * config.clip_dim), [1, seq.clip_seq_len(), config.clip_dim]), device);
    let sync_f = Tensor::from_data(TensorData::new(standard_normal(7, seq.sync_seq_len() * config.sync_dim), [1, seq.sync_seq_len(), config.sync_dim]), device);
    let text_f = Tensor::from_data(TensorData::new(standard_normal(8, 77 * config.text_dim), [1, 77, config.text_dim]), device);
    let cond = net.preprocess_conditions(clip_f, sync_f, text_f)?;
    let guided = Guided::new(cond, &net.empty_conditions(1, None)?, 4.5);
    let x = initial_noise(9, [1, n, c], device);
    progress("flow network");
    let t = time(spec.reps, || guided.velocity(&net, x.clone(), 0.5, &ExtraInputs::default()).map(|_| ()).map_err(Into::into))?;
    push("flow (guided step, batch 2)", "1 step".into(), t, super::DEFAULT_STEPS as f64);
    drop(net);

    progress("VAE (random weights)");
    let vae = Vae::random(&spec.variant.vae()?, 10, device);
    let latent = Tensor::from_data(TensorData::new(standard_normal(11, n * c), [1, c, n]), device);
    progress("VAE decoder");
    let mut mel = None;
    let t = time(spec.reps, || {
        mel = Some(vae.decode(latent.clone())?);
        Ok(())
    })?;
    push("vae decoder", "8 s".into(), t, 1.0);
    drop(vae);

    progress("vocoder (random weights)");
    let vocoder = BigVgan::random(&spec.variant.vocoder()?, 12, device);
    let mel = mel.expect("decoded once");
    progress("vocoder");
    let t = time(spec.reps, || vocoder.forward(mel.clone()).map(|_| ()).map_err(Into::into))?;
    push("bigvgan", "8 s".into(), t, 1.0);
    Ok(rows)
}
