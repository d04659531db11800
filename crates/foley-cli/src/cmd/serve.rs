//! `foley serve`: an HTTP API and a web page over generation jobs (foley-server).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;
use foley_server::ServerConfig;

/// Options of `foley serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on. The default takes requests from this machine only; another
    /// address (e.g. 0.0.0.0:8080) should come with --token.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Jobs run at once (each on its own threads; all share one copy of the weights).
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Jobs that may wait for a worker; more uploads are refused (429) until one starts.
    #[arg(long, default_value_t = 16)]
    pub queue: usize,
    /// Largest upload, MiB (all files of one request together); larger ones are refused (413).
    #[arg(long, value_name = "MiB", default_value_t = 512)]
    pub max_upload: u64,
    /// Require `Authorization: Bearer TOKEN` (or `?token=TOKEN`) on every /api route but the
    /// OpenAPI document. Also read from the environment variable FOLEY_TOKEN, which keeps it out
    /// of the process list.
    #[arg(long)]
    pub token: Option<String>,
    /// Folder for the jobs' uploads and results (`jobs/<id>/`, deleted when a job is deleted,
    /// expires or the server stops); default: a fresh temporary folder.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Longest a job may run, seconds (checked between windows: a window in progress finishes).
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub job_timeout: u64,
    /// How long a finished job's results are kept, seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub keep: u64,
    /// Allow browser pages from this origin (e.g. http://localhost:3000) to call the API (CORS).
    /// Default: none (the server's own page needs no CORS).
    #[arg(long, value_name = "ORIGIN")]
    pub cors: Option<String>,
    /// The networks, loaded once for every job.
    #[command(flatten)]
    pub models: super::generate::ModelArgs,
}

impl ServeArgs {
    /// The server these flags ask for.
    fn config(self) -> Result<ServerConfig> {
        if self.max_upload == 0 {
            bail!("--max-upload must be at least 1 MiB");
        }
        let token = self.token.or_else(|| std::env::var("FOLEY_TOKEN").ok().filter(|t| !t.is_empty()));
        let defaults = self.models.spec();
        Ok(ServerConfig {
            addr: self.addr,
            workers: self.workers,
            queue: self.queue,
            max_upload: self.max_upload.saturating_mul(1 << 20),
            token,
            data: self.data,
            job_timeout: Duration::from_secs(self.job_timeout),
            keep: Duration::from_secs(self.keep),
            cors: self.cors,
            defaults,
        })
    }
}

pub fn run(args: ServeArgs) -> Result<()> {
    let config = args.config()?;
    if !config.addr.ip().is_loopback() && config.token.is_none() {
        eprintln!("foley serve: warning: listening on {} without --token: anyone who can reach it may upload videos and run jobs", config.addr);
    }
    foley_server::run(config)
}
