//! The synchronization backbone (SALSA-V's role for Synchformer): a small video encoder over
//! 25 fps frames at reduced resolution and an audio encoder over the matching mel frames, trained
//! from scratch with InfoNCE (see [`crate::sync_train`]) so that a window of video and the audio
//! of the same time range embed together.
//!
//! Geometry: a window is 16 video frames (0.64 s at 25 fps) and the 64 mel frames of the same
//! range (hop 10 ms, so one video frame = 4 mel frames and a 40 ms shift is a whole number of
//! frames on both sides). Both encoders emit 8 time-aligned tokens per window; over a clip the
//! video tokens are taken in Synchformer's segments (16 frames, stride 8), 24 tokens per second,
//! exactly `SequenceConfig::sync_seq_len()` of them: that is the generator's sync condition.

use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv1d, Conv1dConfig, Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig, PaddingConfig1d, PaddingConfig2d};
use burn::prelude::*;
use burn::store::{FloatCastAdapter, ModuleSnapshot, SafetensorsStore};
use burn::tensor::DType;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use foley_kernels::conv::gelu;
use foley_kernels::conv::{Activation, bias_act};
use foley_kernels::flex::flex_primitive;
use foley_kernels::im2col::{BatchedConv, Nhwc};
use foley_seq::{LogBase, MelConfig, SequenceConfig};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The sync encoder's own mel geometry: 16 kHz, 10 ms hop, 64 Slaney mels, log10.
pub const SYNC_MEL: MelConfig =
    MelConfig { sample_rate: 16_000, n_fft: 512, hop: 160, win_length: 512, n_mels: 64, f_min: 0.0, f_max: 8_000.0, log_base: LogBase::Ten, clamp_min: 1e-5 };

/// Hyper-parameters of the sync backbone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SyncConfig {
    /// Frames are `frame_size x frame_size` RGB (plus their difference to the previous frame).
    pub frame_size: usize,
    /// Video frames per window (Synchformer's segment).
    pub window_frames: usize,
    /// Mel frames per video frame (25 fps video, 100 fps mel).
    pub mels_per_frame: usize,
    /// Tokens per window on both sides.
    pub tokens_per_window: usize,
    /// Token width.
    pub dim: usize,
    /// Width of the contrastive embedding.
    pub embed_dim: usize,
    /// Residual temporal blocks on each side.
    pub depth: usize,
    /// InfoNCE temperature.
    pub temperature: f64,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self { frame_size: 32, window_frames: 16, mels_per_frame: 4, tokens_per_window: 8, dim: 128, embed_dim: 128, depth: 2, temperature: 0.1 }
    }
}

impl SyncConfig {
    /// Input channels of a frame: RGB and RGB minus the previous frame (motion).
    pub const FRAME_CHANNELS: usize = 6;

    /// Mel frames per window.
    pub fn window_mels(&self) -> usize {
        self.window_frames * self.mels_per_frame
    }
}

/// Residual temporal block on `[b, c, t]`: LayerNorm over channels, conv k3, GELU.
#[derive(Module, Debug)]
pub struct TemporalBlock {
    norm: LayerNorm,
    conv: Conv1d,
}

impl TemporalBlock {
    fn new(dim: usize, device: &Device) -> Self {
        Self { norm: LayerNormConfig::new(dim).init(device), conv: Conv1dConfig::new(dim, dim, 3).with_padding(PaddingConfig1d::Same).init(device) }
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h = self.norm.forward(x.clone().swap_dims(1, 2)).swap_dims(1, 2);
        x + gelu(self.conv.forward(h))
    }

    /// [`forward`](Self::forward) on channels-last `[b, t, c]` in inference: the norm over each
    /// row, the convolution over time as 1-row images (both cores, GELU fused); `None` under
    /// autodiff.
    fn forward_channels_last(&self, x: Tensor<3>) -> Option<Tensor<3>> {
        let [b, t, c] = x.dims();
        let h = Nhwc::from_channels_last(&self.norm.forward(x.clone()).reshape([b, 1, t, c]))?;
        let conv = BatchedConv { stride: 1, padding: [0, self.conv.kernel_size / 2] };
        let y = conv.forward(&h, &self.conv.weight.val().unsqueeze_dim(2), self.conv.bias.as_ref().map(Param::val).as_ref(), Activation::Gelu)?;
        Some(x + y.into_channels_last().reshape([b, t, c]))
    }
}

/// Zero padding of the stem's 3x3 convolutions, on every side.
const STEM_PAD: usize = 1;

