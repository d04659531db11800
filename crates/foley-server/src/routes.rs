//! The routes: the API behind the token, the public page, health and API document, and the
//! layers every response passes (CORS, JSON errors, security headers).

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::api::{self, AppState};
use crate::http::{self, ApiError};

/// The form's text fields and multipart framing, on top of the files' `max_upload` bytes.
const FORM_OVERHEAD: u64 = 1 << 20;

/// The page may load only from this server (results and spectrograms included).
const PAGE_POLICY: &str = "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:";

/// The whole application for `state`, with an optional bearer token and CORS origin.
pub(crate) fn router(state: Arc<AppState>, token: Option<&str>, cors: Option<HeaderValue>) -> Router {
    let body_limit = usize::try_from(state.max_upload.saturating_add(FORM_OVERHEAD)).unwrap_or(usize::MAX);
    let mut jobs = Router::new()
        .route("/api/jobs", get(api::list).post(api::create).layer(DefaultBodyLimit::max(body_limit)))
        .route("/api/jobs/{id}", get(api::get).delete(api::delete))
        .route("/api/jobs/{id}/events", get(api::events))
        .route("/api/jobs/{id}/result.mp4", get(api::mp4))
        .route("/api/jobs/{id}/result.wav", get(api::wav))
        .route("/api/jobs/{id}/mel.png", get(api::mel));
    if let Some(token) = token {
        jobs = jobs.route_layer(middleware::from_fn_with_state(Arc::<str>::from(token), http::require_token));
    }
    let mut app = Router::new()
        .merge(jobs)
        .route("/api/openapi.json", get(|| async { axum::Json(crate::openapi::document()) }))
        .route("/healthz", get(api::health))
        .route("/", get(|| page("text/html; charset=utf-8", include_str!("../assets/index.html"))))
        .route("/assets/app.js", get(|| page("text/javascript; charset=utf-8", include_str!("../assets/app.js"))))
        .route("/assets/style.css", get(|| page("text/css; charset=utf-8", include_str!("../assets/style.css"))))
        .fallback(no_route)
        .with_state(state)
        .layer(middleware::from_fn(http::json_errors))
        .layer(middleware::from_fn(http::no_sniff));
    // Outermost: a preflight is answered before any route or token check sees it.
    if let Some(origin) = cors {
        app = app.layer(middleware::from_fn_with_state(origin, http::cors));
    }
    app
}

async fn page(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type), (header::CONTENT_SECURITY_POLICY, PAGE_POLICY)], body)
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("no route {method} {} (the API is described at /api/openapi.json)", uri.path()))
}
