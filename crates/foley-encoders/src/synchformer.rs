//! Synchformer's visual branch as MMAudio runs it (`mmaudio/ext/synchformer`): a MotionFormer
//! (divided space-time ViT, Patrick et al. 2021) over 16-frame segments of 224 px video at
//! 25 fps, each segment pooled per tubelet frame by a spatial CLS aggregator into 8 tokens.
//!
//! MMAudio keeps only `vfeat_extractor` of the released Synchformer checkpoint (the audio branch
//! and the sync transformer are dropped at load), and its `Synchformer.forward` returns the
//! per-frame tokens: no temporal aggregation (`agg_time_module` is the identity), no global
//! segment representation. `encode_video_with_sync` cuts a clip into segments of 16 frames with
//! a step of 8 and concatenates the segments' tokens: `(1, S * 8, D)`.
//!
//! [`motionformer`] holds the ViT, [`aggregation`] the spatial CLS pooling layer.

pub mod aggregation;
pub mod motionformer;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, ensure};
use burn::tensor::{Device, Tensor};
use foley_weights::{KeyReport, StateDict, Vars};

use motionformer::MotionFormer;

/// Side of the square input frames, in pixels.
pub const IMAGE_SIZE: usize = 224;
/// Side of a square patch, in pixels.
pub const PATCH_SIZE: usize = 16;
/// Frames per tubelet (the temporal extent of the 3-D patch embedding).
pub const TUBELET: usize = 2;
/// Frames per segment.
pub const SEGMENT_FRAMES: usize = 16;
/// Frames between the starts of consecutive segments.
pub const SEGMENT_STEP: usize = 8;
/// Tokens per segment in the output: one per tubelet.
pub const TOKENS_PER_SEGMENT: usize = SEGMENT_FRAMES / TUBELET;
/// Frame rate the segments are cut at.
pub const FPS: f64 = 25.0;
/// Feed-forward width over model width (MotionFormer's `MLP_RATIO`).
pub const MLP_RATIO: usize = 4;
/// Patches per frame (14 x 14).
pub const PATCHES_PER_FRAME: usize = (IMAGE_SIZE / PATCH_SIZE) * (IMAGE_SIZE / PATCH_SIZE);

/// Prefix of the visual branch's keys in a Synchformer checkpoint.
const PREFIX: &str = "vfeat_extractor";

/// Number of segments MMAudio cuts from `frames` frames (16 per segment, step 8).
pub fn segment_count(frames: usize) -> usize {
    if frames < SEGMENT_FRAMES { 0 } else { (frames - SEGMENT_FRAMES) / SEGMENT_STEP + 1 }
}

/// The sizes of a Synchformer visual branch; everything else is fixed at MMAudio's values
/// (the module constants).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynchformerConfig {
    pub embed_dim: usize,
    pub depth: usize,
    pub num_heads: usize,
}

impl SynchformerConfig {
    /// From a JSON object with keys embed_dim, depth, num_heads (others ignored).
    pub fn from_json(value: &serde_json::Value) -> anyhow::Result<Self> {
        let field = |name: &str| -> anyhow::Result<usize> {
            let v = value.get(name).with_context(|| format!("Synchformer configuration: missing `{name}`"))?;
            let n = v.as_u64().with_context(|| format!("Synchformer configuration: `{name}` = {v} is not a non-negative integer"))?;
            Ok(n as usize)
        };
        let config = Self { embed_dim: field("embed_dim")?, depth: field("depth")?, num_heads: field("num_heads")? };
        config.validate()?;
        Ok(config)
    }

    /// The released Synchformer (768 / 12 / 12).
    pub fn released() -> Self {
        Self { embed_dim: 768, depth: 12, num_heads: 12 }
    }

    fn validate(&self) -> anyhow::Result<()> {
        ensure!(self.embed_dim > 0 && self.num_heads > 0, "Synchformer configuration: embed_dim and num_heads must be positive");
        ensure!(
            self.embed_dim % self.num_heads == 0,
            "Synchformer configuration: embed_dim {} is not a multiple of num_heads {}",
            self.embed_dim,
            self.num_heads
        );
        Ok(())
    }

    /// Every `vfeat_extractor.*` key and shape the loader reads (keys of the file outside this set are ignored).
    pub fn expected_shapes(&self) -> BTreeMap<String, Vec<usize>> {
        let (d, p, hidden) = (self.embed_dim, PATCH_SIZE, MLP_RATIO * self.embed_dim);
        let linear = |name: &str, d_in: usize, d_out: usize| [(format!("{name}.weight"), vec![d_out, d_in]), (format!("{name}.bias"), vec![d_out])];
        let norm = |name: &str| [(format!("{name}.weight"), vec![d]), (format!("{name}.bias"), vec![d])];
        let mut keys = vec![
            ("cls_token".to_string(), vec![1, 1, d]),
            ("pos_embed".to_string(), vec![1, PATCHES_PER_FRAME + 1, d]),
            ("temp_embed".to_string(), vec![1, TOKENS_PER_SEGMENT, d]),
            // The 2-D patch embedding is never run, but it is part of the checkpoint.
            ("patch_embed.proj.weight".to_string(), vec![d, 3, p, p]),
            ("patch_embed.proj.bias".to_string(), vec![d]),
            ("patch_embed_3d.proj.weight".to_string(), vec![d, 3, TUBELET, p, p]),
            ("patch_embed_3d.proj.bias".to_string(), vec![d]),
        ];
        for i in 0..self.depth {
            for attn in ["attn", "timeattn"] {
                keys.extend(linear(&format!("blocks.{i}.{attn}.qkv"), d, 3 * d));
                keys.extend(linear(&format!("blocks.{i}.{attn}.proj"), d, d));
            }
            keys.extend(linear(&format!("blocks.{i}.mlp.fc1"), d, hidden));
            keys.extend(linear(&format!("blocks.{i}.mlp.fc2"), hidden, d));
            for n in ["norm1", "norm2", "norm3"] {
                keys.extend(norm(&format!("blocks.{i}.{n}")));
            }
        }
        keys.extend(norm("norm"));
        let agg = "spatial_attn_agg";
        keys.push((format!("{agg}.cls_token"), vec![1, 1, d]));
        keys.push((format!("{agg}.self_attn.in_proj_weight"), vec![3 * d, d]));
        keys.push((format!("{agg}.self_attn.in_proj_bias"), vec![3 * d]));
        keys.extend(linear(&format!("{agg}.self_attn.out_proj"), d, d));
        keys.extend(linear(&format!("{agg}.linear1"), d, hidden));
        keys.extend(linear(&format!("{agg}.linear2"), hidden, d));
        keys.extend(norm(&format!("{agg}.norm1")));
        keys.extend(norm(&format!("{agg}.norm2")));
        keys.into_iter().map(|(k, s)| (format!("{PREFIX}.{k}"), s)).collect()
    }

