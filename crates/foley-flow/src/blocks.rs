//! Transformer blocks (`transformer_layers.py`): one stream's adaLN block, the joint
//! latent/clip/text block, and the final projection.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::Tensor;

use crate::attention::{self, Qkv, SelfAttention};
use crate::kernels::{gated_residual, layer_norm_modulate, upsample_rows};
use crate::layers::{SeqConv, SwiGlu, layer_norm_plain, linear, linear_new, modulate};
use crate::rope::Rope;
use crate::weights::{Init, Vars};

/// Modulation of the residual branches after attention (absent for a pre-only block).
pub struct PostMod {
    gate_msa: Tensor<3>,
    shift_mlp: Tensor<3>,
    scale_mlp: Tensor<3>,
    gate_mlp: Tensor<3>,
    /// Gated output of the extra audio-only attention, added before the feed-forward.
    audio_attn: Option<Tensor<3>>,
}

/// MMAudio's `MMDitSingleBlock`: adaLN-modulated attention and SwiGLU for one stream.
/// `kernel` 3 makes `linear1` and the feed-forward convolutions (audio, clip), 1 linears (text).
/// A pre-only block (clip and text in the last joint block) stops after q, k, v.
#[derive(Module, Debug)]
pub struct SingleBlock {
    pub attn: SelfAttention,
    pub ada_ln: Linear,
    pub linear1: Option<SeqConv>,
    pub ffn: Option<SwiGlu>,
    /// SALSA-V / MMDiT-X: extra audio-only self-attention (joint latent streams only).
    pub audio_attn: Option<AudioSelfAttn>,
}

impl SingleBlock {
    pub fn new(vb: &Vars, dim: usize, heads: usize, mlp_hidden: usize, kernel: usize, pre_only: bool, audio_attn: bool) -> Self {
        let chunks = if pre_only { 2 } else { 6 };
        Self {
            attn: SelfAttention::new(&vb.pp("attn"), dim, heads, false),
            ada_ln: linear(&vb.pp("adaLN_modulation.1"), dim, chunks * dim, true),
            linear1: (!pre_only).then(|| SeqConv::new(&vb.pp("linear1"), dim, dim, kernel, true)),
            ffn: (!pre_only).then(|| SwiGlu::new(&vb.pp("ffn"), dim, mlp_hidden, kernel)),
            audio_attn: audio_attn.then(|| AudioSelfAttn::new(vb, dim, heads)),
        }
    }

    /// Modulate `x` by the conditioning (`c_act` = SiLU of the `(B, 1, D)` global or `(B, M, D)`
    /// per-token conditioning at any rate `M`, read nearest-upsampled to the stream's length;
    /// computed once for all blocks) and project to q, k, v.
    pub fn pre_attention(&self, x: Tensor<3>, c_act: Tensor<3>, rope: Option<&Rope>) -> (Qkv, Option<PostMod>) {
        let modulation = self.ada_ln.forward(c_act.clone());
        if self.linear1.is_none() {
            let [shift, scale] = modulation.chunk(2, 2).try_into().expect("2 chunks");
            return (self.attn.pre_attention(layer_norm_modulate(x, shift, scale), rope), None);
        }
        let [shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp] = modulation.chunk(6, 2).try_into().expect("6 chunks");
        // MMDiT-X: the second attention reads the same normalised input and needs no other stream.
        let audio_attn = self.audio_attn.as_ref().map(|a| a.forward(layer_norm_plain(x.clone()), c_act, rope.expect("latent stream has RoPE")));
        let qkv = self.attn.pre_attention(layer_norm_modulate(x, shift_msa, scale_msa), rope);
        (qkv, Some(PostMod { gate_msa, shift_mlp, scale_mlp, gate_mlp, audio_attn }))
    }

    /// Residual attention output and SwiGLU, both gated (identity for a pre-only block).
    pub fn post_attention(&self, x: Tensor<3>, attn_out: Tensor<3>, m: Option<PostMod>) -> Tensor<3> {
        let (Some(m), Some(linear1), Some(ffn)) = (m, &self.linear1, &self.ffn) else { return x };
        let mut x = gated_residual(x, linear1.forward(attn_out), m.gate_msa);
        if let Some(extra) = m.audio_attn {
            x = x + extra;
        }
        let r = layer_norm_modulate(x.clone(), m.shift_mlp, m.scale_mlp);
        gated_residual(x, ffn.forward(r), m.gate_mlp)
    }

    /// The whole block on its own stream (the fused audio-only blocks); `c_act` as in
    /// [`pre_attention`](Self::pre_attention).
    pub fn forward(&self, x: Tensor<3>, c_act: Tensor<3>, rope: &Rope) -> Tensor<3> {
        let (qkv, m) = self.pre_attention(x.clone(), c_act, Some(rope));
        self.post_attention(x, attention::attention(qkv), m)
    }
}

