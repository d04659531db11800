//! What a batch did, item by item, kept on disk as CSV and JSON.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use super::BatchItem;

/// The summary's file names, inside the output folder.
pub const SUMMARY_CSV: &str = "batch-summary.csv";
pub const SUMMARY_JSON: &str = "batch-summary.json";

/// Where an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not finished yet (seen only in the summary of a batch still running, or killed).
    Pending,
    /// Both outputs written.
    Done,
    /// Not generated; `error` says why.
    Failed,
    /// `resume`: both outputs were already there.
    Skipped,
}

/// One item's line of the summary.
#[derive(Debug, Clone, Serialize)]
pub struct ItemReport {
    pub input: PathBuf,
    pub mp4: PathBuf,
    pub wav: PathBuf,
    pub status: Status,
    /// Wall time of the job (checks, generation, writing), seconds.
    pub seconds: Option<f64>,
    /// Length of the soundtrack generated, seconds.
    pub audio_seconds: Option<f64>,
    pub error: Option<String>,
}

impl ItemReport {
    fn pending(item: &BatchItem) -> Self {
        Self { input: item.spec.input.clone(), mp4: item.mp4(), wav: item.wav(), status: Status::Pending, seconds: None, audio_seconds: None, error: None }
    }
}

/// Every item of a batch, in the batch's order.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub total: usize,
    pub done: usize,
    pub failed: usize,
    pub skipped: usize,
    pub pending: usize,
    /// Wall time of the batch so far, seconds (model loading included).
    pub seconds: f64,
    pub items: Vec<ItemReport>,
}

impl Summary {
    /// Every item pending.
    pub(super) fn new(items: &[BatchItem]) -> Self {
        let items: Vec<ItemReport> = items.iter().map(ItemReport::pending).collect();
        Self { total: items.len(), done: 0, failed: 0, skipped: 0, pending: items.len(), seconds: 0.0, items }
    }

    /// Item `index` is skipped, done (`Ok(audio seconds)`) or failed, after `seconds` of work.
    pub(super) fn record(&mut self, index: usize, status: Status, seconds: Option<f64>, outcome: Result<Option<f64>, String>) {
        let r = &mut self.items[index];
        r.status = status;
        r.seconds = seconds.map(millis);
        (r.audio_seconds, r.error) = match outcome {
            Ok(audio) => (audio.map(millis), None),
            Err(e) => (None, Some(e)),
        };
        let count = |s| self.items.iter().filter(|r| r.status == s).count();
        (self.done, self.failed, self.skipped, self.pending) = (count(Status::Done), count(Status::Failed), count(Status::Skipped), count(Status::Pending));
    }

    /// Writes `dir/batch-summary.csv` and `.json`, each replaced whole (never half-written),
    /// creating `dir` if needed.
    pub(super) fn write(&mut self, dir: &Path, seconds: f64) -> Result<()> {
        self.seconds = millis(seconds);
        write_atomic(&dir.join(SUMMARY_CSV), |file| {
            let mut csv = csv::Writer::from_writer(file);
            for item in &self.items {
                csv.serialize(item)?;
            }
            Ok(csv.flush()?)
        })?;
        write_atomic(&dir.join(SUMMARY_JSON), |file| {
            serde_json::to_writer_pretty(&mut *file, self)?;
            Ok(std::io::Write::write_all(file, b"\n")?)
        })
    }
}

fn millis(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

fn write_atomic(dest: &Path, write: impl FnOnce(&mut std::fs::File) -> Result<()>) -> Result<()> {
    let out = foley_media::AtomicOutput::new(dest)?;
    let mut file = std::fs::File::create(out.path()).with_context(|| format!("writing {}", dest.display()))?;
    write(&mut file).with_context(|| format!("writing {}", dest.display()))?;
    out.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GenerateSpec;

    #[test]
    fn rows_serialize_as_csv_with_empty_cells_for_nothing() {
        let items: Vec<BatchItem> = ["a.mp4", "b.mp4", "c.mp4"]
            .iter()
            .map(|i| BatchItem { spec: GenerateSpec { input: i.into(), output: Some(format!("o/{i}").into()), ..Default::default() }, label: i.to_string() })
            .collect();
        let mut s = Summary::new(&items);
        s.record(0, Status::Done, Some(1.23456), Ok(Some(2.0)));
        s.record(1, Status::Failed, Some(0.1), Err("b.mp4: truncated, \"really\"".into()));
        assert_eq!((s.done, s.failed, s.skipped, s.pending), (1, 1, 0, 1));
        let mut csv = csv::Writer::from_writer(Vec::new());
        for item in &s.items {
            csv.serialize(item).unwrap();
        }
        let text = String::from_utf8(csv.into_inner().unwrap()).unwrap();
        assert_eq!(
            text,
            "input,mp4,wav,status,seconds,audio_seconds,error\n\
             a.mp4,o/a.mp4,o/a.wav,done,1.235,2.0,\n\
             b.mp4,o/b.mp4,o/b.wav,failed,0.1,,\"b.mp4: truncated, \"\"really\"\"\"\n\
             c.mp4,o/c.mp4,o/c.wav,pending,,,\n"
        );
    }
}
