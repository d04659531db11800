//! The server's jobs: their records, the bounded queue the workers take them from, and a change
//! signal per job for its watchers (server-sent events).
//!
//! One mutex guards everything; every operation on it is short (no I/O under the lock), and
//! worker threads and async handlers share it alike.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Result, anyhow};
use foley_job::Plan;
use serde::Serialize;
use tokio::sync::watch;

/// A job's id: 128 random bits as 32 hex digits, chosen by the server.
pub(crate) type JobId = String;

/// A fresh job id from the kernel's random source.
pub(crate) fn new_id() -> std::io::Result<JobId> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum State {
    Queued,
    Running,
    Done,
    Failed,
}

impl State {
    /// The name the API uses.
    pub(crate) fn name(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Done => "done",
            State::Failed => "failed",
        }
    }

    fn is_finished(self) -> bool {
        matches!(self, State::Done | State::Failed)
    }
}

/// A job as the API shows it (`GET /api/jobs/{id}`, every server-sent event).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Record {
    pub id: JobId,
    pub state: State,
    /// The stage running or last run ("generating", "level and wav", "mux", "mel").
    pub stage: Option<&'static str>,
    /// Windows done / total, 0 to 1; 1 when done.
    pub progress: f64,
    pub windows_done: usize,
    pub windows_total: usize,
    pub error: Option<String>,
    /// Unix seconds.
    pub created: f64,
    pub started: Option<f64>,
    pub finished: Option<f64>,
    /// Jobs ahead of this one in the queue (0: next), while queued.
    pub queue_position: Option<usize>,
    /// The form's text fields, as the client gave them.
    pub options: BTreeMap<String, String>,
    /// Seconds of audio the job makes.
    pub duration: f64,
    pub results: Option<Results>,
}

/// Where a finished job's files are served.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Results {
    pub mp4: String,
    pub wav: String,
    pub mel: String,
}

struct Job {
    /// Creation order (newest first in listings, whatever the clock does).
    seq: u64,
    state: State,
    stage: Option<&'static str>,
    windows: (usize, usize),
    error: Option<String>,
    created: SystemTime,
    started: Option<SystemTime>,
    finished: Option<SystemTime>,
    /// When a running job must stop (checked between windows).
    deadline: Option<Instant>,
    options: BTreeMap<String, String>,
    duration: f64,
    dir: PathBuf,
    /// Ticks on every change; dropped with the job, which ends its watchers' streams.
    changed: watch::Sender<()>,
}

impl Job {
    fn touch(&self) {
        self.changed.send_replace(());
    }
}

struct Inner {
    jobs: HashMap<JobId, Job>,
    queue: VecDeque<(JobId, Plan)>,
    next_seq: u64,
    /// Set at shutdown: nothing is queued or taken any more, running jobs stop.
    closed: bool,
}

/// Why a job was not queued.
pub(crate) enum Refused {
    /// The queue holds this many jobs already.
    Full(usize),
    Closed,
}

/// What a removed job leaves to its remover.
pub(crate) enum Removed {
    /// Queued or finished: its directory is the caller's to delete.
    Idle(PathBuf),
    /// Running: its worker stops at the next window and deletes the directory.
    Running,
}

/// Counts for `/healthz`.
pub(crate) struct Load {
    pub queued: usize,
    pub running: usize,
}

/// All jobs of a server.
pub(crate) struct Jobs {
    inner: Mutex<Inner>,
    /// Signals workers that a job was queued or the server closed.
    work: Condvar,
    capacity: usize,
    job_timeout: Duration,
}

