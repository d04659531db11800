//! How a server is set up: where it listens, how many jobs it runs and keeps, its limits.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use axum::http::HeaderValue;
use foley_job::GenerateSpec;

/// Everything `foley serve` takes. [`ServerConfig::default`] is the safe default: loopback only,
/// one worker, no token, no CORS.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen (port 0: any free port; [`crate::RunningServer::addr`] says which).
    pub addr: SocketAddr,
    /// Jobs run at once, each on its own thread; all share one copy of the weights.
    pub workers: usize,
    /// Jobs that may wait for a worker; beyond, uploads are refused with 429.
    pub queue: usize,
    /// Largest upload, bytes (all files of one request together).
    pub max_upload: u64,
    /// When set, every `/api/*` route but the OpenAPI document needs `Authorization: Bearer
    /// TOKEN` (or `?token=TOKEN`).
    pub token: Option<String>,
    /// Folder for the jobs' files (`jobs/<id>/`); default: a fresh temporary folder, removed at
    /// exit.
    pub data: Option<PathBuf>,
    /// How long a job may run; checked between windows (a window in progress is not interrupted).
    pub job_timeout: Duration,
    /// How long a finished job's record and files are kept.
    pub keep: Duration,
    /// The one origin allowed to call the API from a browser page it serves (CORS); `*` for any.
    pub cors: Option<String>,
    /// The generation settings jobs start from: the model (`model`, `weights`, `sync_model`,
    /// `dtype`), loaded once at start; the form's fields override the rest per job.
    pub defaults: GenerateSpec,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            workers: 1,
            queue: 16,
            max_upload: 512 << 20,
            token: None,
            data: None,
            job_timeout: Duration::from_secs(600),
            keep: Duration::from_secs(3600),
            cors: None,
            defaults: GenerateSpec::default(),
        }
    }
}

impl ServerConfig {
    /// Refuses settings that cannot work, naming the setting.
    pub(crate) fn check(&self) -> Result<()> {
        if self.workers == 0 {
            bail!("--workers must be at least 1");
        }
        if self.queue == 0 {
            bail!("--queue must be at least 1 (jobs wait there for a worker)");
        }
        if self.max_upload == 0 {
            bail!("--max-upload must be above 0");
        }
        if self.job_timeout.is_zero() || self.keep.is_zero() {
            bail!("--job-timeout and --keep must be above 0 seconds");
        }
        if let Some(token) = &self.token {
            if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
                bail!("--token must be non-empty printable ASCII without spaces (it is sent in an Authorization header)");
            }
        }
        if let Some(origin) = &self.cors {
            self.cors_origin()?;
            if origin != "*" && !(origin.starts_with("http://") || origin.starts_with("https://")) {
                bail!("--cors {origin}: expected an origin such as http://localhost:3000 (scheme, host and port, no path), or *");
            }
        }
        Ok(())
    }

    /// The CORS origin as a header value.
    pub(crate) fn cors_origin(&self) -> Result<Option<HeaderValue>> {
        match &self.cors {
            Some(origin) => match HeaderValue::from_str(origin.trim_end_matches('/')) {
                Ok(value) => Ok(Some(value)),
                Err(_) => bail!("--cors {origin}: not a valid origin"),
            },
            None => Ok(None),
        }
    }
}
