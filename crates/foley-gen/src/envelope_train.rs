//! Training the timing-envelope predictor (`foley train envelope`): mean squared error between
//! the predicted and the true standardized envelope of every sync token, AdamW with warm-up.

use anyhow::{Result, ensure};
use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use foley_flow::noise::SplitMix64;

use crate::data::Clip;
use crate::envelope::{ENVELOPE_DIM, EnvelopePredictor, predictor_input, r_squared};

/// One clip as the predictor sees it.
#[derive(Debug, Clone)]
pub struct EnvelopeExample {
    /// `[tokens, input_dim]` rows (see [`predictor_input`]).
    pub input: Vec<f32>,
    /// `[tokens, ENVELOPE_DIM]` standardized true envelope.
    pub target: Vec<f32>,
}

/// The examples of clips prepared by a dataset loaded with `envelope = true`
/// ([`Dataset::prepare`]: standardized, the envelope as the last of their `sync_dim` channels).
pub fn examples(clips: &[Clip], sync_dim: usize) -> Vec<EnvelopeExample> {
    let backbone = sync_dim - ENVELOPE_DIM;
    let sem_dim = foley_encoders::efficientnet::FEATURE_DIM;
    clips
        .iter()
        .map(|clip| {
            let (mut sync, mut target) = (Vec::new(), Vec::new());
            for row in clip.sync.chunks(sync_dim) {
                sync.extend_from_slice(&row[..backbone]);
                target.extend_from_slice(&row[backbone..]);
            }
            EnvelopeExample { input: predictor_input(&clip.semantic, sem_dim, &sync, backbone), target }
        })
        .collect()
}

/// Optimizer settings.
#[derive(Debug, Clone, Copy)]
pub struct EnvelopeTrainOptions {
    pub steps: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub warmup_steps: usize,
    pub weight_decay: f64,
    pub seed: u64,
}

impl Default for EnvelopeTrainOptions {
    fn default() -> Self {
        Self { steps: 1500, batch_size: 16, learning_rate: 1e-3, warmup_steps: 100, weight_decay: 0.05, seed: 0 }
    }
}

fn stack(examples: &[&EnvelopeExample], device: &Device) -> (Tensor<3>, Tensor<3>) {
    let b = examples.len();
    let tokens = examples[0].target.len() / ENVELOPE_DIM;
    let width = examples[0].input.len() / tokens;
    let input: Vec<f32> = examples.iter().flat_map(|e| e.input.iter().copied()).collect();
    let target: Vec<f32> = examples.iter().flat_map(|e| e.target.iter().copied()).collect();
    (Tensor::from_data(TensorData::new(input, [b, tokens, width]), device), Tensor::from_data(TensorData::new(target, [b, tokens, ENVELOPE_DIM]), device))
}

/// Train a new predictor on `examples` (deterministic in `options.seed`); `on_step(step, loss)`
/// sees every step. Returns the inference-mode predictor.
pub fn train_predictor(
    examples: &[EnvelopeExample],
    options: &EnvelopeTrainOptions,
    device: &Device,
    on_step: &mut dyn FnMut(usize, f64),
) -> Result<EnvelopePredictor> {
    ensure!(!examples.is_empty(), "no training clips");
    let tokens = examples[0].target.len() / ENVELOPE_DIM;
    let input_dim = examples[0].input.len() / tokens;
    let ad = device.clone().autodiff();
    ad.seed(options.seed);
    let mut model = EnvelopePredictor::new(input_dim, &ad);
    let mut optim = AdamWConfig::new().with_weight_decay(options.weight_decay as f32).with_grad_clipping(Some(GradientClippingConfig::Norm(1.0))).init();
    let mut rng = SplitMix64::new(options.seed);
    for step in 0..options.steps {
        let batch: Vec<&EnvelopeExample> = (0..options.batch_size).map(|_| &examples[(rng.next_u64() % examples.len() as u64) as usize]).collect();
        let (x, y) = stack(&batch, &ad);
        let loss = (model.forward(x) - y).powi_scalar(2).mean();
        let value = loss.clone().into_scalar::<f32>() as f64;
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = options.learning_rate * ((step + 1) as f64 / options.warmup_steps.max(1) as f64).min(1.0);
        model = optim.step(lr, model, grads);
        on_step(step + 1, value);
    }
    Ok(model.valid())
}

/// R² of `predictor` on `examples`, per envelope channel (1 = perfect, 0 = no better than the
/// examples' mean).
pub fn r2(predictor: &EnvelopePredictor, examples: &[EnvelopeExample], device: &Device) -> Result<[f64; ENVELOPE_DIM]> {
    ensure!(!examples.is_empty(), "no clips to score");
    let mut predicted = Vec::new();
    for chunk in examples.chunks(16) {
        let refs: Vec<&EnvelopeExample> = chunk.iter().collect();
        let (x, _) = stack(&refs, device);
        predicted.extend(predictor.forward(x).into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?);
    }
    let truth: Vec<f32> = examples.iter().flat_map(|e| e.target.iter().copied()).collect();
    Ok(r_squared(&predicted, &truth))
}