/// Per-frame CNN: four stride-2 3x3 convolutions, then a linear map of the 4x4 grid to `dim`
/// (keeping where things are, which is what motion and contact show up in).
#[derive(Module, Debug)]
pub struct FrameStem {
    convs: Vec<Conv2d>,
    proj: Linear,
}

impl FrameStem {
    fn new(config: &SyncConfig, device: &Device) -> Self {
        let widths = [SyncConfig::FRAME_CHANNELS, 24, 48, 64, 64];
        let convs = widths
            .windows(2)
            .map(|w| {
                Conv2dConfig::new([w[0], w[1]], [3, 3])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(STEM_PAD, STEM_PAD, STEM_PAD, STEM_PAD))
                    .init(device)
            })
            .collect();
        let grid = config.frame_size / 16;
        Self { convs, proj: LinearConfig::new(64 * grid * grid, config.dim).init(device) }
    }

    /// `[n, 6, s, s]` -> `[n, dim]`.
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self.forward_channels_last(&x) {
            Some(features) => features,
            None => self.forward_burn(x),
        }
    }

    /// [`forward`](Self::forward) with burn's ops (under autodiff: training).
    fn forward_burn(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = x;
        for conv in &self.convs {
            let options = ConvOptions::new(conv.stride, [STEM_PAD; 2], conv.dilation, conv.groups);
            x = bias_act(conv2d(x, conv.weight.val(), None, options), conv.bias.as_ref().map(Param::val), None, Activation::Gelu);
        }
        self.proj.forward(x.flatten(1, 3))
    }

    /// Inference: all frames through each convolution as channels-last tiles over both cores,
    /// bias and GELU on the way out (burn convolves frame by frame, NCHW, and runs GELU on one
    /// thread). `None` when the fast path does not apply (autodiff).
    fn forward_channels_last(&self, x: &Tensor<4>) -> Option<Tensor<2>> {
        let mut x_last = Nhwc::from_nchw(x)?;
        for conv in &self.convs {
            let batched = BatchedConv { stride: conv.stride[0], padding: [STEM_PAD; 2] };
            x_last = batched.forward(&x_last, &conv.weight.val(), conv.bias.as_ref().map(Param::val).as_ref(), Activation::Gelu)?;
        }
        Some(self.proj.forward(x_last.into_nchw().flatten(1, 3)))
    }
}

/// Video side: frame stem, temporal blocks at 25 fps, stride-2 patching to tokens.
#[derive(Module, Debug)]
pub struct VideoEncoder {
    stem: FrameStem,
    blocks: Vec<TemporalBlock>,
    down: Conv1d,
    norm: LayerNorm,
}

impl VideoEncoder {
    fn new(config: &SyncConfig, device: &Device) -> Self {
        let stride = config.window_frames / config.tokens_per_window;
        Self {
            stem: FrameStem::new(config, device),
            blocks: (0..config.depth).map(|_| TemporalBlock::new(config.dim, device)).collect(),
            down: Conv1dConfig::new(config.dim, config.dim, stride).with_stride(stride).init(device),
            norm: LayerNormConfig::new(config.dim).init(device),
        }
    }

    /// `[b, t, 6, s, s]` -> tokens `[b, t / 2, dim]`.
    pub fn forward(&self, frames: Tensor<5>) -> Tensor<3> {
        let [b, t, c, h, w] = frames.dims();
        let x = self.frame_features(frames.reshape([b * t, c, h, w]));
        let [_, d] = x.dims();
        self.tokens(x.reshape([b, t, d]))
    }

    /// The stem alone, frame by frame: `[n, 6, s, s]` -> `[n, dim]`.
    pub fn frame_features(&self, frames: Tensor<4>) -> Tensor<2> {
        self.stem.forward(frames)
    }

    /// Windows of per-frame features `[b, t, dim]` -> tokens `[b, t / 2, dim]`.
    pub fn tokens(&self, per_frame: Tensor<3>) -> Tensor<3> {
        if flex_primitive(&per_frame).is_some()
            && let Some(tokens) = self.tokens_channels_last(per_frame.clone())
        {
            return tokens;
        }
        self.tokens_burn(per_frame)
    }

    /// Inference: the blocks and the patching channels-last (burn's 1-D convolutions go
    /// through its 3-D path, window by window); `None` under autodiff.
    fn tokens_channels_last(&self, per_frame: Tensor<3>) -> Option<Tensor<3>> {
        let mut x = per_frame;
        for block in &self.blocks {
            x = block.forward_channels_last(x)?;
        }
        let [b, t, c] = x.dims();
        let down = BatchedConv { stride: self.down.stride, padding: [0, 0] };
        let bias = self.down.bias.as_ref().map(Param::val);
        let y =
            down.forward(&Nhwc::from_channels_last(&x.reshape([b, 1, t, c]))?, &self.down.weight.val().unsqueeze_dim(2), bias.as_ref(), Activation::Identity)?;
        let [_, _, tokens, d] = y.dims();
        Some(self.norm.forward(y.into_channels_last().reshape([b, tokens, d])))
    }

