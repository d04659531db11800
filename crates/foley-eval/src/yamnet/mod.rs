//! YAMNet (Plakal & Ellis, TensorFlow models; MobileNet-v1 on log-mel patches, 521 AudioSet
//! classes) in burn, from the released TF-Lite file's constants and operator listing.
//!
//! The network, as the TF-Lite graph runs it on one 0.975 s patch (15,600 samples at 16 kHz):
//!
//! * front end: 96 frames of 400 samples every 160, periodic Hann window, centred in 512 zeros,
//!   `|DFT|` as two int8 matmuls (real, imaginary) + `sqrt(re² + im²)`, a 64-band mel matmul whose
//!   bias is the log offset 0.001, natural log -> the 96x64 log-mel patch;
//! * body: a float 3x3/2 convolution, then 13 depthwise-separable blocks (float depthwise 3x3,
//!   int8 pointwise 1x1), each with folded batch norm and ReLU;
//! * head: global average pool (the 1024-d embedding), int8 dense layer, logistic.
//!
//! [`Precision::TfliteHybrid`] reproduces TF-Lite's hybrid int8 kernels bit for bit (see
//! [`hybrid`]); [`Precision::Float`] runs the same graph in plain f32 with dequantized weights.

pub mod graph;
pub mod hybrid;
mod layers;

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::activation::sigmoid;

pub use hybrid::{Precision, QuantizedWeight};
use layers::{FrontEnd, Network};

/// Errors from loading or running YAMNet.
#[derive(Debug, thiserror::Error)]
pub enum YamnetError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {detail}")]
    Format { path: PathBuf, detail: String },
}

impl YamnetError {
    pub(crate) fn format(path: &Path, detail: impl Into<String>) -> Self {
        Self::Format { path: path.into(), detail: detail.into() }
    }
}

/// YAMNet's fixed geometry (the released model's `params.py`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct YamnetConfig {
    pub sample_rate: u32,
    /// STFT window in samples (25 ms).
    pub window: usize,
    /// STFT hop in samples (10 ms).
    pub hop: usize,
    pub fft: usize,
    pub mel_bins: usize,
    /// Frames per patch (0.96 s).
    pub patch_frames: usize,
    /// Hop between patches in frames (0.48 s).
    pub patch_hop_frames: usize,
    pub num_classes: usize,
    pub embedding_dim: usize,
}

impl YamnetConfig {
    pub const YAMNET: YamnetConfig = YamnetConfig {
        sample_rate: 16_000,
        window: 400,
        hop: 160,
        fft: 512,
        mel_bins: 64,
        patch_frames: 96,
        patch_hop_frames: 48,
        num_classes: 521,
        embedding_dim: 1024,
    };

    /// Samples in one patch: the TF-Lite model's input length (15,600).
    pub fn patch_samples(&self) -> usize {
        self.window + (self.patch_frames - 1) * self.hop
    }

    /// Samples between consecutive patches (7,680).
    pub fn patch_hop_samples(&self) -> usize {
        self.patch_hop_frames * self.hop
    }

    /// Number of patches for `len` samples, after YAMNet's own padding (`features.pad_waveform`):
    /// at least one patch, and the tail padded up to a whole patch hop.
    pub fn num_patches(&self, len: usize) -> usize {
        1 + len.saturating_sub(self.patch_samples()).div_ceil(self.patch_hop_samples())
    }
}

/// YAMNet outputs for a batch of patches.
#[derive(Debug, Clone)]
pub struct YamnetOutput {
    /// [batch, 96, 64] log-mel patches.
    pub log_mel: Tensor<3>,
    /// [batch, 1024] pooled embeddings.
    pub embedding: Tensor<2>,
    /// [batch, 521] classifier outputs before the logistic.
    pub logits: Tensor<2>,
    /// [batch, 521] class scores (sigmoid).
    pub scores: Tensor<2>,
}

/// Per-patch YAMNet results for one waveform, as plain vectors.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// Start time of each patch in seconds.
    pub patch_times: Vec<f64>,
    pub embeddings: Vec<Vec<f32>>,
    pub logits: Vec<Vec<f32>>,
    pub scores: Vec<Vec<f32>>,
}

/// The YAMNet classifier.
pub struct Yamnet {
    config: YamnetConfig,
    front: FrontEnd,
    network: Network,
    class_names: Vec<String>,
    device: Device,
}

/// Patches evaluated per forward pass in [`Yamnet::analyze`].
const PATCH_BATCH: usize = 16;

