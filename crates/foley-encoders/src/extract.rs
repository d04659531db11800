//! Feature extraction into shards: the conditions of many clips computed once, for training
//! and evaluation.
//!
//! Each job (`--shard i/n`) takes every n-th item of the sorted item list, starting at i, and
//! writes them in chunks of `items_per_shard` to `shard-<i>-of-<n>-<chunk>.safetensors`. A
//! chunk file is written atomically and lists its items in its metadata, so a rerun skips every
//! chunk that is already complete (resumable) and recomputes only the missing ones.
//!
//! Per item `j` of a shard: `j.semantic` `[clip_seq_len, 1280]` (EfficientNet-Lite0 at 8 fps,
//! the last frame repeated if the video is shorter), `j.mel` `[n_mels, n_frames]` (the audio's
//! log-mel, the generator's target before its VAE; absent for silent videos), and when the item
//! has text, `j.text_tokens` `[len, 384]` and `j.text_embedding` `[384]` (MiniLM); with a trained
//! sync backbone, `j.sync` `[sync_seq_len, dim]` (24 tokens/s from 25 fps frames).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use burn::prelude::*;
use foley_dsp::MelSpectrogram;
use foley_media::{FrameReader, FrameRequest, MediaError, Rational, Resize};
use foley_seq::SequenceConfig;
use safetensors::{Dtype, tensor::TensorView};
use serde::{Deserialize, Serialize};

use crate::bert::MiniLm;
use crate::efficientnet::{self, EfficientNetLite0};
use crate::sync::{SyncConfig, SyncModel, frame_input};

/// Video file extensions picked up from a folder.
pub const VIDEO_EXTENSIONS: &[&str] = &["mp4", "mkv", "webm", "avi", "mov", "m4v"];

/// One clip to extract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Stable name (path relative to the folder or manifest, without extension).
    pub id: String,
    pub video: PathBuf,
    /// Optional caption for the text condition.
    pub text: Option<String>,
}

/// Every video under `dir` (recursively), sorted by path.
pub fn items_from_folder(dir: &Path) -> Result<Vec<Item>> {
    ensure!(dir.is_dir(), "{}: no such folder (give a folder of videos or a CSV manifest)", dir.display());
    let mut videos = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading folder {}", d.display()))? {
            let path = entry.with_context(|| format!("reading folder {}", d.display()))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().and_then(|e| e.to_str()).is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())) {
                videos.push(path);
            }
        }
    }
    videos.sort();
    ensure!(!videos.is_empty(), "{}: no video files ({})", dir.display(), VIDEO_EXTENSIONS.join(", "));
    Ok(videos.into_iter().map(|video| Item { id: item_id(dir, &video), video, text: None }).collect())
}

/// Items of a CSV manifest with a header: the video in column `file` or `path` (relative to the
/// manifest's folder), the caption, if any, in `text`, `caption` or `label`.
pub fn items_from_manifest(manifest: &Path) -> Result<Vec<Item>> {
    let base = manifest.parent().unwrap_or(Path::new("."));
    let mut reader = csv::Reader::from_path(manifest).with_context(|| format!("reading manifest {}", manifest.display()))?;
    let headers = reader.headers().with_context(|| format!("{}: no header row", manifest.display()))?.clone();
    let column = |names: &[&str]| names.iter().find_map(|n| headers.iter().position(|h| h.trim() == *n));
    let Some(video_col) = column(&["file", "path"]) else {
        bail!("{}: needs a `file` or `path` column (has {:?})", manifest.display(), headers.iter().collect::<Vec<_>>());
    };
    let text_col = column(&["text", "caption", "label"]);
    let mut items = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("{}: row {}", manifest.display(), row + 2))?;
        let rel = record.get(video_col).unwrap_or("").trim();
        ensure!(!rel.is_empty(), "{}: row {} has no video path", manifest.display(), row + 2);
        let video = base.join(rel);
        let text = text_col.and_then(|c| record.get(c)).map(str::trim).filter(|t| !t.is_empty()).map(String::from);
        items.push(Item { id: item_id(base, &video), video, text });
    }
    ensure!(!items.is_empty(), "{}: no rows", manifest.display());
    Ok(items)
}

fn item_id(base: &Path, video: &Path) -> String {
    let rel = video.strip_prefix(base).unwrap_or(video).with_extension("");
    rel.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/")
}

