//! `foley eval` as a library call: evaluate paired directories and write the report directory.

use std::path::{Path, PathBuf};

use foley_dsp::MelSpectrogram;
use foley_seq::MelConfig;

use crate::avalign;
use crate::pipeline::{ClipAudio, ClipFeatures, EvalError, Evaluator, Pairing, read_event_onsets};
use crate::report::{MelPanel, Report, write_comparison_png};

/// What `evaluate_pairs` reports as it goes.
pub enum Progress<'a> {
    /// Starting clip `index` of `total`.
    Clip { index: usize, total: usize, name: &'a str },
}

/// Evaluates every pair, writing `report.json`, `report.md` and `figures/*.png` into `out_dir`
/// (created; the caller makes it appear atomically). Clips whose audio cannot be read are
/// skipped with a note; it is an error if none is left.
pub fn evaluate_pairs(evaluator: &Evaluator, pairing: &Pairing, out_dir: &Path, mut progress: impl FnMut(Progress)) -> Result<Report, EvalError> {
    let figures_dir = out_dir.join("figures");
    std::fs::create_dir_all(&figures_dir).map_err(|e| EvalError::Io { path: figures_dir.clone(), source: e })?;
    let mut notes = pairing.notes.clone();
    let mut features: Vec<(ClipFeatures, ClipFeatures)> = Vec::new();
    let mut clips = Vec::new();
    let mut figures = Vec::new();
    for (index, clip) in pairing.clips.iter().enumerate() {
        progress(Progress::Clip { index, total: pairing.clips.len(), name: &clip.name });
        let loaded = ClipAudio::load(&clip.generated).and_then(|g| Ok((g, ClipAudio::load(&clip.reference)?)));
        let (gen_audio, ref_audio) = match loaded {
            Ok(pair) => pair,
            Err(e) => {
                notes.push(format!("{}: skipped: {e}", clip.name));
                continue;
            }
        };
        let truth = clip.events.as_deref().map(read_event_onsets).transpose()?;
        let video = match &clip.video {
            Some(v) => match avalign::video_flow_peaks(v) {
                Ok(peaks) => Some(peaks),
                Err(e) => {
                    notes.push(format!("{}: AV-Align skipped: {e}", clip.name));
                    None
                }
            },
            None => None,
        };
        let (g, r) = (evaluator.features(&gen_audio), evaluator.features(&ref_audio));
        let result = evaluator.compare(&clip.name, &g, &r, truth.as_deref(), video.as_ref().map(|v| (v.peaks.as_slice(), v.fps)));
        let name = format!("{}.png", sanitize(&clip.name));
        let truth_times = truth.clone().unwrap_or_else(|| r.onsets.times());
        write_figure(&figures_dir.join(&name), &gen_audio, &ref_audio, &g.onsets.times(), &truth_times)
            .map_err(|detail| EvalError::Input { path: figures_dir.join(&name), detail })?;
        figures.push(name);
        clips.push(result);
        features.push((g, r));
    }
    if clips.is_empty() {
        return Err(EvalError::Input { path: out_dir.into(), detail: format!("no clip could be evaluated: {}", notes.join("; ")) });
    }
    let generated: Vec<&ClipFeatures> = features.iter().map(|p| &p.0).collect();
    let reference: Vec<&ClipFeatures> = features.iter().map(|p| &p.1).collect();
    let report = evaluator.summarize(&generated, &reference, clips, notes);
    report.write(out_dir, &figures).map_err(|e| EvalError::Io { path: out_dir.into(), source: e })?;
    Ok(report)
}

fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
}

/// Generated above, reference below, MMAudio's 16 kHz log-mel; onsets marked.
fn write_figure(path: &Path, generated: &ClipAudio, reference: &ClipAudio, gen_onsets: &[f64], truth: &[f64]) -> Result<(), String> {
    let mel = MelSpectrogram::new(MelConfig::MMAUDIO_16K);
    let frame_rate = MelConfig::MMAUDIO_16K.sample_rate as f64 / MelConfig::MMAUDIO_16K.hop as f64;
    let (g, r) = (mel.compute(&generated.sr16k), mel.compute(&reference.sr16k));
    write_comparison_png(
        path,
        &[
            MelPanel { title: "generated (onsets)".into(), n_mels: g.n_mels, n_frames: g.n_frames, data: &g.data, frame_rate, onsets: gen_onsets },
            MelPanel { title: "reference (ground-truth onsets)".into(), n_mels: r.n_mels, n_frames: r.n_frames, data: &r.data, frame_rate, onsets: truth },
        ],
    )
}

/// A sibling temporary directory for an atomically appearing report directory.
pub fn staging_dir(dest: &Path) -> PathBuf {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "report".into());
    dest.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}
