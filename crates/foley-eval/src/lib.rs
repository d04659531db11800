//! foley's evaluation: the field's video-to-audio metrics on a real pretrained audio network.
//!
//! - [`yamnet`]: YAMNet in burn, emulating the released TF-Lite model's hybrid int8 kernels
//!   (or plain f32); embeddings for Fréchet distance, logits for KL and IS.
//! - [`metrics`]: Fréchet distance, paired KL (softmax / sigmoid), Inception Score, onset
//!   accuracy / AP / F1 and envelope cross-correlation sync offset.
//! - [`onset`]: librosa's onset envelope and peak picking.
//! - [`avalign`]: AV-Align (optical-flow peaks vs audio onsets), [`flow`]: OpenCV's Farnebäck flow.
//! - [`pipeline`]: pairing files, per-clip features, the [`report::Report`].
//! - [`report`]: JSON, Markdown and PNG output; [`run`]: the `foley eval` directory workflow.

pub mod avalign;
pub mod flow;
pub mod metrics;
pub mod onset;
pub mod pipeline;
pub mod report;
pub mod run;
pub mod yamnet;
