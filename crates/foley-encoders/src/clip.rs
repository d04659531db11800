//! CLIP (Radford et al. 2021) as MMAudio uses it: open_clip's DFN5B-CLIP-ViT-H-14-384, the image
//! tower per video frame (`encode_image(normalize=True)`) and the text tower patched to return
//! every token (the last hidden states after `ln_final`, each L2-normalized, not projected), with
//! open_clip's byte-level BPE tokenizer.
//!
//! * [`vision`]: the ViT image tower, [`text`]: the causal text tower, both built from
//!   [`transformer`]'s pre-norm residual attention blocks; module paths are the open_clip keys.
//! * [`tokenizer`]: `SimpleTokenizer` (cleaning in [`clean`]).

pub mod clean;
pub mod text;
pub mod tokenizer;
pub mod transformer;
pub mod vision;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context;
use burn::prelude::*;
use foley_weights::{KeyReport, StateDict, Vars};
use serde::Deserialize;

pub use tokenizer::ClipTokenizer;

use text::TextTransformer;
use vision::VisionTransformer;

/// The per-channel mean of OpenAI CLIP's pixel normalization (MMAudio's `clip_preprocess`).
pub const PIXEL_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// The per-channel standard deviation of OpenAI CLIP's pixel normalization.
pub const PIXEL_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

/// The image tower (open_clip's `vision_cfg`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisionConfig {
    /// Side of the square input image in pixels.
    #[serde(default = "default_image_size")]
    pub image_size: usize,
    #[serde(default = "default_layers")]
    pub layers: usize,
    #[serde(default = "default_vision_width")]
    pub width: usize,
    /// Width of one attention head (heads = width / head_width).
    #[serde(default = "default_head_width")]
    pub head_width: usize,
    #[serde(default = "default_patch_size")]
    pub patch_size: usize,
    /// Feed-forward width over model width.
    #[serde(default = "default_mlp_ratio")]
    pub mlp_ratio: f64,
}

/// The text tower (open_clip's `text_cfg`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextConfig {
    /// Tokens per text (SOT and EOT included).
    #[serde(default = "default_context_length")]
    pub context_length: usize,
    #[serde(default = "default_vocab_size")]
    pub vocab_size: usize,
    #[serde(default = "default_text_width")]
    pub width: usize,
    #[serde(default = "default_heads")]
    pub heads: usize,
    #[serde(default = "default_layers")]
    pub layers: usize,
    /// Feed-forward width over model width.
    #[serde(default = "default_mlp_ratio")]
    pub mlp_ratio: f64,
}

// open_clip's `CLIPVisionCfg` / `CLIPTextCfg` defaults.
fn default_image_size() -> usize {
    224
}
fn default_layers() -> usize {
    12
}
fn default_vision_width() -> usize {
    768
}
fn default_head_width() -> usize {
    64
}
fn default_patch_size() -> usize {
    16
}
fn default_mlp_ratio() -> f64 {
    4.0
}
fn default_context_length() -> usize {
    77
}
fn default_vocab_size() -> usize {
    49408
}
fn default_text_width() -> usize {
    512
}
fn default_heads() -> usize {
    8
}

/// An open_clip CLIP model configuration (the subset of options this port implements; any
/// other option in the JSON is an error rather than silently ignored).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipConfig {
    /// Width of the joint image-text embedding (`visual.proj`'s output).
    pub embed_dim: usize,
    /// QuickGELU `x * sigmoid(1.702 x)` instead of exact GELU in the feed-forwards.
    #[serde(default)]
    pub quick_gelu: bool,
    #[serde(rename = "vision_cfg")]
    pub vision: VisionConfig,
    #[serde(rename = "text_cfg")]
    pub text: TextConfig,
}

impl VisionConfig {
    /// Patches per side (open_clip drops the pixels past the last whole patch).
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }

    /// Attention heads per block.
    pub fn heads(&self) -> usize {
        self.width / self.head_width
    }

    /// Hidden width of the feed-forward (`int(width * mlp_ratio)`).
    pub fn mlp_width(&self) -> usize {
        (self.width as f64 * self.mlp_ratio) as usize
    }
}

