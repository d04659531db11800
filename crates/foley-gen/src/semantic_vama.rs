//! VAMA for the semantic projection (Foley-Flow's masked video-audio alignment): hide spans
//! holding most of a clip's mel tokens and reconstruct them from the frame-wise semantic
//! features (through a projection shaped exactly like the generator's `clip_input_proj`) and
//! the audio left visible, by cross-attention. The trained projection initializes the
//! generator's (`[train] init_clip_proj`), so the flow network starts with frame features that
//! already say what is heard. (The sync backbone has its own VAMA in `foley_encoders::vama`.)

use std::path::Path;

use anyhow::{Context, Result, ensure};
use burn::grad_clipping::GradientClippingConfig;
use burn::module::{Module, Param};
use burn::nn::attention::{MhaInput, MultiHeadAttention, MultiHeadAttentionConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{DType, Device, Tensor, TensorData};
use foley_flow::noise::SplitMix64;
use foley_flow::{FlowConfig, FlowNetwork, InputBranch};
use foley_kernels::conv::gelu;

use crate::data::{Clip, Dataset, with_positional};
use crate::model::{load_safetensors, stage_safetensors};

/// Default fraction of mel tokens hidden (Foley-Flow's 0.8).
pub const DEFAULT_MASK_RATIO: f64 = 0.8;
/// Tokens per hidden span (0.26 s at 31.25 tokens/s): whole sound events go missing, so the
/// video, not the neighbouring audio, has to say what they were.
pub const SPAN_TOKENS: usize = 8;

/// Masked reconstruction of mel tokens from semantic frame features and visible audio.
#[derive(Module, Debug)]
pub struct SemanticVama {
    /// The generator's `clip_input_proj`, trained here.
    pub clip_proj: InputBranch,
    audio_in: Linear,
    mask_embed: Param<Tensor<1>>,
    audio_pos: Param<Tensor<2>>,
    video_pos: Param<Tensor<2>>,
    norm_query: LayerNorm,
    norm_context: LayerNorm,
    cross: MultiHeadAttention,
    norm_mlp: LayerNorm,
    mlp_in: Linear,
    mlp_out: Linear,
    predict: Linear,
}

impl SemanticVama {
    /// A new model for the generator of `flow` (its window lengths must be set).
    pub fn new(flow: &FlowConfig, seed: u64, device: &Device) -> Result<Self> {
        let d = flow.hidden_dim;
        let small = Initializer::Normal { mean: 0.0, std: 0.02 };
        Ok(Self {
            clip_proj: FlowNetwork::random(flow, seed, device)?.clip_input_proj,
            audio_in: LinearConfig::new(flow.latent_dim, d).init(device),
            mask_embed: small.init([d], device),
            audio_pos: small.init([flow.latent_seq_len, d], device),
            video_pos: small.init([flow.clip_seq_len, d], device),
            norm_query: LayerNormConfig::new(d).init(device),
            norm_context: LayerNormConfig::new(d).init(device),
            cross: MultiHeadAttentionConfig::new(d, 4).with_dropout(0.0).init(device),
            norm_mlp: LayerNormConfig::new(d).init(device),
            mlp_in: LinearConfig::new(d, 4 * d).init(device),
            mlp_out: LinearConfig::new(4 * d, d).init(device),
            predict: LinearConfig::new(d, flow.latent_dim).init(device),
        })
    }

    /// Reconstructed tokens `(B, N, C)` from semantic features `clip` `(B, Nc, clip_dim)` and
    /// normalized mel tokens `(B, N, C)` whose positions flagged in `mask` `(B, N)` (1 = hidden)
    /// are hidden (zeroed here before the audio is embedded).
    pub fn reconstruct(&self, clip: Tensor<3>, tokens: Tensor<3>, mask: Tensor<2>) -> Tensor<3> {
        let hidden: Tensor<3> = mask.unsqueeze_dim(2);
        let d = self.mask_embed.dims()[0];
        let audio = self.audio_in.forward(tokens * (hidden.clone().neg() + 1.0))
            + hidden * self.mask_embed.val().reshape([1, 1, d])
            + self.audio_pos.val().unsqueeze_dim(0);
        let video = self.clip_proj.forward(clip) + self.video_pos.val().unsqueeze_dim(0);
        let context = self.norm_context.forward(Tensor::cat(vec![video, audio.clone()], 1));
        let query = self.norm_query.forward(audio.clone());
        let x = audio + self.cross.forward(MhaInput::new(query, context.clone(), context)).context;
        let x = x.clone() + self.mlp_out.forward(gelu(self.mlp_in.forward(self.norm_mlp.forward(x))));
        self.predict.forward(x)
    }

    /// Mean squared error over the hidden tokens of each clip `(B)`.
    pub fn clip_errors(&self, clip: Tensor<3>, tokens: Tensor<3>, mask: Tensor<2>) -> Tensor<1> {
        let per_token: Tensor<2> = (self.reconstruct(clip, tokens.clone(), mask.clone()) - tokens).powi_scalar(2).mean_dim(2).squeeze_dim(2);
        ((per_token * mask.clone()).sum_dim(1) / mask.sum_dim(1).clamp_min(1.0)).squeeze_dim(1)
    }

    /// Save the trained projection alone (f32 safetensors, through a temporary file): what
    /// `[train] init_clip_proj` loads into a new generator.
    pub fn save_projection(&self, path: &Path) -> Result<()> {
        stage_safetensors(&self.clip_proj, path, DType::F32)?.persist(path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

/// Load a projection saved by [`SemanticVama::save_projection`] into `proj`.
pub fn load_projection(proj: &mut InputBranch, path: &Path) -> Result<()> {
    ensure!(path.is_file(), "{} does not exist (train it with `foley train vama CONFIG.toml`)", path.display());
    load_safetensors(proj, path).context("a projection for another generator size?")
}

/// A 0/1 mask over `n` tokens hiding `round(ratio * spans)` of its `SPAN_TOKENS`-token spans.
pub fn span_mask(n: usize, ratio: f64, rng: &mut SplitMix64) -> Vec<f32> {
    let spans = n.div_ceil(SPAN_TOKENS);
    let hide = ((ratio * spans as f64).round() as usize).min(spans);
    // Partial Fisher-Yates: the first `hide` entries are a uniform random subset.
    let mut order: Vec<usize> = (0..spans).collect();
    for i in 0..hide {
        let j = i + (rng.next_u64() % (spans - i) as u64) as usize;
        order.swap(i, j);
    }
    let mut mask = vec![0f32; n];
    for &s in &order[..hide] {
        mask[s * SPAN_TOKENS..((s + 1) * SPAN_TOKENS).min(n)].fill(1.0);
    }
    mask
}

/// One clip as VAMA sees it: `[clip_seq_len, clip_dim]` semantic input (standardized,
/// positional channels appended) and `[latent_seq_len, C]` normalized mel tokens.
#[derive(Debug, Clone)]
pub struct VamaExample {
    pub clip: Vec<f32>,
    pub tokens: Vec<f32>,
}

/// Examples of clips prepared by `dataset` (its own, or others through [`Dataset::prepare`]).
pub fn examples(clips: &[Clip], dataset: &Dataset) -> Vec<VamaExample> {
    let sem_dim = foley_encoders::efficientnet::FEATURE_DIM;
    clips
        .iter()
        .map(|c| {
            let mut tokens = c.mel.clone();
            dataset.stats.normalize(&mut tokens);
            VamaExample { clip: with_positional(&c.semantic, sem_dim, dataset.seq.clip_frame_rate, dataset.data.positional_channels), tokens }
        })
        .collect()
}

/// Optimizer and masking settings.
#[derive(Debug, Clone, Copy)]
pub struct VamaOptions {
    pub steps: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub warmup_steps: usize,
    pub mask_ratio: f64,
    pub seed: u64,
}

impl Default for VamaOptions {
    fn default() -> Self {
        Self { steps: 1500, batch_size: 16, learning_rate: 5e-4, warmup_steps: 100, mask_ratio: DEFAULT_MASK_RATIO, seed: 0 }
    }
}

fn batch(examples: &[&VamaExample], flow: &FlowConfig, masks: Vec<f32>, device: &Device) -> (Tensor<3>, Tensor<3>, Tensor<2>) {
    let b = examples.len();
    let clip: Vec<f32> = examples.iter().flat_map(|e| e.clip.iter().copied()).collect();
    let tokens: Vec<f32> = examples.iter().flat_map(|e| e.tokens.iter().copied()).collect();
    (
        Tensor::from_data(TensorData::new(clip, [b, flow.clip_seq_len, flow.clip_dim]), device),
        Tensor::from_data(TensorData::new(tokens, [b, flow.latent_seq_len, flow.latent_dim]), device),
        Tensor::from_data(TensorData::new(masks, [b, flow.latent_seq_len]), device),
    )
}

/// Train VAMA for the generator of `flow` on `train` (deterministic in `options.seed`);
/// `on_step(step, loss)`. Returns the inference-mode model.
pub fn train(train: &[VamaExample], flow: &FlowConfig, options: &VamaOptions, device: &Device, on_step: &mut dyn FnMut(usize, f64)) -> Result<SemanticVama> {
    ensure!(!train.is_empty(), "no training clips");
    let ad = device.clone().autodiff();
    ad.seed(options.seed);
    let mut model = SemanticVama::new(flow, options.seed, &ad)?;
    let mut optim = AdamWConfig::new().with_weight_decay(0.01).with_grad_clipping(Some(GradientClippingConfig::Norm(1.0))).init();
    let mut rng = SplitMix64::new(options.seed);
    for step in 0..options.steps {
        let picked: Vec<&VamaExample> = (0..options.batch_size).map(|_| &train[(rng.next_u64() % train.len() as u64) as usize]).collect();
        let masks: Vec<f32> = (0..options.batch_size).flat_map(|_| span_mask(flow.latent_seq_len, options.mask_ratio, &mut rng)).collect();
        let (clip, tokens, mask) = batch(&picked, flow, masks, &ad);
        let loss = model.clip_errors(clip, tokens, mask).mean();
        let value = loss.clone().into_scalar::<f32>() as f64;
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = options.learning_rate * ((step + 1) as f64 / options.warmup_steps.max(1) as f64).min(1.0);
        model = optim.step(lr, model, grads);
        on_step(step + 1, value);
    }
    Ok(model.valid())
}

/// Mean reconstruction error of the hidden spans of `examples` with each clip's own semantic
/// features and with the next clip's (the same masks for both): the gap is what the frame
/// features tell about the hidden audio.
pub fn held_out_errors(model: &SemanticVama, examples: &[VamaExample], flow: &FlowConfig, mask_ratio: f64, device: &Device) -> Result<(f64, f64)> {
    ensure!(examples.len() >= 2, "need at least 2 held-out clips");
    let mut rng = SplitMix64::new(12345);
    let (mut own, mut other) = (0f64, 0f64);
    for (i, e) in examples.iter().enumerate() {
        let mask = span_mask(flow.latent_seq_len, mask_ratio, &mut rng);
        let next = &examples[(i + 1) % examples.len()];
        let swapped = VamaExample { clip: next.clip.clone(), tokens: e.tokens.clone() };
        let (clip, tokens, m) = batch(&[e, &swapped], flow, [mask.clone(), mask].concat(), device);
        let errors: Vec<f32> = model.clip_errors(clip, tokens, m).into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        own += errors[0] as f64;
        other += errors[1] as f64;
    }
    let n = examples.len() as f64;
    Ok((own / n, other / n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_mask_hides_whole_spans_at_the_ratio() {
        let mut rng = SplitMix64::new(3);
        let m = span_mask(250, 0.8, &mut rng);
        // 32 spans (the last has 2 tokens); 26 hidden.
        let hidden_spans = (0..32).filter(|s| m[s * SPAN_TOKENS] == 1.0).count();
        assert_eq!(hidden_spans, 26);
        for s in 0..32 {
            let span = &m[s * SPAN_TOKENS..((s + 1) * SPAN_TOKENS).min(250)];
            assert!(span.iter().all(|&v| v == span[0]), "span {s} is hidden or visible as a whole");
        }
        assert_ne!(span_mask(250, 0.8, &mut rng), m, "masks differ between draws");
    }

    fn tiny() -> FlowConfig {
        crate::test_support::tiny_flow_config(false)
    }

    #[test]
    fn the_pretrained_projection_loads_into_a_generator_unchanged() {
        let device = Device::flex();
        let flow = tiny();
        let vama = SemanticVama::new(&flow, 1, &device).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("proj.safetensors");
        vama.save_projection(&path).unwrap();
        let mut net = FlowNetwork::random(&flow, 2, &device).unwrap();
        let x = Tensor::<3>::from_data(TensorData::new(foley_flow::noise::standard_normal(3, 2 * 4 * 32), [2, 4, 32]), &device);
        let before: Vec<f32> = net.clip_input_proj.forward(x.clone()).into_data().try_to_vec::<f32>().unwrap();
        load_projection(&mut net.clip_input_proj, &path).unwrap();
        let loaded: Vec<f32> = net.clip_input_proj.forward(x.clone()).into_data().try_to_vec::<f32>().unwrap();
        let want: Vec<f32> = vama.clip_proj.forward(x).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(loaded, want);
        assert_ne!(before, want, "different seeds start from different projections");
        let missing = load_projection(&mut net.clip_input_proj, &dir.path().join("nope.safetensors")).unwrap_err().to_string();
        assert!(missing.contains("foley train vama"), "{missing}");
    }

    #[test]
    fn training_lowers_the_reconstruction_error() {
        let device = Device::flex();
        let flow = tiny();
        // Audio that the frame features determine: token k of clip i is feature (i, k / 4).
        let clips: Vec<VamaExample> = (0..6u64)
            .map(|i| {
                let clip = foley_flow::noise::standard_normal(100 + i, 4 * 32);
                let tokens = (0..16).flat_map(|k| clip[(k / 4) * 32..(k / 4) * 32 + 8].to_vec()).collect();
                VamaExample { clip, tokens }
            })
            .collect();
        let options = VamaOptions { steps: 60, batch_size: 6, learning_rate: 3e-3, warmup_steps: 5, mask_ratio: 0.5, seed: 0 };
        let mut losses = Vec::new();
        let model = train(&clips, &flow, &options, &device, &mut |_, l| losses.push(l)).unwrap();
        let first = losses[..5].iter().sum::<f64>() / 5.0;
        let last = losses[losses.len() - 5..].iter().sum::<f64>() / 5.0;
        assert!(last < 0.5 * first, "loss {first:.3} -> {last:.3}");
        let (own, other) = held_out_errors(&model, &clips, &flow, 0.5, &device).unwrap();
        assert!(own < other, "own video {own:.3} should explain its audio better than another clip's {other:.3}");
    }
}
