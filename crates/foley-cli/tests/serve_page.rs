//! `foley serve`'s page in a real browser (headless Chromium through chromedriver): a file that
//! is not a video gets the server's own error message; a 2 s clip gets its soundtrack, played by
//! the page's `<video>` with its spectrogram beside it, and the job is listed as done, then
//! deleted from the list. `FOLEY_SCREENSHOT=1` saves the page to docs/serve-page.png.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CLIP_SECONDS: f64 = 2.0;

/// The processes this test started. Each runs in its own process group, and the whole group gets
/// SIGTERM when the test ends, passed or failed: the server with its ffmpeg children, chromedriver
/// with its Chromium. On failure the logs are printed.
struct Procs {
    children: Vec<Child>,
    logs: Vec<PathBuf>,
}

impl Procs {
    fn spawn(&mut self, command: &mut Command, log: PathBuf) -> &mut Child {
        let err = File::create(&log).unwrap();
        let child = command.stderr(err).process_group(0).spawn().unwrap_or_else(|e| panic!("{command:?}: {e}"));
        self.logs.push(log);
        self.children.push(child);
        self.children.last_mut().unwrap()
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        let group = |child: &Child, signal| unsafe { libc::kill(-(child.id() as libc::pid_t), signal) };
        for child in &self.children {
            group(child, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for child in &mut self.children {
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    group(child, libc::SIGKILL);
                    let _ = child.wait();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        if std::thread::panicking() {
            for log in &self.logs {
                eprintln!("--- {} ---\n{}", log.display(), std::fs::read_to_string(log).unwrap_or_default());
            }
        }
    }
}

/// `foley serve` on a free loopback port; its address once it says it listens (models loaded).
fn start_server(procs: &mut Procs, dir: &Path) -> String {
    let mut serve = Command::new(env!("CARGO_BIN_EXE_foley"));
    serve.args(["serve", "--addr", "127.0.0.1:0", "--data"]).arg(dir.join("data")).stdout(Stdio::piped());
    let stdout = procs.spawn(&mut serve, dir.join("serve.log")).stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(120)).expect("`foley serve` printed no line in 120 s (or exited)");
    line.strip_prefix("foley serve: listening on ").unwrap_or_else(|| panic!("not the listening line: {line}")).trim().to_string()
}

fn start_chromedriver(procs: &mut Procs, dir: &Path) -> String {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    procs.spawn(Command::new(CHROMEDRIVER).arg(format!("--port={port}")).stdout(Stdio::null()), dir.join("chromedriver.log"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver does not listen on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    format!("http://127.0.0.1:{port}")
}

async fn connect(driver: &str, profile: &Path) -> Client {
    let Value::Object(caps) = json!({"goog:chromeOptions": {"binary": CHROMIUM, "args": [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        // Without these Chromium keeps calling home, and this closed network refuses it.
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        format!("--user-data-dir={}", profile.display()), "--window-size=1280,1000",
    ]}}) else {
        unreachable!()
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector).capabilities(caps).connect(driver).await.expect("a Chromium session")
}

/// What the page shows: the job it follows, the player, the spectrogram, the error.
const PAGE: &str = "const v = document.getElementById('result'), m = document.getElementById('mel'), e = document.getElementById('error');
return {id: document.getElementById('job').dataset.id || null, state: document.getElementById('state').textContent,
  stage: document.getElementById('stage').textContent, progress: document.getElementById('progress').value,
  src: v.currentSrc, ready: v.readyState, duration: v.duration, mel: m.complete ? m.naturalWidth : 0,
  error: e.hidden ? null : e.textContent};";

/// Runs `script` every 250 ms until `done` accepts what it returns.
async fn wait_for(client: &Client, what: &str, timeout: Duration, script: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let seen = client.execute(script, vec![]).await.unwrap();
        if done(&seen) {
            return seen;
        }
        assert!(start.elapsed() < timeout, "{what}: not after {timeout:?}; the page shows {seen}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn exercise(client: Client, base: String, clip: PathBuf, text: PathBuf, screenshot: PathBuf) {
    // A file that is not a video: the page shows what the server says, word for word.
    let part = reqwest::multipart::Part::bytes(std::fs::read(&text).unwrap()).file_name("notes.txt");
    let refused = reqwest::Client::new().post(format!("{base}/api/jobs")).multipart(reqwest::multipart::Form::new().part("video", part)).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    let message = refused.json::<Value>().await.unwrap()["error"].as_str().unwrap().to_string();
    client.goto(&base).await.unwrap();
    assert_eq!(client.title().await.unwrap(), "foley");
    client.find(Locator::Id("video")).await.unwrap().send_keys(text.to_str().unwrap()).await.unwrap();
    client.find(Locator::Id("generate")).await.unwrap().click().await.unwrap();
    let seen = wait_for(&client, "the error of a text file", Duration::from_secs(20), PAGE, |p| p["error"].is_string()).await;
    assert!(seen["error"].as_str().unwrap().contains(&message), "the server said {message:?}; the page shows {seen}");

    // The clip, with a seed and 2 steps (a short test).
    client.goto(&base).await.unwrap();
    client.find(Locator::Id("video")).await.unwrap().send_keys(clip.to_str().unwrap()).await.unwrap();
    client.find(Locator::Css("input[name=seed]")).await.unwrap().send_keys("7").await.unwrap();
    client.find(Locator::Css("input[name=steps]")).await.unwrap().send_keys("2").await.unwrap();
    let started = Instant::now();
    client.find(Locator::Id("generate")).await.unwrap().click().await.unwrap();
    let seen = wait_for(&client, "the result playing", Duration::from_secs(180), PAGE, |p| {
        p["error"].is_string() || (p["ready"].as_u64() >= Some(1) && p["mel"].as_u64() > Some(0))
    })
    .await;
    eprintln!("submitted to playable in {:.1} s: {seen}", started.elapsed().as_secs_f64());
    assert!(seen["error"].is_null(), "{seen}");
    assert_eq!(seen["state"], "done");
    assert_eq!(seen["progress"], 1.0);
    assert!(seen["src"].as_str().unwrap().contains("result.mp4"), "{seen}");
    let duration = seen["duration"].as_f64().unwrap();
    assert!((duration - CLIP_SECONDS).abs() < 0.1, "the player says the result lasts {duration} s, the clip {CLIP_SECONDS} s");
    let id = seen["id"].as_str().unwrap().to_string();
    let record: Value = reqwest::get(format!("{base}/api/jobs/{id}")).await.unwrap().json().await.unwrap();
    assert_eq!(record["state"], "done");
    assert_eq!(record["options"]["seed"], "7", "the page sends the seed: {record}");
    assert_eq!(record["options"]["steps"], "2", "the page sends the steps: {record}");

    // Listed as done, with its links.
    let item = format!("document.querySelector('#jobs li[data-id=\"{id}\"]')");
    let listed = format!("const li = {item}; return li && {{state: li.dataset.state, mp4: !!li.querySelector('a[href*=\"result.mp4\"]')}};");
    wait_for(&client, "the job listed as done", Duration::from_secs(15), &listed, |l| l["state"] == "done" && l["mp4"] == true).await;

    // The first frame, for the screenshot (best effort: metadata is what the test asks for).
    for _ in 0..20 {
        if client.execute("return document.getElementById('result').readyState;", vec![]).await.unwrap().as_u64() >= Some(2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    std::fs::write(&screenshot, png).unwrap();

    // Delete from the list: gone there and from the API.
    client.find(Locator::Css(&format!("#jobs li[data-id=\"{id}\"] button.danger"))).await.unwrap().click().await.unwrap();
    wait_for(&client, "the job gone from the list", Duration::from_secs(15), &format!("return {item} === null;"), |gone| gone == true).await;
    assert_eq!(reqwest::get(format!("{base}/api/jobs/{id}")).await.unwrap().status(), 404);
}

#[test]
fn the_page_gives_a_clip_its_soundtrack_and_shows_errors() {
    for bin in [CHROMIUM, CHROMEDRIVER] {
        assert!(Path::new(bin).exists(), "{bin} is missing: install chromium and chromium-driver: scripts/setup.sh does it");
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.mp4");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/demo/demo.mp4");
    let cut = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(&demo)
        .args(["-t", &CLIP_SECONDS.to_string(), "-an", "-c:v", "libx264", "-preset", "veryfast"])
        .arg(&clip)
        .output()
        .unwrap();
    assert!(cut.status.success(), "{}", String::from_utf8_lossy(&cut.stderr));
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a video\n").unwrap();
    let screenshot = match std::env::var("FOLEY_SCREENSHOT").as_deref() {
        Ok("1") => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/serve-page.png"),
        _ => dir.path().join("serve-page.png"),
    };

    let mut procs = Procs { children: Vec::new(), logs: Vec::new() };
    let started = Instant::now();
    let base = start_server(&mut procs, dir.path());
    eprintln!("foley serve listening on {base} after {:.1} s", started.elapsed().as_secs_f64());
    let driver = start_chromedriver(&mut procs, dir.path());
    let profile = dir.path().join("chromium-profile");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let outcome = runtime.block_on(async {
        let client = connect(&driver, &profile).await;
        // On its own task, so that the browser is closed even when a check fails.
        let run = tokio::spawn(exercise(client.clone(), base, clip, text, screenshot.clone())).await;
        let _ = client.close().await;
        run
    });
    if let Err(failed) = outcome {
        std::panic::resume_unwind(failed.into_panic());
    }
    eprintln!("screenshot: {}; {:.1} s in all", screenshot.display(), started.elapsed().as_secs_f64());
}
