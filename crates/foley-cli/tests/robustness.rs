//! The robustness suite: hostile and odd inputs over every command that takes a file. Each case
//! asserts the exit code, a message that names the file (or the argument) and the problem, no
//! panic, no hang (a wall-time bound), no partial or stray file in the output directory, and
//! inputs left byte-identical. Odd files are made with ffmpeg at test time. Also: interrupts
//! (SIGTERM, SIGKILL) leave nothing behind, `eval` never deletes files it did not write, and
//! concurrent runs on one output leave one whole result.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_foley");
/// Longest any failing case may take (the slowest load the models first).
const LIMIT: Duration = Duration::from_secs(60);

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/demo/demo.mp4")
}

fn ffmpeg(args: &[&OsStr]) {
    let out = Command::new("ffmpeg").args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]).args(args).output().unwrap();
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Runs foley with a wall-time bound; a run past it is killed and reported as a hang.
fn run_bounded(args: &[OsString], cwd: &Path) -> (Output, Duration) {
    let start = Instant::now();
    let mut child = Command::new(BIN).args(args).current_dir(cwd).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    loop {
        if child.try_wait().unwrap().is_some() {
            return (child.wait_with_output().unwrap(), start.elapsed());
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("{args:?} hung (killed after {LIMIT:?}); stderr: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every regular file under `dir` with its content, for "inputs untouched" checks.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                files.insert(e.path(), std::fs::read(e.path()).unwrap());
            }
        }
    }
    files
}

struct Case {
    args: Vec<OsString>,
    /// What stderr must contain: the file (or argument) and the problem.
    names: OsString,
    phrase: &'static str,
}

fn case(args: &[&dyn AsRef<OsStr>], names: impl AsRef<OsStr>, phrase: &'static str) -> Case {
    Case { args: args.iter().map(|a| a.as_ref().to_os_string()).collect(), names: names.as_ref().to_os_string(), phrase }
}

/// The fixtures: odd files in `inputs/`, outputs go to `out/` (must stay empty on failure).
struct World {
    _dir: tempfile::TempDir,
    inputs: PathBuf,
    out: PathBuf,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let inputs = dir.path().join("inputs");
        let out = dir.path().join("out");
        std::fs::create_dir_all(&inputs).unwrap();
        std::fs::create_dir_all(&out).unwrap();
        let w = Self { _dir: dir, inputs, out };
        let p = |n: &str| w.input(n);
        let f = |args: &[&str]| ffmpeg(&args.iter().map(OsStr::new).collect::<Vec<_>>());

        f(&["-f", "lavfi", "-i", "testsrc2=s=64x48:r=10:d=2", "-c:v", "libx264", p("good.mp4").to_str().unwrap()]);
        f(&["-f", "lavfi", "-i", "sine=f=440:d=2", p("tone.wav").to_str().unwrap()]);
        f(&["-f", "lavfi", "-i", "sine=f=440:d=1", "-c:a", "aac", p("audio_only.m4a").to_str().unwrap()]);
        f(&["-f", "lavfi", "-i", "testsrc2=s=64x48:r=10:d=1", p("anim.gif").to_str().unwrap()]);
        f(&["-f", "lavfi", "-i", "testsrc2=s=64x48:r=10:d=1", "-frames:v", "1", p("still.png").to_str().unwrap()]);
        f(&["-ss", "5", "-i", p("good.mp4").to_str().unwrap(), "-c", "copy", p("zero_frames.mp4").to_str().unwrap()]);
        // An mkv asked for no frames: ffmpeg leaves a file cut inside its headers.
        f(&["-f", "lavfi", "-i", "testsrc2=s=64x48:r=10:d=1", "-frames:v", "0", "-c:v", "libx264", p("zero_frames.mkv").to_str().unwrap()]);
        f(&["-f", "lavfi", "-i", "color=s=20000x16", "-frames:v", "1", "-c:v", "png", p("huge.mov").to_str().unwrap()]);
        // Metadata that is not UTF-8 (ffmpeg echoes it on stderr) and a name that is not UTF-8.
        ffmpeg(&[
            OsStr::new("-i"),
            p("good.mp4").as_os_str(),
            OsStr::new("-c"),
            OsStr::new("copy"),
            OsStr::new("-metadata"),
            OsStr::from_bytes(b"title=\xff\xfe"),
            p("bad_title.mp4").as_os_str(),
        ]);
        std::fs::copy(p("good.mp4"), w.inputs.join(OsStr::from_bytes(b"name\xff.mp4"))).unwrap();
        std::fs::copy(p("good.mp4"), p("-dash.mp4")).unwrap();
        std::fs::copy(p("good.mp4"), p("space and\nnewline.mp4")).unwrap();

