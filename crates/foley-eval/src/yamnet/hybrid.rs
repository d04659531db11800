//! TF-Lite's "hybrid" kernels: int8 weights, float activations quantized on the fly.
//!
//! The released YAMNet `.tflite` stores FULLY_CONNECTED and 1x1 CONV_2D weights as int8 with one
//! symmetric scale per tensor. TF-Lite runs such an op with a float input as follows
//! (`fully_connected.cc` / `conv.cc` `EvalHybrid`, `tensor_utils::SymmetricQuantizeFloats`):
//!
//! 1. `range = max |x|` over one *batch*: a row for FULLY_CONNECTED, the whole image for CONV_2D;
//!    `input_scale = range / 127`, `q = clamp(round(x * (127 / range)), -127, 127)` with
//!    `round` = half away from zero (`std::round`); an all-zero batch gives `q = 0`, scale 1.
//! 2. `acc = Σ q · w_q` in int32.
//! 3. `y = bias + acc · (input_scale · weight_scale)`, then the fused activation.
//!
//! We reproduce each float operation in the same order with burn tensors. The integer
//! accumulation runs as an f32 matmul/convolution of integer-valued tensors: every partial sum
//! is an integer of magnitude at most `K · 127² < 2²⁴` for the reduction lengths of YAMNet
//! (`K ≤ 1024`), so f32 represents all of them and the result equals the int32 sum exactly,
//! whatever the summation order. That keeps the heavy work on burn's matmul/conv kernels.

use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

/// Largest magnitude of TF-Lite's symmetric int8 range.
const QMAX: f32 = 127.0;

/// Longest reduction for which the f32 accumulation of int8 products is exact (`K · 127² < 2²⁴`).
pub const MAX_EXACT_REDUCTION: usize = (1 << 24) / (127 * 127);

/// How the int8-weight ops are evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Precision {
    /// Bit-faithful emulation of TF-Lite's hybrid kernels (the reference the goldens come from).
    TfliteHybrid,
    /// Plain f32 with the dequantized weights (no activation quantization).
    Float,
}

/// A per-tensor symmetric int8 weight, kept as integer-valued f32 plus its scale.
#[derive(Debug, Clone)]
pub struct QuantizedWeight {
    /// Integer values in [-127, 127].
    pub values: Vec<f32>,
    pub scale: f32,
}

impl QuantizedWeight {
    /// Recovers the int8 values and the scale from a dequantized weight `w = q · scale`.
    ///
    /// TF-Lite's weight quantizer uses `scale = max |w| / 127`, so the largest magnitude is
    /// exactly `127 · scale`. Returns `None` unless every value is reproduced bit-exactly.
    pub fn from_dequantized(w: &[f32]) -> Option<Self> {
        let max = w.iter().fold(0f32, |m, v| m.max(v.abs()));
        if max == 0.0 || !max.is_finite() {
            return None;
        }
        let scale = max / QMAX;
        let values: Vec<f32> = w.iter().map(|v| (v / scale).round()).collect();
        let exact = values.iter().zip(w).all(|(q, v)| q.abs() <= QMAX && q * scale == *v);
        exact.then_some(Self { values, scale })
    }

    /// The float weights TF-Lite's DEQUANTIZE would produce.
    pub fn dequantized(&self) -> Vec<f32> {
        self.values.iter().map(|q| q * self.scale).collect()
    }
}

/// `std::round` (half away from zero) from burn ops: `x - trunc(x)` is exact in floating point,
/// so the tie test is too. (burn's `round` is half-to-even, which differs on exact ties.)
fn round_half_away(x: Tensor<2>) -> Tensor<2> {
    let t = x.clone().trunc();
    let frac = x - t.clone();
    let step = frac.clone().abs().greater_equal_elem(0.5).float() * frac.sign();
    t + step
}