    /// [`tokens`](Self::tokens) with burn's ops (training).
    fn tokens_burn(&self, per_frame: Tensor<3>) -> Tensor<3> {
        let mut x = per_frame.swap_dims(1, 2);
        for block in &self.blocks {
            x = block.forward(x);
        }
        self.norm.forward(self.down.forward(x).swap_dims(1, 2))
    }
}

/// Audio side: mel bands as channels, conv, temporal blocks at 100 fps, stride-8 patching.
#[derive(Module, Debug)]
pub struct AudioEncoder {
    input: Conv1d,
    blocks: Vec<TemporalBlock>,
    down: Conv1d,
    norm: LayerNorm,
}

impl AudioEncoder {
    fn new(config: &SyncConfig, device: &Device) -> Self {
        let stride = config.window_mels() / config.tokens_per_window;
        Self {
            input: Conv1dConfig::new(SYNC_MEL.n_mels, config.dim, 5).with_padding(PaddingConfig1d::Same).init(device),
            blocks: (0..config.depth).map(|_| TemporalBlock::new(config.dim, device)).collect(),
            down: Conv1dConfig::new(config.dim, config.dim, stride).with_stride(stride).init(device),
            norm: LayerNormConfig::new(config.dim).init(device),
        }
    }

    /// Log-mel `[b, n_mels, m]` -> tokens `[b, m / 8, dim]`.
    pub fn forward(&self, mel: Tensor<3>) -> Tensor<3> {
        let mut x = gelu(self.input.forward(mel));
        for block in &self.blocks {
            x = block.forward(x);
        }
        self.norm.forward(self.down.forward(x).swap_dims(1, 2))
    }
}

/// Both encoders and their contrastive heads.
#[derive(Module, Debug)]
pub struct SyncModel {
    pub video: VideoEncoder,
    pub audio: AudioEncoder,
    video_head: Linear,
    audio_head: Linear,
    /// Batch-normalized heads: removing the shared component of the embeddings is what lets
    /// InfoNCE start from scratch (untrained windows embed with cosines of 0.9999).
    video_head_norm: BatchNorm,
    audio_head_norm: BatchNorm,
    dim: usize,
}

/// L2-normalize the rows of `[n, d]`.
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powf_scalar(2.0).sum_dim(1).sqrt().clamp_min(1e-6);
    x.div(norm)
}

impl SyncModel {
    pub fn new(config: &SyncConfig, device: &Device) -> Self {
        Self {
            video: VideoEncoder::new(config, device),
            audio: AudioEncoder::new(config, device),
            video_head: LinearConfig::new(config.tokens_per_window * config.dim, config.embed_dim).init(device),
            audio_head: LinearConfig::new(config.tokens_per_window * config.dim, config.embed_dim).init(device),
            video_head_norm: BatchNormConfig::new(config.embed_dim).init(device),
            audio_head_norm: BatchNormConfig::new(config.embed_dim).init(device),
            dim: config.dim,
        }
    }

    /// Unit-norm window embedding `[b, e]` from video tokens `[b, k, dim]`. The tokens are
    /// concatenated, not pooled: where in the window an event happens is the sync signal.
    pub fn embed_video(&self, tokens: Tensor<3>) -> Tensor<2> {
        l2_normalize(self.video_head_norm.forward(self.video_head.forward(tokens.flatten(1, 2))))
    }

    /// Unit-norm window embedding `[b, e]` from audio tokens `[b, k, dim]` (concatenated).
    pub fn embed_audio(&self, tokens: Tensor<3>) -> Tensor<2> {
        l2_normalize(self.audio_head_norm.forward(self.audio_head.forward(tokens.flatten(1, 2))))
    }

