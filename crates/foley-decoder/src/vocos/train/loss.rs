//! The reconstruction losses: L1 between log-mels (the vocoder's own mel geometry), the
//! multi-resolution STFT loss (spectral convergence + log-magnitude L1; Yamamoto et al. 2020),
//! and the anti-wrapping phase losses of APNet (Ai & Ling 2023).

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

    /// Real and imaginary parts `(B, T, F)` of `x`'s STFT at the vocoder's own geometry.
    pub fn complex(&self, x: Tensor<2>) -> (Tensor<3>, Tensor<3>) {
        self.mel_stft.complex(x)
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

/// APNet's anti-wrapping phase losses between the head's phase `(B, T, F)` and the phase of
/// the target's STFT at the vocoder's own geometry: instantaneous phase, group delay (the
/// difference along frequency) and instantaneous angular frequency (along time), each the mean
/// of `|x - 2 pi round(x / 2 pi)|`, summed. Supervising phase directly (its derivatives above
/// all, which are predictable where the absolute phase is not) teaches coherent phase far sooner
/// than magnitude losses alone.
pub fn phase_loss(phase: Tensor<3>, target_re: Tensor<3>, target_im: Tensor<3>) -> Tensor<1> {
    let target = target_im.atan2(target_re);
    let [b, t, f] = phase.dims();
    let wrapped = |x: Tensor<3>| {
        let turns = x.clone().detach().div_scalar(std::f32::consts::TAU).round();
        (x - turns.mul_scalar(std::f32::consts::TAU)).abs().mean()
    };
    let d_freq = |x: Tensor<3>| x.clone().slice([0..b, 0..t, 1..f]) - x.slice([0..b, 0..t, 0..f - 1]);
    let d_time = |x: Tensor<3>| x.clone().slice([0..b, 1..t, 0..f]) - x.slice([0..b, 0..t - 1, 0..f]);
    let instantaneous = wrapped(phase.clone() - target.clone());
    let group_delay = wrapped(d_freq(phase.clone()) - d_freq(target.clone()));
    let frequency = wrapped(d_time(phase) - d_time(target));
    instantaneous + group_delay + frequency
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

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn phase_loss_is_blind_to_whole_turns_and_measures_offsets() {
        let device = Device::flex();
        let (b, t, f) = (1, 5, 7);
        let phases: Vec<f32> = (0..b * t * f).map(|i| ((i * 37) % 11) as f32 * 0.5 - 2.5).collect();
        let tensor = |v: Vec<f32>| Tensor::<3>::from_data(TensorData::new(v, [b, t, f]), &device);
        let target = tensor(phases.clone());
        let (re, im) = (target.clone().cos().mul_scalar(3.0), target.sin().mul_scalar(3.0));
        let loss = |offset: f32| phase_loss(tensor(phases.iter().map(|p| p + offset).collect()), re.clone(), im.clone()).into_scalar::<f32>();
        assert!(loss(0.0).abs() < 1e-5, "same phase: {}", loss(0.0));
        assert!(loss(2.0 * std::f32::consts::TAU).abs() < 1e-4, "two whole turns: {}", loss(2.0 * std::f32::consts::TAU));
        // A constant offset moves only the instantaneous phase; its derivatives are unchanged.
        assert!((loss(0.3) - 0.3).abs() < 1e-4, "offset 0.3: {}", loss(0.3));
        assert!((loss(-1.0 - std::f32::consts::TAU) - 1.0).abs() < 1e-4);
    }
}
