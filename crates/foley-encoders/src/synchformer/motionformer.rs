//! MotionFormer with divided space-time attention (`video_model_builder.VisionTransformer`,
//! `vit_helper.DividedSpaceTimeBlock`) and MMAudio's feature-extraction head
//! (`motionformer.MotionFormer.forward_segments`).

use burn::module::{Module, Param};
use burn::nn::{LayerNorm, LayerNormConfig, Linear};
use burn::tensor::Tensor;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use foley_kernels::conv::gelu;
use foley_weights::{Init, Vars, contiguous};

use super::aggregation::SpatialAggregator;
use super::{IMAGE_SIZE, MLP_RATIO, PATCH_SIZE, PATCHES_PER_FRAME, SEGMENT_FRAMES, SynchformerConfig, TOKENS_PER_SEGMENT, TUBELET};

/// MotionFormer's LayerNorm epsilon (`partial(nn.LayerNorm, eps=1e-6)`), also that of the aggregator.
pub const LN_EPS: f64 = 1e-6;

/// `nn.Linear(d_in, d_out)` (with bias) from PyTorch's `(out, in)` weight.
pub(super) fn linear(vb: &Vars, d_in: usize, d_out: usize) -> Linear {
    let weight = contiguous(vb.get("weight", [d_out, d_in], Init::FanIn).transpose());
    Linear { weight: Param::from_tensor(weight), bias: Some(Param::from_tensor(vb.get("bias", [d_out], Init::FanIn))) }
}

/// `nn.LayerNorm(dim, eps=1e-6)`.
pub(super) fn layer_norm(vb: &Vars, dim: usize) -> LayerNorm {
    let mut norm = LayerNormConfig::new(dim).with_epsilon(LN_EPS).init(vb.device());
    norm.gamma = Param::from_tensor(vb.get("weight", [dim], Init::Ones));
    norm.beta = Some(Param::from_tensor(vb.get("bias", [dim], Init::Zeros)));
    norm
}

/// Scaled dot-product attention on `(batch, heads, len, head_dim)` tensors.
pub(super) fn sdpa(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>) -> Tensor<4> {
    attention(q, k, v, None, None, AttentionModuleOptions::default())
}

/// `PatchEmbed3D`: a Conv3d with kernel = stride = (2, 16, 16), computed as one matmul over the
/// non-overlapping tubelets (weight kept as the `(3 * 2 * 16 * 16, D)` matrix).
#[derive(Module, Debug)]
pub struct PatchEmbed3d {
    pub proj: Linear,
}

impl PatchEmbed3d {
    fn new(vb: &Vars, dim: usize) -> Self {
        let (p, k) = (PATCH_SIZE, 3 * TUBELET * PATCH_SIZE * PATCH_SIZE);
        let vb = vb.pp("proj");
        let weight = contiguous(vb.get("weight", [dim, 3, TUBELET, p, p], Init::FanIn).reshape([dim, k]).transpose());
        Self { proj: Linear { weight: Param::from_tensor(weight), bias: Some(Param::from_tensor(vb.get("bias", [dim], Init::FanIn))) } }
    }

    /// `(S, T, 3, H, W)` frames (time before channels, as MMAudio stacks them) -> `(S, t * h * w, D)`
    /// tokens, tubelet-major then row-major over the patch grid (the conv output flattened).
    fn forward(&self, x: Tensor<5>) -> Tensor<3> {
        let [s, t, c, h, w] = x.dims();
        let (p, tt) = (PATCH_SIZE, t / TUBELET);
        let (gh, gw) = (h / p, w / p);
        let patches = x
            .reshape([s, tt, TUBELET, c, gh, p, gw, p])
            // -> (S, t, gh, gw, c, dt, py, px): the conv weight's (in, kt, kh, kw) order.
            .permute([0, 1, 4, 6, 3, 2, 5, 7])
            .reshape([s * tt * gh * gw, c * TUBELET * p * p]);
        self.proj.forward(patches).reshape([s, tt * gh * gw, self.proj.weight.dims()[1]])
    }
}

/// Which axis a [`DividedAttention`] mixes patch tokens along.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// Each patch position across the frames (`b (f n) d -> (b n) f d`).
    Time,
    /// The patches of each frame (`b (f n) d -> (b f) n d`).
    Space,
}

/// `DividedAttention`: the CLS query attends to every token; each patch query attends to the
/// CLS key and to the patches on its own frame (space) or at its own position (time).
#[derive(Module, Debug)]
pub struct DividedAttention {
    pub qkv: Linear,
    pub proj: Linear,
    pub num_heads: usize,
}

