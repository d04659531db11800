//! foley's evaluation: the field's video-to-audio metrics on a real pretrained audio network.
//!
//! - [`yamnet`]: YAMNet in burn, emulating the released TF-Lite model's hybrid int8 kernels.
pub mod yamnet;