impl Jobs {
    /// No jobs; at most `capacity` waiting; each may run for `job_timeout`.
    pub(crate) fn new(capacity: usize, job_timeout: Duration) -> Self {
        let inner = Inner { jobs: HashMap::new(), queue: VecDeque::new(), next_seq: 0, closed: false };
        Self { inner: Mutex::new(inner), work: Condvar::new(), capacity, job_timeout }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic never happens under this lock, but a poisoned registry would still be consistent.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a checked job whose files are in `dir`; on refusal the plan is dropped (its
    /// reserved outputs deleted) and `dir` is still the caller's.
    pub(crate) fn enqueue(&self, id: JobId, plan: Plan, options: BTreeMap<String, String>, dir: PathBuf) -> Result<(), Refused> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(Refused::Closed);
        }
        if inner.queue.len() >= self.capacity {
            return Err(Refused::Full(inner.queue.len()));
        }
        let seq = inner.next_seq;
        inner.next_seq += 1;
        let job = Job {
            seq,
            state: State::Queued,
            stage: None,
            windows: (0, 0),
            error: None,
            created: SystemTime::now(),
            started: None,
            finished: None,
            deadline: None,
            options,
            duration: plan.window.duration,
            dir,
            changed: watch::Sender::new(()),
        };
        inner.jobs.insert(id.clone(), job);
        inner.queue.push_back((id, plan));
        drop(inner);
        self.work.notify_one();
        Ok(())
    }

