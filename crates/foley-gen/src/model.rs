//! A trained generator: the flow network (f16 safetensors) and what it needs beside its
//! weights (JSON next to them): configuration, mel statistics, empty-text features.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::module::Module;
use burn::store::{FloatCastAdapter, ModuleSnapshot, SafetensorsStore};
use burn::tensor::{DType, Device, Tensor, TensorData};
use foley_flow::{Conditions, FlowConfig, FlowNetwork};
use foley_seq::SequenceConfig;
use serde::{Deserialize, Serialize};

use crate::config::InitScheme;
use crate::data::{MelStats, with_positional};
use crate::envelope::{ENVELOPE_DIM, EnvelopePredictor, EnvelopeStats, append_columns, predictor_input};
use crate::features::VideoStats;
use crate::generate::VideoFeatures;

/// Everything about a generator except its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenMeta {
    pub flow: FlowConfig,
    /// Trained window, seconds: the longest clip generated in one pass.
    pub duration: f64,
    pub stats: MelStats,
    /// Sinusoidal time channels appended to the semantic features.
    pub positional_channels: usize,
    /// `[text_seq_len, 384]` MiniLM token states of the empty string (unconditional text).
    pub empty_text: Vec<f32>,
    /// Standardization of the video features the network was trained with (`None`: raw).
    #[serde(default)]
    pub video_stats: Option<VideoStats>,
    /// With a timing envelope in the sync stream: its standardization (the last
    /// `ENVELOPE_DIM` sync channels are the envelope).
    #[serde(default)]
    pub envelope: Option<EnvelopeStats>,
    #[serde(default)]
    pub training: Option<TrainingSummary>,
}

/// How a generator was trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    pub steps: usize,
    pub parameters: usize,
    pub wall_seconds: f64,
    /// Mean loss over the last 100 steps.
    pub final_loss: f64,
    pub clips: usize,
    /// The run's TOML.
    pub config: String,
}

/// The flow network with its metadata.
#[derive(Debug, Clone)]
pub struct Generator {
    pub net: FlowNetwork,
    pub meta: GenMeta,
    /// Video -> timing envelope, for generators trained with one (`None` until trained).
    pub envelope: Option<EnvelopePredictor>,
}

/// `<weights stem>.json` beside the weights.
pub fn meta_path(weights: &Path) -> PathBuf {
    weights.with_extension("json")
}

/// `<weights stem>.envelope.safetensors` beside the weights: the envelope predictor.
pub fn envelope_path(weights: &Path) -> PathBuf {
    weights.with_extension("envelope.safetensors")
}

impl Generator {
    /// A freshly initialized network (deterministic in `seed`).
    pub fn init(meta: GenMeta, seed: u64, scheme: InitScheme, device: &Device) -> Result<Self> {
        let mut net = match scheme {
            InitScheme::FanIn => FlowNetwork::random(&meta.flow, seed, device)?,
            InitScheme::Mmaudio => FlowNetwork::for_training(&meta.flow, seed, device)?,
        };
        net.empty_string_feat = empty_text_tensor(&meta, device);
        Ok(Self { net, meta, envelope: None })
    }

    /// Sequence geometry of the trained window.
    pub fn sequence(&self) -> SequenceConfig {
        Self::sequence_of(self.meta.duration)
    }

    /// The sequence of a foley generator's window of `duration` seconds (its rates are known
    /// before any weights load).
    pub fn sequence_of(duration: f64) -> SequenceConfig {
        SequenceConfig::mmaudio_16k(duration)
    }

    /// Number of trained parameters.
    pub fn num_params(&self) -> usize {
        self.net.num_params()
    }

    /// Save weights as `dtype` safetensors at `path` and the metadata beside it (`gen.json` for `gen.safetensors`), each
    /// through a temporary file renamed into place.
    pub fn save(&self, path: &Path, dtype: DType) -> Result<()> {
        let tmp = stage_safetensors(&self.net, path, dtype)?;
        let meta = meta_path(path);
        let meta_tmp = tempfile::Builder::new().prefix(".gen-").suffix(".json").tempfile_in(path.parent().unwrap_or(Path::new(".")))?;
        std::fs::write(meta_tmp.path(), serde_json::to_string(&self.meta)?)?;
        tmp.persist(path).with_context(|| format!("writing {}", path.display()))?;
        meta_tmp.persist(&meta).with_context(|| format!("writing {}", meta.display()))?;
        Ok(())
    }