impl TextConfig {
    /// Hidden width of the feed-forward (`int(width * mlp_ratio)`).
    pub fn mlp_width(&self) -> usize {
        (self.width as f64 * self.mlp_ratio) as usize
    }
}

impl ClipConfig {
    /// From open_clip's model-config JSON object (`embed_dim`, `quick_gelu`, `vision_cfg`, `text_cfg`).
    pub fn from_json(value: &serde_json::Value) -> anyhow::Result<Self> {
        let config = Self::deserialize(value).context("not an open_clip CLIP model config this port supports")?;
        config.validate()?;
        Ok(config)
    }

    /// DFN5B-CLIP-ViT-H-14-384 as MMAudio loads it (`hf-hub:apple/DFN5B-CLIP-ViT-H-14-384`):
    /// ViT-H/14 at 384 px (27 x 27 patches + class token), a 24-layer 1024-wide text tower.
    pub fn released() -> Self {
        Self {
            embed_dim: 1024,
            quick_gelu: true,
            vision: VisionConfig { image_size: 384, layers: 32, width: 1280, head_width: 80, patch_size: 14, mlp_ratio: 4.0 },
            text: TextConfig { context_length: 77, vocab_size: 49408, width: 1024, heads: 16, layers: 24, mlp_ratio: 4.0 },
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        let (v, t) = (&self.vision, &self.text);
        anyhow::ensure!(
            v.patch_size > 0 && v.image_size >= v.patch_size,
            "vision_cfg: image_size {} is smaller than patch_size {}",
            v.image_size,
            v.patch_size
        );
        anyhow::ensure!(v.head_width > 0 && v.width % v.head_width == 0, "vision_cfg: width {} is not a multiple of head_width {}", v.width, v.head_width);
        anyhow::ensure!(t.heads > 0 && t.width % t.heads == 0, "text_cfg: width {} is not a multiple of heads {}", t.width, t.heads);
        anyhow::ensure!(t.context_length >= 2, "text_cfg: context_length {} leaves no room for SOT and EOT", t.context_length);
        anyhow::ensure!(t.vocab_size > 0 && self.embed_dim > 0 && v.layers > 0 && t.layers > 0, "CLIP config with an empty dimension");
        Ok(())
    }

    /// Every key and shape of an open_clip state dict of this configuration (the non-persistent
    /// `attn_mask` buffer is not saved, so it is not listed).
    pub fn expected_shapes(&self) -> BTreeMap<String, Vec<usize>> {
        let (v, t) = (&self.vision, &self.text);
        let mut shapes = BTreeMap::new();
        let mut put = |key: String, shape: &[usize]| {
            shapes.insert(key, shape.to_vec());
        };
        put("visual.class_embedding".into(), &[v.width]);
        put("visual.positional_embedding".into(), &[v.grid() * v.grid() + 1, v.width]);
        put("visual.conv1.weight".into(), &[v.width, 3, v.patch_size, v.patch_size]);
        put("visual.proj".into(), &[v.width, self.embed_dim]);
        for name in ["visual.ln_pre", "visual.ln_post"] {
            put(format!("{name}.weight"), &[v.width]);
            put(format!("{name}.bias"), &[v.width]);
        }
        transformer::block_shapes("visual.transformer", v.layers, v.width, v.mlp_width(), &mut put);
        put("token_embedding.weight".into(), &[t.vocab_size, t.width]);
        put("positional_embedding".into(), &[t.context_length, t.width]);
        put("ln_final.weight".into(), &[t.width]);
        put("ln_final.bias".into(), &[t.width]);
        put("text_projection".into(), &[t.width, self.embed_dim]);
        put("logit_scale".into(), &[]);
        transformer::block_shapes("transformer", t.layers, t.width, t.mlp_width(), &mut put);
        shapes
    }
}

/// Both CLIP towers, computing what MMAudio conditions on.
#[derive(Debug, Clone)]
pub struct Clip {
    visual: VisionTransformer,
    text: TextTransformer,
    config: ClipConfig,
}

impl Clip {
    /// Load an open_clip state dict (`open_clip_pytorch_model.bin`, `.pth` or `.safetensors`).
    pub fn load(config: &ClipConfig, path: &Path, device: &Device) -> anyhow::Result<Self> {
        let dict = StateDict::read(path)?;
        Self::from_state_dict(config, dict, path, device)
    }

