//! The HTTP API end to end, on servers started in-process on a free loopback port with the
//! shipped generator: a job's round trip (upload, events, record, results, deletion), bad
//! uploads refused with the reason, limits (size, queue, time, expiry), the token, CORS and the
//! OpenAPI document.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use foley_server::{RunningServer, ServerConfig};
use futures_util::StreamExt;
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use serde_json::Value;

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/demo/demo.mp4")
}

fn demo_bytes() -> Vec<u8> {
    std::fs::read(demo()).unwrap()
}

fn config(data: &Path) -> ServerConfig {
    ServerConfig { addr: "127.0.0.1:0".parse().unwrap(), data: Some(data.to_path_buf()), ..ServerConfig::default() }
}

async fn serve(config: ServerConfig) -> (RunningServer, String) {
    let server = foley_server::start(config).await.unwrap();
    let base = format!("http://{}", server.addr);
    (server, base)
}

/// A form with `video` and the given text fields.
fn form(video: Vec<u8>, fields: &[(&str, &str)]) -> Form {
    // The client's file name must never matter: this one would escape the job's folder.
    let mut form = Form::new().part("video", Part::bytes(video).file_name("../../etc/passwd"));
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    form
}

async fn post(client: &Client, base: &str, form: Form) -> (StatusCode, Value) {
    let response = client.post(format!("{base}/api/jobs")).multipart(form).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn record(client: &Client, base: &str, id: &str) -> Value {
    let response = client.get(format!("{base}/api/jobs/{id}")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Polls the job until `done(record)`, for at most `limit`.
async fn wait_for(client: &Client, base: &str, id: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let job = record(client, base, id).await;
        if done(&job) {
            return job;
        }
        assert!(start.elapsed() < limit, "job {id} still {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every `event: job` of the stream, until the server ends it.
async fn events(client: &Client, base: &str, id: &str) -> Vec<Value> {
    let response = client.get(format!("{base}/api/jobs/{id}/events")).timeout(Duration::from_secs(90)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut text = String::new();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
    text.split("\n\n")
        .filter(|block| block.lines().any(|l| l == "event: job"))
        .map(|block| serde_json::from_str(block.lines().find_map(|l| l.strip_prefix("data: ")).unwrap()).unwrap())
        .collect()
}

fn jobs_left(data: &Path) -> Vec<String> {
    std::fs::read_dir(data.join("jobs")).map(|d| d.map(|e| e.unwrap().file_name().into_string().unwrap()).collect()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_goes_from_upload_to_results_and_away() {
    let data = tempfile::tempdir().unwrap();
    let (server, base) = serve(config(data.path())).await;
    let client = Client::new();

    let (status, created) = post(&client, &base, form(demo_bytes(), &[("duration", "1"), ("seed", "3"), ("prompt", "footsteps"), ("steps", "")])).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert_eq!(jobs_left(data.path()), [id.clone()], "one folder, named by the server");
    let files: Vec<String> = std::fs::read_dir(data.path().join("jobs").join(&id)).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(files.contains(&"video".to_string()) && !files.iter().any(|f| f.contains("passwd")), "{files:?}");

    let seen = events(&client, &base, &id).await;
    assert!(seen.len() >= 2, "{seen:?}");
    let progress: Vec<f64> = seen.iter().map(|e| e["progress"].as_f64().unwrap()).collect();
    assert!(progress.windows(2).all(|p| p[0] <= p[1]), "progress never goes back: {progress:?}");
    assert!(seen[..seen.len() - 1].iter().all(|e| e["state"] == "queued" || e["state"] == "running"), "{seen:?}");
    assert!(seen.iter().any(|e| e["state"] == "running" && e["windows_total"] == 1), "{seen:?}");
    let last = seen.last().unwrap();
    assert_eq!((last["state"].as_str(), last["progress"].as_f64()), (Some("done"), Some(1.0)), "{last}");

    let job = record(&client, &base, &id).await;
    assert_eq!(job["state"], "done");
    assert_eq!(job["error"], Value::Null);
    assert_eq!(job["duration"], 1.0);
    assert_eq!((job["windows_done"].as_u64(), job["windows_total"].as_u64()), (Some(1), Some(1)));
    assert_eq!(job["options"], serde_json::json!({ "duration": "1", "seed": "3", "prompt": "footsteps" }), "empty fields are not given");
    assert!(job["created"].as_f64().unwrap() <= job["started"].as_f64().unwrap() && job["started"].as_f64() <= job["finished"].as_f64(), "{job}");
    assert_eq!(job["queue_position"], Value::Null);
    assert_eq!(job["results"]["mp4"], format!("/api/jobs/{id}/result.mp4"));
    assert_eq!(job["results"]["mel"], format!("/api/jobs/{id}/mel.png"));
    let listed: Value = client.get(format!("{base}/api/jobs")).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["jobs"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap()).collect::<Vec<_>>(), [id.as_str()]);

    let get = |path: String| client.get(format!("{base}{path}")).send();
    let wav = get(job["results"]["wav"].as_str().unwrap().into()).await.unwrap();
    assert_eq!(wav.headers()["content-type"], "audio/wav");
    let wav = hound::WavReader::new(std::io::Cursor::new(wav.bytes().await.unwrap().to_vec())).unwrap();
    assert_eq!((wav.spec().sample_rate, wav.len()), (16_000, 16_000), "1 s at 16 kHz, exactly");

    let mp4 = get(job["results"]["mp4"].as_str().unwrap().into()).await.unwrap();
    assert_eq!(mp4.headers()["content-type"], "video/mp4");
    let length: usize = mp4.headers()["content-length"].to_str().unwrap().parse().unwrap();
    let bytes = mp4.bytes().await.unwrap();
    assert_eq!(bytes.len(), length);
    let saved = data.path().join("fetched.mp4");
    std::fs::write(&saved, &bytes).unwrap();
    let info = foley_media::probe(&saved).unwrap();
    assert!(info.video.is_some() && info.audio.len() == 1, "{info:?}");

    let part = client.get(format!("{base}/api/jobs/{id}/result.mp4")).header("range", "bytes=4-11").send().await.unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()["content-range"], format!("bytes 4-11/{length}"));
    assert_eq!(part.bytes().await.unwrap(), bytes[4..12]);
    let outside = client.get(format!("{base}/api/jobs/{id}/result.mp4")).header("range", format!("bytes={length}-")).send().await.unwrap();
    assert_eq!(outside.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    let mel = get(job["results"]["mel"].as_str().unwrap().into()).await.unwrap();
    assert_eq!(mel.headers()["content-type"], "image/png");
    assert!(mel.bytes().await.unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));

    let delete = client.delete(format!("{base}/api/jobs/{id}")).send().await.unwrap();
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    assert!(jobs_left(data.path()).is_empty(), "the job's folder is gone");
    for path in [format!("/api/jobs/{id}"), format!("/api/jobs/{id}/result.wav")] {
        let gone = get(path).await.unwrap();
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
        assert!(gone.json::<Value>().await.unwrap()["error"].as_str().unwrap().contains(&format!("no job \"{id}\"")));
    }
    assert_eq!(client.delete(format!("{base}/api/jobs/{id}")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    server.shutdown().await;
    assert!(!data.path().join("jobs").exists(), "shutdown leaves nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_uploads_are_refused_with_the_reason() {
    let data = tempfile::tempdir().unwrap();
    let (server, base) = serve(config(data.path())).await;
    let client = Client::new();
    let demo = demo_bytes();
    let truncated = demo[..demo.len() * 2 / 5].to_vec();
    let cases: Vec<(&str, Form, &str)> = vec![
        ("a text file", form(b"just some notes\n".repeat(40), &[]), "the uploaded video: not a media file ffmpeg can read"),
        ("a truncated mp4", form(truncated, &[]), "the uploaded video: the file is truncated (the MP4 index (moov box) is missing"),
        ("0 bytes", form(Vec::new(), &[]), "the uploaded video: file is empty (0 bytes)"),
        ("no video", Form::new().text("prompt", "rain"), "missing the file field \"video\""),
        ("an unknown field", form(demo.clone(), &[("output", "/etc/x")]), "unknown field \"output\""),
        ("steps=3", form(demo.clone(), &[("steps", "3")]), "steps 3: the shortcut sampler takes a power of two"),
        ("a bad number", form(demo.clone(), &[("cfg", "strong")]), "field \"cfg\": expected a number, got \"strong\""),
        ("start past the end", form(demo.clone(), &[("start", "9")]), "the uploaded video: start 9 s is past the end of the video"),
        ("audio without inpaint", form(demo.clone(), &[]).part("audio", Part::bytes(demo.clone())), "the uploaded audio: audio is used with inpaint or extend"),
    ];
    for (what, form, expected) in cases {
        let (status, body) = post(&client, &base, form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        let message = body["error"].as_str().unwrap();
        assert!(message.contains(expected), "{what}: {message}");
        assert!(!message.contains(&data.path().display().to_string()), "{what}: no server path in {message}");
    }
    let not_a_form = client.post(format!("{base}/api/jobs")).body("x").send().await.unwrap();
    assert_eq!(not_a_form.status(), StatusCode::BAD_REQUEST);
    assert!(not_a_form.json::<Value>().await.unwrap()["error"].as_str().unwrap().contains("multipart/form-data"));
    assert!(jobs_left(data.path()).is_empty(), "refused uploads leave no folder: {:?}", jobs_left(data.path()));
    let listed: Value = client.get(format!("{base}/api/jobs")).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["jobs"], serde_json::json!([]));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_over_the_limit_get_413() {
    let data = tempfile::tempdir().unwrap();
    let (server, base) = serve(ServerConfig { max_upload: 1024, ..config(data.path()) }).await;
    let (status, body) = post(&Client::new(), &base, form(demo_bytes(), &[])).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"], "the upload is larger than this server's limit of 1 KiB (--max-upload)");
    assert!(jobs_left(data.path()).is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_guards_the_api_but_not_health_or_the_page() {
    let data = tempfile::tempdir().unwrap();
    let (server, base) = serve(ServerConfig { token: Some("s3cret".into()), ..config(data.path()) }).await;
    let client = Client::new();
    for request in [
        client.get(format!("{base}/api/jobs")),
        client.get(format!("{base}/api/jobs")).bearer_auth("wrong"),
        client.get(format!("{base}/api/jobs?token=s3cre")),
        client.get(format!("{base}/api/jobs/0123/events")),
        client.post(format!("{base}/api/jobs")).multipart(form(demo_bytes(), &[])),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_eq!(response.json::<Value>().await.unwrap()["error"], "missing or wrong bearer token");
    }
    assert!(jobs_left(data.path()).is_empty(), "an unauthorized upload is not saved");
    for request in [client.get(format!("{base}/api/jobs")).bearer_auth("s3cret"), client.get(format!("{base}/api/jobs?token=s3cret"))] {
        assert_eq!(request.send().await.unwrap().status(), StatusCode::OK);
    }
    for public in ["/healthz", "/", "/assets/app.js", "/assets/style.css", "/api/openapi.json"] {
        assert_eq!(client.get(format!("{base}{public}")).send().await.unwrap().status(), StatusCode::OK, "{public}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_answers_429_and_deletion_cancels() {
    let data = tempfile::tempdir().unwrap();
    let (server, base) = serve(ServerConfig { workers: 1, queue: 1, ..config(data.path()) }).await;
    let client = Client::new();
    let (status, first) = post(&client, &base, form(demo_bytes(), &[])).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let first = first["id"].as_str().unwrap().to_string();
    wait_for(&client, &base, &first, Duration::from_secs(10), |j| j["state"] == "running").await;
    let (status, second) = post(&client, &base, form(demo_bytes(), &[])).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{second}");
    let second = second["id"].as_str().unwrap().to_string();
    assert_eq!(record(&client, &base, &second).await["queue_position"], 0);

    let third = client.post(format!("{base}/api/jobs")).multipart(form(demo_bytes(), &[])).send().await.unwrap();
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(third.headers()["retry-after"], "30");
    assert_eq!(third.json::<Value>().await.unwrap()["error"], "queue full (1 jobs waiting); retry later");
    let health: Value = client.get(format!("{base}/healthz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health, serde_json::json!({ "status": "ok", "workers": 1, "queued": 1, "running": 1, "model": "foley (gen.safetensors)" }));

    for id in [&second, &first] {
        assert_eq!(client.delete(format!("{base}/api/jobs/{id}")).send().await.unwrap().status(), StatusCode::NO_CONTENT);
        assert_eq!(client.get(format!("{base}/api/jobs/{id}")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    }
    // The cancelled job stops after its window and its worker deletes its folder.
    let start = Instant::now();
    while !jobs_left(data.path()).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(30), "left: {:?}", jobs_left(data.path()));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let health: Value = client.get(format!("{base}/healthz")).send().await.unwrap().json().await.unwrap();
    assert_eq!((health["queued"].as_u64(), health["running"].as_u64()), (Some(0), Some(0)));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_over_their_time_limit_fail_and_finished_jobs_expire() {
    let data = tempfile::tempdir().unwrap();
    let (server, base) = serve(ServerConfig { job_timeout: Duration::from_millis(200), keep: Duration::from_secs(2), ..config(data.path()) }).await;
    let client = Client::new();
    let (status, created) = post(&client, &base, form(demo_bytes(), &[])).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    let id = created["id"].as_str().unwrap();
    let job = wait_for(&client, &base, id, Duration::from_secs(60), |j| j["state"] == "failed").await;
    assert_eq!(job["error"], "time limit of 0.2 s exceeded");
    assert_eq!(job["results"], Value::Null);
    assert_eq!(client.get(format!("{base}/api/jobs/{id}/result.wav")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert!(jobs_left(data.path()).is_empty(), "a failed job's uploads are deleted at once");
    let start = Instant::now();
    while client.get(format!("{base}/api/jobs/{id}")).send().await.unwrap().status() == StatusCode::OK {
        assert!(start.elapsed() < Duration::from_secs(10), "not expired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(start.elapsed() >= Duration::from_millis(500), "kept for a while first");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_headers_only_for_the_configured_origin() {
    let data = tempfile::tempdir().unwrap();
    let client = Client::new();
    let preflight = |base: &str, origin: &str| {
        client
            .request(reqwest::Method::OPTIONS, format!("{base}/api/jobs"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let (plain, base) = serve(config(data.path())).await;
    let page = client.get(format!("{base}/")).header("origin", "http://evil.test").send().await.unwrap();
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert_eq!(page.headers()["content-security-policy"], "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:");
    assert!(page.headers().keys().all(|k| !k.as_str().starts_with("access-control-")), "{:?}", page.headers());
    let response = preflight(&base, "http://evil.test").await.unwrap();
    assert!(response.headers().keys().all(|k| !k.as_str().starts_with("access-control-")), "{:?}", response.headers());
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(response.json::<Value>().await.unwrap()["error"].is_string(), "errors are JSON everywhere");
    plain.shutdown().await;

    let (allowing, base) = serve(ServerConfig { cors: Some("http://localhost:3000".into()), ..config(data.path()) }).await;
    let response = preflight(&base, "http://localhost:3000").await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.headers()["access-control-allow-origin"], "http://localhost:3000");
    assert!(response.headers()["access-control-allow-headers"].to_str().unwrap().contains("authorization"));
    let listed = client.get(format!("{base}/api/jobs")).header("origin", "http://localhost:3000").send().await.unwrap();
    assert_eq!(listed.headers()["access-control-allow-origin"], "http://localhost:3000");
    let other = preflight(&base, "http://evil.test").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    allowing.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_names_every_route() {
    let data = tempfile::tempdir().unwrap();
    let (server, base) = serve(config(data.path())).await;
    let doc: Value = Client::new().get(format!("{base}/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for (path, methods) in [
        ("/healthz", &["get"][..]),
        ("/api/openapi.json", &["get"]),
        ("/api/jobs", &["get", "post"]),
        ("/api/jobs/{id}", &["get", "delete"]),
        ("/api/jobs/{id}/events", &["get"]),
        ("/api/jobs/{id}/result.mp4", &["get"]),
        ("/api/jobs/{id}/result.wav", &["get"]),
        ("/api/jobs/{id}/mel.png", &["get"]),
    ] {
        for method in methods {
            assert!(doc["paths"][path][method]["responses"].is_object(), "{method} {path}");
        }
    }
    assert_eq!(doc["paths"].as_object().unwrap().len(), 8, "no route undocumented, none invented");
    let fields = &doc["paths"]["/api/jobs"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"];
    for name in ["video", "audio", "reference_audio", "prompt", "steps", "sampler", "seed", "duration", "raw_level", "inpaint", "extend"] {
        assert!(fields[name]["description"].is_string(), "field {name}");
    }
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert!(doc["components"]["schemas"]["Job"]["properties"]["state"]["enum"].as_array().unwrap().len() == 4);
    server.shutdown().await;
}
