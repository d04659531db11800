//! `foley batch`: give every video of a folder, or every row of a CSV manifest, a soundtrack;
//! a bad file is reported and skipped.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use foley_job::batch::{self, BatchItem, BatchProgress, ItemReport, SUMMARY_CSV, Status};
use indicatif::ProgressBar;

use super::generate::JobOptions;
use crate::output;

/// Options of `foley batch`.
#[derive(Args)]
#[command(after_long_help = "\
INPUT is a folder (its videos: .mp4 .m4v .mov .mkv .webm .avi .mpg .mpeg .ts .mts .m2ts .3gp .flv, \
sorted by name, not in subfolders, foley's own *.foley.mp4 left out) or a CSV manifest with a header row. \
Manifest columns: video (required; relative paths are taken from the manifest's folder), and optionally \
prompt, negative, seed, start, duration, steps, cfg (each overrides the option of that name for its row; \
an empty cell keeps the command line's) and output (the stem of that row's outputs, \
OUT_DIR/<output>.foley.mp4, needed when two rows share a video).

Every item writes OUT_DIR/<stem>.foley.mp4 and OUT_DIR/<stem>.foley.wav. A failing item is reported and the \
next goes on; OUT_DIR/batch-summary.csv and .json (status, times, errors) are rewritten after every item. \
Exit status 1 if any item failed. See docs/generate.md, Batch.")]
pub struct BatchArgs {
    /// A folder of videos, or a CSV manifest (one video per row, with its own options).
    #[arg(value_name = "INPUT_DIR|MANIFEST.csv")]
    pub input: PathBuf,
    /// The folder the outputs and the summary go to (created if missing).
    #[arg(short, long, value_name = "OUT_DIR")]
    pub output: PathBuf,
    /// Videos generated at once, each on its own thread (the models are loaded once and shared).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
    /// Skip the videos whose mp4 and wav are both in OUT_DIR already (outputs only ever appear
    /// complete, so these are finished). Without --resume, existing outputs are replaced.
    #[arg(long)]
    pub resume: bool,
    #[command(flatten)]
    pub job: JobOptions,
}

pub fn run(args: BatchArgs) -> Result<()> {
    let template = args.job.spec(PathBuf::new(), None);
    let batch = batch::collect(&args.input, &args.output, &template)?;
    let mut bar = Bar::default();
    let summary = batch.run(args.jobs.into(), args.resume, &mut bar)?;
    if let Some(b) = bar.bar.take() {
        b.finish_and_clear();
    }
    let csv = args.output.join(SUMMARY_CSV);
    println!(
        "{} done, {} failed, {} skipped of {} videos in {:.1} s; summary: {}",
        summary.done,
        summary.failed,
        summary.skipped,
        summary.total,
        summary.seconds,
        csv.display()
    );
    if summary.failed > 0 {
        bail!("{} of {} videos failed (see {})", summary.failed, summary.total, csv.display());
    }
    Ok(())
}

/// A progress bar over items, its message the files being worked on.
#[derive(Default)]
struct Bar {
    bar: Option<ProgressBar>,
    /// The running items: label, and what the bar shows of it (file name, windows done).
    running: Vec<(String, String)>,
}

impl Bar {
    fn show(&self) {
        if let Some(b) = &self.bar {
            b.set_message(self.running.iter().map(|(_, shown)| shown.as_str()).collect::<Vec<_>>().join(", "));
        }
    }
}

fn name(item: &BatchItem) -> String {
    item.spec.input.file_name().map_or_else(|| item.label.clone(), |n| n.to_string_lossy().into_owned())
}

impl BatchProgress for Bar {
    fn begin(&mut self, total: usize, skipped: usize) {
        if skipped > 0 {
            eprintln!("resume: {skipped} of {total} videos already have both outputs; skipped");
        }
        self.bar = (skipped < total).then(|| output::progress((total - skipped) as u64, "videos"));
    }

    fn loading_models(&mut self) {
        if let Some(b) = &self.bar {
            b.set_message("loading models");
        }
    }

    fn started(&mut self, item: &BatchItem) {
        self.running.push((item.label.clone(), name(item)));
        self.show();
    }

    fn windows(&mut self, item: &BatchItem, done: usize, total: usize) {
        if let Some(entry) = self.running.iter_mut().find(|(label, _)| *label == item.label) {
            entry.1 = format!("{} {done}/{total}", name(item));
        }
        self.show();
    }

    fn finished(&mut self, item: &BatchItem, report: &ItemReport) {
        self.running.retain(|(label, _)| *label != item.label);
        if let Some(b) = &self.bar {
            b.inc(1);
            if report.status == Status::Failed {
                // Printed whether or not the bar is drawn (stderr may not be a terminal).
                b.suspend(|| eprintln!("failed: {}", report.error.as_deref().unwrap_or("unknown error")));
            }
        }
        self.show();
    }
}