    /// The generator's sync condition for a clip: `frames` is `[t, 6, s, s]` at 25 fps (see
    /// [`frame_input`]); returns `[seq.sync_seq_len(), dim]`, 8 tokens per 16-frame segment
    /// with stride 8, as Synchformer lays them out.
    pub fn clip_tokens(&self, frames: Tensor<4>, seq: &SequenceConfig) -> Tensor<2> {
        let segments = seq.sync_num_segments();
        let (per, step) = (seq.sync_num_frames_per_segment, seq.sync_step_size);
        let t = frames.dims()[0];
        assert!(seq.sync_frames_read() <= t, "{t} frames do not cover {segments} segments");
        if segments == 0 {
            return Tensor::zeros([0, self.dim], &frames.device());
        }
        // Segments overlap by half: the per-frame stem runs once per frame, not once per segment.
        let per_frame = self.video.frame_features(frames.narrow(0, 0, seq.sync_frames_read()));
        let windows: Vec<Tensor<2>> = (0..segments).map(|s| per_frame.clone().narrow(0, s * step, per)).collect();
        let tokens = self.video.tokens(Tensor::stack(windows, 0));
        let [_, k, d] = tokens.dims();
        tokens.reshape([segments * k, d])
    }
}

/// Scale of the frame-difference channels.
const MOTION_GAIN: f32 = 4.0;

impl SyncModel {
    /// Save the weights as f32 safetensors at `path` and the config beside it ([`config_path`]).
    pub fn save(&self, config: &SyncConfig, path: &Path) -> anyhow::Result<()> {
        self.save_as(config, path, DType::F32)
    }

    /// [`save`](Self::save) with the weights stored as `dtype` (f16 for the shipped model).
    /// Both files are written to temporary names in the same directory and renamed into place,
    /// so an interrupted save never leaves a half-written checkpoint.
    pub fn save_as(&self, config: &SyncConfig, path: &Path, dtype: DType) -> anyhow::Result<()> {
        let weights_tmp = tmp_sibling(path);
        let json = config_path(path);
        let json_tmp = tmp_sibling(&json);
        let mut store = SafetensorsStore::from_file(&weights_tmp).overwrite(true).with_to_adapter(FloatCastAdapter::to(dtype));
        self.save_into(&mut store).map_err(|e| anyhow::anyhow!("saving sync model to {}: {e}", path.display()))?;
        std::fs::write(&json_tmp, serde_json::to_string_pretty(config)?).with_context(|| format!("writing {}", json_tmp.display()))?;
        std::fs::rename(&weights_tmp, path).with_context(|| format!("renaming {} to {}", weights_tmp.display(), path.display()))?;
        std::fs::rename(&json_tmp, &json).with_context(|| format!("renaming {} to {}", json_tmp.display(), json.display()))?;
        Ok(())
    }

    /// Load a model saved by [`SyncModel::save`] (f32 or f16 weights, computed in f32), in
    /// inference mode. The config is `<stem>.json`, or `<path>.json` as older runs named it.
    pub fn load(path: &Path, device: &Device) -> anyhow::Result<(Self, SyncConfig)> {
        let config = Self::read_config(path)?;
        let model = Self::new(&config, device).with_weights(path)?;
        Ok((model.valid(), config))
    }

