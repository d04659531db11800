//! Weights for every foley model: state dicts read from `.safetensors` or PyTorch `.pth` files
//! (zip or legacy pickle, any float width, as f32), their keys checked against what a
//! configuration expects, and handed to module constructors by dotted key ([`Vars`]).
//! [`noise`] is the seeded generator behind every random initialization and latent.

pub mod checkpoint;
pub mod noise;
mod state_dict;
mod vars;

use std::path::PathBuf;

pub use state_dict::{KeyReport, RawTensor, StateDict};
pub use vars::{Init, InitRule, Vars, contiguous};

/// A weight file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("{}: {msg}", path.display())]
    Read { path: PathBuf, msg: String },
}