    /// Check the key -> shape listing of a whole Synchformer checkpoint: its `vfeat_extractor.*`
    /// keys must be exactly [`expected_shapes`](Self::expected_shapes) (as MMAudio's strict
    /// `load_state_dict` after dropping the other keys); `source` names the file in the error.
    pub fn check_keys(&self, found: &BTreeMap<String, Vec<usize>>, source: &Path) -> anyhow::Result<()> {
        self.validate()?;
        let dotted = format!("{PREFIX}.");
        let visual: BTreeMap<String, Vec<usize>> = found.iter().filter(|(k, _)| k.starts_with(&dotted)).map(|(k, s)| (k.clone(), s.clone())).collect();
        let report = KeyReport::compare(&self.expected_shapes(), &visual, &BTreeSet::new());
        ensure!(report.is_ok(), "{}: not a Synchformer checkpoint for {self:?}: {report}", source.display());
        Ok(())
    }
}

/// Synchformer's visual feature extractor as MMAudio uses it.
#[derive(burn::module::Module, Debug)]
pub struct Synchformer {
    pub vfeat_extractor: MotionFormer,
}

impl Synchformer {
    /// Load a Synchformer checkpoint (`.pth` or `.safetensors`), keeping the visual branch.
    pub fn load(config: &SynchformerConfig, path: &Path, device: &Device) -> anyhow::Result<Self> {
        let dict = StateDict::read(path)?;
        Self::from_state_dict(config, dict, path, device)
    }

    /// From a state dict already read (full Synchformer keys incl. `vfeat_extractor.`); `source` names the file in errors.
    pub fn from_state_dict(config: &SynchformerConfig, dict: StateDict, source: &Path, device: &Device) -> anyhow::Result<Self> {
        config.check_keys(&dict.shapes(), source)?;
        // Move the visual tensors out and drop the rest (audio branch, heads) right away.
        let dotted = format!("{PREFIX}.");
        let tensors = dict.tensors.into_iter().filter_map(|(k, t)| k.strip_prefix(&dotted).map(|k| (k.to_string(), t))).collect();
        let vars = Vars::from_state_dict(StateDict { tensors }, false, device);
        Ok(Self { vfeat_extractor: MotionFormer::new(&vars, config) })
    }

    /// Random weights (benchmarks, tests), deterministic in `seed`.
    pub fn random(config: &SynchformerConfig, seed: u64, device: &Device) -> Self {
        Self { vfeat_extractor: MotionFormer::new(&Vars::random(seed, device), config) }
    }

    /// Width of the output tokens.
    pub fn embed_dim(&self) -> usize {
        self.vfeat_extractor.embed_dim()
    }

    /// MMAudio's `encode_video_with_sync` for one clip: frames (T, 3, 224, 224), values 0..255 as f32, at 25 fps
    /// -> (1, S * 8, embed_dim), S = number of 16-frame segments with step 8. Errors if T < 16 or wrong shape.
    pub fn encode_frames(&self, frames: Tensor<4>) -> anyhow::Result<Tensor<3>> {
        let [t, c, h, w] = frames.dims();
        ensure!(c == 3 && h == IMAGE_SIZE && w == IMAGE_SIZE, "Synchformer frames must be (T, 3, {IMAGE_SIZE}, {IMAGE_SIZE}), got ({t}, {c}, {h}, {w})");
        ensure!(t >= SEGMENT_FRAMES, "Synchformer needs at least {SEGMENT_FRAMES} frames (0.64 s at 25 fps), got {t}");
        // torchvision's ToDtype(scale=True) then Normalize(0.5, 0.5), once per frame before the
        // overlapping segments duplicate them.
        let x = frames.div_scalar(255.0).sub_scalar(0.5).div_scalar(0.5);
        let s = segment_count(t);
        let segments: Tensor<5> = Tensor::stack((0..s).map(|i| x.clone().narrow(0, i * SEGMENT_STEP, SEGMENT_FRAMES)).collect(), 0);
        let tokens = self.forward_segments(segments);
        Ok(tokens.reshape([1, s * TOKENS_PER_SEGMENT, self.embed_dim()]))
    }

    /// Normalized segments (S, 16, 3, 224, 224) -> (S, 8, embed_dim).
    ///
    /// Panics on any other shape ([`encode_frames`](Self::encode_frames) checks user input).
    pub fn forward_segments(&self, segments: Tensor<5>) -> Tensor<3> {
        self.vfeat_extractor.forward(segments)
    }
}
