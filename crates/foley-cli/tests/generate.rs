//! `foley generate` end to end with the shipped generator: the demo video gets a soundtrack of
//! its own length (video stream untouched, wav beside it), the same seed gives the same wav,
//! a video longer than the trained window is refused with advice, and bad input leaves nothing.

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

#[test]
fn long_and_bad_inputs_are_refused_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("long.mp4");
    let made = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=64x64:r=25:d=12", "-c:v", "libx264"])
        .arg(&long)
        .output()
        .unwrap();
    assert!(made.status.success());
    let text = dir.path().join("notes.mp4");
    std::fs::write(&text, "not a video\n".repeat(20)).unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();

    let run = foley(&[&"generate", &long, &"-o", &out_dir.join("x.mp4")]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success() && !err.contains("panicked"), "{err}");
    for needle in ["long.mp4", "12.00 s", "--start", "--duration"] {
        assert!(err.contains(needle), "`{needle}` missing from: {err}");
    }
    let run = foley(&[&"generate", &text, &"-o", &out_dir.join("y.mp4")]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success() && !err.contains("panicked") && err.contains("notes.mp4"), "{err}");
    assert!(names(&out_dir).is_empty(), "left {:?}", names(&out_dir));
    // The output may not be the input.
    let run = foley(&[&"generate", &demo(), &"-o", &demo()]);
    assert!(!run.status.success());
}