        let real = std::fs::read(demo()).unwrap();
        std::fs::write(p("head30k.mp4"), &real[..30_000.min(real.len())]).unwrap();
        // A faststart copy (index first), cut in half: ffprobe alone reports the full length.
        f(&["-i", demo().to_str().unwrap(), "-c", "copy", "-movflags", "+faststart", p("faststart.mp4").to_str().unwrap()]);
        let fs = std::fs::read(p("faststart.mp4")).unwrap();
        std::fs::write(p("half_faststart.mp4"), &fs[..fs.len() / 2]).unwrap();
        std::fs::remove_file(p("faststart.mp4")).unwrap();
        std::fs::write(p("empty.mp4"), b"").unwrap();
        std::fs::write(p("text.mp4"), "this is not a video\n".repeat(50)).unwrap();
        std::fs::write(p("random.mp4"), (0..65_536u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect::<Vec<_>>()).unwrap();
        std::fs::write(p("notes.txt"), "hello\n").unwrap();
        std::fs::write(p("bad.toml"), "[train\nsteps = = 3\n").unwrap();
        std::fs::write(p("bad.json"), "{ not json").unwrap();
        std::fs::create_dir(p("a_dir.mp4")).unwrap();
        std::os::unix::fs::symlink(p("nowhere.mp4"), p("dangling.mp4")).unwrap();
        std::os::unix::fs::symlink(p("loop.mp4"), p("loop.mp4")).unwrap();
        let fifo = std::ffi::CString::new(p("fifo.mp4").as_os_str().as_bytes()).unwrap();
        // SAFETY: mkfifo on a path we own.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        // eval inputs: a directory of generated audio (one unreadable), references.
        for d in ["gen", "ref", "gen_bad"] {
            std::fs::create_dir(p(d)).unwrap();
        }
        for (d, name) in [("gen", "a.wav"), ("ref", "a.wav"), ("gen_bad", "a.wav")] {
            std::fs::copy(p("tone.wav"), w.inputs.join(d).join(name)).unwrap();
        }
        std::fs::write(w.inputs.join("gen_bad").join("b.wav"), b"RIFF garbage").unwrap();
        std::fs::copy(p("tone.wav"), w.inputs.join("ref").join("b.wav")).unwrap();
        w
    }

    fn input(&self, name: &str) -> PathBuf {
        self.inputs.join(name)
    }

    fn out(&self, name: &str) -> PathBuf {
        self.out.join(name)
    }
}

