//! The anti-aliased periodic activation (`Activation1d`): 2x upsampling with a Kaiser-windowed
//! sinc, Snake / SnakeBeta at the doubled rate, low-pass and 2x decimation. Both filters are
//! depthwise convolutions over the whole batch.

use burn::module::{Module, Param};
use burn::tensor::module::conv1d;
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::{Tensor, TensorData};
use foley_weights::{Init, Vars, contiguous};

use super::config::{FILTER_TAPS, Snake};

/// `Activation1d`'s up and down ratio.
const RATIO: usize = 2;

/// Where a build takes the anti-aliasing filters from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filters {
    /// The checkpoint's buffers (what `load_state_dict` leaves in the official module).
    Stored,
    /// Computed as the official constructor does (random builds).
    Computed,
}

/// `kaiser_sinc_filter1d(0.25, 0.3, 12)`: the low-pass both resamplers of `Activation1d` build
/// (cutoff `0.5 / ratio`, half width `0.6 / ratio`), normalized to unit sum.
pub fn kaiser_sinc_filter() -> [f32; FILTER_TAPS] {
    let (cutoff, half_width) = (0.5 / RATIO as f64, 0.6 / RATIO as f64);
    let half = (FILTER_TAPS / 2) as f64;
    let a = 2.285 * (half - 1.0) * std::f64::consts::PI * 4.0 * half_width + 7.95;
    let beta = if a > 50.0 {
        0.1102 * (a - 8.7)
    } else if a >= 21.0 {
        0.5842 * (a - 21.0).powf(0.4) + 0.07886 * (a - 21.0)
    } else {
        0.0
    };
    // Symmetric (non-periodic) Kaiser window; even length, so the taps sit at half-integers.
    let centre = (FILTER_TAPS - 1) as f64 / 2.0;
    let taps: Vec<f64> = (0..FILTER_TAPS)
        .map(|n| {
            let r = (n as f64 - centre) / centre;
            let window = bessel_i0(beta * (1.0 - r * r).abs().sqrt()) / bessel_i0(beta);
            let x = 2.0 * cutoff * (n as f64 - half + 0.5);
            let sinc = (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x);
            2.0 * cutoff * window * sinc
        })
        .collect();
    let sum: f64 = taps.iter().sum();
    std::array::from_fn(|i| (taps[i] / sum) as f32)
}

