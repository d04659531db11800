//! The three ways a BigVGAN checkpoint stores its convolution weights, and weight norm folded
//! into plain weights as `remove_weight_norm()` / `remove_parametrizations()` leaves them.

use std::collections::BTreeMap;

use foley_weights::{RawTensor, StateDict};

const PARAMETRIZED: (&str, &str) = ("parametrizations.weight.original0", "parametrizations.weight.original1");
const SPLIT: (&str, &str) = ("weight_g", "weight_v");

/// How a state dict stores each weight-normed convolution's weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WeightLayout {
    /// `torch.nn.utils.parametrizations.weight_norm`: `original0` = g, `original1` = v.
    Parametrized,
    /// The older `torch.nn.utils.weight_norm`: `weight_g`, `weight_v`.
    Split,
    /// Weight norm already removed: `weight`.
    Folded,
}

impl WeightLayout {
    /// The layout of `conv_pre` (the parametrized one when it has none, so that the key report
    /// names the released keys).
    pub(crate) fn detect(keys: &BTreeMap<String, Vec<usize>>) -> Self {
        let has = |suffix: &str| keys.contains_key(&format!("conv_pre.{suffix}"));
        if has(SPLIT.1) {
            Self::Split
        } else if has("weight") {
            Self::Folded
        } else {
            Self::Parametrized
        }
    }

    /// A parametrized key listing rewritten in this layout.
    pub(crate) fn rename(self, keys: BTreeMap<String, Vec<usize>>) -> BTreeMap<String, Vec<usize>> {
        keys.into_iter()
            .filter_map(|(key, shape)| {
                let Some(conv) = key.strip_suffix(PARAMETRIZED.0).or_else(|| key.strip_suffix(PARAMETRIZED.1)) else {
                    return Some((key, shape));
                };
                let is_g = key.ends_with(PARAMETRIZED.0);
                match self {
                    Self::Parametrized => Some((key, shape)),
                    Self::Split => Some((format!("{conv}{}", if is_g { SPLIT.0 } else { SPLIT.1 }), shape)),
                    Self::Folded => (!is_g).then(|| (format!("{conv}weight"), shape)),
                }
            })
            .collect()
    }

    /// Replace every (g, v) pair of a checked state dict with `weight = v * (g / ||v||)`.
    pub(crate) fn fold(self, dict: &mut StateDict) {
        let (g_suffix, v_suffix) = match self {
            Self::Parametrized => PARAMETRIZED,
            Self::Split => SPLIT,
            Self::Folded => return,
        };
        let convs: Vec<String> = dict.tensors.keys().filter_map(|k| k.strip_suffix(g_suffix)).map(str::to_string).collect();
        for conv in convs {
            let g = dict.take(&format!("{conv}{g_suffix}")).expect("keys were checked");
            let v = dict.take(&format!("{conv}{v_suffix}")).expect("keys were checked");
            dict.tensors.insert(format!("{conv}weight"), fold(&g, v));
        }
    }
}

/// `torch._weight_norm(v, g, dim=0)`: every slice along the first axis (an output channel of a
/// Conv1d, an input channel of a ConvTranspose1d) rescaled to norm `g`.
fn fold(g: &RawTensor, mut v: RawTensor) -> RawTensor {
    let per_slice = v.data.len() / g.data.len();
    for (slice, &gain) in v.data.chunks_exact_mut(per_slice).zip(&g.data) {
        let norm = slice.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>().sqrt() as f32;
        let scale = gain / norm;
        slice.iter_mut().for_each(|x| *x *= scale);
    }
    v
}
