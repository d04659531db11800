//! Worker threads: each takes a job from the queue, runs it on its own fork of the shared models,
//! draws the result's spectrogram and records the outcome.
//!
//! Plain threads, not tokio tasks: a job computes for seconds to minutes on burn's CPU threads.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use foley_dsp::MelSpectrogram;
use foley_eval::report::{MelPanel, write_comparison_png};
use foley_job::{Models, Outputs, Plan, Progress};
use foley_seq::MelConfig;

use crate::job_dir;
use crate::jobs::{JobId, Jobs};

/// Starts worker `index` on `models` (a fork of the loaded weights).
pub(crate) fn spawn(index: usize, jobs: Arc<Jobs>, models: Models) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name(format!("foley-worker-{index}")).spawn(move || {
        while let Some((id, plan)) = jobs.next() {
            run(&jobs, &models, id, plan);
        }
    })
}

/// Reports a job's progress to its record; stops it when the record says so.
struct JobProgress<'a> {
    jobs: &'a Jobs,
    id: &'a str,
}

impl Progress for JobProgress<'_> {
    fn stage(&mut self, name: &'static str) {
        self.jobs.set_stage(self.id, name);
    }

    fn windows(&mut self, done: usize, total: usize) -> Result<()> {
        self.jobs.set_windows(self.id, done, total)
    }
}

fn run(jobs: &Jobs, models: &Models, id: JobId, plan: Plan) {
    // The server put the outputs in the job's directory.
    let dir = foley_media::parent_dir(&plan.mp4);
    let clock = Instant::now();
    tracing::info!("job {id} started: {:.2} s of video from {:.2} s", plan.window.duration, plan.window.start);
    let mut progress = JobProgress { jobs, id: &id };
    // A fresh fork per job: no per-job state carries over, and a panic leaves `models` intact.
    let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<Outputs> {
        let outputs = plan.run(&mut models.fork(), &mut progress)?;
        progress.stage("mel");
        draw_mel(&outputs.wav, &dir.join(job_dir::MEL)).context("drawing the spectrogram")?;
        Ok(outputs)
    }));
    let error = match outcome {
        Ok(Ok(outputs)) => {
            tracing::info!("job {id} done in {:.2} s; {}", clock.elapsed().as_secs_f64(), outputs.timings);
            None
        }
        Ok(Err(e)) => Some(job_dir::describe(&format!("{e:#}"), &dir)),
        Err(panic) => Some(format!("internal error (please report it): {}", panic_message(&*panic))),
    };
    if let Some(e) = &error {
        tracing::warn!("job {id} failed after {:.2} s: {e}", clock.elapsed().as_secs_f64());
    }
    if jobs.finish(&id, error) {
        job_dir::remove(&dir);
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_else(|| "a panic".into())
}

/// The log-mel spectrogram of `wav` as a picture at `png` (MMAudio's geometry for its rate).
fn draw_mel(wav: &Path, png: &Path) -> Result<()> {
    let rate = foley_media::probe(wav)?.audio.first().map(|a| a.sample_rate).ok_or_else(|| anyhow!("{}: has no audio stream", wav.display()))?;
    let config = if rate >= MelConfig::MMAUDIO_44K.sample_rate { MelConfig::MMAUDIO_44K } else { MelConfig::MMAUDIO_16K };
    let audio = foley_media::decode_audio(wav, config.sample_rate)?;
    let mel = MelSpectrogram::new(config).compute(&audio);
    let title = format!("result — log-mel, {} Hz, {} mels, hop {}", config.sample_rate, config.n_mels, config.hop);
    let panel = MelPanel { title, n_mels: mel.n_mels, n_frames: mel.n_frames, data: &mel.data, frame_rate: config.frames_per_second(), onsets: &[] };
    let out = foley_media::AtomicOutput::new(png)?;
    write_comparison_png(out.path(), &[panel]).map_err(anyhow::Error::msg)?;
    out.commit()?;
    Ok(())
}
