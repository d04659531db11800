//! Evaluating generated soundtracks against references: pairing files, extracting features
//! once per clip, and aggregating the metrics into a [`Report`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::metrics::{self, OnsetScores, SyncOffset};
use crate::onset::{OnsetConfig, OnsetDetector, Onsets};
use crate::report::{ClipResult, Report, Summary};
use crate::yamnet::{Analysis, Yamnet};

/// Errors of the evaluation pipeline, each naming the file involved.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Media(#[from] foley_media::MediaError),
    #[error(transparent)]
    Yamnet(#[from] crate::yamnet::YamnetError),
    #[error("{path}: {detail}")]
    Input { path: PathBuf, detail: String },
}

/// Extensions treated as media with an audio track.
const MEDIA_EXTENSIONS: [&str; 10] = ["wav", "flac", "mp3", "ogg", "m4a", "aac", "opus", "mp4", "mkv", "webm"];
const VIDEO_EXTENSIONS: [&str; 5] = ["mp4", "mkv", "webm", "mov", "avi"];

/// Media files in `dir` by file stem (sorted). Two files with one stem are refused.
pub fn list_media(dir: &Path, extensions: &[&str]) -> Result<BTreeMap<String, PathBuf>, EvalError> {
    let entries = std::fs::read_dir(dir).map_err(|e| EvalError::Io { path: dir.into(), source: e })?;
    let mut out = BTreeMap::new();
    for entry in entries {
        let path = entry.map_err(|e| EvalError::Io { path: dir.into(), source: e })?.path();
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        if !path.is_file() || !ext.is_some_and(|e| extensions.contains(&e.as_str())) {
            continue;
        }
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        if let Some(previous) = out.insert(stem.clone(), path.clone()) {
            return Err(EvalError::Input {
                path: dir.into(),
                detail: format!("two files share the name {stem:?}: {} and {}", previous.display(), path.display()),
            });
        }
    }
    Ok(out)
}

/// One generated/reference pair with its optional video and event ground truth.
#[derive(Debug, Clone)]
pub struct ClipInput {
    pub name: String,
    pub generated: PathBuf,
    pub reference: PathBuf,
    pub video: Option<PathBuf>,
    pub events: Option<PathBuf>,
}

/// Matched pairs plus what could not be matched.
#[derive(Debug, Clone, Default)]
pub struct Pairing {
    pub clips: Vec<ClipInput>,
    /// Human-readable notes on missing partners.
    pub notes: Vec<String>,
}

/// Pairs files by stem across the directories.
pub fn pair_inputs(generated: &Path, reference: &Path, videos: Option<&Path>, events: Option<&Path>) -> Result<Pairing, EvalError> {
    let gen_files = list_media(generated, &MEDIA_EXTENSIONS)?;
    let ref_files = list_media(reference, &MEDIA_EXTENSIONS)?;
    let video_files = videos.map(|d| list_media(d, &VIDEO_EXTENSIONS)).transpose()?.unwrap_or_default();
    let event_files = events.map(|d| list_media(d, &["json"])).transpose()?.unwrap_or_default();
    let mut pairing = Pairing::default();
    for (name, g) in &gen_files {
        let Some(r) = ref_files.get(name) else {
            pairing.notes.push(format!("{}: no reference named {name:?} in {}; skipped", g.display(), reference.display()));
            continue;
        };
        let video = video_files.get(name).cloned();
        if videos.is_some() && video.is_none() {
            pairing.notes.push(format!("{name}: no video in the videos directory; AV-Align skipped"));
        }
        let events = event_files.get(name).or_else(|| event_files.get(&format!("{name}.events"))).cloned();
        pairing.clips.push(ClipInput { name: name.clone(), generated: g.clone(), reference: r.clone(), video, events });
    }
    for (name, r) in &ref_files {
        if !gen_files.contains_key(name) {
            pairing.notes.push(format!("{}: no generated file named {name:?}; skipped", r.display()));
        }
    }
    Ok(pairing)
}

/// Onset times (seconds) from a foley-sim `events.json` (`{"events": [{"onset": ..}, ..]}`) or a
/// plain JSON array of seconds.
pub fn read_event_onsets(path: &Path) -> Result<Vec<f64>, EvalError> {
    let bad = |detail: String| EvalError::Input { path: path.into(), detail };
    let text = std::fs::read_to_string(path).map_err(|e| EvalError::Io { path: path.into(), source: e })?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let items = match &value {
        serde_json::Value::Array(a) => a.clone(),
        serde_json::Value::Object(o) => match o.get("events") {
            Some(serde_json::Value::Array(a)) => a.clone(),
            _ => return Err(bad("no \"events\" array".into())),
        },
        _ => return Err(bad("expected an array or an object with \"events\"".into())),
    };
    let mut onsets = items
        .iter()
        .map(|e| e.as_f64().or_else(|| e.get("onset").and_then(serde_json::Value::as_f64)))
        .collect::<Option<Vec<f64>>>()
        .ok_or_else(|| bad("every event needs a numeric onset".into()))?;
    onsets.sort_by(f64::total_cmp);
    Ok(onsets)
}