/// Runs every case; collects all failures before failing, so one run shows them all.
fn check_all(w: &World, cases: &[Case]) {
    let before = snapshot(&w.inputs);
    let mut failures = Vec::new();
    let mut slowest = Duration::ZERO;
    for c in cases {
        let (out, took) = run_bounded(&c.args, &w.inputs);
        slowest = slowest.max(took);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let shown = format!("{:?}", c.args);
        let names = c.names.to_string_lossy();
        let problems = [
            (out.status.code() != Some(1), format!("exit status {:?}, expected 1", out.status)),
            (stderr.contains("panicked"), "panicked".into()),
            (!stderr.contains(names.as_ref()), format!("does not name `{names}`")),
            (!stderr.contains(c.phrase), format!("lacks `{}`", c.phrase)),
        ];
        for (bad, what) in problems {
            if bad {
                failures.push(format!("{shown}: {what}; stderr: {}", stderr.trim()));
            }
        }
        let left: Vec<_> = std::fs::read_dir(&w.out).unwrap().map(|e| e.unwrap().file_name()).collect();
        if !left.is_empty() {
            failures.push(format!("{shown}: left {left:?} in the output directory"));
            for e in std::fs::read_dir(&w.out).unwrap().flatten() {
                let _ = if e.path().is_dir() { std::fs::remove_dir_all(e.path()) } else { std::fs::remove_file(e.path()) };
            }
        }
    }
    assert!(snapshot(&w.inputs) == before, "an input file was modified, created or deleted");
    eprintln!("{} cases, slowest {slowest:?}", cases.len());
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn hostile_inputs_fail_cleanly() {
    let w = World::new();
    let i = |n: &str| w.input(n);
    let o = |n: &str| w.out(n);
    let (mp4, png, wav, frames) = (o("x.mp4"), o("x.png"), o("x.wav"), o("frames"));
    let yamnet = shared().join("assets/yamnet");
    let mut cases = Vec::new();

    // Files no command can read, over every command that takes a media file.
    let bad_files: [(&str, &str); 14] = [
        ("zero_frames.mkv", "truncated"),
        ("missing.mp4", "no such file"),
        ("a_dir.mp4", "is a directory"),
        ("empty.mp4", "file is empty"),
        ("text.mp4", "not a media file"),
        ("random.mp4", "not a media file"),
        ("head30k.mp4", "truncated"),
        ("half_faststart.mp4", "truncated"),
        ("fifo.mp4", "named pipe"),
        ("dangling.mp4", "no such file"),
        ("loop.mp4", "symbolic links"),
        ("zero_frames.mp4", "no frames"),
        ("huge.mov", "beyond the supported"),
        ("audio_only.m4a", "no video stream"),
    ];
    for (name, phrase) in bad_files {
        let f = i(name);
        if name != "audio_only.m4a" {
            cases.push(case(&[&"probe", &f], &f, phrase));
            cases.push(case(&[&"mel", &f, &"-o", &png], &f, phrase));
            cases.push(case(&[&"mux", &i("good.mp4"), &f, &"-o", &mp4], &f, phrase));
        }
        cases.push(case(&[&"generate", &f, &"-o", &mp4], &f, phrase));
        cases.push(case(&[&"frames", &f, &"--fps", &"8", &"-o", &frames], &f, phrase));
    }
    for dev in ["/dev/zero", "/dev/null"] {
        cases.push(case(&[&"generate", &dev], dev, "character device"));
        cases.push(case(&[&"probe", &dev], dev, "character device"));
    }
    // Outputs that cannot be, and outputs that are inputs.
    cases.push(case(&[&"generate", &i("anim.gif"), &"-o", &mp4], i("anim.gif"), "cannot be copied into a .mp4"));
    cases.push(case(&[&"generate", &i("good.mp4"), &"-o", &o("x.webm")], i("good.mp4"), "cannot be copied into a .webm"));
    cases.push(case(&[&"mux", &i("good.mp4"), &i("tone.wav"), &"-o", &o("x.webm")], i("good.mp4"), "cannot be copied into a .webm"));
    cases.push(case(&[&"generate", &i("good.mp4"), &"-o", &o("x.avi")], o("x.avi"), "output must end in"));
    cases.push(case(&[&"generate", &i("good.mp4"), &"-o", &i("good.mp4")], i("good.mp4"), "refusing to overwrite an input"));
    cases.push(case(&[&"mux", &i("good.mp4"), &i("tone.wav"), &"-o", &i("tone.wav")], i("tone.wav"), "refusing to overwrite an input"));
    cases.push(case(&[&"generate", &i("good.mp4"), &"-o", &"/sys/foley-test/x.mp4"], "/sys/foley-test", "not writable"));
    cases.push(case(&[&"mel", &i("tone.wav"), &"-o", &"/proc/foley-test.png"], "/proc", "not writable"));
    cases.push(case(&[&"mux", &i("good.mp4"), &i("tone.wav"), &"-o", &w.out], &w.out, "is a directory"));
    cases.push(case(&[&"mux", &i("good.mp4"), &i("good.mp4"), &"-o", &mp4], i("good.mp4"), "has no audio stream"));
    cases.push(case(&[&"mux", &i("tone.wav"), &i("tone.wav"), &"-o", &mp4], i("tone.wav"), "has no video stream"));
    // Arguments out of range, each named, each refused before any work.
    for (flag, value, phrase) in [
        ("--steps", "3", "power of two"),
        ("--steps", "0", "power of two"),
        ("--cfg", "-5", "guidance weight"),
        ("--cfg", "NaN", "guidance weight"),
        ("--cfg", "inf", "guidance weight"),
        ("--start", "-1", "--start must be >= 0"),
        ("--start", "100", "past the end"),
        ("--duration", "0", "--duration must be positive"),
        ("--loudness", "3", "--loudness must be below 0"),
    ] {
        cases.push(case(&[&"generate", &i("good.mp4"), &flag, &value, &"-o", &mp4], flag, phrase));
    }
    cases.push(case(&[&"generate", &i("good.mp4"), &"--sampler", &"euler", &"--steps", &"0", &"-o", &mp4], "--steps", "at least 1"));
    cases.push(case(&[&"generate", &i("good.mp4"), &"--start", &"1", &"--duration", &"5", &"-o", &mp4], i("good.mp4"), "goes past the end"));
    cases.push(case(&[&"generate", &i("good.mp4"), &"--overlap", &"8", &"-o", &mp4], "--overlap 8", "leaves no new audio"));
    cases.push(case(&[&"frames", &i("good.mp4"), &"--fps", &"8", &"--duration", &"0.1", &"-o", &frames], i("good.mp4"), "shorter than one frame"));
    cases.push(case(&[&"frames", &i("good.mp4"), &"--fps", &"8", &"--start", &"30", &"-o", &frames], i("good.mp4"), "no frames"));
    cases.push(case(&[&"frames", &i("good.mp4"), &"--fps", &"8", &"-o", &i("notes.txt")], i("notes.txt"), "not a directory"));
    cases.push(case(&[&"mel", &i("good.mp4"), &"-o", &png], i("good.mp4"), "has no audio stream"));
    cases.push(case(&[&"mel", &i("tone.wav"), &"--start", &"50", &"-o", &png], i("tone.wav"), "no samples"));
    cases.push(case(&[&"mel", &i("tone.wav")], "-o OUT.png", "nothing to write"));
    cases.push(case(&[&"mel", &i("tone.wav"), &"--mark", &"1,-1", &"-o", &png], "--mark -1", "seconds >= 0"));
    // Tensors, weights and configurations.
    cases.push(case(&[&"griffin-lim", &i("notes.txt"), &"-o", &wav], i("notes.txt"), "not a safetensors file"));
    cases.push(case(&[&"griffin-lim", &i("missing.safetensors"), &"-o", &wav], i("missing.safetensors"), "No such file"));
    cases.push(case(&[&"griffin-lim", &i("good.mp4"), &"-o", &wav], i("good.mp4"), "cannot read tensors"));
    let configs: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(shared().join("golden/mmaudio/mmaudio_configs.json")).unwrap()).unwrap();
    let json = i("tiny.json");
    std::fs::write(&json, configs["mmaudio_tiny_v1"].to_string()).unwrap();
    cases.push(case(
        &[&"flow", &"forward", &"--config", &i("bad.json"), &"--weights", &i("notes.txt"), &"--inputs", &i("notes.txt"), &"-o", &o("f.safetensors")],
        i("bad.json"),
        "line 1 column",
    ));
    cases.push(case(
        &[&"flow", &"forward", &"--config", &json, &"--weights", &i("notes.txt"), &"--inputs", &i("notes.txt"), &"-o", &o("f.safetensors")],
        i("notes.txt"),
        "not a safetensors file",
    ));
    cases.push(case(&[&"train", &"gen", &i("bad.toml")], i("bad.toml"), "TOML parse error"));
    cases.push(case(&[&"train", &"gen", &i("missing.toml")], i("missing.toml"), "No such file"));
    cases.push(case(&[&"extract", &i("missing_dir"), &"-o", &o("shards")], i("missing_dir"), "no such folder"));
    cases.push(case(&[&"extract", &i("notes.txt"), &"-o", &o("shards")], i("notes.txt"), "column"));
    // eval: directories, and an output that holds someone else's files.
    cases.push(case(
        &[&"eval", &"--generated", &i("tone.wav"), &"--reference", &i("ref"), &"--yamnet", &yamnet, &"-o", &o("report")],
        i("tone.wav"),
        "is not a directory",
    ));
    cases.push(case(
        &[&"eval", &"--generated", &i("nope"), &"--reference", &i("ref"), &"--yamnet", &yamnet, &"-o", &o("report")],
        i("nope"),
        "directory not found",
    ));
    cases.push(case(
        &[&"eval", &"--generated", &i("gen"), &"--reference", &i("ref"), &"--yamnet", &yamnet, &"-o", &i("gen")],
        i("gen"),
        "no earlier foley report",
    ));
    cases.push(case(
        &[&"eval", &"--generated", &i("gen"), &"--reference", &i("ref"), &"--yamnet", &yamnet, &"-o", &i("notes.txt")],
        i("notes.txt"),
        "not a directory",
    ));
    cases.push(case(
        &[&"eval", &"--generated", &i("gen"), &"--reference", &i("ref"), &"--yamnet", &i("nope"), &"-o", &o("report")],
        i("nope"),
        "YAMNet assets not found",
    ));

    assert!(cases.len() >= 60, "{} cases", cases.len());
    check_all(&w, &cases);
}