/// The modified Bessel function of the first kind, order 0 (power series; `x` is ~4.7 here).
fn bessel_i0(x: f64) -> f64 {
    let (mut term, mut sum) = (1.0, 1.0);
    for k in 1..64 {
        term *= (x / (2.0 * k as f64)).powi(2);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// Snake / SnakeBeta with its per-channel parameters already in the form the formula uses:
/// `x + inv_magnitude * sin²(frequency * x)`, both `(1, C, 1)`.
#[derive(Module, Debug)]
pub struct SnakeAct {
    pub frequency: Param<Tensor<3>>,
    pub inv_magnitude: Param<Tensor<3>>,
}

impl SnakeAct {
    /// `act.alpha` (and `act.beta` for SnakeBeta) of `channels` channels.
    fn new(vb: &Vars, channels: usize, kind: Snake, logscale: bool) -> Self {
        let param = |name: &str| {
            let p = vb.get::<1>(name, [channels], Init::FanIn);
            if logscale { p.exp() } else { p }
        };
        let alpha = param("alpha");
        let magnitude = match kind {
            Snake::Snake => alpha.clone(),
            Snake::SnakeBeta => param("beta"),
        };
        // Same f32 operations as the official forward: 1 / (b + 1e-9).
        let inv_magnitude = (magnitude + 1e-9).recip();
        let row = |t: Tensor<1>| Param::from_tensor(t.reshape([1, channels, 1]));
        Self { frequency: row(alpha), inv_magnitude: row(inv_magnitude) }
    }

    /// `(B, C, T) -> (B, C, T)`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let s = (x.clone() * self.frequency.val()).sin();
        x + self.inv_magnitude.val() * s.square()
    }
}

/// `Activation1d`: `UpSample1d(2, 12)` -> activation -> `DownSample1d(2, 12)`.
///
/// The official upsampler replicate-pads by 5, runs a stride-2 transposed convolution, scales
/// by 2 and crops 15 samples per side. Split into its two output phases, that is two ordinary
/// 6-tap convolutions of the input replicate-padded by 3, even outputs `2 f[11 - 2q]` over
/// `x[t - 3 + q]` and odd outputs `2 f[10 - 2q]` over `x[t - 2 + q]`; both are stored as 7-tap
/// kernels on the same padded input (one zero tap each) and interleaved.
#[derive(Module, Debug)]
pub struct Activation1d {
    /// `(C, 1, 7)` kernels of the even and odd output samples.
    pub up_even: Param<Tensor<3>>,
    pub up_odd: Param<Tensor<3>>,
    pub act: SnakeAct,
    /// `(C, 1, 12)` low-pass applied at stride 2.
    pub down: Param<Tensor<3>>,
}

/// Replicate padding of the upsampler's phase convolutions.
const UP_PAD: usize = 3;
/// `LowPassFilter1d`'s replicate padding for an even kernel: `(k/2 - 1, k/2)`.
const DOWN_PAD: (usize, usize) = (FILTER_TAPS / 2 - 1, FILTER_TAPS / 2);

impl Activation1d {
    /// The activation under `vb` (`act.*`, `upsample.filter`, `downsample.lowpass.filter`).
    pub(crate) fn new(vb: &Vars, channels: usize, kind: Snake, logscale: bool, filters: Filters) -> Self {
        let filter = |vb: &Vars| -> Vec<f32> {
            match filters {
                Filters::Stored => vb.get::<3>("filter", [1, 1, FILTER_TAPS], Init::FanIn).into_data().try_to_vec::<f32>().expect("f32 filter"),
                Filters::Computed => kaiser_sinc_filter().to_vec(),
            }
        };
        let up = filter(&vb.pp("upsample"));
        let down = filter(&vb.pp("downsample").pp("lowpass"));
        let ratio = RATIO as f32;
        // Tap q of phase p reads x[t - 3 + q] and weighs it with f[11 + p - 2q] (zero outside).
        let phase = |p: usize| -> Vec<f32> {
            (0..2 * UP_PAD + 1).map(|q| (FILTER_TAPS - 1 + p).checked_sub(2 * q).filter(|&k| k < FILTER_TAPS).map_or(0.0, |k| ratio * up[k])).collect()
        };
        let device = vb.device();
        let depthwise = |taps: Vec<f32>| {
            let k = taps.len();
            let one = Tensor::<3>::from_data(TensorData::new(taps, [1, 1, k]), device);
            Param::from_tensor(contiguous(one.repeat_dim(0, channels)))
        };
        Self { up_even: depthwise(phase(0)), up_odd: depthwise(phase(1)), act: SnakeAct::new(&vb.pp("act"), channels, kind, logscale), down: depthwise(down) }
    }

    /// `(B, C, T) -> (B, C, T)`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, c, t] = x.dims();
        let depthwise = |stride| ConvOptions::new([stride], [0], [1], c);
        let padded = x.pad([(UP_PAD, UP_PAD)], PadMode::Edge);
        let even = conv1d(padded.clone(), self.up_even.val(), None, depthwise(1));
        let odd = conv1d(padded, self.up_odd.val(), None, depthwise(1));
        let up = Tensor::stack::<4>(vec![even, odd], 3).reshape([b, c, RATIO * t]);
        let y = self.act.forward(up).pad([DOWN_PAD], PadMode::Edge);
        conv1d(y, self.down.val(), None, depthwise(RATIO))
    }
}
