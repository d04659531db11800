//! The reconstruction losses: L1 between log-mels (the vocoder's own mel geometry) and the
//! multi-resolution STFT loss (spectral convergence + log-magnitude L1; Yamamoto et al. 2020).

use burn::tensor::{Device, Tensor};
use foley_seq::MelConfig;

use crate::vocos::{LogMel, StftMagnitude};

/// Magnitudes are clamped to this before the logarithm of the log-magnitude loss.
const LOG_FLOOR: f32 = 1e-5;

/// The spectral transforms the losses need, built once.
pub struct SpectralLoss {
    mel_stft: StftMagnitude,
    log_mel: LogMel,
    resolutions: Vec<StftMagnitude>,
}

/// One batch's losses (scalars), before weighting.
pub struct LossParts {
    pub mel_l1: Tensor<1>,
    pub stft: Tensor<1>,
}

impl SpectralLoss {
    pub fn new(mel: &MelConfig, resolutions: &[(usize, usize)], device: &Device) -> Self {
        Self {
            mel_stft: StftMagnitude::new(mel.n_fft, mel.hop, device),
            log_mel: LogMel::new(mel, device),
            resolutions: resolutions.iter().map(|&(n, h)| StftMagnitude::new(n, h, device)).collect(),
        }
    }

    /// Log-mel `(B, T, n_mels)` of waveforms `(B, L)`.
    pub fn log_mel(&self, x: Tensor<2>) -> Tensor<3> {
        self.log_mel.forward(self.mel_stft.forward(x))
    }

    /// Losses of `pred` against `target`, both `(B, L)`.
    pub fn parts(&self, pred: Tensor<2>, target: Tensor<2>) -> LossParts {
        let mel_l1 = (self.log_mel(pred.clone()) - self.log_mel(target.clone())).abs().mean();
        let mut stft: Option<Tensor<1>> = None;
        for res in &self.resolutions {
            let (p, t) = (res.forward(pred.clone()), res.forward(target.clone()));
            let convergence = (t.clone() - p.clone()).powi_scalar(2).sum().sqrt() / t.clone().powi_scalar(2).sum().sqrt();
            let log_mag = (t.clamp_min(LOG_FLOOR).log() - p.clamp_min(LOG_FLOOR).log()).abs().mean();
            let term = convergence + log_mag;
            stft = Some(match stft {
                Some(s) => s + term,
                None => term,
            });
        }
        let n = self.resolutions.len().max(1) as f32;
        let stft = stft.map_or_else(|| mel_l1.clone().zeros_like(), |s| s / n);
        LossParts { mel_l1, stft }
    }
}

/// The `(n_fft, hop)` resolutions of the multi-resolution STFT distance foley reports (the
/// three of Yamamoto et al. scaled to 16 kHz), fixed whatever a run trains with.
pub const REPORT_RESOLUTIONS: [(usize, usize); 3] = [(512, 128), (1024, 256), (2048, 512)];

/// How far a resynthesis is from the original: `(log10-mel L1, multi-resolution STFT distance)`
/// over their common length, at [`REPORT_RESOLUTIONS`].
pub fn resynthesis_distance(mel: &MelConfig, resynthesis: &[f32], original: &[f32]) -> (f64, f64) {
    let device = Device::flex();
    let n = resynthesis.len().min(original.len());
    let wave = |x: &[f32]| Tensor::<2>::from_data(burn::tensor::TensorData::new(x[..n].to_vec(), [1, n]), &device);
    let parts = SpectralLoss::new(mel, &REPORT_RESOLUTIONS, &device).parts(wave(resynthesis), wave(original));
    (parts.mel_l1.into_scalar::<f32>() as f64, parts.stft.into_scalar::<f32>() as f64)
}
