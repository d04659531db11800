//! `foley eval` as a library call: evaluate paired directories and write the report directory.

use std::path::Path;

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

/// The entries a report consists of, and the manifest that marks a directory as holding one.
pub const REPORT_ENTRIES: [&str; 3] = ["report.json", "report.md", "figures"];
/// Written beside the report; lists [`REPORT_ENTRIES`] so a later run knows what it may replace.
pub const REPORT_MANIFEST: &str = ".foley-report";

/// Can a report be written to `dest`? It must not exist, be an empty directory, or hold an
/// earlier foley report (its manifest). Checked before any work is done.
pub fn check_report_dest(dest: &Path) -> Result<(), EvalError> {
    let refuse = |detail: &str| Err(EvalError::Input { path: dest.into(), detail: detail.into() });
    match std::fs::metadata(dest) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(EvalError::Io { path: dest.into(), source: e }),
        Ok(m) if !m.is_dir() => refuse("exists and is not a directory; choose another output"),
        Ok(_) if dest.join(REPORT_MANIFEST).is_file() => Ok(()),
        Ok(_) => match std::fs::read_dir(dest).map(|mut entries| entries.next().is_none()) {
            Ok(true) => Ok(()),
            Ok(false) => refuse("is a directory that holds files but no earlier foley report; choose a new or empty directory"),
            Err(e) => Err(EvalError::Io { path: dest.into(), source: e }),
        },
    }
}

/// Moves a report finished in `staging` to `dest`. A new `dest` is the staging directory
/// renamed; an existing one gets the report's entries replaced one by one and keeps every other
/// file: only what an earlier report listed in its manifest is ever removed.
pub fn publish_report(staging: foley_media::StagingDir, dest: &Path) -> Result<(), EvalError> {
    check_report_dest(dest)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| EvalError::Io { path, source }
    };
    std::fs::write(staging.path().join(REPORT_MANIFEST), REPORT_ENTRIES.join("\n") + "\n").map_err(io(staging.path()))?;
    if !dest.exists() {
        return std::fs::rename(staging.path(), dest).map_err(io(dest));
    }
    let previous = std::fs::read_to_string(dest.join(REPORT_MANIFEST)).unwrap_or_default();
    for name in previous.lines().filter(|n| REPORT_ENTRIES.contains(n)) {
        let old = dest.join(name);
        let removed = if old.is_dir() { std::fs::remove_dir_all(&old) } else { std::fs::remove_file(&old) };
        match removed {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&old)(e)),
            _ => {}
        }
    }
    for name in REPORT_ENTRIES.iter().chain([&REPORT_MANIFEST]) {
        let (from, to) = (staging.path().join(name), dest.join(name));
        // A file of the same name that no report listed (the user's) is in the way: refuse.
        if to.exists() && name != &REPORT_MANIFEST {
            return Err(EvalError::Input { path: to, detail: "exists and was not written by foley eval; move it away or choose another output".into() });
        }
        std::fs::rename(&from, &to).map_err(io(&to))?;
    }
    Ok(())
}
