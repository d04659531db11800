//! open_clip's `VisionTransformer` with class-token pooling: patchify, prepend the class token,
//! add learned positions, `ln_pre`, the transformer, `ln_post` on the class token, `proj`.

use burn::module::{Module, Param};
use burn::nn::LayerNorm;
use burn::tensor::Tensor;
use foley_weights::{Init, Vars, contiguous};

use super::VisionConfig;
use super::transformer::{Transformer, layer_norm};

/// The image tower (`visual.*`).
#[derive(Module, Debug)]
pub struct VisionTransformer {
    /// `conv1` (a bias-free patch_size-stride convolution) as a `(3 * P * P, width)` matrix
    /// over flattened `(channel, row, column)` patches.
    pub conv1: Param<Tensor<2>>,
    pub class_embedding: Param<Tensor<1>>,
    pub positional_embedding: Param<Tensor<2>>,
    pub ln_pre: LayerNorm,
    pub transformer: Transformer,
    pub ln_post: LayerNorm,
    pub proj: Param<Tensor<2>>,
    pub patch_size: usize,
    /// Patches per side.
    pub grid: usize,
}

impl VisionTransformer {
    pub fn new(vb: &Vars, config: &VisionConfig, embed_dim: usize, quick_gelu: bool) -> Self {
        let (w, p, grid) = (config.width, config.patch_size, config.grid());
        let scale = (w as f32).powf(-0.5);
        let conv = vb.pp("conv1").get("weight", [w, 3, p, p], Init::FanIn).reshape([w, 3 * p * p]);
        Self {
            conv1: Param::from_tensor(contiguous(conv.transpose())),
            class_embedding: Param::from_tensor(vb.get("class_embedding", [w], Init::Normal(scale))),
            positional_embedding: Param::from_tensor(vb.get("positional_embedding", [grid * grid + 1, w], Init::Normal(scale))),
            ln_pre: layer_norm(&vb.pp("ln_pre"), w),
            transformer: Transformer::new(&vb.pp("transformer"), config.layers, w, config.heads(), config.mlp_width(), quick_gelu),
            ln_post: layer_norm(&vb.pp("ln_post"), w),
            proj: Param::from_tensor(vb.get("proj", [w, embed_dim], Init::Normal(scale))),
            patch_size: p,
            grid,
        }
    }

    /// Normalized pixels `(N, 3, S, S)` -> projected class token `(N, embed_dim)`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let n = x.dims()[0];
        let (p, g) = (self.patch_size, self.grid);
        let w = self.class_embedding.dims()[0];
        // A stride-P convolution sees only the first G * P rows and columns.
        let cropped = x.narrow(2, 0, g * p).narrow(3, 0, g * p);
        let patches = cropped.reshape([n, 3, g, p, g, p]).permute([0, 2, 4, 1, 3, 5]).reshape([n * g * g, 3 * p * p]);
        let tokens = patches.matmul(self.conv1.val()).reshape([n, g * g, w]);
        let class = self.class_embedding.val().reshape([1, 1, w]).expand([n, 1, w]);
        let x = Tensor::cat(vec![class, tokens], 1) + self.positional_embedding.val().unsqueeze_dim(0);
        let x = self.transformer.forward(self.ln_pre.forward(x), false);
        let pooled = self.ln_post.forward(x.narrow(1, 0, 1)).reshape([n, w]);
        pooled.matmul(self.proj.val())
    }
}