impl DividedAttention {
    fn new(vb: &Vars, dim: usize, num_heads: usize) -> Self {
        Self { qkv: linear(&vb.pp("qkv"), dim, 3 * dim), proj: linear(&vb.pp("proj"), dim, dim), num_heads }
    }

    /// `x: (B, 1 + F * N, D)`, CLS first, then `F` frames of `N` patches.
    pub fn forward(&self, x: Tensor<3>, frames: usize, axis: Axis) -> Tensor<3> {
        let [b, len, dim] = x.dims();
        let (h, hd) = (self.num_heads, dim / self.num_heads);
        let (f, n) = (frames, (len - 1) / frames);
        let (groups, seq) = match axis {
            Axis::Space => (f, n),
            Axis::Time => (n, f),
        };
        let qkv = self.qkv.forward(x).reshape([b, len, 3, h, hd]);
        // (3, B, H, 1, hd)
        let cls = qkv.clone().narrow(1, 0, 1).permute([2, 0, 3, 1, 4]);
        // One copy lays the patches out as independent sequences: (3, B, H, groups, seq, hd).
        let patches = qkv.narrow(1, 1, f * n).reshape([b, f, n, 3, h, hd]);
        let patches = match axis {
            Axis::Space => patches.permute([3, 0, 4, 1, 2, 5]),
            Axis::Time => patches.permute([3, 0, 4, 2, 1, 5]),
        };
        let patches = patches.reshape([3, b * h * groups, seq, hd]);
        // Part `j` (0 = q, 1 = k, 2 = v) of the patches and of the CLS token.
        let patch_part = |j: usize| patches.clone().narrow(0, j, 1).reshape([b, h, groups, seq, hd]);
        let cls_part = |j: usize| cls.clone().narrow(0, j, 1).reshape([b, h, 1, hd]);

        // The CLS query attends to every key (their order does not matter).
        let everything = |j: usize| Tensor::cat(vec![cls_part(j), patch_part(j).reshape([b, h, groups * seq, hd])], 2);
        let cls_out = sdpa(cls_part(0), everything(1), everything(2));

        // Each group attends to the shared CLS key and value and to its own patches; the
        // groups are batch entries of a single head.
        let with_cls = |j: usize| {
            let shared = cls_part(j).reshape([b, h, 1, 1, hd]).expand([b, h, groups, 1, hd]);
            Tensor::cat(vec![shared, patch_part(j)], 3).reshape([b * h * groups, 1, seq + 1, hd])
        };
        let q = patch_part(0).reshape([b * h * groups, 1, seq, hd]);
        let out = sdpa(q, with_cls(1), with_cls(2)).reshape([b, h, groups, seq, hd]);
        // Back to (B, F, N, H, hd).
        let out = match axis {
            Axis::Space => out.permute([0, 2, 3, 1, 4]),
            Axis::Time => out.permute([0, 3, 2, 1, 4]),
        };
        let out = out.reshape([b, f * n, dim]);
        let cls_out = cls_out.swap_dims(1, 2).reshape([b, 1, dim]);
        self.proj.forward(Tensor::cat(vec![cls_out, out], 1))
    }
}

/// ViT feed-forward: `fc2(gelu(fc1 x))` (exact GELU).
#[derive(Module, Debug)]
pub struct Mlp {
    pub fc1: Linear,
    pub fc2: Linear,
}

impl Mlp {
    pub(super) fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.fc2.forward(gelu(self.fc1.forward(x)))
    }
}

/// `DividedSpaceTimeBlock`: time attention, then space attention, then the MLP, each pre-norm
/// and residual (the time branch is normalised by `norm3`, the space branch by `norm1`).
#[derive(Module, Debug)]
pub struct DividedSpaceTimeBlock {
    pub norm1: LayerNorm,
    pub attn: DividedAttention,
    pub timeattn: DividedAttention,
    pub norm2: LayerNorm,
    pub mlp: Mlp,
    pub norm3: LayerNorm,
}

impl DividedSpaceTimeBlock {
    fn new(vb: &Vars, dim: usize, num_heads: usize) -> Self {
        let hidden = MLP_RATIO * dim;
        Self {
            norm1: layer_norm(&vb.pp("norm1"), dim),
            attn: DividedAttention::new(&vb.pp("attn"), dim, num_heads),
            timeattn: DividedAttention::new(&vb.pp("timeattn"), dim, num_heads),
            norm2: layer_norm(&vb.pp("norm2"), dim),
            mlp: Mlp { fc1: linear(&vb.pp("mlp.fc1"), dim, hidden), fc2: linear(&vb.pp("mlp.fc2"), hidden, dim) },
            norm3: layer_norm(&vb.pp("norm3"), dim),
        }
    }

