//! The vocoder's shape: the mel geometry it reads and the size of its ConvNeXt backbone.

use foley_seq::MelConfig;
use serde::{Deserialize, Serialize};

use crate::DecoderError;

/// A Vocos network: mel `(n_mels, T)` -> ConvNeXt backbone -> per-frame magnitude and phase of
/// an `n_fft`-point spectrum -> inverse STFT with the mel's own hop, giving exactly `T * hop`
/// samples (the mel's framing: reflect padding `(n_fft - hop) / 2`, periodic Hann window).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VocosConfig {
    /// The mel spectrogram geometry of the input; the output is at its sample rate.
    pub mel: MelConfig,
    /// Channels of the backbone.
    pub dim: usize,
    /// Hidden channels of each block's point-wise MLP.
    pub intermediate: usize,
    /// Number of ConvNeXt blocks.
    pub layers: usize,
    /// Kernel of the input and depth-wise convolutions (odd).
    pub kernel: usize,
    /// Add the log of the mel's pseudo-inverse (Griffin-Lim's starting magnitudes) to the
    /// head's log-magnitudes, so the head learns a correction and a fresh network already
    /// outputs plausible magnitudes; training then goes to phase and fine structure.
    #[serde(default)]
    pub magnitude_prior: bool,
}

impl VocosConfig {
    /// foley's 16 kHz vocoder: MMAudio's 16 kHz mel, 8 blocks of 256 channels (3.5 M parameters),
    /// magnitudes relative to the mel's pseudo-inverse.
    pub fn foley_16k() -> Self {
        Self { mel: MelConfig::MMAUDIO_16K, dim: 256, intermediate: 768, layers: 8, kernel: 7, magnitude_prior: true }
    }

    /// Bins of the one-sided spectrum the head predicts.
    pub fn n_freqs(&self) -> usize {
        self.mel.n_fft / 2 + 1
    }

    /// Checks the shape is one the network and its inverse STFT can be built for.
    pub fn validate(&self) -> Result<(), DecoderError> {
        let m = &self.mel;
        let fail = |why: String| Err(DecoderError::Config(format!("vocoder: {why}")));
        if self.dim == 0 || self.intermediate == 0 || self.layers == 0 || m.n_mels == 0 {
            return fail(format!("dim {}, intermediate {}, layers {} and n_mels {} must all be positive", self.dim, self.intermediate, self.layers, m.n_mels));
        }
        if self.kernel % 2 == 0 {
            return fail(format!("kernel {} must be odd (\"same\" padding)", self.kernel));
        }
        if m.hop == 0 || m.n_fft % m.hop != 0 || m.n_fft < 2 * m.hop || m.win_length != m.n_fft {
            return fail(format!("n_fft {} must be a multiple (>= 2) of hop {} and equal win_length {}", m.n_fft, m.hop, m.win_length));
        }
        Ok(())
    }
}