    /// The next job to run, waiting for one; `None` once the server closes. The job is marked
    /// running and its time limit starts.
    pub(crate) fn next(&self) -> Option<(JobId, Plan)> {
        let mut inner = self.lock();
        loop {
            if inner.closed {
                return None;
            }
            if let Some((id, plan)) = inner.queue.pop_front() {
                let deadline = Instant::now() + self.job_timeout;
                if let Some(job) = inner.jobs.get_mut(&id) {
                    job.state = State::Running;
                    job.started = Some(SystemTime::now());
                    job.deadline = Some(deadline);
                    job.touch();
                }
                touch_queued(&inner);
                return Some((id, plan));
            }
            inner = self.work.wait(inner).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// A running job's stage changed.
    pub(crate) fn set_stage(&self, id: &str, stage: &'static str) {
        if let Some(job) = self.lock().jobs.get_mut(id) {
            job.stage = Some(stage);
            job.touch();
        }
    }

    /// A running job finished `done` of `total` windows. An error tells its worker to stop: the
    /// job was deleted, the server is closing, or the time limit passed.
    pub(crate) fn set_windows(&self, id: &str, done: usize, total: usize) -> Result<()> {
        let mut inner = self.lock();
        let closed = inner.closed;
        let Some(job) = inner.jobs.get_mut(id) else { return Err(anyhow!("the job was deleted")) };
        job.windows = (done, total);
        job.touch();
        if closed {
            return Err(anyhow!("the server is shutting down"));
        }
        if job.deadline.is_some_and(|d| Instant::now() > d) {
            return Err(anyhow!("time limit of {} s exceeded", self.job_timeout.as_secs_f64()));
        }
        Ok(())
    }

    /// A worker is through with a job: done, or failed with `error`. Returns whether the job's
    /// directory is now garbage (the job failed, or was deleted while it ran), for the worker to
    /// delete.
    pub(crate) fn finish(&self, id: &str, error: Option<String>) -> bool {
        let mut inner = self.lock();
        let Some(job) = inner.jobs.get_mut(id) else { return true };
        let failed = error.is_some();
        job.state = if failed { State::Failed } else { State::Done };
        job.error = error;
        job.finished = Some(SystemTime::now());
        job.touch();
        failed
    }

    /// The job's record.
    pub(crate) fn record(&self, id: &str) -> Option<Record> {
        let inner = self.lock();
        inner.jobs.get(id).map(|job| record(&inner, id, job))
    }

    /// Every job's record, newest first.
    pub(crate) fn list(&self) -> Vec<Record> {
        let inner = self.lock();
        let mut jobs: Vec<(&JobId, &Job)> = inner.jobs.iter().collect();
        jobs.sort_by_key(|(_, job)| std::cmp::Reverse(job.seq));
        jobs.into_iter().map(|(id, job)| record(&inner, id, job)).collect()
    }

    /// A receiver that wakes on every change of the job, and errs once it is removed.
    pub(crate) fn subscribe(&self, id: &str) -> Option<watch::Receiver<()>> {
        self.lock().jobs.get(id).map(|job| job.changed.subscribe())
    }

    /// The directory of a done job (whose results may be served), or the job's state otherwise.
    pub(crate) fn done_dir(&self, id: &str) -> Option<Result<PathBuf, State>> {
        self.lock().jobs.get(id).map(|job| if job.state == State::Done { Ok(job.dir.clone()) } else { Err(job.state) })
    }

    /// Forgets a job: a queued one leaves the queue, a running one is cancelled.
    pub(crate) fn remove(&self, id: &str) -> Option<Removed> {
        let mut inner = self.lock();
        let job = inner.jobs.remove(id)?;
        if job.state == State::Queued {
            // Dropping the plan deletes its reserved outputs before the directory goes.
            inner.queue.retain(|(queued, _)| queued != id);
            touch_queued(&inner);
        }
        Some(if job.state == State::Running { Removed::Running } else { Removed::Idle(job.dir) })
    }

    /// Forgets the jobs finished more than `keep` ago; returns their directories.
    pub(crate) fn expire(&self, keep: Duration) -> Vec<PathBuf> {
        let mut inner = self.lock();
        let now = SystemTime::now();
        let old: Vec<JobId> = inner
            .jobs
            .iter()
            .filter(|(_, job)| job.finished.is_some_and(|f| now.duration_since(f).is_ok_and(|age| age > keep)))
            .map(|(id, _)| id.clone())
            .collect();
        old.iter().filter_map(|id| inner.jobs.remove(id)).map(|job| job.dir).collect()
    }

    /// Closes the server's jobs: queued ones are dropped, running ones stop at their next window,
    /// idle workers return. Returns the directories of the jobs that are not running.
    pub(crate) fn close(&self) -> Vec<PathBuf> {
        let mut inner = self.lock();
        inner.closed = true;
        inner.queue.clear();
        let idle: Vec<JobId> = inner.jobs.iter().filter(|(_, job)| job.state != State::Running).map(|(id, _)| id.clone()).collect();
        let dirs = idle.iter().filter_map(|id| inner.jobs.remove(id)).map(|job| job.dir).collect();
        drop(inner);
        self.work.notify_all();
        dirs
    }

    /// The directories of every job still known (after the workers stopped: the last ones).
    pub(crate) fn drain(&self) -> Vec<PathBuf> {
        self.lock().jobs.drain().map(|(_, job)| job.dir).collect()
    }

    /// How many jobs wait and run.
    pub(crate) fn load(&self) -> Load {
        let inner = self.lock();
        Load { queued: inner.queue.len(), running: inner.jobs.values().filter(|job| job.state == State::Running).count() }
    }
}

/// Queue positions changed: every waiting job's watchers hear of it.
fn touch_queued(inner: &Inner) {
    for (id, _) in &inner.queue {
        if let Some(job) = inner.jobs.get(id) {
            job.touch();
        }
    }
}

fn record(inner: &Inner, id: &str, job: &Job) -> Record {
    let (done, total) = job.windows;
    let progress = match job.state {
        State::Done => 1.0,
        _ if total > 0 => done as f64 / total as f64,
        _ => 0.0,
    };
    let results = (job.state == State::Done).then(|| Results {
        mp4: format!("/api/jobs/{id}/result.mp4"),
        wav: format!("/api/jobs/{id}/result.wav"),
        mel: format!("/api/jobs/{id}/mel.png"),
    });
    Record {
        id: id.to_string(),
        state: job.state,
        stage: job.stage,
        progress,
        windows_done: done,
        windows_total: total,
        error: job.error.clone(),
        created: unix_seconds(job.created),
        started: job.started.map(unix_seconds),
        finished: job.finished.map(unix_seconds),
        queue_position: (job.state == State::Queued).then(|| inner.queue.iter().position(|(queued, _)| queued == id)).flatten(),
        options: job.options.clone(),
        duration: job.duration,
        results,
    }
}

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl Record {
    /// Done or failed: no more changes come.
    pub(crate) fn is_finished(&self) -> bool {
        self.state.is_finished()
    }
}
