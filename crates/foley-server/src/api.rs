//! The handlers of `/api/jobs`: upload, records, progress events, results, deletion.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use foley_job::{GenerateSpec, Plan};
use futures_util::Stream;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::form;
use crate::http::ApiError;
use crate::job_dir::{self, JobDir};
use crate::jobs::{self, Jobs, Refused, Removed};

/// What the handlers share.
pub(crate) struct AppState {
    pub jobs: Arc<Jobs>,
    /// `DATA/jobs`.
    pub jobs_root: PathBuf,
    pub max_upload: u64,
    pub defaults: GenerateSpec,
    pub keep: Duration,
    pub workers: usize,
    /// What `/healthz` calls the loaded model.
    pub model: String,
    /// Turns true when the server stops (ends event streams).
    pub shutdown: watch::Receiver<bool>,
}

type Shared = State<Arc<AppState>>;

/// `POST /api/jobs`: the upload is saved, checked as `foley generate` checks its input, and
/// queued.
pub(crate) async fn create(State(app): Shared, form: Result<Multipart, MultipartRejection>) -> Result<Response, ApiError> {
    let form =
        form.map_err(|e| ApiError::bad_request(format!("expected a multipart/form-data upload with the video in field \"video\": {}", e.body_text())))?;
    let id = jobs::new_id().map_err(|e| ApiError::internal(format!("no random job id: {e}")))?;
    let dir = JobDir::create(&app.jobs_root, &id).map_err(|e| ApiError::internal(format!("creating the job's folder in {}: {e}", app.jobs_root.display())))?;
    let upload = form::read(form, dir.path(), app.max_upload, &app.defaults).await?;
    let path = dir.path().to_path_buf();
    let plan = tokio::task::spawn_blocking(move || Plan::new(upload.spec))
        .await
        .map_err(|e| ApiError::internal(format!("checking the upload: {e}")))?
        .map_err(|e| ApiError::bad_request(form::in_form_terms(&job_dir::describe(&format!("{e:#}"), &path))))?;
    let duration = plan.window.duration;
    match app.jobs.enqueue(id.clone(), plan, upload.options, dir.path().to_path_buf()) {
        Ok(()) => dir.keep(),
        Err(Refused::Full(waiting)) => {
            let mut error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, format!("queue full ({waiting} jobs waiting); retry later"));
            error.retry_after = Some(30);
            return Err(error);
        }
        Err(Refused::Closed) => return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down")),
    }
    tracing::info!("job {id} queued: {duration:.2} s of audio to make");
    let location = HeaderValue::from_str(&format!("/api/jobs/{id}")).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(json!({ "id": id }))).into_response())
}

fn unknown(app: &AppState, id: &str) -> ApiError {
    ApiError::not_found(format!("no job \"{id}\" (deleted, or finished more than {} s ago: results expire)", app.keep.as_secs()))
}

/// `GET /api/jobs/{id}`.
pub(crate) async fn get(State(app): Shared, Path(id): Path<String>) -> Result<Json<jobs::Record>, ApiError> {
    app.jobs.record(&id).map(Json).ok_or_else(|| unknown(&app, &id))
}

/// `GET /api/jobs`: the jobs the server knows, newest first.
pub(crate) async fn list(State(app): Shared) -> Json<Value> {
    Json(json!({ "jobs": app.jobs.list() }))
}

/// `GET /api/jobs/{id}/events`: an `event: job` with the record now and on every change; the
/// stream ends once the job is done or failed (or deleted).
pub(crate) async fn events(State(app): Shared, Path(id): Path<String>) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let changes = app.jobs.subscribe(&id).ok_or_else(|| unknown(&app, &id))?;
    let state = Some((app.clone(), id, changes, true));
    let stream = futures_util::stream::unfold(state, |state| async move {
        let (app, id, mut changes, first) = state?;
        if !first {
            let mut shutdown = app.shutdown.clone();
            tokio::select! {
                changed = changes.changed() => changed.ok()?,
                _ = shutdown.wait_for(|stop| *stop) => return None,
            }
        }
        let record = app.jobs.record(&id)?;
        let event = Event::default().event("job").json_data(&record).ok()?;
        let next = (!record.is_finished()).then_some((app, id, changes, false));
        Some((Ok::<_, Infallible>(event), next))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// One of a done job's files.
async fn result(app: &AppState, id: &str, file: &str, content_type: &'static str, extension: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    match app.jobs.done_dir(id) {
        None => Err(unknown(app, id)),
        Some(Err(state)) => Err(ApiError::not_found(format!("job \"{id}\" is {}: its results are served once it is done", state.name()))),
        // The name a browser saves it under: no client name ever, the id's start.
        Some(Ok(dir)) => crate::files::send(&dir.join(file), content_type, &format!("foley-{}.{extension}", id.get(..8).unwrap_or(id)), headers).await,
    }
}

/// `GET /api/jobs/{id}/result.mp4`.
pub(crate) async fn mp4(State(app): Shared, Path(id): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    result(&app, &id, job_dir::MP4, "video/mp4", "mp4", &headers).await
}

/// `GET /api/jobs/{id}/result.wav`.
pub(crate) async fn wav(State(app): Shared, Path(id): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    result(&app, &id, job_dir::WAV, "audio/wav", "wav", &headers).await
}

/// `GET /api/jobs/{id}/mel.png`.
pub(crate) async fn mel(State(app): Shared, Path(id): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    result(&app, &id, job_dir::MEL, "image/png", "png", &headers).await
}

/// `DELETE /api/jobs/{id}`: a queued job leaves the queue, a running one stops at its next
/// window, a finished one's files go.
pub(crate) async fn delete(State(app): Shared, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    match app.jobs.remove(&id).ok_or_else(|| unknown(&app, &id))? {
        Removed::Idle(dir) => {
            let _ = tokio::task::spawn_blocking(move || job_dir::remove(&dir)).await;
            tracing::info!("job {id} deleted");
        }
        Removed::Running => tracing::info!("job {id} deleted: cancelled, stops at its next window"),
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /healthz`.
pub(crate) async fn health(State(app): Shared) -> Json<Value> {
    let load = app.jobs.load();
    Json(json!({ "status": "ok", "workers": app.workers, "queued": load.queued, "running": load.running, "model": app.model }))
}
