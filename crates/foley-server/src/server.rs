//! Starting and stopping a server: the data folder, the models and workers, the listener, the
//! expiry of old jobs, and a graceful end.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use foley_job::{ModelChoice, Models};
use foley_media::StagingDir;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::AppState;
use crate::config::ServerConfig;
use crate::job_dir;
use crate::jobs::Jobs;

/// A server that listens, with its workers; stop it with [`RunningServer::shutdown`].
pub struct RunningServer {
    /// The address it listens on (the actual port when the configuration asked for port 0).
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    serve: JoinHandle<std::io::Result<()>>,
    expiry: JoinHandle<()>,
    workers: Vec<std::thread::JoinHandle<()>>,
    jobs: Arc<Jobs>,
    /// `DATA/jobs`.
    jobs_root: PathBuf,
    /// The temporary data folder, when the configuration named none (deleted when dropped).
    temporary: Option<StagingDir>,
}

/// Checks `config`, binds its address, loads the models once, starts the workers and serves.
/// Fails with a message naming the problem (an address in use, missing weights, ...).
pub async fn start(config: ServerConfig) -> Result<RunningServer> {
    config.check()?;
    foley_media::check_tools()?;
    let cors = config.cors_origin()?;
    let (data, temporary) = match &config.data {
        Some(dir) => (dir.clone(), None),
        None => {
            // A staging folder is also deleted if a termination signal ends the process.
            let staging = StagingDir::for_dest(&std::env::temp_dir().join("foley-serve")).context("creating the server's temporary data folder")?;
            (staging.path().to_path_buf(), Some(staging))
        }
    };
    let jobs_root = data.join("jobs");
    std::fs::create_dir_all(&jobs_root).with_context(|| format!("--data {}: cannot create {}", data.display(), jobs_root.display()))?;
    let listener = tokio::net::TcpListener::bind(config.addr).await.with_context(|| format!("--addr {}: cannot listen there", config.addr))?;
    let addr = listener.local_addr()?;

    let choice = config.defaults.model_choice()?;
    let model = model_name(&choice);
    let loading = choice.clone();
    let models = tokio::task::spawn_blocking(move || Models::load(&loading)).await?.with_context(|| format!("loading the model {model}"))?;
    let jobs = Arc::new(Jobs::new(config.queue, config.job_timeout));
    let workers =
        (0..config.workers).map(|i| crate::worker::spawn(i, jobs.clone(), models.fork()).context("starting a worker thread")).collect::<Result<Vec<_>>>()?;
    drop(models);

    let (stop, stopped) = watch::channel(false);
    let state = Arc::new(AppState {
        jobs: jobs.clone(),
        jobs_root: jobs_root.clone(),
        max_upload: config.max_upload,
        defaults: config.defaults.clone(),
        keep: config.keep,
        workers: config.workers,
        model: model.clone(),
        shutdown: stopped.clone(),
    });
    let app = crate::routes::router(state, config.token.as_deref(), cors);
    let mut until_stop = stopped.clone();
    let serve = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = until_stop.wait_for(|stop| *stop).await;
            })
            .await
    });
    let expiry = tokio::spawn(expire(jobs.clone(), config.keep, stopped));
    tracing::info!("listening on http://{addr} with {} worker(s), model {model}, jobs in {}", config.workers, jobs_root.display());
    Ok(RunningServer { addr, stop, serve, expiry, workers, jobs, jobs_root, temporary })
}

impl RunningServer {
    /// Stops taking requests, cancels running jobs at their next window, drops queued ones,
    /// waits for the workers and deletes every job's folder (and the temporary data folder).
    pub async fn shutdown(self) {
        let RunningServer { stop, serve, expiry, workers, jobs, jobs_root, temporary, .. } = self;
        stop.send_replace(true);
        let idle = jobs.close();
        match serve.await {
            Ok(Err(e)) => tracing::warn!("the server stopped with an error: {e}"),
            Err(e) => tracing::warn!("the server task failed: {e}"),
            Ok(Ok(())) => {}
        }
        let _ = expiry.await;
        let _ = tokio::task::spawn_blocking(move || {
            for worker in workers {
                if worker.join().is_err() {
                    tracing::warn!("a worker thread panicked");
                }
            }
            for dir in idle.into_iter().chain(jobs.drain()) {
                job_dir::remove(&dir);
            }
            // Only if empty: a --data folder may hold what others put there.
            let _ = std::fs::remove_dir(&jobs_root);
            drop(temporary);
        })
        .await;
        tracing::info!("stopped");
    }
}

/// Runs a server until SIGINT or SIGTERM, then shuts it down: `foley serve`. Prints one line,
/// `foley serve: listening on http://ADDR`, on standard output once it accepts requests.
pub fn run(config: ServerConfig) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("foley-serve").build().context("starting the async runtime")?;
    runtime.block_on(async {
        let server = start(config).await?;
        let mut stdout = std::io::stdout();
        writeln!(stdout, "foley serve: listening on http://{}", server.addr)?;
        stdout.flush()?;
        let signal = termination().await;
        tracing::info!("{signal}: shutting down");
        server.shutdown().await;
        Ok(())
    })
}

/// Waits for SIGINT or SIGTERM; says which came.
async fn termination() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = tokio::signal::ctrl_c() => "interrupt",
            _ = term.recv() => "terminate",
        },
        Err(e) => {
            tracing::warn!("no SIGTERM handler ({e}); stop with Ctrl-C");
            let _ = tokio::signal::ctrl_c().await;
            "interrupt"
        }
    }
}

/// Every while, forgets the jobs finished more than `keep` ago and deletes their folders.
async fn expire(jobs: Arc<Jobs>, keep: Duration, mut stopped: watch::Receiver<bool>) {
    let period = (keep / 4).clamp(Duration::from_secs(1), Duration::from_secs(30));
    let mut tick = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        let old = jobs.expire(keep);
        if !old.is_empty() {
            tracing::info!("{} finished job(s) expired", old.len());
            let _ = tokio::task::spawn_blocking(move || old.iter().for_each(|dir| job_dir::remove(dir))).await;
        }
    }
}

/// The model's name for `/healthz` (no server paths).
fn model_name(choice: &ModelChoice) -> String {
    match choice {
        ModelChoice::Embedded { generator, .. } => {
            format!("foley ({})", generator.file_name().map_or_else(|| "generator".into(), |n| n.to_string_lossy().into_owned()))
        }
        ModelChoice::Mmaudio { variant, .. } => format!("mmaudio:{variant}"),
    }
}