    /// The [`SyncConfig`] saved beside the weights at `path`.
    pub fn read_config(path: &Path) -> anyhow::Result<SyncConfig> {
        if !path.is_file() {
            anyhow::bail!("sync model {} does not exist", path.display());
        }
        let json = [config_path(path), legacy_config_path(path)].into_iter().find(|p| p.is_file()).unwrap_or_else(|| config_path(path));
        let bytes = std::fs::read(&json).with_context(|| format!("reading {} (the config of sync model {})", json.display(), path.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", json.display()))
    }

    /// This model (of the saved config) with the weights at `path`, keeping its device and
    /// autodiff state (so a trainable model stays trainable).
    pub fn with_weights(mut self, path: &Path) -> anyhow::Result<Self> {
        let mut store = SafetensorsStore::from_file(path).with_from_adapter(FloatCastAdapter::to(DType::F32));
        self.load_from(&mut store).map_err(|e| anyhow::anyhow!("loading sync model from {}: {e}", path.display()))?;
        Ok(self)
    }
}

/// The config file of the weights at `path`: `sync.safetensors` -> `sync.json`.
pub fn config_path(weights: &Path) -> PathBuf {
    weights.with_extension("json")
}

/// `<path>.json`, the config name of checkpoints saved before [`config_path`].
fn legacy_config_path(weights: &Path) -> PathBuf {
    let mut name = weights.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

/// Environment variable naming the sync model to use instead of the shipped one.
pub const SYNC_MODEL_ENV: &str = "FOLEY_SYNC_MODEL";

/// The shipped sync backbone: `$FOLEY_SYNC_MODEL` if set, else `models/sync/sync.safetensors`
/// of the source tree this crate was built from (trained by `foley train sync`, see
/// `models/README.md`).
pub fn default_model_path() -> PathBuf {
    match std::env::var_os(SYNC_MODEL_ENV) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        // crates/foley-encoders -> the repository root.
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap_or(Path::new(".")).join("models/sync/sync.safetensors"),
    }
}

/// The sync model a command should use: `explicit` if given, else [`default_model_path`] if
/// that file exists (when `$FOLEY_SYNC_MODEL` is set, it must). `None`: no model available.
pub fn resolve_model_path(explicit: Option<&Path>) -> anyhow::Result<Option<PathBuf>> {
    let path = explicit.map(Path::to_path_buf).unwrap_or_else(default_model_path);
    if path.is_file() {
        return Ok(Some(path));
    }
    if explicit.is_some() || std::env::var_os(SYNC_MODEL_ENV).is_some_and(|p| !p.is_empty()) {
        anyhow::bail!("sync model {} does not exist", path.display());
    }
    Ok(None)
}

/// `<path>.tmp` next to `path` (same directory, so the final rename is atomic).
fn tmp_sibling(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Pack RGB8 frames (`size x size`, 25 fps, consecutive) as the video encoder's input
/// `[t, 6, size, size]`: RGB in [-1, 1] and 4x the difference to the previous frame (0 for the
/// first). The buffer is channels-last (a permuted view), which the inference stem reads as is.
pub fn frame_input(frames: &[&[u8]], size: usize, device: &Device) -> Tensor<4> {
    let data = pack_frames(frames, None, size);
    Tensor::<4>::from_data(TensorData::new(data, [frames.len(), size, size, SyncConfig::FRAME_CHANNELS]), device).permute([0, 3, 1, 2])
}

/// Channels-last `[t, size, size, 6]` values of consecutive RGB8 frames; `prev` is the frame
/// before the first (the first frame's difference is 0 without it).
pub(crate) fn pack_frames(frames: &[&[u8]], prev: Option<&[u8]>, size: usize) -> Vec<f32> {
    let pixels = 3 * size * size;
    let mut data = vec![0f32; frames.len() * 2 * pixels];
    data.par_chunks_mut(2 * pixels).enumerate().for_each(|(k, out)| {
        let frame = frames[k];
        assert_eq!(frame.len(), pixels, "expected {size}x{size} RGB8 frames");
        let before = if k > 0 { frames[k - 1] } else { prev.unwrap_or(frame) };
        for ((out, rgb), before) in out.chunks_exact_mut(6).zip(frame.chunks_exact(3)).zip(before.chunks_exact(3)) {
            for c in 0..3 {
                let v = rgb[c] as f32 / 255.0;
                out[c] = 2.0 * v - 1.0;
                // Frame differences are small and sparse; amplify them to the scale of the pixels.
                out[3 + c] = MOTION_GAIN * (v - before[c] as f32 / 255.0);
            }
        }
    });
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(fast: Tensor<2>, burn: Tensor<2>, what: &str) {
        let (fast, burn) = (fast.into_data().try_to_vec::<f32>().unwrap(), burn.into_data().try_to_vec::<f32>().unwrap());
        assert_eq!(fast.len(), burn.len(), "{what}");
        let scale = burn.iter().fold(1f32, |m, v| m.max(v.abs()));
        let worst = fast.iter().zip(&burn).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max) / scale;
        assert!(worst < 1e-5, "{what}: channels-last differs from burn's ops by {worst}");
    }

    /// The inference paths (channels-last stem and temporal blocks) give what burn's ops (the
    /// training path) give, on a randomly initialized model.
    #[test]
    fn channels_last_paths_match_burn_ops() {
        let device = Device::flex();
        let config = SyncConfig::default();
        let model = SyncModel::new(&config, &device);
        let s = config.frame_size;
        let frames: Vec<Vec<u8>> = (0..20u32).map(|k| (0..3 * s * s).map(|i| ((i as u32 * 7 + k * 13) % 251) as u8).collect()).collect();
        let rgb: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let input = frame_input(&rgb, s, &device);
        let stem = &model.video.stem;
        close(stem.forward_channels_last(&input).expect("flex inference"), stem.forward_burn(input.clone()), "stem");
        let per_frame = stem.forward(input).narrow(0, 0, 16).reshape([1, 16, config.dim]);
        let per_frame = Tensor::cat(vec![per_frame.clone(), per_frame.flip([1])], 0);
        let fast = model.video.tokens_channels_last(per_frame.clone()).expect("flex inference");
        close(fast.flatten(0, 1), model.video.tokens_burn(per_frame).flatten(0, 1), "tokens");
    }
}
