//! `foley serve` as a process: it says where it listens on one line of standard output, answers
//! there, and on SIGTERM stops cleanly, leaving no job folder behind. (The API itself is tested
//! in foley-server's tests.)

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn serve_prints_its_address_answers_and_stops_cleanly_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_foley"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .env_remove("FOLEY_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim_end().strip_prefix("foley serve: listening on http://").unwrap_or_else(|| panic!("first line: {line:?}"));
    let port: u16 = addr.strip_prefix("127.0.0.1:").unwrap().parse().unwrap();
    assert_ne!(port, 0, "the actual port");

    let health: serde_json::Value = reqwest::blocking::get(format!("http://{addr}/healthz")).unwrap().json().unwrap();
    assert_eq!((health["status"].as_str(), health["workers"].as_u64()), (Some("ok"), Some(1)), "{health}");
    assert!(data.path().join("jobs").is_dir());

    // SAFETY: kill(2) on the child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) }, 0);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "still running 20 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(!data.path().join("jobs").exists(), "job folders removed at exit");
}

#[test]
fn serve_warns_when_reachable_from_outside_without_a_token() {
    // An impossible worker count ends the run right after the warning (no model loads).
    let run = Command::new(env!("CARGO_BIN_EXE_foley")).args(["serve", "--addr", "0.0.0.0:0", "--workers", "0"]).env_remove("FOLEY_TOKEN").output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(stderr.contains("warning: listening on 0.0.0.0:0 without --token"), "{stderr}");
    assert!(stderr.contains("--workers must be at least 1"), "{stderr}");

    let run = Command::new(env!("CARGO_BIN_EXE_foley")).args(["serve", "--addr", "0.0.0.0:0", "--workers", "0"]).env("FOLEY_TOKEN", "t0ken").output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!stderr.contains("warning"), "FOLEY_TOKEN is a token: {stderr}");
}