/// Which part of the work one job does: items `i, i + n, i + 2n, ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSpec {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for ShardSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s.split_once('/').ok_or_else(|| format!("`{s}`: expected i/n, e.g. 0/4"))?;
        let index: usize = i.trim().parse().map_err(|_| format!("`{s}`: {i} is not a number"))?;
        let count: usize = n.trim().parse().map_err(|_| format!("`{s}`: {n} is not a number"))?;
        if count == 0 || index >= count {
            return Err(format!("`{s}`: need 0 <= i < n"));
        }
        Ok(Self { index, count })
    }
}

/// Extraction settings.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    /// Longest clip, seconds (videos shorter than this are taken whole).
    pub max_duration: f64,
    /// Sequence geometry for a given duration (MMAudio's 16k or 44k).
    pub sequence: fn(f64) -> SequenceConfig,
    pub items_per_shard: usize,
    pub shard: ShardSpec,
    /// Frames per EfficientNet forward pass.
    pub batch: usize,
}

/// One planned output file and the items it holds.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub path: PathBuf,
    pub items: Vec<Item>,
}

/// Metadata of one item in a shard.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemRecord {
    pub id: String,
    pub video: PathBuf,
    pub text: Option<String>,
    /// Seconds covered, from the start of the video.
    pub duration: f64,
    /// Semantic frames actually decoded (the rest repeat the last one).
    pub semantic_frames: usize,
    pub has_audio: bool,
}

/// Split this job's items into chunk files under `out_dir`.
pub fn plan(items: &[Item], out_dir: &Path, options: &ExtractOptions) -> Vec<Chunk> {
    let ShardSpec { index, count } = options.shard;
    let mine: Vec<Item> = items.iter().skip(index).step_by(count).cloned().collect();
    mine.chunks(options.items_per_shard.max(1))
        .enumerate()
        .map(|(k, chunk)| Chunk { path: out_dir.join(format!("shard-{index}-of-{count}-{k:05}.safetensors")), items: chunk.to_vec() })
        .collect()
}

/// Does `chunk.path` already hold exactly `chunk.items`?
pub fn is_complete(chunk: &Chunk) -> bool {
    let Ok(bytes) = std::fs::read(&chunk.path) else { return false };
    let Ok((_, meta)) = safetensors::SafeTensors::read_metadata(&bytes) else { return false };
    let Some(items) = meta.metadata().as_ref().and_then(|m| m.get("items").cloned()) else { return false };
    let Ok(records) = serde_json::from_str::<Vec<ItemRecord>>(&items) else { return false };
    records.len() == chunk.items.len() && records.iter().zip(&chunk.items).all(|(r, i)| r.id == i.id && r.video == i.video)
}

/// The encoders, loaded once.
pub struct Extractor {
    pub frames: EfficientNetLite0,
    pub text: MiniLm,
    /// The trained sync backbone, when sync features are wanted.
    pub sync: Option<(SyncModel, SyncConfig)>,
    pub device: Device,
}

struct Named {
    name: String,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

fn named(name: String, shape: Vec<usize>, values: &[f32]) -> Named {
    Named { name, shape, bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect() }
}

fn tensor_values<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("reading tensor: {e:?}"))
}

impl Extractor {
    /// Both encoders from the model cache, on the CPU (burn's Flex backend).
    pub fn from_cache(cache: &crate::ModelCache) -> Result<Self> {
        let device = Device::flex();
        Ok(Self { frames: EfficientNetLite0::from_cache(cache, &device)?, text: MiniLm::from_cache(cache, &device)?, sync: None, device })
    }

    /// Also emit `j.sync` with the sync backbone saved at `path` (see `SyncModel::save`).
    pub fn with_sync_model(mut self, path: &Path) -> Result<Self> {
        self.sync = Some(SyncModel::load(path, &self.device)?);
        Ok(self)
    }

