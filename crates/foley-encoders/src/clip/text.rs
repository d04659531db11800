//! CLIP's text tower as MMAudio's `patch_clip` runs it: token and position embeddings, the causal
//! transformer and `ln_final`, returning every token (no EOT pooling, no `text_projection`).

use burn::module::{Module, Param};
use burn::nn::{Embedding, LayerNorm};
use burn::tensor::{Int, Tensor};
use foley_weights::{Init, Vars};

use super::TextConfig;
use super::transformer::{Transformer, layer_norm};

/// The text tower (top-level `token_embedding`, `positional_embedding`, `transformer`, `ln_final`).
#[derive(Module, Debug)]
pub struct TextTransformer {
    pub token_embedding: Embedding,
    pub positional_embedding: Param<Tensor<2>>,
    pub transformer: Transformer,
    pub ln_final: LayerNorm,
}

impl TextTransformer {
    /// `vb` is the model root: open_clip keeps the text tower's keys at the top level.
    pub fn new(vb: &Vars, config: &TextConfig, quick_gelu: bool) -> Self {
        let w = config.width;
        Self {
            // open_clip's init: N(0, 0.02) tokens, N(0, 0.01) positions.
            token_embedding: Embedding { weight: Param::from_tensor(vb.pp("token_embedding").get("weight", [config.vocab_size, w], Init::Normal(0.02))) },
            positional_embedding: Param::from_tensor(vb.get("positional_embedding", [config.context_length, w], Init::Normal(0.01))),
            transformer: Transformer::new(&vb.pp("transformer"), config.layers, w, config.heads, config.mlp_width(), quick_gelu),
            ln_final: layer_norm(&vb.pp("ln_final"), w),
        }
    }

    /// Token ids `(N, context_length)` -> last hidden states after `ln_final` `(N, context_length, width)`.
    pub fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        let x = self.token_embedding.forward(ids) + self.positional_embedding.val().unsqueeze_dim(0);
        self.ln_final.forward(self.transformer.forward(x, true))
    }
}
