//! `foley serve`: an HTTP API and a web page over the generation jobs of foley-job.
//!
//! A job's life: `POST /api/jobs` streams the form's files into a fresh `DATA/jobs/<id>/` (names
//! chosen by the server; the size limit counted as bytes arrive), turns the text fields into a
//! [`foley_job::GenerateSpec`] over the server's default model, and runs [`foley_job::Plan::new`]
//! (ffprobe and every check of `foley generate`) before anything is queued: a bad upload is a 400
//! that names the problem, and its folder is gone. The queue is bounded (429 when full).
//!
//! The models load once at [`start`]; each of N worker threads (plain threads: burn computes on
//! CPU threads) runs one job at a time on a fork of them, sharing the weights. A worker's progress
//! goes to the job's record and wakes its watchers (server-sent events); the same hook stops the
//! job between windows when it is deleted, over its time limit or the server stops. After the
//! mp4 and wav, the worker draws the spectrogram; a panic fails the job, not the worker.
//!
//! Safe by default: loopback address, upload limit, optional bearer token on `/api/*`, no CORS
//! unless an origin is configured, nothing from a client used as a path. Finished jobs expire
//! after `keep`; [`RunningServer::shutdown`] (SIGINT/SIGTERM under [`run`]) deletes every job's
//! folder.

mod api;
mod config;
mod files;
mod form;
mod http;
mod job_dir;
mod jobs;
mod openapi;
mod routes;
mod server;
mod worker;

pub use config::ServerConfig;
pub use server::{RunningServer, run, start};
