//! YAMNet's blocks, built from the TF-Lite operator list in order.

use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

use super::graph::{Graph, Op};
use super::hybrid::{HybridLinear, HybridPointwise, MAX_EXACT_REDUCTION, Precision};
use super::{YamnetConfig, YamnetError};

/// Waveform frames -> log-mel: window, centre in the FFT length, |DFT| by two int8 matmuls,
/// mel matmul (+ the log offset as its bias), natural log.
pub struct FrontEnd {
    window: Tensor<2>,
    pad: (usize, usize),
    dft_real: HybridLinear,
    dft_imag: HybridLinear,
    mel: HybridLinear,
}

impl FrontEnd {
    pub fn from_graph(g: &Graph, c: &YamnetConfig, precision: Precision, device: &Device) -> Result<Self, YamnetError> {
        check_framing(g, c)?;
        let mul = find(g, "MUL")?;
        let window = g.constant(mul.inputs[1])?;
        if window.len() != c.window {
            return Err(YamnetError::format(g.path(), format!("window has {} taps, expected {}", window.len(), c.window)));
        }
        let paddings = g.int_constant(find(g, "PAD")?.inputs[1])?;
        let pad = match paddings.as_slice() {
            [0, 0, l, r] if (*l + *r) as usize + c.window == c.fft => (*l as usize, *r as usize),
            p => return Err(YamnetError::format(g.path(), format!("frame padding {p:?} does not reach {}", c.fft))),
        };
        let fc: Vec<&Op> = ops(g, "FULLY_CONNECTED");
        if fc.len() != 4 {
            return Err(YamnetError::format(g.path(), format!("{} FULLY_CONNECTED ops, expected 4", fc.len())));
        }
        let bins = c.fft / 2 + 1;
        let dft_real = linear(g, fc[0], [bins, c.fft], precision, device)?;
        let dft_imag = linear(g, fc[1], [bins, c.fft], precision, device)?;
        let mel = linear(g, fc[2], [c.mel_bins, bins], precision, device)?;
        let window = Tensor::<2>::from_data(TensorData::new(window, [1, c.window]), device);
        Ok(Self { window, pad, dft_real, dft_imag, mel })
    }

    /// `frames` [rows, window] -> log-mel [rows, mel_bins].
    pub fn forward(&self, frames: Tensor<2>) -> Tensor<2> {
        let x = (frames * self.window.clone()).pad([(0, 0), self.pad], burn::tensor::ops::PadMode::Constant(0.0));
        let re = self.dft_real.forward(x.clone());
        let im = self.dft_imag.forward(x);
        let magnitude = (re.clone() * re + im.clone() * im).sqrt();
        self.mel.forward(magnitude).log()
    }
}

/// The 3x3 float convolution (stem) or a depthwise 3x3 float convolution, with folded batch
/// norm as bias, TF "SAME" padding and ReLU.
struct Conv3x3 {
    weight: Tensor<4>,
    bias: Tensor<1>,
    options: ConvOptions<2>,
}

impl Conv3x3 {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv2d(x, self.weight.clone(), Some(self.bias.clone()), self.options.clone()).clamp_min(0.0)
    }
}

/// Depthwise 3x3 + pointwise 1x1 (int8), MobileNet-v1's separable block.
struct SeparableBlock {
    depthwise: Conv3x3,
    pointwise: HybridPointwise,
}

/// Everything after the log-mel: stem, 13 separable blocks, pooling and classifier.
pub struct Network {
    stem: Conv3x3,
    blocks: Vec<SeparableBlock>,
    classifier: HybridLinear,
}

impl Network {
    pub fn from_graph(g: &Graph, c: &YamnetConfig, precision: Precision, device: &Device) -> Result<Self, YamnetError> {
        let convs = ops(g, "CONV_2D");
        let depthwise = ops(g, "DEPTHWISE_CONV_2D");
        if convs.len() != depthwise.len() + 1 || depthwise.is_empty() {
            return Err(YamnetError::format(g.path(), "expected a stem CONV_2D and depthwise/pointwise pairs"));
        }
        let stem = conv3x3(g, convs[0], 1, device)?;
        let mut blocks = Vec::with_capacity(depthwise.len());
        for (dw, pw) in depthwise.iter().zip(&convs[1..]) {
            let channels = g.shape(dw.outputs[0])?[3];
            let depthwise = conv3x3(g, dw, channels, device)?;
            let w = pw.inputs[1];
            let [out, _, _, inp] = dims4(g, w)?;
            if !g.is_int8(w)? || inp > MAX_EXACT_REDUCTION {
                return Err(YamnetError::format(g.path(), format!("pointwise weight {w} is not a short int8 1x1 kernel")));
            }
            let bias = g.constant(pw.inputs[2])?;
            let pointwise = HybridPointwise::new(&g.quantized(w)?, [out, inp], &bias, precision, device);
            blocks.push(SeparableBlock { depthwise, pointwise });
        }
        let dense = *ops(g, "FULLY_CONNECTED").last().expect("checked by the front end");
        let classifier = linear(g, dense, [c.num_classes, c.embedding_dim], precision, device)?;
        Ok(Self { stem, blocks, classifier })
    }

    /// Log-mel patches [batch, 1, frames, mels] -> pooled embeddings [batch, 1024].
    pub fn embed(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = self.stem.forward(x);
        for block in &self.blocks {
            x = block.pointwise.forward(block.depthwise.forward(x));
        }
        let [n, c, h, w] = x.dims();
        x.reshape([n, c, h * w]).sum_dim(2).reshape([n, c]).div_scalar((h * w) as f32)
    }

