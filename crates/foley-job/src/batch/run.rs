//! Running a batch: worker threads with forked models take items in turn; the caller's thread
//! keeps the summary and the progress display.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::time::Instant;

use anyhow::{Result, bail, ensure};

use super::summary::{ItemReport, Status, Summary};
use super::{Batch, BatchItem};
use crate::models::Models;
use crate::run::{Outputs, Progress};
use crate::spec::Plan;

/// What a batch tells its caller while it runs (all calls come from the caller's thread).
pub trait BatchProgress {
    /// Before any work: `total` items, of which `skipped` already have both outputs (resume).
    fn begin(&mut self, _total: usize, _skipped: usize) {}
    /// The models are loading (only when some item is left to do).
    fn loading_models(&mut self) {}
    /// A worker starts on `item`.
    fn started(&mut self, _item: &BatchItem) {}
    /// `done` of `total` windows of `item` are final.
    fn windows(&mut self, _item: &BatchItem, _done: usize, _total: usize) {}
    /// `item` is done or failed (`report.error` says why); the summary on disk says so already.
    fn finished(&mut self, _item: &BatchItem, _report: &ItemReport) {}
}

/// No progress display.
impl BatchProgress for () {}

/// What workers tell the caller's thread.
enum Event {
    Started(usize),
    Windows(usize, usize, usize),
    Finished(usize, f64, Result<Outputs, String>),
}

impl Batch {
    /// Runs every item on `jobs` worker threads (models loaded once, forked for each worker),
    /// rewriting the summary in the output folder after every item. With `resume`, items whose
    /// mp4 and wav both exist are skipped (outputs appear only complete, so an existing one is
    /// whole); otherwise existing outputs are replaced. An item's failure is in the summary, not
    /// an error: this fails only when nothing can run (the models do not load, the summary
    /// cannot be written).
    pub fn run(&self, jobs: usize, resume: bool, progress: &mut dyn BatchProgress) -> Result<Summary> {
        ensure!(jobs >= 1, "--jobs must be at least 1");
        let clock = Instant::now();
        let mut summary = Summary::new(&self.items);
        let mut todo = Vec::new();
        for (i, item) in self.items.iter().enumerate() {
            match resume && item.mp4().is_file() && item.wav().is_file() {
                true => summary.record(i, Status::Skipped, None, Ok(None)),
                false => todo.push(i),
            }
        }
        progress.begin(self.items.len(), self.items.len() - todo.len());
        summary.write(&self.out_dir, clock.elapsed().as_secs_f64())?;
        if todo.is_empty() {
            return Ok(summary);
        }
        progress.loading_models();
        let first = match Models::load(&self.choice) {
            Ok(models) => models,
            Err(e) => {
                // The summary says why nothing ran, item by item, before the batch fails.
                let why = format!("not run: the models did not load: {e:#}");
                for &i in &todo {
                    summary.record(i, Status::Failed, None, Err(why.clone()));
                }
                summary.write(&self.out_dir, clock.elapsed().as_secs_f64())?;
                return Err(e);
            }
        };
        let mut workers = vec![first];
        while workers.len() < jobs.min(todo.len()) {
            workers.push(workers[0].fork());
        }

        let (next, stop) = (AtomicUsize::new(0), AtomicBool::new(false));
        let (tx, rx) = channel();
        let mut failure = None;
        std::thread::scope(|scope| {
            for mut models in workers {
                let (tx, next, stop, todo) = (tx.clone(), &next, &stop, &todo);
                scope.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let Some(&i) = todo.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
                        let _ = tx.send(Event::Started(i));
                        let start = Instant::now();
                        let outcome = run_item(&self.items[i], &mut models, &mut ItemProgress { tx: &tx, index: i, stop });
                        let _ = tx.send(Event::Finished(i, start.elapsed().as_secs_f64(), outcome));
                    }
                });
            }
            drop(tx);
            for event in rx {
                match event {
                    Event::Started(i) => progress.started(&self.items[i]),
                    Event::Windows(i, done, total) => progress.windows(&self.items[i], done, total),
                    Event::Finished(i, seconds, outcome) => {
                        let (status, outcome) = match outcome {
                            Ok(out) => (Status::Done, Ok(Some(out.duration))),
                            Err(e) => (Status::Failed, Err(e)),
                        };
                        summary.record(i, status, Some(seconds), outcome);
                        // Without its summary a batch cannot be trusted: stop, keep what is published.
                        if let Err(e) = summary.write(&self.out_dir, clock.elapsed().as_secs_f64()) {
                            stop.store(true, Ordering::Relaxed);
                            failure.get_or_insert(e);
                        }
                        progress.finished(&self.items[i], &summary.items[i]);
                    }
                }
            }
        });
        match failure {
            Some(e) => Err(e),
            None => Ok(summary),
        }
    }
}

/// One job, start to end; any error or panic is the item's failure, named by its input.
fn run_item(item: &BatchItem, models: &mut Models, progress: &mut ItemProgress) -> Result<Outputs, String> {
    let job = AssertUnwindSafe(|| Plan::new(item.spec.clone())?.run(models, progress));
    let message = match std::panic::catch_unwind(job) {
        Ok(Ok(outputs)) => return Ok(outputs),
        Ok(Err(e)) => format!("{e:#}"),
        Err(panic) => {
            let what = panic.downcast_ref::<&str>().copied().or(panic.downcast_ref::<String>().map(String::as_str)).unwrap_or("unknown");
            format!("internal error (panic: {what})")
        }
    };
    let input = item.spec.input.display().to_string();
    Err(if message.contains(&input) { message } else { format!("{input}: {message}") })
}

/// A job's progress, forwarded to the caller's thread.
struct ItemProgress<'a> {
    tx: &'a Sender<Event>,
    index: usize,
    stop: &'a AtomicBool,
}

impl Progress for ItemProgress<'_> {
    fn windows(&mut self, done: usize, total: usize) -> Result<()> {
        if self.stop.load(Ordering::Relaxed) {
            bail!("the batch stopped");
        }
        let _ = self.tx.send(Event::Windows(self.index, done, total));
        Ok(())
    }
}