/// A clip's audio at the two rates the metrics need.
#[derive(Debug, Clone)]
pub struct ClipAudio {
    /// 16 kHz mono (YAMNet).
    pub sr16k: Vec<f32>,
    /// 22.05 kHz mono (librosa onsets).
    pub sr22k: Vec<f32>,
}

impl ClipAudio {
    pub fn load(path: &Path) -> Result<Self, EvalError> {
        Ok(Self {
            sr16k: foley_media::decode_audio(path, crate::yamnet::YamnetConfig::YAMNET.sample_rate)?,
            sr22k: foley_media::decode_audio(path, OnsetConfig::LIBROSA.sample_rate)?,
        })
    }

    pub fn duration_s(&self) -> f64 {
        self.sr16k.len() as f64 / crate::yamnet::YamnetConfig::YAMNET.sample_rate as f64
    }

    /// The same audio circularly delayed by `seconds` (the tail wraps to the front), so timing
    /// changes while the content stays (zero-padding would add digital silence, which YAMNet
    /// rightly classifies as a different sound).
    pub fn shifted(&self, seconds: f64) -> Self {
        let rotate = |x: &[f32], sr: u32| {
            let mut y = x.to_vec();
            if !y.is_empty() {
                let d = (seconds * sr as f64).round() as usize % y.len();
                y.rotate_right(d);
            }
            y
        };
        Self { sr16k: rotate(&self.sr16k, 16_000), sr22k: rotate(&self.sr22k, OnsetConfig::LIBROSA.sample_rate) }
    }
}

/// Everything the metrics need from one clip's audio.
#[derive(Debug, Clone)]
pub struct ClipFeatures {
    pub yamnet: Analysis,
    /// The clip's logits for KL and IS: the classifier applied to the mean patch embedding
    /// (pool features, then classify, as PANNs' clip-level output does; averaging patch logits
    /// would let a few silent patches with extreme logits dominate).
    pub clip_logits: Vec<f32>,
    pub onsets: Onsets,
    pub duration_s: f64,
}

/// Evaluation settings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EvalOptions {
    /// Inception Score splits (av-benchmark: 10).
    pub is_splits: usize,
    /// Largest offset searched by the envelope cross-correlation, seconds.
    pub max_lag_s: f64,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self { is_splits: 10, max_lag_s: 2.0 }
    }
}

/// Holds the networks and runs the metrics.
pub struct Evaluator {
    yamnet: Yamnet,
    onsets: OnsetDetector,
    pub options: EvalOptions,
}

impl Evaluator {
    pub fn new(yamnet: Yamnet, options: EvalOptions) -> Self {
        Self { yamnet, onsets: OnsetDetector::new(OnsetConfig::LIBROSA), options }
    }

    /// Loads YAMNet from `yamnet_dir` on burn's CPU (Flex) backend.
    pub fn load(yamnet_dir: &Path, precision: crate::yamnet::Precision, options: EvalOptions) -> Result<Self, EvalError> {
        let device = burn::prelude::Device::flex();
        Ok(Self::new(Yamnet::load(yamnet_dir, precision, &device)?, options))
    }

    pub fn yamnet(&self) -> &Yamnet {
        &self.yamnet
    }

    pub fn onset_detector(&self) -> &OnsetDetector {
        &self.onsets
    }

    /// YAMNet analysis and onsets of one clip.
    pub fn features(&self, audio: &ClipAudio) -> ClipFeatures {
        let yamnet = self.yamnet.analyze(&audio.sr16k);
        let mut pooled = vec![0f32; self.yamnet.config().embedding_dim];
        for row in &yamnet.embeddings {
            for (c, v) in pooled.iter_mut().zip(row) {
                *c += v / yamnet.embeddings.len() as f32;
            }
        }
        let clip_logits = self.yamnet.classify(&pooled);
        ClipFeatures { yamnet, clip_logits, onsets: self.onsets.detect(&audio.sr22k), duration_s: audio.duration_s() }
    }

