//! The state dict a configuration expects: every key and shape, without building anything.
//! (A test checks that the module constructors ask for exactly this listing.)

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{FlowConfig, SYNC_TOKENS_PER_SEGMENT};

/// Expected keys and shapes: `(all keys, the subset added by SALSA-V extensions)`.
pub fn expected_shapes(c: &FlowConfig) -> (BTreeMap<String, Vec<usize>>, BTreeSet<String>) {
    let mut s = Spec::default();
    let (d, h, lat) = (c.hidden_dim, c.mlp_hidden_dim(), c.latent_dim);
    let freq_dim = if c.v2 { d } else { 256 };

    s.add("latent_mean", &[1, 1, lat]);
    s.add("latent_std", &[1, 1, lat]);
    s.add("empty_string_feat", &[c.text_seq_len, c.text_dim]);
    s.add("empty_clip_feat", &[1, c.clip_dim]);
    s.add("empty_sync_feat", &[1, c.sync_dim]);
    s.add("sync_pos_emb", &[1, 1, SYNC_TOKENS_PER_SEGMENT, c.sync_dim]);

    s.conv("audio_input_proj.0", lat, d, 7, true);
    if c.extensions.masked_audio {
        s.new = true;
        s.add("audio_input_proj.0.cond_weight", &[d, lat + 1, 7]);
        s.new = false;
    }
    s.swiglu("audio_input_proj.2", d, h, 7);
    if c.extensions.aligned_video {
        s.new = true;
        s.conv("aligned_sync_proj", d, d, 1, true);
        s.conv("aligned_clip_proj", d, d, 1, true);
        s.new = false;
    }
    s.conv("clip_input_proj.0", c.clip_dim, d, 1, true);
    s.swiglu(if c.v2 { "clip_input_proj.2" } else { "clip_input_proj.1" }, d, h, 3);
    s.conv("sync_input_proj.0", c.sync_dim, d, 7, true);
    s.swiglu("sync_input_proj.2", d, h, 3);
    s.conv("text_input_proj.0", c.text_dim, d, 1, true);
    s.swiglu(if c.v2 { "text_input_proj.2" } else { "text_input_proj.1" }, d, h, 1);

    s.conv("clip_cond_proj", d, d, 1, true);
    s.conv("text_cond_proj", d, d, 1, true);
    s.swiglu("global_cond_mlp", d, h, 1);
    s.conv("final_layer.adaLN_modulation.1", d, 2 * d, 1, true);
    s.conv("final_layer.conv", d, lat, 7, true);
    s.conv("t_embed.mlp.0", freq_dim, d, 1, true);
    s.conv("t_embed.mlp.2", d, d, 1, true);
    if c.extensions.shortcut {
        s.new = true;
        s.conv("d_embed.mlp.0", freq_dim, d, 1, true);
        s.conv("d_embed.mlp.2", d, d, 1, true);
        s.new = false;
    }

    let joint = c.joint_depth();
    for i in 0..joint {
        let pre_only = i == joint - 1;
        s.block(&format!("joint_blocks.{i}.latent_block"), c, 3, false);
        if c.extensions.audio_self_attn {
            s.new = true;
            let p = format!("joint_blocks.{i}.latent_block");
            s.conv(&format!("{p}.adaLN_modulation2.1"), d, 3 * d, 1, true);
            s.attn(&format!("{p}.attn2"), c);
            s.conv(&format!("{p}.linear2"), d, d, 3, true);
            s.new = false;
        }
        s.block(&format!("joint_blocks.{i}.clip_block"), c, 3, pre_only);
        s.block(&format!("joint_blocks.{i}.text_block"), c, 1, pre_only);
    }
    for i in 0..c.fused_depth {
        s.block(&format!("fused_blocks.{i}"), c, 3, false);
    }
    (s.shapes, s.new_keys)
}

#[derive(Default)]
struct Spec {
    shapes: BTreeMap<String, Vec<usize>>,
    new_keys: BTreeSet<String>,
    new: bool,
}

impl Spec {
    fn add(&mut self, key: &str, shape: &[usize]) {
        self.shapes.insert(key.to_string(), shape.to_vec());
        if self.new {
            self.new_keys.insert(key.to_string());
        }
    }

    /// A convolution (kernel > 1) or linear (kernel 1) layer.
    fn conv(&mut self, p: &str, c_in: usize, c_out: usize, kernel: usize, bias: bool) {
        if kernel == 1 {
            self.add(&format!("{p}.weight"), &[c_out, c_in]);
        } else {
            self.add(&format!("{p}.weight"), &[c_out, c_in, kernel]);
        }
        if bias {
            self.add(&format!("{p}.bias"), &[c_out]);
        }
    }

    fn swiglu(&mut self, p: &str, dim: usize, hidden: usize, kernel: usize) {
        self.conv(&format!("{p}.w1"), dim, hidden, kernel, false);
        self.conv(&format!("{p}.w2"), hidden, dim, kernel, false);
        self.conv(&format!("{p}.w3"), dim, hidden, kernel, false);
    }

    fn attn(&mut self, p: &str, c: &FlowConfig) {
        let d = c.hidden_dim;
        self.conv(&format!("{p}.qkv"), d, 3 * d, 1, true);
        self.add(&format!("{p}.q_norm.weight"), &[c.head_dim()]);
        self.add(&format!("{p}.k_norm.weight"), &[c.head_dim()]);
    }

    fn block(&mut self, p: &str, c: &FlowConfig, kernel: usize, pre_only: bool) {
        let d = c.hidden_dim;
        self.attn(&format!("{p}.attn"), c);
        let chunks = if pre_only { 2 } else { 6 };
        self.conv(&format!("{p}.adaLN_modulation.1"), d, chunks * d, 1, true);
        if !pre_only {
            self.conv(&format!("{p}.linear1"), d, d, kernel, true);
            self.swiglu(&format!("{p}.ffn"), d, c.mlp_hidden_dim(), kernel);
        }
    }
}