    /// Embeddings -> logits [batch, 521].
    pub fn classify(&self, embedding: Tensor<2>) -> Tensor<2> {
        self.classifier.forward(embedding)
    }
}

fn ops<'a>(g: &'a Graph, kind: &str) -> Vec<&'a Op> {
    g.ops.iter().filter(|o| o.op == kind).collect()
}

fn find<'a>(g: &'a Graph, kind: &str) -> Result<&'a Op, YamnetError> {
    g.ops.iter().find(|o| o.op == kind).ok_or_else(|| YamnetError::format(g.path(), format!("no {kind} operator")))
}

fn dims4(g: &Graph, idx: i64) -> Result<[usize; 4], YamnetError> {
    let s = g.shape(idx)?;
    s.clone().try_into().map_err(|_| YamnetError::format(g.path(), format!("tensor {idx} has shape {s:?}, expected 4-D")))
}

/// A FULLY_CONNECTED op with int8 weights `[out, in]` and an optional float bias.
fn linear(g: &Graph, op: &Op, shape: [usize; 2], precision: Precision, device: &Device) -> Result<HybridLinear, YamnetError> {
    let w = op.inputs[1];
    if g.shape(w)? != shape || !g.is_int8(w)? || shape[1] > MAX_EXACT_REDUCTION {
        return Err(YamnetError::format(g.path(), format!("dense weight {w} is not an int8 {shape:?} matrix")));
    }
    let bias = match op.inputs.get(2) {
        Some(&b) if b >= 0 => Some(g.constant(b)?),
        _ => None,
    };
    Ok(HybridLinear::new(&g.quantized(w)?, shape, bias.as_deref(), precision, device))
}

/// The weight of `op`, following a DEQUANTIZE if the graph inserted one (int8 depthwise
/// weights: TF-Lite dequantizes them and runs the float kernel, so we use the float values).
fn conv_weight(g: &Graph, op: &Op) -> i64 {
    let w = op.inputs[1];
    g.ops.iter().find(|o| o.op == "DEQUANTIZE" && o.outputs[0] == w).map_or(w, |d| d.inputs[0])
}

/// A 3x3 convolution (`groups == 1`: OHWI weights) or depthwise convolution (1HWC weights)
/// with TF "SAME" padding; the stride comes from the listed input and output shapes.
fn conv3x3(g: &Graph, op: &Op, groups: usize, device: &Device) -> Result<Conv3x3, YamnetError> {
    let w = conv_weight(g, op);
    let [a, kh, kw, b] = dims4(g, w)?;
    let data = g.constant(w)?;
    // burn wants [out, in / groups, kh, kw].
    let (out, inp) = if groups == 1 { (a, b) } else { (b, 1) };
    let mut oihw = vec![0f32; data.len()];
    for o in 0..out {
        for i in 0..inp {
            for y in 0..kh {
                for x in 0..kw {
                    let src = if groups == 1 { ((o * kh + y) * kw + x) * inp + i } else { (y * kw + x) * out + o };
                    oihw[((o * inp + i) * kh + y) * kw + x] = data[src];
                }
            }
        }
    }
    let [_, in_h, in_w, _] = dims4(g, op.inputs[0])?;
    let [_, out_h, out_w, _] = dims4(g, op.outputs[0])?;
    let (sh, ph) = same_padding(in_h, out_h, kh).ok_or_else(|| YamnetError::format(g.path(), "unsupported conv geometry"))?;
    let (sw, pw) = same_padding(in_w, out_w, kw).ok_or_else(|| YamnetError::format(g.path(), "unsupported conv geometry"))?;
    let bias = g.constant(op.inputs[2])?;
    Ok(Conv3x3 {
        weight: Tensor::<4>::from_data(TensorData::new(oihw, [out, inp, kh, kw]), device),
        bias: Tensor::<1>::from_data(TensorData::new(bias.clone(), [bias.len()]), device),
        options: ConvOptions::new_with_padding([sh, sw], [ph, pw], [1, 1], groups),
    })
}

/// The stride giving `out = ceil(in / stride)` and TF's SAME padding (extra row at the end).
fn same_padding(input: usize, output: usize, kernel: usize) -> Option<(usize, (usize, usize))> {
    let stride = (1..=kernel).find(|s| input.div_ceil(*s) == output)?;
    let total = ((output - 1) * stride + kernel).saturating_sub(input);
    Some((stride, (total / 2, total - total / 2)))
}

/// The graph frames the waveform by gathering 5 chunks of 80 samples every 2 chunks; check that
/// this is the configured window and hop.
fn check_framing(g: &Graph, c: &YamnetConfig) -> Result<(), YamnetError> {
    let gather = find(g, "GATHER")?;
    let [_, chunk] = g.shape(gather.inputs[0])?.try_into().unwrap_or([0, 0]);
    let idx = g.int_constant(gather.inputs[1])?;
    let per_frame = c.window / chunk.max(1);
    let ok = chunk > 0
        && per_frame * chunk == c.window
        && idx.len() == c.patch_frames * per_frame
        && idx.iter().enumerate().all(|(k, &v)| v as usize * chunk == (k / per_frame) * c.hop + (k % per_frame) * chunk);
    if ok { Ok(()) } else { Err(YamnetError::format(g.path(), "framing does not match YAMNet's 25 ms / 10 ms frames")) }
}
