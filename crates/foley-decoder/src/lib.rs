//! Decoders: from a generator's latent to a mel spectrogram (MMAudio's VAE, [`vae`]) and from a
//! mel spectrogram to a waveform (BigVGAN, [`bigvgan`]), loading the released checkpoints under
//! their own keys, and foley's own vocoder trained here ([`vocos`]). Griffin-Lim, the weight-free
//! decoder, lives in `foley-dsp`.

pub mod bigvgan;
pub mod vae;
pub mod vocos;

use std::path::PathBuf;

/// Everything that can go wrong building or running a decoder.
#[derive(Debug, thiserror::Error)]
pub enum DecoderError {
    #[error("decoder configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Read(#[from] foley_weights::WeightsError),
    #[error("{}: weights do not match the configuration: {report}", path.display())]
    Keys { path: PathBuf, report: foley_weights::KeyReport },
    #[error("decoder input: {0}")]
    Input(String),
}