    fn forward(&self, x: Tensor<3>, frames: usize) -> Tensor<3> {
        let x = x.clone() + self.timeattn.forward(self.norm3.forward(x), frames, Axis::Time);
        let x = x.clone() + self.attn.forward(self.norm1.forward(x), frames, Axis::Space);
        x.clone() + self.mlp.forward(self.norm2.forward(x))
    }
}

/// The visual feature extractor (`vfeat_extractor`): tubelet embedding, CLS token, spatial and
/// temporal position embeddings, the divided space-time blocks, the final norm and the spatial
/// CLS aggregation per tubelet frame.
#[derive(Module, Debug)]
pub struct MotionFormer {
    pub cls_token: Param<Tensor<3>>,
    /// `(1, 1 + 196, D)`: the CLS position, then one per patch of a frame.
    pub pos_embed: Param<Tensor<3>>,
    /// `(1, 8, D)`: one per tubelet frame.
    pub temp_embed: Param<Tensor<3>>,
    pub patch_embed_3d: PatchEmbed3d,
    pub blocks: Vec<DividedSpaceTimeBlock>,
    pub norm: LayerNorm,
    pub spatial_attn_agg: SpatialAggregator,
}

impl MotionFormer {
    pub(super) fn new(vb: &Vars, config: &SynchformerConfig) -> Self {
        let d = config.embed_dim;
        Self {
            cls_token: Param::from_tensor(vb.get("cls_token", [1, 1, d], Init::Normal(0.02))),
            pos_embed: Param::from_tensor(vb.get("pos_embed", [1, PATCHES_PER_FRAME + 1, d], Init::Normal(0.02))),
            temp_embed: Param::from_tensor(vb.get("temp_embed", [1, TOKENS_PER_SEGMENT, d], Init::Normal(0.02))),
            patch_embed_3d: PatchEmbed3d::new(&vb.pp("patch_embed_3d"), d),
            blocks: (0..config.depth).map(|i| DividedSpaceTimeBlock::new(&vb.pp(format!("blocks.{i}")), d, config.num_heads)).collect(),
            norm: layer_norm(&vb.pp("norm"), d),
            spatial_attn_agg: SpatialAggregator::new(&vb.pp("spatial_attn_agg"), d, config.num_heads),
        }
    }

    /// Width of the tokens.
    pub fn embed_dim(&self) -> usize {
        self.cls_token.dims()[2]
    }

    /// Normalised segments `(S, 16, 3, 224, 224)` -> `(S, 8, D)`: one token per tubelet frame.
    pub fn forward(&self, segments: Tensor<5>) -> Tensor<3> {
        let [s, t, c, h, w] = segments.dims();
        assert!(
            t == SEGMENT_FRAMES && c == 3 && h == IMAGE_SIZE && w == IMAGE_SIZE,
            "MotionFormer segments must be (S, {SEGMENT_FRAMES}, 3, {IMAGE_SIZE}, {IMAGE_SIZE}), got ({s}, {t}, {c}, {h}, {w})"
        );
        let (d, frames, n) = (self.embed_dim(), TOKENS_PER_SEGMENT, PATCHES_PER_FRAME);
        let patches = self.patch_embed_3d.forward(segments);

        // "separate" position embedding: the patch's spatial one plus its frame's temporal one.
        let pos = self.pos_embed.val();
        let spatial = pos.clone().narrow(1, 1, n).reshape([1, 1, n, d]);
        let temporal = self.temp_embed.val().reshape([1, frames, 1, d]);
        let patch_pos = (spatial + temporal).reshape([1, frames * n, d]);
        let cls = (self.cls_token.val() + pos.narrow(1, 0, 1)).expand([s, 1, d]);
        let mut x = Tensor::cat(vec![cls, patches + patch_pos], 1);

        for block in &self.blocks {
            x = block.forward(x, frames);
        }
        // MMAudio drops the CLS token before the norm; the token order is frame-major, so each
        // frame's patches are a contiguous run.
        let x = self.norm.forward(x.narrow(1, 1, frames * n)).reshape([s * frames, n, d]);
        self.spatial_attn_agg.forward(x).reshape([s, frames, d])
    }
}
