//! Audio signal processing for foley, numerically identical to MMAudio's mel converters.
//!
//! - [`MelSpectrogram`]: reflect pad `(n_fft - hop) / 2` each side, no centring, periodic Hann
//!   window, magnitude `sqrt(re² + im² + 1e-9)`, Slaney mel filterbank, clamp, log10 or ln.
//! - [`mel_filterbank`]: librosa's Slaney-normalised filterbank, computed here.
//! - [`GriffinLim`]: weightless inversion of a log-mel back to a waveform.
//! - [`normalize_level`]: loudness normalization (BS.1770) with a true-peak ceiling for outputs;
//!   [`StreamLevel`]: the same decided causally, for audio written while it is generated.
//!
//! Geometry (sample rate, n_fft, hop, mels, log base) comes from [`foley_seq::MelConfig`].

mod filterbank;
mod griffin_lim;
mod loudness;
mod mel;
mod stft;
mod stream_level;

pub use filterbank::{hz_to_mel_slaney, mel_filterbank, mel_to_hz_slaney};
pub use griffin_lim::{GriffinLim, GriffinLimReport};
pub use loudness::{LevelMeter, LevelReport, LevelTarget, MAX_BOOST_DB, measure, normalize_level};
pub use mel::{Mel, MelSpectrogram};
pub use stft::Stft;
pub use stream_level::StreamLevel;

/// Errors from the DSP layer (shape problems in user-supplied tensors).
#[derive(Debug, thiserror::Error)]
pub enum DspError {
    #[error("mel tensor has {got} mel bins but the configuration expects {expected}")]
    MelBins { got: usize, expected: usize },
    #[error("loudness measurement failed: {0}")]
    Loudness(String),
    #[error("mel tensor has no frames")]
    Empty,
    #[error("mel data length {len} is not n_mels x n_frames = {n_mels} x {n_frames}")]
    Shape { len: usize, n_mels: usize, n_frames: usize },
}