/// MMDiT-X style extra self-attention over the audio latents alone, with its own adaLN
/// shift / scale / gate (`adaLN_modulation2`, zero-initialised so a new branch starts closed).
#[derive(Module, Debug)]
pub struct AudioSelfAttn {
    pub ada_ln: Linear,
    pub attn: SelfAttention,
    pub proj: SeqConv,
}

impl AudioSelfAttn {
    fn new(vb: &Vars, dim: usize, heads: usize) -> Self {
        Self {
            ada_ln: linear_new(&vb.pp("adaLN_modulation2.1"), dim, 3 * dim, Init::Zeros),
            attn: SelfAttention::new(&vb.pp("attn2"), dim, heads, true),
            proj: SeqConv::new_ext(&vb.pp("linear2"), dim, dim, 3, Init::FanIn),
        }
    }

    /// `gate * proj(attn(modulate(normed, shift, scale)))`, the residual to add.
    fn forward(&self, normed: Tensor<3>, c_act: Tensor<3>, rope: &Rope) -> Tensor<3> {
        let n = normed.dims()[1];
        let [shift, scale, gate] = upsample_rows(self.ada_ln.forward(c_act), n).chunk(3, 2).try_into().expect("3 chunks");
        let qkv = self.attn.pre_attention(modulate(normed, shift, scale), Some(rope));
        self.proj.forward(attention::attention(qkv)) * gate
    }
}

/// MMAudio's `JointBlock`: latent, clip and text streams attend jointly over their
/// concatenation; the latent stream is modulated per token (`extended_c`), the others by the
/// global conditioning. RoPE applies to latent and clip positions, not to text.
#[derive(Module, Debug)]
pub struct JointBlock {
    pub latent_block: SingleBlock,
    pub clip_block: SingleBlock,
    pub text_block: SingleBlock,
}

/// The three streams of a joint block.
pub struct Streams {
    pub latent: Tensor<3>,
    pub clip: Tensor<3>,
    pub text: Tensor<3>,
}

impl JointBlock {
    pub fn new(vb: &Vars, dim: usize, heads: usize, mlp_hidden: usize, pre_only: bool, audio_attn: bool) -> Self {
        Self {
            latent_block: SingleBlock::new(&vb.pp("latent_block"), dim, heads, mlp_hidden, 3, false, audio_attn),
            clip_block: SingleBlock::new(&vb.pp("clip_block"), dim, heads, mlp_hidden, 3, pre_only, false),
            text_block: SingleBlock::new(&vb.pp("text_block"), dim, heads, mlp_hidden, 1, pre_only, false),
        }
    }

    /// `global_act` and `extended_act`: SiLU of the global and of the per-token conditioning.
    pub fn forward(&self, s: Streams, global_act: Tensor<3>, extended_act: Tensor<3>, latent_rope: &Rope, clip_rope: &Rope) -> Streams {
        let (latent_len, clip_len) = (s.latent.dims()[1], s.clip.dims()[1]);
        let text_len = s.text.dims()[1];
        let (x_qkv, x_mod) = self.latent_block.pre_attention(s.latent.clone(), extended_act, Some(latent_rope));
        let (c_qkv, c_mod) = self.clip_block.pre_attention(s.clip.clone(), global_act.clone(), Some(clip_rope));
        let (t_qkv, t_mod) = self.text_block.pre_attention(s.text.clone(), global_act, None);

        let out = attention::attention(attention::concat(vec![x_qkv, c_qkv, t_qkv]));
        let x_out = out.clone().narrow(1, 0, latent_len);
        let c_out = out.clone().narrow(1, latent_len, clip_len);
        let t_out = out.narrow(1, latent_len + clip_len, text_len);

        Streams {
            latent: self.latent_block.post_attention(s.latent, x_out, x_mod),
            clip: self.clip_block.post_attention(s.clip, c_out, c_mod),
            text: self.text_block.post_attention(s.text, t_out, t_mod),
        }
    }
}

/// MMAudio's `FinalBlock`: adaLN shift / scale, then a k7 convolution to the latent channels.
#[derive(Module, Debug)]
pub struct FinalBlock {
    pub ada_ln: Linear,
    pub conv: SeqConv,
}

impl FinalBlock {
    pub fn new(vb: &Vars, dim: usize, out_dim: usize) -> Self {
        Self { ada_ln: linear(&vb.pp("adaLN_modulation.1"), dim, 2 * dim, true), conv: SeqConv::new(&vb.pp("conv"), dim, out_dim, 7, true) }
    }

    /// `c_act`: SiLU of the global conditioning.
    pub fn forward(&self, latent: Tensor<3>, c_act: Tensor<3>) -> Tensor<3> {
        let [shift, scale] = self.ada_ln.forward(c_act).chunk(2, 2).try_into().expect("2 chunks");
        self.conv.forward(layer_norm_modulate(latent, shift, scale))
    }
}
