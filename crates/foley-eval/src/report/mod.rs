//! The evaluation report: JSON (everything), Markdown (tables) and PNG figures.

mod figures;

use std::path::Path;

use serde::Serialize;

pub use figures::{MelPanel, write_comparison_png};

use crate::metrics::{OnsetScores, SyncOffset};
use crate::pipeline::EvalOptions;

/// Metrics of one generated/reference pair.
#[derive(Debug, Clone, Serialize)]
pub struct ClipResult {
    pub name: String,
    pub generated_duration_s: f64,
    pub reference_duration_s: f64,
    pub kl_softmax: f64,
    pub kl_sigmoid: f64,
    pub onset: OnsetScores,
    pub onsets_generated: usize,
    /// Ground-truth onsets (events, or the reference audio's detected onsets).
    pub onsets_truth: usize,
    pub sync: Option<SyncOffset>,
    /// AV-Align of the generated audio with the video.
    pub av_align: Option<f64>,
    /// AV-Align of the reference audio with the same video (the ceiling to compare with).
    pub av_align_reference: Option<f64>,
    /// Top YAMNet classes (name, sigmoid of the clip logit).
    pub top_generated: Vec<(String, f32)>,
    pub top_reference: Vec<(String, f32)>,
    pub notes: Vec<String>,
}

/// Set-level metrics and means over pairs.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub pairs: usize,
    /// Fréchet distance between YAMNet patch embeddings of all generated and all reference clips.
    pub fd: Option<f64>,
    pub kl_softmax: Option<f64>,
    pub kl_sigmoid: Option<f64>,
    pub is_mean: Option<f64>,
    pub is_std: Option<f64>,
    /// IS of the references, for scale.
    pub is_reference_mean: Option<f64>,
    pub onset_accuracy: Option<f64>,
    pub onset_ap: Option<f64>,
    pub onset_f1: Option<f64>,
    pub sync_mean_abs_offset_s: Option<f64>,
    pub av_align: Option<f64>,
    pub av_align_reference: Option<f64>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub summary: Summary,
    pub clips: Vec<ClipResult>,
    /// Missing pairs, length mismatches and other things the reader should know.
    pub notes: Vec<String>,
    pub options: EvalOptions,
}

fn fmt(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |x| format!("{x:.4}"))
}

impl Report {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serializes") + "\n"
    }

    /// Markdown with a summary table, a per-clip table, notes and links to figures in `figures/`.
    pub fn to_markdown(&self, figures: &[String]) -> String {
        let s = &self.summary;
        let mut md = String::from("# foley eval report\n\n");
        md += &format!("{} pairs. YAMNet (TF-Lite hybrid int8 emulation) for FD / KL / IS; librosa-style onsets.\n\n", s.pairs);
        md += "| metric | value |\n|---|---|\n";
        let rows = [
            ("FD (YAMNet patch embeddings) ↓", s.fd),
            ("KL softmax ↓", s.kl_softmax),
            ("KL sigmoid ↓", s.kl_sigmoid),
            ("IS mean ↑", s.is_mean),
            ("IS std", s.is_std),
            ("IS of the references", s.is_reference_mean),
            ("onset accuracy ↑", s.onset_accuracy),
            ("onset AP ↑", s.onset_ap),
            ("onset F1 ↑", s.onset_f1),
            ("mean |sync offset| (s) ↓", s.sync_mean_abs_offset_s),
            ("AV-Align ↑", s.av_align),
            ("AV-Align of the references", s.av_align_reference),
        ];
        for (name, v) in rows {
            md += &format!("| {name} | {} |\n", fmt(v));
        }
        md += "\n## Clips\n\n| clip | dur gen/ref (s) | KL soft | KL sig | onsets gen/truth | F1 | AP | offset (s) | AV-Align gen/ref | top class gen / ref |\n|---|---|---|---|---|---|---|---|---|---|\n";
        for c in &self.clips {
            let top = |t: &[(String, f32)]| t.first().map_or("–".to_string(), |(n, p)| format!("{n} ({p:.2})"));
            md += &format!(
                "| {} | {:.2}/{:.2} | {:.3} | {:.3} | {}/{} | {:.2} | {:.2} | {} | {}/{} | {} / {} |\n",
                c.name,
                c.generated_duration_s,
                c.reference_duration_s,
                c.kl_softmax,
                c.kl_sigmoid,
                c.onsets_generated,
                c.onsets_truth,
                c.onset.f1,
                c.onset.ap,
                c.sync.map_or("–".into(), |s| format!("{:+.3}", s.offset_s)),
                fmt(c.av_align),
                fmt(c.av_align_reference),
                top(&c.top_generated),
                top(&c.top_reference),
            );
        }
        if !self.notes.is_empty() || self.clips.iter().any(|c| !c.notes.is_empty()) {
            md += "\n## Notes\n\n";
            for n in &self.notes {
                md += &format!("- {n}\n");
            }
            for c in &self.clips {
                for n in &c.notes {
                    md += &format!("- {}: {n}\n", c.name);
                }
            }
        }
        if !figures.is_empty() {
            md += "\n## Figures\n\nLog-mel spectrograms (generated above, reference below); onsets marked.\n\n";
            for f in figures {
                md += &format!("![{f}](figures/{f})\n\n");
            }
        }
        md
    }

    /// Writes `report.json` and `report.md` into `dir` (which must exist).
    pub fn write(&self, dir: &Path, figures: &[String]) -> std::io::Result<()> {
        std::fs::write(dir.join("report.json"), self.to_json())?;
        std::fs::write(dir.join("report.md"), self.to_markdown(figures))
    }
}