/// Symmetric on-the-fly quantization of each row of `x` ([rows, n]): returns the integer-valued
/// tensor and each row's input scale ([rows, 1]).
pub fn quantize_rows(x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let range = x.clone().abs().max_dim(1);
    // An all-zero row: TF-Lite writes q = 0 and scale 1; range 127 gives exactly that below.
    let zero = range.clone().equal_elem(0.0);
    let range = range.mask_fill(zero, QMAX);
    let scale = range.clone().div_scalar(QMAX);
    let inv = range.full_like(QMAX).div(range);
    let q = round_half_away(x * inv).clamp(-QMAX, QMAX);
    (q, scale)
}

/// FULLY_CONNECTED with int8 weights ([out, in] in TF-Lite) and an optional float bias.
#[derive(Debug, Clone)]
pub struct HybridLinear {
    /// Transposed weight [in, out]: integer values (hybrid) or dequantized floats (float path).
    weight_t: Tensor<2>,
    scale: f32,
    bias: Option<Tensor<1>>,
    precision: Precision,
}

impl HybridLinear {
    pub fn new(weight: &QuantizedWeight, shape: [usize; 2], bias: Option<&[f32]>, precision: Precision, device: &Device) -> Self {
        let values = match precision {
            Precision::TfliteHybrid => weight.values.clone(),
            Precision::Float => weight.dequantized(),
        };
        let weight_t = Tensor::<2>::from_data(TensorData::new(values, shape), device).transpose();
        let bias = bias.map(|b| Tensor::<1>::from_data(TensorData::new(b.to_vec(), [b.len()]), device));
        Self { weight_t, scale: weight.scale, bias, precision }
    }

    /// `x` [rows, in] -> [rows, out]; each row is one TF-Lite batch.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let y = match self.precision {
            Precision::Float => x.matmul(self.weight_t.clone()),
            Precision::TfliteHybrid => {
                let (q, input_scale) = quantize_rows(x);
                let acc = q.matmul(self.weight_t.clone());
                acc * input_scale.mul_scalar(self.scale)
            }
        };
        match &self.bias {
            Some(b) => y + b.clone().unsqueeze_dim(0),
            None => y,
        }
    }
}

/// A 1x1 CONV_2D with int8 weights ([out, 1, 1, in] in TF-Lite), float bias and fused ReLU.
#[derive(Debug, Clone)]
pub struct HybridPointwise {
    /// [out, in, 1, 1]: integer values (hybrid) or dequantized floats (float path).
    weight: Tensor<4>,
    scale: f32,
    bias: Tensor<1>,
    precision: Precision,
}

impl HybridPointwise {
    pub fn new(weight: &QuantizedWeight, out_in: [usize; 2], bias: &[f32], precision: Precision, device: &Device) -> Self {
        let values = match precision {
            Precision::TfliteHybrid => weight.values.clone(),
            Precision::Float => weight.dequantized(),
        };
        let [o, i] = out_in;
        Self {
            weight: Tensor::<4>::from_data(TensorData::new(values, [o, i, 1, 1]), device),
            scale: weight.scale,
            bias: Tensor::<1>::from_data(TensorData::new(bias.to_vec(), [bias.len()]), device),
            precision,
        }
    }

    /// `x` [batch, in, h, w] -> ReLU(conv1x1(x) + bias) [batch, out, h, w]; each image is one
    /// TF-Lite batch (one input scale per image).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        let y = match self.precision {
            Precision::Float => conv2d(x, self.weight.clone(), None, options),
            Precision::TfliteHybrid => {
                let [n, c, h, w] = x.dims();
                let (q, input_scale) = quantize_rows(x.reshape([n, c * h * w]));
                let acc = conv2d(q.reshape([n, c, h, w]), self.weight.clone(), None, options);
                acc * input_scale.mul_scalar(self.scale).reshape([n, 1, 1, 1])
            }
        };
        let bias = self.bias.clone().reshape([1, self.bias.dims()[0], 1, 1]);
        (y + bias).clamp_min(0.0)
    }
}
