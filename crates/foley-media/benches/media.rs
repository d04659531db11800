//! Media and DSP benchmark for BENCHMARKS.md: `nice -n 10 cargo bench -p foley-media`.
//!
//! Each measurement runs in a fresh child process (this binary again, with `FOLEY_BENCH_STAGE`
//! set), so its peak memory is its own: `VmHWM` from `/proc/self/status` for us, and
//! `getrusage(RUSAGE_CHILDREN).ru_maxrss` for the ffmpeg it started. Wall time covers the work
//! only (not process start-up). Short stages run 3 times (min / median), long ones once.
//!
//! Inputs: the 1280x720 25 fps VAS "gun" clip of `../shared/eval/videos` (8 s), and two
//! synthetic 1080p files (1 and 10 minutes, ffmpeg testsrc2, libx264 ultrafast) made once
//! into `~/.cache/foley/bench/`. `FOLEY_BENCH_SKIP_LONG=1` skips the long inputs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use foley_dsp::{GriffinLim, MelSpectrogram};
use foley_media::{FrameReader, FrameRequest, Rational, Resize, decode_audio_segment};
use foley_seq::MelConfig;

const STAGE_ENV: &str = "FOLEY_BENCH_STAGE";

fn clip() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eval/videos/v-iashin_SpecVQGAN__data__vas__videos__gun__video_00819.mp4")
}

fn cache_dir() -> PathBuf {
    let base =
        std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache"));
    base.join("foley/bench")
}

/// A 1080p synthetic video of `minutes`, generated once and cached.
fn long_input(minutes: u32) -> PathBuf {
    let path = cache_dir().join(format!("long_{minutes}min.mp4"));
    if !path.exists() {
        std::fs::create_dir_all(cache_dir()).unwrap();
        let tmp = cache_dir().join(format!("long_{minutes}min.tmp.mp4"));
        eprintln!("generating {} (once)", path.display());
        let source = format!("testsrc2=s=1920x1080:r=25:d={}", minutes * 60);
        let status = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", &source])
            .args(["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"])
            .arg(&tmp)
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

/// Streams frames (converted to f32 CHW, as the encoders consume them); returns the count.
fn sample(path: &Path, fps: i64, duration: Option<f64>, resize: Resize) -> usize {
    let request = FrameRequest { fps: Rational::new(fps, 1).unwrap(), start: 0.0, duration, resize };
    let mut n = 0;
    for frame in FrameReader::open(path, &request).unwrap() {
        std::hint::black_box(frame.unwrap().to_chw_f32());
        n += 1;
    }
    n
}

/// Runs one stage in this process; returns (seconds of work, items produced).
fn run_stage(stage: &str) -> (f64, usize) {
    let mel16 = MelConfig::MMAUDIO_16K;
    let audio = || decode_audio_segment(&clip(), mel16.sample_rate, 0.0, Some(8.0)).unwrap();
    let timed = |f: &dyn Fn() -> usize| {
        let t = Instant::now();
        let n = f();
        (t.elapsed().as_secs_f64(), n)
    };
    match stage {
        "frames8_squash384" => timed(&|| sample(&clip(), 8, Some(8.0), Resize::Squash { width: 384, height: 384 })),
        "frames25_crop224" => timed(&|| sample(&clip(), 25, Some(8.0), Resize::CropSquare(224))),
        "audio16k" => timed(&|| audio().len()),
        "mel16k" => {
            let x = audio();
            let converter = MelSpectrogram::new(mel16);
            timed(&|| converter.compute(&x).n_frames)
        }
        "griffin_lim64" => {
            let converter = MelSpectrogram::new(mel16);
            let mel = converter.compute(&audio());
            timed(&|| GriffinLim { iterations: 64, momentum: 0.99, seed: 0 }.invert(&converter, &mel).unwrap().0.len())
        }
        "long1" => {
            let p = long_input(1);
            timed(&|| sample(&p, 8, None, Resize::CropSquare(224)))
        }
        "long10" => {
            let p = long_input(10);
            timed(&|| sample(&p, 8, None, Resize::CropSquare(224)))
        }
        other => panic!("unknown stage {other}"),
    }
}

/// Peak resident memory of this process in KiB (`VmHWM`).
fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Largest peak resident memory of any waited-for child (ffmpeg/ffprobe), in KiB.
fn children_maxrss_kib() -> u64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes into the struct we pass.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0);
    usage.ru_maxrss as u64
}

struct Run {
    seconds: f64,
    items: usize,
    own_kib: u64,
    children_kib: u64,
}

fn measure(stage: &str) -> Run {
    let out = Command::new(std::env::current_exe().unwrap()).env(STAGE_ENV, stage).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stage}: {}", String::from_utf8_lossy(&out.stderr));
    let line = stdout.lines().find_map(|l| l.strip_prefix("RESULT ")).expect("child prints RESULT");
    let v: Vec<&str> = line.split_whitespace().collect();
    Run { seconds: v[0].parse().unwrap(), items: v[1].parse().unwrap(), own_kib: v[2].parse().unwrap(), children_kib: v[3].parse().unwrap() }
}

fn main() {
    if let Ok(stage) = std::env::var(STAGE_ENV) {
        let (seconds, items) = run_stage(&stage);
        println!("RESULT {seconds} {items} {} {}", vm_hwm_kib(), children_maxrss_kib());
        return;
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average before: {}", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    let mut stages = vec![
        ("frames8_squash384", 3, "decode + sample 8 s at 8 fps, 384x384 squash, 720p clip"),
        ("frames25_crop224", 3, "decode + sample 8 s at 25 fps, 224 crop, 720p clip"),
        ("audio16k", 3, "decode 8 s of audio to 16 kHz mono"),
        ("mel16k", 3, "log-mel (16 kHz, 80 mels) of 8 s"),
        ("griffin_lim64", 3, "Griffin-Lim of 8 s, 64 iterations, momentum 0.99"),
    ];
    if std::env::var_os("FOLEY_BENCH_SKIP_LONG").is_none() {
        stages.push(("long1", 1, "stream all frames of 1 min 1080p at 8 fps, 224 crop"));
        stages.push(("long10", 1, "stream all frames of 10 min 1080p at 8 fps, 224 crop"));
    }
    println!("| stage | items | wall min / median (s) | peak RSS foley (MiB) | peak RSS ffmpeg (MiB) |");
    println!("|---|---|---|---|---|");
    for (stage, repeats, what) in stages {
        let mut runs: Vec<Run> = (0..repeats).map(|_| measure(stage)).collect();
        runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        let (min, median) = (runs[0].seconds, runs[runs.len() / 2].seconds);
        let own = runs.iter().map(|r| r.own_kib).max().unwrap() as f64 / 1024.0;
        let ffmpeg = runs.iter().map(|r| r.children_kib).max().unwrap() as f64 / 1024.0;
        println!("| {what} | {} | {min:.3} / {median:.3} | {own:.1} | {ffmpeg:.1} |", runs[0].items);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average after: {}", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
}
