//! The flow network of foley: MMAudio's multimodal diffusion transformer (MM-DiT) in burn,
//! module for module, loading the official checkpoints under their own keys; SALSA-V's
//! masked-audio, shortcut, extra audio self-attention and time-aligned video extensions as
//! options; CPU kernels for the element-wise work burn's CPU backend runs on one thread; and the
//! samplers (Euler with classifier-free guidance, shortcut).
//!
//! ```no_run
//! use foley_flow::{FlowConfig, FlowNetwork};
//! use burn::tensor::Device;
//! # fn main() -> Result<(), foley_flow::FlowError> {
//! let device = Device::flex();
//! let config = FlowConfig::released("small_16k")?;
//! let net = FlowNetwork::load(&config, "mmaudio_small_16k.pth".as_ref(), &device)?;
//! # Ok(()) }
//! ```

mod attention;
pub mod bench;
mod blocks;
pub mod conditions;
pub mod config;
pub mod io;
mod kernels;
mod layers;
pub mod network;
mod rope;
pub mod sampler;
pub mod spec;
pub mod weights;

/// Seeded noise (SplitMix64, Box–Muller), shared with every foley model.
pub use foley_weights::noise;

use std::path::PathBuf;

/// burn's device and float types, re-exported for callers that do not depend on burn.
pub use burn::tensor::{DType, Device};
pub use conditions::Conditions;
pub use config::{Extensions, FlowConfig};
pub use network::{AudioPrompt, ExtraInputs, FlowNetwork, InputBranch};
pub use weights::{KeyReport, StateDict};

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("flow configuration: {0}")]
    Config(String),
    #[error("{}: {msg}", path.display())]
    Read { path: PathBuf, msg: String },
    #[error("{}: weights do not match the configuration: {report}", path.display())]
    Keys { path: PathBuf, report: KeyReport },
    #[error("flow input: {0}")]
    Input(String),
}

impl From<foley_weights::WeightsError> for FlowError {
    fn from(e: foley_weights::WeightsError) -> Self {
        match e {
            foley_weights::WeightsError::Read { path, msg } => Self::Read { path, msg },
        }
    }
}
