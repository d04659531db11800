//! The anti-aliased periodic activation (`Activation1d`): 2x upsampling with a Kaiser-windowed
//! sinc, Snake / SnakeBeta at the doubled rate, low-pass and 2x decimation. Both filters are
//! depthwise convolutions over the whole batch.

use burn::module::{Module, Param};
use burn::tensor::module::conv1d;
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::{Tensor, TensorData};
use foley_weights::{Init, Vars};

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
    /// `a` (`exp(alpha)` with log-scale parameters).
    pub frequency: Param<Tensor<3>>,
    /// `1 / (b + 1e-9)`, with `b` = beta (SnakeBeta) or `a` (Snake).
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

/// `Activation1d`: `UpSample1d(2, 12)` -> activation -> `DownSample1d(2, 12)`, computed on the
/// two phases of the doubled-rate signal without ever interleaving them.
///
/// The official upsampler replicate-pads by 5, runs a stride-2 transposed convolution, scales
/// by 2 and crops 15 samples per side: its even outputs are `2 f[11 - 2q]` over `x[t - 3 + q]`,
/// its odd outputs `2 f[12 - 2q]` over the same window, i.e. 7-tap convolutions of `x`
/// replicate-padded by 3 (one zero tap each). Snake is element-wise, so it runs on the phases.
/// The downsampler's 12 taps at stride 2 read `g[2q - 1]` from the even phase and `g[2q]` from
/// the odd phase over the window `t - 3 + q`; its replicate padding of the interleaved signal
/// repeats the first even and the last odd sample, on both phases.
#[derive(Module, Debug)]
pub struct Activation1d {
    /// `(2C, 1, 7)`: the even-phase kernels of every channel, then the odd-phase ones.
    pub up: Param<Tensor<3>>,
    /// The periodic activation at the doubled rate.
    pub act: SnakeAct,
    /// `(2C, 1, 7)`: the low-pass taps applied to the even phase, then to the odd phase.
    pub down: Param<Tensor<3>>,
}

/// Half-width of the phase windows (`t - 3 ..= t + 3`).
const PAD: usize = 3;

impl Activation1d {
    /// The activation under `vb` (`act.*`, `upsample.filter`, `downsample.lowpass.filter`).
    pub(crate) fn new(vb: &Vars, channels: usize, kind: Snake, logscale: bool, filters: Filters) -> Self {
        let filter = |vb: &Vars| -> Vec<f32> {
            match filters {
                Filters::Stored => vb.get::<3>("filter", [1, 1, FILTER_TAPS], Init::FanIn).into_data().try_to_vec::<f32>().expect("f32 filter"),
                Filters::Computed => kaiser_sinc_filter().to_vec(),
            }
        };
        let (up, down) = (filter(&vb.pp("upsample")), filter(&vb.pp("downsample").pp("lowpass")));
        // Tap q of phase p weighs filter[k(p, q)], zero when k falls outside the filter.
        let kernels = |filter: &[f32], scale: f32, k: fn(usize, usize) -> Option<usize>| -> Vec<f32> {
            let phase = |p| (0..2 * PAD + 1).map(move |q| k(p, q).filter(|&k| k < FILTER_TAPS).map_or(0.0, |k| scale * filter[k]));
            let (even, odd): (Vec<f32>, Vec<f32>) = (phase(0).collect(), phase(1).collect());
            even.repeat(channels).into_iter().chain(odd.repeat(channels)).collect()
        };
        let device = vb.device();
        let tensor = |taps: Vec<f32>| Param::from_tensor(Tensor::<3>::from_data(TensorData::new(taps, [2 * channels, 1, 2 * PAD + 1]), device));
        Self {
            up: tensor(kernels(&up, RATIO as f32, |p, q| (FILTER_TAPS - 1 + p).checked_sub(2 * q))),
            act: SnakeAct::new(&vb.pp("act"), channels, kind, logscale),
            down: tensor(kernels(&down, 1.0, |p, q| (2 * q + p).checked_sub(1))),
        }
    }

    /// `(B, C, T) -> (B, C, T)`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, c, t] = x.dims();
        let depthwise = ConvOptions::new([1], [0], [1], 2 * c);
        let padded = x.pad([(PAD, PAD)], PadMode::Edge);
        let phases = conv1d(Tensor::cat(vec![padded.clone(), padded], 1), self.up.val(), None, depthwise.clone());
        let y = self.act.forward(phases.reshape([2 * b, c, t])).reshape([b, 2, c, t]);
        let first = y.clone().slice([0..b, 0..1, 0..c, 0..1]).expand([b, 2, c, PAD]);
        let last = y.clone().slice([0..b, 1..2, 0..c, t - 1..t]).expand([b, 2, c, PAD]);
        let padded = Tensor::cat(vec![first, y, last], 3).reshape([b, 2 * c, t + 2 * PAD]);
        let halves = conv1d(padded, self.down.val(), None, depthwise).reshape([b, 2, c, t]);
        (halves.clone().narrow(1, 0, 1) + halves.narrow(1, 1, 1)).reshape([b, c, t])
    }
}
