//! The loaded generator of a job, loaded once and shared by every job a process runs.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use burn::tensor::{DType, Device};
use foley_encoders::ModelCache;
use foley_gen::Generator;
use foley_gen::generate::{Encoders, MelDecoder};
use foley_gen::mmaudio::{MmaudioWindows, Variant};

use crate::spec::Precision;

/// Which generator a job runs, with the files it loads from.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelChoice {
    /// foley's own generator, the sync backbone it was trained with, and the vocoder that
    /// decodes its mels (`None`: Griffin-Lim).
    Embedded { generator: PathBuf, sync: PathBuf, vocoder: Option<PathBuf> },
    /// One of MMAudio's released models, from the user's weights folder.
    Mmaudio { variant: Variant, dir: PathBuf, dtype: Precision },
}

/// A loaded generator with its encoders and decoder.
pub enum Models {
    Embedded { generator: Generator, encoders: Arc<Encoders>, decoder: MelDecoder, choice: ModelChoice },
    Mmaudio { model: MmaudioWindows, choice: ModelChoice },
}

impl Models {
    /// Load what `choice` names (pretrained encoders from the model cache; the text encoder
    /// when a prompt first needs it).
    pub fn load(choice: &ModelChoice) -> Result<Self> {
        Self::load_with_text(choice, false)
    }

    /// [`Models::load`], with the text encoder loaded alongside when `with_text` (a job that
    /// has a prompt).
    pub fn load_with_text(choice: &ModelChoice, with_text: bool) -> Result<Self> {
        let device = Device::flex();
        let cache = ModelCache::from_env()?;
        Ok(match choice {
            ModelChoice::Embedded { generator: path, sync, vocoder } => {
                // The generator and the vocoder load while the encoders do.
                let (generator, decoder, encoders) = std::thread::scope(|scope| {
                    let generator = scope.spawn(|| Generator::load(path, &device));
                    let decoder = scope.spawn(|| MelDecoder::load(vocoder.as_deref(), &device));
                    let encoders = Encoders::load(&cache, sync, &device, with_text);
                    (generator.join().expect("generator loading panicked"), decoder.join().expect("vocoder loading panicked"), encoders)
                });
                Self::Embedded { generator: generator?, encoders: Arc::new(encoders?), decoder: decoder?, choice: choice.clone() }
            }
            ModelChoice::Mmaudio { variant, dir, dtype } => {
                let dtype = match dtype {
                    Precision::F32 => DType::F32,
                    Precision::Bf16 => DType::BF16,
                };
                Self::Mmaudio { model: MmaudioWindows::load(*variant, dir, dtype, &cache, &device)?, choice: choice.clone() }
            }
        })
    }

    /// What these models were loaded from.
    pub fn choice(&self) -> &ModelChoice {
        match self {
            Self::Embedded { choice, .. } | Self::Mmaudio { choice, .. } => choice,
        }
    }

    /// Another handle on the same weights, for a second worker: tensors are shared, not copied;
    /// only per-job state (sequence lengths, text conditions) is the fork's own.
    pub fn fork(&self) -> Self {
        match self {
            Self::Embedded { generator, encoders, decoder, choice } => {
                Self::Embedded { generator: generator.clone(), encoders: Arc::clone(encoders), decoder: decoder.clone(), choice: choice.clone() }
            }
            Self::Mmaudio { model, choice } => Self::Mmaudio { model: model.clone(), choice: choice.clone() },
        }
    }
}