    /// Build from a state dict after checking every key and shape against `config`; `source`
    /// names it in errors.
    pub fn from_state_dict(config: &ClipConfig, dict: StateDict, source: &Path, device: &Device) -> anyhow::Result<Self> {
        config.validate()?;
        let report = KeyReport::compare(&config.expected_shapes(), &dict.shapes(), &BTreeSet::new());
        anyhow::ensure!(report.is_ok(), "{}: not an open_clip CLIP state dict of this configuration: {report}", source.display());
        Ok(Self::new(config, &Vars::from_state_dict(dict, false, device)))
    }

    /// Random weights of this configuration (benchmarks, tests).
    pub fn random(config: &ClipConfig, seed: u64, device: &Device) -> Self {
        Self::new(config, &Vars::random(seed, device))
    }

    fn new(config: &ClipConfig, vb: &Vars) -> Self {
        Self {
            visual: VisionTransformer::new(&vb.pp("visual"), &config.vision, config.embed_dim, config.quick_gelu),
            text: TextTransformer::new(vb, &config.text, config.quick_gelu),
            config: config.clone(),
        }
    }

    /// The configuration the model was built with.
    pub fn config(&self) -> &ClipConfig {
        &self.config
    }

    /// Images (N, 3, S, S), values 0..255 as f32 (S = vision image_size) -> CLIP mean/std ->
    /// `encode_image(normalize=True)` (N, embed_dim). All N images go through as one batch.
    pub fn encode_image(&self, images: Tensor<4>) -> anyhow::Result<Tensor<2>> {
        let [n, c, h, w] = images.dims();
        let s = self.config.vision.image_size;
        anyhow::ensure!(n > 0, "CLIP encode_image: no images");
        anyhow::ensure!(c == 3 && h == s && w == s, "CLIP encode_image: images must be (N, 3, {s}, {s}), got ({n}, {c}, {h}, {w})");
        let device = images.device();
        let channel = |v: [f32; 3]| Tensor::<1>::from_floats(v, &device).reshape([1, 3, 1, 1]);
        // ToTensor's x / 255, then Normalize's (x - mean) / std, in the same order.
        let x = (images.div_scalar(255.0) - channel(PIXEL_MEAN)) / channel(PIXEL_STD);
        Ok(l2_normalize(self.visual.forward(x)))
    }

    /// Token ids (N, context_length) -> MMAudio's patched `encode_text`: (N, context_length,
    /// text width), each token L2-normalized.
    pub fn encode_text(&self, ids: Tensor<2, Int>) -> anyhow::Result<Tensor<3>> {
        let [n, len] = ids.dims();
        let t = &self.config.text;
        anyhow::ensure!(n > 0, "CLIP encode_text: no texts");
        anyhow::ensure!(len == t.context_length, "CLIP encode_text: ids must be (N, {}), got ({n}, {len})", t.context_length);
        let (lo, hi) = (ids.clone().min().into_scalar::<i64>(), ids.clone().max().into_scalar::<i64>());
        anyhow::ensure!(lo >= 0 && hi < t.vocab_size as i64, "CLIP encode_text: token ids must be in 0..{}, got {lo}..={hi}", t.vocab_size);
        Ok(l2_normalize(self.text.forward(ids)))
    }
}

/// `F.normalize(x, dim=-1)`: `x / max(||x||, 1e-12)` over the last axis.
fn l2_normalize<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let norm = x.clone().powi_scalar(2).sum_dim(D - 1).sqrt().clamp_min(1e-12);
    x / norm
}