    /// Load a generator saved by [`save`](Self::save) (computed in f32, inference mode).
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        anyhow::ensure!(path.is_file(), "generator weights {} do not exist", path.display());
        let meta_file = meta_path(path);
        let meta: GenMeta = serde_json::from_slice(&std::fs::read(&meta_file).with_context(|| format!("reading {}", meta_file.display()))?)
            .with_context(|| format!("parsing {}", meta_file.display()))?;
        let mut net = FlowNetwork::random(&meta.flow, 0, device)?;
        load_safetensors(&mut net, path)?;
        net.empty_string_feat = empty_text_tensor(&meta, device);
        let predictor = envelope_path(path);
        let envelope =
            if meta.envelope.is_some() && predictor.is_file() { Some(load_predictor(&predictor, &meta.flow, meta.positional_channels, device)?) } else { None };
        Ok(Self { net: net.valid(), meta, envelope })
    }

    /// Width of the sync backbone's tokens (the sync stream without the envelope channels).
    pub fn backbone_sync_dim(&self) -> usize {
        self.meta.flow.sync_dim - if self.meta.envelope.is_some() { ENVELOPE_DIM } else { 0 }
    }

    /// Conditions of one clip's raw video features (`[clip_seq_len, 1280]` semantic,
    /// `[sync_seq_len, backbone_sync_dim]` sync) and `[text_seq_len, 384]` text states, repeated
    /// `batch` times: standardized with the training statistics, positional channels appended,
    /// the timing envelope appended (for generators trained with one: `video.envelope` if given,
    /// else the predictor's), the video replaced by the learned empty features when
    /// `drop_video`. The network's sequence lengths must already be those of the window.
    pub fn video_conditions(&self, video: &VideoFeatures, text: &[f32], drop_video: bool, batch: usize) -> Result<Conditions> {
        let (semantic, sync) = (&video.semantic, &video.sync);
        let f = &self.net.config;
        let sem_dim = f.clip_dim - self.meta.positional_channels;
        let sync_dim = self.backbone_sync_dim();
        anyhow::ensure!(
            semantic.len() == f.clip_seq_len * sem_dim && sync.len() == f.sync_seq_len * sync_dim && text.len() == f.text_seq_len * f.text_dim,
            "video / text features do not match the network's window ({} semantic frames, {} sync tokens, {} text tokens)",
            f.clip_seq_len,
            f.sync_seq_len,
            f.text_seq_len
        );
        let (mut semantic, mut sync) = (semantic.to_vec(), sync.to_vec());
        if let Some(stats) = &self.meta.video_stats {
            stats.apply(&mut semantic, &mut sync);
        }
        if let Some(stats) = &self.meta.envelope {
            let env = match &video.envelope {
                Some(raw) => {
                    anyhow::ensure!(
                        raw.len() == f.sync_seq_len * ENVELOPE_DIM,
                        "the envelope has {} values, the window needs {}",
                        raw.len(),
                        f.sync_seq_len * ENVELOPE_DIM
                    );
                    let mut env = raw.to_vec();
                    stats.apply(&mut env);
                    env
                }
                None => self.predict_envelope(&semantic, &sync)?,
            };
            sync = append_columns(&sync, sync_dim, &env, ENVELOPE_DIM);
        }
        let clip = with_positional(&semantic, sem_dim, self.sequence().clip_frame_rate, self.meta.positional_channels);
        let device = self.net.device();
        let t3 = |v: Vec<f32>, d: [usize; 3]| Tensor::<3>::from_data(TensorData::new(v.repeat(batch), [batch, d[1], d[2]]), &device);
        let drop = Tensor::from_data(TensorData::new(vec![if drop_video { 1.0f32 } else { 0.0 }; batch], [batch]), &device);
        self.conditions(
            t3(clip, [batch, f.clip_seq_len, f.clip_dim]),
            t3(sync, [batch, f.sync_seq_len, f.sync_dim]),
            t3(text.to_vec(), [batch, f.text_seq_len, f.text_dim]),
            drop,
        )
    }

    /// The standardized envelope `[sync_seq_len, ENVELOPE_DIM]` the predictor gives for raw
    /// video features (as [`video_conditions`](Self::video_conditions) takes them).
    pub fn predicted_envelope(&self, video: &VideoFeatures) -> Result<Vec<f32>> {
        let (mut semantic, mut sync) = (video.semantic.clone(), video.sync.clone());
        if let Some(stats) = &self.meta.video_stats {
            stats.apply(&mut semantic, &mut sync);
        }
        self.predict_envelope(&semantic, &sync)
    }

    /// The standardized envelope predicted from standardized semantic and sync features.
    fn predict_envelope(&self, semantic: &[f32], sync: &[f32]) -> Result<Vec<f32>> {
        let predictor = self.envelope.as_ref().context("this generator is conditioned on a timing envelope but has no envelope predictor beside its weights (`<name>.envelope.safetensors`); train one with `foley train envelope CONFIG.toml`")?;
        let sem_dim = self.meta.flow.clip_dim - self.meta.positional_channels;
        let sync_dim = self.backbone_sync_dim();
        // The window's own token count: the network's lengths may still be another window's.
        let tokens = sync.len() / sync_dim;
        let input = predictor_input(semantic, sem_dim, sync, sync_dim);
        let width = input.len() / tokens;
        let x = Tensor::<3>::from_data(TensorData::new(input, [1, tokens, width]), &self.net.device());
        predictor.forward(x).into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))
    }

    /// Conditions with per-example CFG dropout: where `video_drop` is 1 the semantic and sync
    /// streams are replaced by the learned empty features (inside the graph, so they train).
    pub fn conditions(&self, clip: Tensor<3>, sync: Tensor<3>, text: Tensor<3>, video_drop: Tensor<1>) -> Result<Conditions> {
        Ok(conditions(&self.net, clip, sync, text, video_drop)?)
    }
}

