//! A bounded load test on loopback: many clients submit jobs at once, each waits for its result
//! and checks it; no request may fail and the process's peak memory stays bounded.
//!
//! Scale by environment (defaults keep CI short): `FOLEY_LOAD_CLIENTS` (20), `FOLEY_LOAD_JOBS`
//! jobs per client (3), `FOLEY_LOAD_SECONDS` of video per job (0.5), `FOLEY_LOAD_WORKERS` (1).
//! The figures (jobs per minute, latency p50/p95, peak memory) are printed; BENCHMARKS.md
//! records runs of `cargo test --release -p foley-server --test load -- --nocapture`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use foley_server::{ServerConfig, start};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/demo/demo.mp4")
}

/// Peak resident memory of this process (the server runs in it), MiB.
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: f64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).unwrap().trim().trim_end_matches(" kB").trim().parse().unwrap();
    kb / 1024.0
}

/// One client's jobs: submit, wait until done (polling), fetch the wav and check its length,
/// delete. Returns each job's latency from submission to done.
fn client(base: &str, video: &[u8], seconds: f64, jobs: usize, seed: usize) -> Result<Vec<Duration>, String> {
    let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(600)).build().map_err(|e| e.to_string())?;
    let mut latencies = Vec::new();
    for j in 0..jobs {
        let form = reqwest::blocking::multipart::Form::new()
            .part("video", reqwest::blocking::multipart::Part::bytes(video.to_vec()).file_name("clip.mp4"))
            .text("duration", seconds.to_string())
            .text("seed", (seed * 100 + j).to_string());
        let submitted = Instant::now();
        let reply = http.post(format!("{base}/api/jobs")).multipart(form).send().map_err(|e| format!("submit: {e}"))?;
        let status = reply.status();
        let body: serde_json::Value = reply.json().map_err(|e| format!("submit answer: {e}"))?;
        if status.as_u16() != 202 {
            return Err(format!("submit: {status} {body}"));
        }
        let id = body["id"].as_str().ok_or("no id")?.to_string();
        loop {
            let record: serde_json::Value = http.get(format!("{base}/api/jobs/{id}")).send().and_then(|r| r.json()).map_err(|e| format!("poll: {e}"))?;
            match record["state"].as_str() {
                Some("done") => break,
                Some("failed") => return Err(format!("job {id} failed: {}", record["error"])),
                Some("queued" | "running") => std::thread::sleep(Duration::from_millis(100)),
                other => return Err(format!("job {id}: unexpected state {other:?}")),
            }
        }
        latencies.push(submitted.elapsed());
        let wav = http.get(format!("{base}/api/jobs/{id}/result.wav")).send().and_then(|r| r.error_for_status()).and_then(|r| r.bytes());
        let wav = wav.map_err(|e| format!("result.wav: {e}"))?;
        let reader = hound::WavReader::new(std::io::Cursor::new(wav)).map_err(|e| format!("result.wav: {e}"))?;
        let want = (seconds * reader.spec().sample_rate as f64).round() as u32;
        if reader.duration() != want {
            return Err(format!("job {id}: {} samples, want {want}", reader.duration()));
        }
        let deleted = http.delete(format!("{base}/api/jobs/{id}")).send().map_err(|e| format!("delete: {e}"))?;
        if deleted.status().as_u16() != 204 {
            return Err(format!("delete {id}: {}", deleted.status()));
        }
    }
    Ok(latencies)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64()
}

#[test]
fn many_clients_no_failed_request_bounded_memory() {
    let clients: usize = env_or("FOLEY_LOAD_CLIENTS", 20);
    let jobs: usize = env_or("FOLEY_LOAD_JOBS", 3);
    let seconds: f64 = env_or("FOLEY_LOAD_SECONDS", 0.5);
    let workers: usize = env_or("FOLEY_LOAD_WORKERS", 1);
    let data = tempfile::tempdir().unwrap();
    // Every client has at most one job waiting, so a queue of `clients` never refuses one.
    let config =
        ServerConfig { addr: "127.0.0.1:0".parse().unwrap(), workers, queue: clients, data: Some(data.path().to_path_buf()), ..ServerConfig::default() };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(start(config)).expect("server starts");
    let base = format!("http://{}", server.addr);
    let video = std::fs::read(demo()).unwrap();
    let after_start = peak_mib();

    let began = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (base, video) = (base.clone(), video.clone());
            std::thread::spawn(move || client(&base, &video, seconds, jobs, c))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut failures = Vec::new();
    for h in handles {
        match h.join().unwrap() {
            Ok(l) => latencies.extend(l),
            Err(e) => failures.push(e),
        }
    }
    let wall = began.elapsed().as_secs_f64();
    let peak = peak_mib();
    runtime.block_on(server.shutdown());
    assert!(failures.is_empty(), "{} of {clients} clients failed: {failures:#?}", failures.len());
    assert_eq!(latencies.len(), clients * jobs);
    latencies.sort();
    println!(
        "load: {clients} clients x {jobs} jobs of {seconds} s, {workers} worker(s): {:.1} jobs/min, latency p50 {:.2} s p95 {:.2} s max {:.2} s, \
         wall {wall:.1} s, peak memory {peak:.0} MiB ({after_start:.0} MiB after start)",
        latencies.len() as f64 / wall * 60.0,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95),
        latencies.last().unwrap().as_secs_f64(),
    );
    // Jobs run `workers` at a time and uploads are small, so memory must not grow with the
    // number of jobs: at most 0.5 GiB above what the loaded models took.
    assert!(peak - after_start < 512.0, "peak memory {peak:.0} MiB, {after_start:.0} MiB after start");
    let left = std::fs::read_dir(data.path().join("jobs")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "deleted jobs leave no files");
}
