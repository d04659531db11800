//! State dicts and the tensor builder come from `foley-weights`; this module adds MMAudio's
//! training initialization.

use std::collections::BTreeMap;

pub use foley_weights::{Init, KeyReport, RawTensor, StateDict, Vars, contiguous};

/// MMAudio's `initialize_weights`, by key: every `nn.Linear` (a 2-D `weight`) Xavier-uniform
/// with a zero bias; the timestep embedder's two linears normal(0.02); the adaLN modulation of
/// every block and of the final layer and the final convolution zero ("adaLN-zero": each block
/// starts as the identity and the network predicts zero flow); `sync_pos_emb` and the empty
/// clip / sync features zero. Convolutions keep PyTorch's default (`declared`, fan-in uniform);
/// parameters declared zero (SALSA-V branches) stay zero. `used` holds the keys handed out so
/// far, which tells a linear's bias (its `weight` was 2-D) from a convolution's.
pub fn training_init(key: &str, shape: &[usize], declared: Init, used: &BTreeMap<String, Vec<usize>>) -> Init {
    let (module, name) = key.rsplit_once('.').unwrap_or(("", key));
    let zero_modules = module.ends_with("adaLN_modulation.1") || module == "final_layer.conv";
    let zero_keys = ["sync_pos_emb", "empty_clip_feat", "empty_sync_feat", "latent_mean", "empty_string_feat"];
    if declared == Init::Zeros || zero_modules || zero_keys.contains(&key) {
        return Init::Zeros;
    }
    let is_linear = used.get(&format!("{module}.weight")).is_some_and(|s| s.len() == 2);
    match name {
        "weight" if shape.len() == 2 && (module.ends_with("t_embed.mlp.0") || module.ends_with("t_embed.mlp.2") || module.ends_with("d_embed.mlp.0")) => {
            Init::Normal(0.02)
        }
        "weight" if shape.len() == 2 => Init::Xavier,
        "bias" if is_linear => Init::Zeros,
        _ => declared,
    }
}
