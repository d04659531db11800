//! MMAudio's log-mel converter.

use foley_seq::{LogBase, MelConfig};

use crate::{DspError, Stft, mel_filterbank};

/// A log-mel spectrogram, mel-major: `data[m * n_frames + t]` (PyTorch's `(n_mels, T)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Mel {
    pub n_mels: usize,
    pub n_frames: usize,
    pub data: Vec<f32>,
}

impl Mel {
    /// Wraps mel-major data, checking its length.
    pub fn new(n_mels: usize, n_frames: usize, data: Vec<f32>) -> Result<Self, DspError> {
        if n_frames == 0 {
            return Err(DspError::Empty);
        }
        if data.len() != n_mels * n_frames {
            return Err(DspError::Shape { len: data.len(), n_mels, n_frames });
        }
        Ok(Self { n_mels, n_frames, data })
    }

    /// Value at mel bin `m`, frame `t`.
    pub fn at(&self, m: usize, t: usize) -> f32 {
        self.data[m * self.n_frames + t]
    }
}

/// Computes log-mel spectrograms exactly as MMAudio's `MelConverter`.
pub struct MelSpectrogram {
    config: MelConfig,
    basis: Vec<f32>,
    stft: Stft,
}

impl MelSpectrogram {
    /// Builds the filterbank and STFT plan for `config`.
    pub fn new(config: MelConfig) -> Self {
        assert_eq!(config.win_length, config.n_fft, "MMAudio's converters use win_length = n_fft");
        Self { basis: mel_filterbank(&config), stft: Stft::new(config.n_fft, config.hop), config }
    }

    /// The geometry this converter was built for.
    pub fn config(&self) -> &MelConfig {
        &self.config
    }

    /// The Slaney filterbank, `(n_mels, n_freqs)` row-major.
    pub fn basis(&self) -> &[f32] {
        &self.basis
    }

    /// The filterbank's Moore-Penrose pseudo-inverse, `(n_freqs, n_mels)` row-major: linear
    /// magnitudes from linear mel values (Griffin-Lim's target, the vocoder's magnitude prior).
    pub fn pseudo_inverse(&self) -> Vec<f64> {
        let (n_mels, n_freqs) = (self.config.n_mels, self.config.n_freqs());
        let basis = nalgebra::DMatrix::from_row_iterator(n_mels, n_freqs, self.basis.iter().map(|&w| w as f64));
        let pinv = basis.pseudo_inverse(1e-10).expect("epsilon is non-negative");
        (0..n_freqs).flat_map(|f| (0..n_mels).map(move |m| (f, m))).map(|(f, m)| pinv[(f, m)]).collect()
    }

    /// The STFT plan (shared with Griffin-Lim so both use one framing).
    pub fn stft(&self) -> &Stft {
        &self.stft
    }

    /// Linear STFT magnitudes `sqrt(re² + im² + 1e-9)`, frame-major `(T, n_freqs)`.
    ///
    /// Samples are clipped to [-1, 1] first, as in MMAudio's reference pipeline: the golden
    /// tensors (a waveform whose click reaches 1.43) match only with that clipping.
    pub fn magnitudes(&self, waveform: &[f32]) -> (Vec<f64>, usize) {
        let signal: Vec<f64> = waveform.iter().map(|&x| x.clamp(-1.0, 1.0) as f64).collect();
        let (spec, n_frames) = self.stft.forward(&signal);
        (spec.iter().map(|c| (c.norm_sqr() + 1e-9).sqrt()).collect(), n_frames)
    }

    /// Log-mel spectrogram of a mono waveform at `config.sample_rate`.
    pub fn compute(&self, waveform: &[f32]) -> Mel {
        let (mags, n_frames) = self.magnitudes(waveform);
        let mel_lin = self.project(&mags, n_frames);
        let data = mel_lin.iter().map(|&v| self.log(v)).collect();
        Mel { n_mels: self.config.n_mels, n_frames, data }
    }

    /// Mel filterbank applied to frame-major magnitudes, giving mel-major linear values.
    pub(crate) fn project(&self, mags: &[f64], n_frames: usize) -> Vec<f64> {
        let (n_mels, n_freqs) = (self.config.n_mels, self.config.n_freqs());
        let mut out = vec![0.0f64; n_mels * n_frames];
        for m in 0..n_mels {
            let row = &self.basis[m * n_freqs..(m + 1) * n_freqs];
            for t in 0..n_frames {
                let frame = &mags[t * n_freqs..(t + 1) * n_freqs];
                out[m * n_frames + t] = row.iter().zip(frame).map(|(&w, &x)| w as f64 * x).sum();
            }
        }
        out
    }

    /// Clamp and logarithm, in the configured base.
    pub(crate) fn log(&self, v: f64) -> f32 {
        let v = v.max(self.config.clamp_min as f64);
        (match self.config.log_base {
            LogBase::Ten => v.log10(),
            LogBase::E => v.ln(),
        }) as f32
    }

    /// Inverse of the logarithm: back to linear mel magnitudes.
    pub(crate) fn exp(&self, v: f32) -> f64 {
        match self.config.log_base {
            LogBase::Ten => 10f64.powf(v as f64),
            LogBase::E => (v as f64).exp(),
        }
    }
}
