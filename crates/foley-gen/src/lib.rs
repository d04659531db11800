//! foley's generator: the SALSA-V recipe on foley's own features.
//!
//! * [`config`]: the TOML that fully describes a training run.
//! * [`data`]: feature shards (`foley extract`) -> clips -> batches (normalized 16 kHz log-mel
//!   target, two mel frames per token; VTA-LDM's concat augmentation and alignment filter).
//! * [`envelope`]: the timing envelope (loudness and onset strength per sync token) and its
//!   video predictor; [`envelope_train`] trains the predictor.
//! * [`features`]: standardization of the video conditions (training-set statistics).
//! * [`masking`]: SALSA-V's per-sample known-audio masks (none / spans / prefix / suffix).
//! * [`semantic_vama`]: Foley-Flow's masked video-audio alignment as pretraining of the
//!   semantic projection.
//! * [`shortcut`]: shortcut self-consistency targets (2d step = mean of two d steps).
//! * [`train`], [`ema`], [`checkpoint`], [`plot`]: the training loop, EMA weights, atomic
//!   resumable checkpoints and the loss curve.
//! * [`model`]: a trained generator (f16 safetensors + JSON) and its conditions.
//! * [`generate`]: video -> features -> sampling -> mel -> Griffin-Lim waveform.
//! * [`mmaudio`]: MMAudio's released pipeline end to end (CLIP, Synchformer, flow, VAE, BigVGAN)
//!   and `foley mmaudio check`.
//! * [`windows`]: what long-form generation ([`longform`]) needs of a generator, for foley's own
//!   and for MMAudio's released pipeline.

/// Atomic, resumable checkpoints (shared with the vocoder's training).
pub use foley_weights::checkpoint;
pub mod config;
pub mod data;
pub mod data_parallel;
pub mod ema;
pub mod envelope;
pub mod envelope_train;
pub mod features;
pub mod generate;
pub mod longform;
pub mod masking;
pub mod mmaudio;
pub mod model;
pub mod plot;
pub mod semantic_vama;
pub mod shortcut;
pub mod train;
pub mod windows;

#[cfg(test)]
mod test_support;

pub use config::TrainConfig;
pub use model::{GenMeta, Generator};