/// Odd but valid inputs work, quickly: metadata and names that are not UTF-8 (these used to
/// hang `frames` and `generate` forever), names with a leading dash, spaces and newlines.
#[test]
fn odd_but_valid_inputs_work() {
    let w = World::new();
    let odd = [w.input("bad_title.mp4"), w.inputs.join(OsStr::from_bytes(b"name\xff.mp4")), w.input("-dash.mp4"), w.input("space and\nnewline.mp4")];
    for f in &odd {
        for args in [
            vec![OsString::from("probe"), f.clone().into()],
            vec!["frames".into(), f.clone().into(), "--fps".into(), "8".into(), "--size".into(), "32".into(), "-o".into(), w.out("frames").into()],
        ] {
            let (out, _) = run_bounded(&args, &w.inputs);
            assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::fs::remove_dir_all(w.out("frames")).unwrap();
    }
    let (out, _) = run_bounded(&["generate".into(), odd[0].clone().into(), "-o".into(), w.out("g.mp4").into()], &w.inputs);
    assert!(out.status.success(), "generate: {}", String::from_utf8_lossy(&out.stderr));
}

/// The output is safe by default: no sample above -1 dBFS (true peak -1 dBTP), loudness at
/// the target unless the ceiling wins; `--raw-level` keeps the decoder's level.
#[test]
fn generated_audio_does_not_clip() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo.mp4");
    let (o, _) = run_bounded(&["generate".into(), demo().into(), "-o".into(), out.clone().into()], dir.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let samples = foley_media_samples(&out.with_extension("wav"));
    let peak = samples.iter().fold(0f32, |m, s| m.max(s.abs()));
    assert!(peak <= 0.8913, "peak {peak} above -1 dBFS");
    let (loudness, true_peak) = foley_dsp::measure(&samples, 16_000).unwrap();
    let (loudness, true_peak) = (loudness.unwrap(), true_peak.unwrap());
    assert!(true_peak <= -0.99, "true peak {true_peak} dBTP");
    assert!(loudness <= -15.95, "loudness {loudness} LUFS above the -16 target");
    assert!(
        (loudness + 16.0).abs() < 0.1 || (true_peak + 1.0).abs() < 0.01,
        "neither at the target loudness nor at the ceiling: {loudness} LUFS, {true_peak} dBTP"
    );
    // The mp4's AAC track does not clip either (decoded, a small margin for the codec).
    let aac = foley_media::decode_audio(&out, 16_000).unwrap();
    let aac_peak = aac.iter().fold(0f32, |m, s| m.max(s.abs()));
    assert!(aac_peak < 1.0, "AAC peak {aac_peak}");

    let raw = dir.path().join("raw.mp4");
    let (o, _) = run_bounded(&["generate".into(), demo().into(), "--raw-level".into(), "-o".into(), raw.clone().into()], dir.path());
    assert!(o.status.success());
    let raw_peak = foley_media_samples(&raw.with_extension("wav")).iter().fold(0f32, |m, s| m.max(s.abs()));
    assert!(raw_peak > 1.0, "the shipped demo's raw level peaks above full scale ({raw_peak}); normalization is what keeps it safe");
}

fn foley_media_samples(wav: &Path) -> Vec<f32> {
    foley_media::decode_audio(wav, 16_000).unwrap()
}

fn hidden_files(dir: &Path) -> Vec<OsString> {
    std::fs::read_dir(dir).map(|r| r.flatten().map(|e| e.file_name()).filter(|n| n.as_bytes().starts_with(b".")).collect()).unwrap_or_default()
}

fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default().split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.split_whitespace().nth(2).is_some_and(|state| state == "Z"))
}