impl Yamnet {
    /// Loads YAMNet from a directory holding `graph.json`, `yamnet_constants.safetensors` and
    /// `yamnet_class_map.csv`.
    pub fn load(dir: &Path, precision: Precision, device: &Device) -> Result<Self, YamnetError> {
        let config = YamnetConfig::YAMNET;
        let graph = graph::Graph::load(dir)?;
        let front = FrontEnd::from_graph(&graph, &config, precision, device)?;
        let network = Network::from_graph(&graph, &config, precision, device)?;
        let class_names = load_class_map(&dir.join("yamnet_class_map.csv"), config.num_classes)?;
        Ok(Self { config, front, network, class_names, device: device.clone() })
    }

    pub fn config(&self) -> &YamnetConfig {
        &self.config
    }

    /// AudioSet display names, by class index.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// Runs patches of exactly [`YamnetConfig::patch_samples`] samples each ([batch, 15600]).
    pub fn forward(&self, patches: Tensor<2>) -> YamnetOutput {
        let [n, len] = patches.dims();
        assert_eq!(len, self.config.patch_samples(), "YAMNet patches are {} samples", self.config.patch_samples());
        let c = &self.config;
        // Frame every patch: frame f of patch p starts at sample f * hop (TF-Lite's GATHER).
        let frames: Vec<Tensor<2>> = (0..c.patch_frames).map(|f| patches.clone().slice([0..n, f * c.hop..f * c.hop + c.window])).collect();
        let frames = Tensor::stack::<3>(frames, 1).reshape([n * c.patch_frames, c.window]);
        let log_mel = self.front.forward(frames);
        let x = log_mel.clone().reshape([n, 1, c.patch_frames, c.mel_bins]);
        let embedding = self.network.embed(x);
        let logits = self.network.classify(embedding.clone());
        YamnetOutput { log_mel: log_mel.reshape([n, c.patch_frames, c.mel_bins]), embedding, scores: sigmoid(logits.clone()), logits }
    }

    /// Classifier logits of one embedding (e.g. a clip's mean patch embedding).
    pub fn classify(&self, embedding: &[f32]) -> Vec<f32> {
        let x = Tensor::<2>::from_data(TensorData::new(embedding.to_vec(), [1, embedding.len()]), &self.device);
        rows(self.network.classify(x)).remove(0)
    }

    /// Splits a 16 kHz waveform into YAMNet's 0.975 s patches every 0.48 s (zero-padded like
    /// YAMNet's `pad_waveform`) and runs them all.
    pub fn analyze(&self, waveform: &[f32]) -> Analysis {
        let c = &self.config;
        let (len, hop) = (c.patch_samples(), c.patch_hop_samples());
        let total = c.num_patches(waveform.len());
        let mut out = Analysis::default();
        for start in (0..total).step_by(PATCH_BATCH) {
            let count = PATCH_BATCH.min(total - start);
            let mut data = vec![0f32; count * len];
            for (i, row) in data.chunks_mut(len).enumerate() {
                let from = (start + i) * hop;
                let avail = waveform.len().saturating_sub(from).min(len);
                row[..avail].copy_from_slice(&waveform[from..from + avail]);
                out.patch_times.push(from as f64 / c.sample_rate as f64);
            }
            let patches = Tensor::<2>::from_data(TensorData::new(data, [count, len]), &self.device);
            let y = self.forward(patches);
            out.embeddings.extend(rows(y.embedding));
            out.logits.extend(rows(y.logits));
            out.scores.extend(rows(y.scores));
        }
        out
    }
}

/// The rows of a 2-D tensor as vectors.
pub(crate) fn rows(t: Tensor<2>) -> Vec<Vec<f32>> {
    let [_, cols] = t.dims();
    let data = t.into_data().try_into_vec::<f32>().expect("f32 tensor");
    data.chunks(cols.max(1)).map(<[f32]>::to_vec).collect()
}

/// Reads `index,mid,display_name` rows (display names may be quoted and contain commas).
fn load_class_map(path: &Path, expected: usize) -> Result<Vec<String>, YamnetError> {
    let text = std::fs::read_to_string(path).map_err(|e| YamnetError::Io { path: path.into(), source: e })?;
    let mut names = Vec::with_capacity(expected);
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let mut fields = line.splitn(3, ',');
        let (Some(_), Some(_), Some(name)) = (fields.next(), fields.next(), fields.next()) else {
            return Err(YamnetError::format(path, format!("malformed class row {line:?}")));
        };
        names.push(name.trim().trim_matches('"').to_string());
    }
    if names.len() != expected {
        return Err(YamnetError::format(path, format!("{} classes, expected {expected}", names.len())));
    }
    Ok(names)
}
