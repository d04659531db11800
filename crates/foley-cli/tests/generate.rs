//! `foley generate` end to end with the shipped generator: the demo video gets a soundtrack of
//! its own length (video stream untouched, wav beside it), the same seed gives the same wav,
//! and so do clips of any length (long-form), to the sample.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn foley(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_foley")).args(args.iter().map(|a| a.as_ref())).output().unwrap()
}

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/demo/demo.mp4")
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    v.sort();
    v
}

#[test]
fn demo_video_gets_a_seeded_soundtrack_of_its_length() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.mp4"), dir.path().join("b.mp4"));
    for out in [&a, &b] {
        let run = foley(&[&"generate", &demo(), &"-o", out, &"--steps", &"2", &"--seed", &"5"]);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    }
    assert_eq!(names(dir.path()), ["a.mp4", "a.wav", "b.mp4", "b.wav"], "no temporaries");
    assert_eq!(std::fs::read(dir.path().join("a.wav")).unwrap(), std::fs::read(dir.path().join("b.wav")).unwrap(), "same seed, same wav");

    let info = foley_media::probe(&a).unwrap();
    let src = foley_media::probe(&demo()).unwrap();
    assert_eq!(info.video.as_ref().unwrap().frame_count, src.video.as_ref().unwrap().frame_count);
    assert_eq!(info.audio.len(), 1, "one audio stream");
    let wave = foley_media::decode_audio(&dir.path().join("a.wav"), 16_000).unwrap();
    assert_eq!(wave.len(), 8 * 16_000, "8 s at 16 kHz");
    assert!(wave.iter().all(|v| v.is_finite()) && wave.iter().any(|v| v.abs() > 1e-3), "not silent");
}

/// Long-form: any length, exactly as long as the video to the sample, the same for the same
/// seed; a short clip is generated at the shortest window and cut.
#[test]
fn any_length_gets_a_soundtrack_exactly_as_long() {
    let dir = tempfile::tempdir().unwrap();
    for (seconds, windows) in [(0.5, 1), (8.1, 2), (17.3, 3)] {
        let video = dir.path().join(format!("v{seconds}.mp4"));
        let made = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", &format!("testsrc2=s=64x64:r=25:d={seconds}"), "-c:v", "libx264"])
            .arg(&video)
            .output()
            .unwrap();
        assert!(made.status.success());
        let runs: Vec<Vec<f32>> = (0..if seconds == 8.1 { 2 } else { 1 })
            .map(|k| {
                let out = dir.path().join(format!("o{seconds}-{k}.mp4"));
                let run = foley(&[&"generate", &video, &"-o", &out, &"--steps", &"2"]);
                assert!(run.status.success(), "{seconds} s: {}", String::from_utf8_lossy(&run.stderr));
                foley_media::decode_audio(&out.with_extension("wav"), 16_000).unwrap()
            })
            .collect();
        // The video's own length (x264 rounds to whole frames: 0.5 s is 13 frames, 0.52 s).
        let info = foley_media::probe(&video).unwrap();
        let length = info.video.unwrap().duration.or(info.duration).unwrap();
        assert!((length - seconds).abs() <= 0.04 + 1e-9, "{seconds} s video is {length} s");
        assert_eq!(runs[0].len(), (length * 16_000.0) as usize, "{seconds} s ({windows} windows)");
        assert!(runs.windows(2).all(|p| p[0] == p[1]), "{seconds} s: the same seed gives the same soundtrack");
        assert!(runs[0].iter().all(|s| s.is_finite() && s.abs() < 1.0));
    }
    let left: Vec<String> = names(dir.path()).into_iter().filter(|n| n.starts_with('.')).collect();
    assert!(left.is_empty(), "{left:?}");
}