    /// Paired metrics of one clip. `truth` overrides the reference's detected onsets (events);
    /// `video_peaks` are AV-Align's flow peaks (times) of the clip's video with its frame rate.
    pub fn compare(
        &self,
        name: &str,
        generated: &ClipFeatures,
        reference: &ClipFeatures,
        truth: Option<&[f64]>,
        video_peaks: Option<(&[f64], f64)>,
    ) -> ClipResult {
        let mut notes = Vec::new();
        let common = generated.duration_s.min(reference.duration_s);
        if (generated.duration_s - reference.duration_s).abs() > 0.05 {
            notes.push(format!(
                "lengths differ: generated {:.2} s, reference {:.2} s; onsets compared over the first {common:.2} s",
                generated.duration_s, reference.duration_s
            ));
        }
        let within = |t: &f64| *t < common;
        let detections: Vec<(f64, f64)> = generated.onsets.times().into_iter().zip(generated.onsets.strengths()).filter(|(t, _)| within(t)).collect();
        let truth: Vec<f64> = match truth {
            Some(t) => t.iter().copied().filter(within).collect(),
            None => reference.onsets.times().into_iter().filter(within).collect(),
        };
        let onset: OnsetScores = metrics::onset_scores(&detections, &truth);
        let frames = (common * generated.onsets.config.frame_rate()).ceil() as usize;
        let cut = |e: &[f32]| e[..frames.min(e.len())].to_vec();
        let sync: Option<SyncOffset> = metrics::sync_offset(
            &cut(&generated.onsets.envelope),
            &cut(&reference.onsets.envelope),
            generated.onsets.config.frame_rate(),
            self.options.max_lag_s,
        );
        let kl = metrics::paired_kl(&[generated.clip_logits.clone()], &[reference.clip_logits.clone()]);
        let av_align = video_peaks.map(|(peaks, fps)| crate::avalign::iou(&generated.onsets.times(), peaks, fps));
        let av_align_reference = video_peaks.map(|(peaks, fps)| crate::avalign::iou(&reference.onsets.times(), peaks, fps));
        ClipResult {
            name: name.to_string(),
            generated_duration_s: generated.duration_s,
            reference_duration_s: reference.duration_s,
            kl_softmax: kl.as_ref().map_or(f64::NAN, |k| k.softmax),
            kl_sigmoid: kl.as_ref().map_or(f64::NAN, |k| k.sigmoid),
            onset,
            onsets_generated: detections.len(),
            onsets_truth: truth.len(),
            sync,
            av_align,
            av_align_reference,
            top_generated: self.top_classes(&generated.clip_logits),
            top_reference: self.top_classes(&reference.clip_logits),
            notes,
        }
    }

    /// Aggregates per-clip results and the set-level metrics (FD over all patch embeddings, IS).
    pub fn summarize(&self, generated: &[&ClipFeatures], reference: &[&ClipFeatures], clips: Vec<ClipResult>, notes: Vec<String>) -> Report {
        let patches = |set: &[&ClipFeatures]| set.iter().flat_map(|f| f.yamnet.embeddings.iter().cloned()).collect::<Vec<_>>();
        let fd = metrics::frechet_distance_sets(&patches(generated), &patches(reference));
        let logits = |set: &[&ClipFeatures]| set.iter().map(|f| f.clip_logits.clone()).collect::<Vec<_>>();
        let is = metrics::inception_score(&logits(generated), self.options.is_splits);
        let is_ref = metrics::inception_score(&logits(reference), self.options.is_splits);
        let mean = |f: &dyn Fn(&ClipResult) -> Option<f64>| {
            let v: Vec<f64> = clips.iter().filter_map(f).filter(|x| x.is_finite()).collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        let summary = Summary {
            pairs: clips.len(),
            fd,
            kl_softmax: mean(&|c| Some(c.kl_softmax)),
            kl_sigmoid: mean(&|c| Some(c.kl_sigmoid)),
            is_mean: is.map(|x| x.0),
            is_std: is.map(|x| x.1),
            is_reference_mean: is_ref.map(|x| x.0),
            onset_accuracy: mean(&|c| Some(c.onset.count_match)),
            onset_ap: mean(&|c| Some(c.onset.ap)),
            onset_f1: mean(&|c| Some(c.onset.f1)),
            sync_mean_abs_offset_s: mean(&|c| c.sync.map(|s| s.offset_s.abs())),
            av_align: mean(&|c| c.av_align),
            av_align_reference: mean(&|c| c.av_align_reference),
        };
        Report { summary, clips, notes, options: self.options.clone() }
    }

    fn top_classes(&self, logits: &[f32]) -> Vec<(String, f32)> {
        let mut idx: Vec<usize> = (0..logits.len()).collect();
        idx.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        idx.iter().take(3).map(|&i| (self.yamnet.class_names()[i].clone(), 1.0 / (1.0 + (-logits[i]).exp()))).collect()
    }
}