/// Starts `generate` and waits until it has reserved its outputs and started ffmpeg.
fn generate_until_busy(dir: &Path, out: &Path) -> (Child, Vec<u32>) {
    let child = Command::new(BIN).arg("generate").arg(demo()).arg("-o").arg(out).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    loop {
        let kids = children(child.id());
        if hidden_files(dir).len() >= 2 && !kids.is_empty() {
            return (child, kids);
        }
        assert!(start.elapsed() < LIMIT, "generate never started ffmpeg");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn sigterm_and_sigint_leave_no_temporaries_and_no_ffmpeg() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("o.mp4");
        let (child, kids) = generate_until_busy(dir.path(), &out);
        // SAFETY: signalling the child we started.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(128 + signal), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stderr).contains("stopped by"), "{}", String::from_utf8_lossy(&o.stderr));
        std::thread::sleep(Duration::from_millis(200));
        assert!(kids.iter().all(|&k| !alive(k)), "ffmpeg children {kids:?} outlived foley");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(left.is_empty(), "signal {signal} left {left:?}");
    }
}

#[test]
fn a_killed_runs_temporaries_are_removed_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.mp4");
    let (mut child, _) = generate_until_busy(dir.path(), &out);
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let stale = hidden_files(dir.path());
    assert!(!stale.is_empty(), "SIGKILL cannot clean up, so its temporaries are expected here");
    std::fs::write(dir.path().join(".user-hidden-file"), b"keep").unwrap();
    let (o, _) = run_bounded(
        &[
            "mel".into(),
            shared().join("eval/videos/v-iashin_SpecVQGAN__data__vas__videos__dog__video_02677.mp4").into(),
            "-o".into(),
            dir.path().join("m.png").into(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(hidden_files(dir.path()), [OsString::from(".user-hidden-file")], "stale temporaries of the killed run remain");
}

/// The reported data loss: `eval -o DIR` on a directory with the user's files.
#[test]
fn eval_never_deletes_files_it_did_not_write() {
    let w = World::new();
    let yamnet = shared().join("assets/yamnet");
    let sandbox = w.out("sb");
    std::fs::create_dir(&sandbox).unwrap();
    std::fs::write(sandbox.join("report.json"), "{}").unwrap();
    std::fs::write(sandbox.join("thesis.tex"), "precious").unwrap();
    let eval = |out: &Path, generated: &str| -> Output {
        let args: Vec<OsString> = vec![
            "eval".into(),
            "--generated".into(),
            w.input(generated).into(),
            "--reference".into(),
            w.input("ref").into(),
            "--yamnet".into(),
            yamnet.clone().into(),
            "-o".into(),
            out.into(),
        ];
        run_bounded(&args, &sandbox).0
    };
    // A report.json that foley did not write: refused before any work, nothing touched.
    let o = eval(Path::new("."), "gen");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no earlier foley report"), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(sandbox.join("thesis.tex")).unwrap(), "precious");
    assert_eq!(std::fs::read_to_string(sandbox.join("report.json")).unwrap(), "{}");

    // A fresh report directory, then the user's file put into it ...
    std::fs::remove_file(sandbox.join("report.json")).unwrap();
    std::fs::remove_file(sandbox.join("thesis.tex")).unwrap();
    std::fs::create_dir(sandbox.join("r")).unwrap();
    let o = eval(&sandbox.join("r"), "gen");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(sandbox.join("r/thesis.tex"), "precious").unwrap();
    // ... and replaced by the next run without touching it.
    let o = eval(&sandbox.join("r"), "gen");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(sandbox.join("r/thesis.tex")).unwrap(), "precious");
    assert!(sandbox.join("r/report.json").is_file() && sandbox.join("r/figures").is_dir());
    // A clip that cannot be read: named on stderr, non-zero exit, the report of the rest written.
    let o = eval(&sandbox.join("r2"), "gen_bad");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("b: skipped") && stderr.contains("1 of 2 clips could not be evaluated"), "{stderr}");
    assert!(sandbox.join("r2/report.json").is_file());
    let left: Vec<_> = hidden_files(&sandbox).into_iter().filter(|n| n != ".foley-report").collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Two runs writing one output at once: both succeed, the output is one whole result (the last
/// to finish), and no temporary is left.
#[test]
fn concurrent_runs_on_one_output_leave_one_whole_file() {
    let w = World::new();
    let out = w.out("m.mp4");
    let solo = |audio: &str, dest: &Path| {
        let (o, _) = run_bounded(&["mux".into(), w.input("good.mp4").into(), w.input(audio).into(), "-o".into(), dest.into()], &w.inputs);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read(dest).unwrap()
    };
    let (a, b) = (solo("tone.wav", &w.out("a.mp4")), solo("audio_only.m4a", &w.out("b.mp4")));
    assert_ne!(a, b);
    for _ in 0..3 {
        let spawn = |audio: &str| Command::new(BIN).arg("mux").arg(w.input("good.mp4")).arg(w.input(audio)).arg("-o").arg(&out).output();
        let (ra, rb) = std::thread::scope(|s| {
            let ta = s.spawn(|| spawn("tone.wav"));
            let tb = s.spawn(|| spawn("audio_only.m4a"));
            (ta.join().unwrap().unwrap(), tb.join().unwrap().unwrap())
        });
        assert!(ra.status.success() && rb.status.success());
        let got = std::fs::read(&out).unwrap();
        assert!(got == a || got == b, "the output is neither run's result");
        assert!(hidden_files(&w.out).is_empty(), "{:?}", hidden_files(&w.out));
    }
}