    /// Features of one item, named `j.<kind>`.
    fn extract_item(&self, j: usize, item: &Item, options: &ExtractOptions) -> Result<(Vec<Named>, ItemRecord)> {
        let info = foley_media::probe(&item.video)?;
        let available = info.duration.filter(|d| *d > 0.0).with_context(|| format!("{}: unknown duration", item.video.display()))?;
        let duration = available.min(options.max_duration);
        let seq = (options.sequence)(duration);
        let mut out = Vec::new();

        let n = seq.clip_seq_len().max(1);
        let mut frames = efficientnet::sample_frames(&item.video, seq.clip_frame_rate, 0.0, Some(n as f64 / seq.clip_frame_rate))?;
        let semantic_frames = frames.len();
        while frames.len() < n {
            frames.push(frames.last().cloned().context("no frames")?);
        }
        let features = self.frames.encode_frames(&frames, options.batch, &self.device);
        out.push(named(format!("{j}.semantic"), vec![n, efficientnet::FEATURE_DIM], &tensor_values(features)?));

        if let Some((model, config)) = &self.sync {
            // Synchformer's frames: 25 fps, enough for every segment, last frame repeated.
            let needed = seq.sync_frames_read();
            let request = FrameRequest {
                fps: Rational::approximate(seq.sync_frame_rate).context("sync frame rate")?,
                start: 0.0,
                duration: Some(needed.max(1) as f64 / seq.sync_frame_rate),
                resize: Resize::CropSquare(config.frame_size as u32),
            };
            let mut frames = FrameReader::open(&item.video, &request)?.collect::<Result<Vec<_>, _>>()?;
            while frames.len() < needed {
                frames.push(frames.last().cloned().context("no frames")?);
            }
            let rgb: Vec<&[u8]> = frames.iter().map(|f| f.rgb.as_slice()).collect();
            let tokens = model.clip_tokens(frame_input(&rgb, config.frame_size, &self.device), &seq);
            let [n, d] = tokens.dims();
            out.push(named(format!("{j}.sync"), vec![n, d], &tensor_values(tokens)?));
        }

        let has_audio = match foley_media::decode_audio(&item.video, seq.sample_rate()) {
            Ok(mut wave) => {
                wave.resize(seq.num_audio_samples(), 0.0);
                let mel = MelSpectrogram::new(seq.mel).compute(&wave);
                out.push(named(format!("{j}.mel"), vec![mel.n_mels, mel.n_frames], &mel.data));
                true
            }
            Err(MediaError::NoAudio { .. }) => false,
            Err(e) => return Err(e.into()),
        };

        if let Some(text) = &item.text {
            let enc = self.text.encode(&[text.as_str()])?;
            let [_, len, d] = enc.tokens.dims();
            out.push(named(format!("{j}.text_tokens"), vec![len, d], &tensor_values(enc.tokens)?));
            out.push(named(format!("{j}.text_embedding"), vec![d], &tensor_values(enc.embedding)?));
        }
        let record = ItemRecord { id: item.id.clone(), video: item.video.clone(), text: item.text.clone(), duration, semantic_frames, has_audio };
        Ok((out, record))
    }

    /// Compute and write one chunk (atomically: temp file in the same folder, then rename).
    /// `progress` is called after each item.
    pub fn write_chunk(&self, chunk: &Chunk, options: &ExtractOptions, progress: &mut dyn FnMut(&Item)) -> Result<()> {
        let mut tensors = Vec::new();
        let mut records = Vec::new();
        for (j, item) in chunk.items.iter().enumerate() {
            let (named, record) = self.extract_item(j, item, options).with_context(|| format!("extracting {}", item.video.display()))?;
            tensors.extend(named);
            records.push(record);
            progress(item);
        }
        let seq = (options.sequence)(options.max_duration);
        let metadata = HashMap::from([
            ("items".to_string(), serde_json::to_string(&records)?),
            ("sequence".to_string(), serde_json::to_string(&seq)?),
            ("semantic_encoder".to_string(), crate::EFFICIENTNET_LITE0.id.to_string()),
            ("text_encoder".to_string(), crate::MINILM_L6_V2.id.to_string()),
        ]);
        let views = tensors
            .iter()
            .map(|t| Ok((t.name.clone(), TensorView::new(Dtype::F32, t.shape.clone(), &t.bytes)?)))
            .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
        let dir = chunk.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = tempfile::Builder::new().prefix(".shard-").suffix(".tmp").tempfile_in(dir)?;
        safetensors::serialize_to_file(views, Some(metadata), tmp.path()).with_context(|| format!("writing {}", chunk.path.display()))?;
        // Temporary files are private; a shard is an ordinary output file.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))?;
        }
        tmp.persist(&chunk.path).with_context(|| format!("writing {}", chunk.path.display()))?;
        Ok(())
    }
}