/// See [`Generator::conditions`].
pub fn conditions(net: &FlowNetwork, clip: Tensor<3>, sync: Tensor<3>, text: Tensor<3>, video_drop: Tensor<1>) -> Result<Conditions, foley_flow::FlowError> {
    let [b, nc, dc] = clip.dims();
    let [_, ns, ds] = sync.dims();
    let d: Tensor<3> = video_drop.reshape([b, 1, 1]);
    let keep = d.clone().neg().add_scalar(1.0);
    let empty_clip = net.empty_clip_feat.val().unsqueeze_dim::<3>(0).expand([b, nc, dc]);
    let empty_sync = net.empty_sync_feat.val().unsqueeze_dim::<3>(0).expand([b, ns, ds]);
    let clip = clip * keep.clone() + empty_clip * d.clone();
    let sync = sync * keep + empty_sync * d;
    net.preprocess_conditions(clip, sync, text)
}

/// Input width of the envelope predictor of a generator.
pub fn predictor_input_dim(flow: &FlowConfig, positional_channels: usize) -> usize {
    flow.clip_dim - positional_channels + flow.sync_dim - ENVELOPE_DIM
}

/// Save an envelope predictor (f32 safetensors, through a temporary file).
pub fn save_predictor(predictor: &EnvelopePredictor, path: &Path) -> Result<()> {
    stage_safetensors(predictor, path, DType::F32)?.persist(path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn load_predictor(path: &Path, flow: &FlowConfig, positional_channels: usize, device: &Device) -> Result<EnvelopePredictor> {
    let mut predictor = EnvelopePredictor::new(predictor_input_dim(flow, positional_channels), device);
    load_safetensors(&mut predictor, path)?;
    Ok(predictor)
}

/// `module` as `dtype` safetensors in a temporary file beside `path` (its folder created), for
/// the caller to rename into place (`persist(path)`): a crash never leaves `path` half written.
pub(crate) fn stage_safetensors<M: ModuleSnapshot>(module: &M, path: &Path, dtype: DType) -> Result<tempfile::TempPath> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = tempfile::Builder::new().prefix(".foley-").suffix(".safetensors").tempfile_in(dir)?.into_temp_path();
    let mut store = SafetensorsStore::from_file(tmp.to_path_buf()).overwrite(true).with_to_adapter(FloatCastAdapter::to(dtype));
    module.save_into(&mut store).map_err(|e| anyhow::anyhow!("saving {}: {e}", path.display()))?;
    // Temporary files are private; weights are ordinary output files.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))?;
    }
    Ok(tmp)
}

/// Read the safetensors file `path` into `module` (widened to f32); every weight of `module` must
/// be in it.
pub(crate) fn load_safetensors<M: ModuleSnapshot>(module: &mut M, path: &Path) -> Result<()> {
    let mut store = SafetensorsStore::from_file(path.to_path_buf()).with_from_adapter(FloatCastAdapter::to(DType::F32));
    let result = module.load_from(&mut store).map_err(|e| anyhow::anyhow!("loading {}: {e}", path.display()))?;
    anyhow::ensure!(result.missing.is_empty(), "{}: missing weights {:?}", path.display(), result.missing);
    Ok(())
}

fn empty_text_tensor(meta: &GenMeta, device: &Device) -> Tensor<2> {
    let d = meta.flow.text_dim;
    Tensor::from_data(TensorData::new(meta.empty_text.clone(), [meta.empty_text.len() / d, d]), device)
}
