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
        let run = foley(&[&"generate", &demo(), &"-o", out, &"--steps", &"2", &"--seed", &"5", &"--timings"]);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{stderr}");
        for stage in ["timings:", "model loading", "features", "sampling", "griffin-lim", "mux", "total"] {
            assert!(stderr.contains(stage), "--timings lacks `{stage}`: {stderr}");
        }
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

/// `--decoder vocoder`: the shipped vocoder decodes a two-window clip to exactly its length,
/// deterministically, and differently from Griffin-Lim.
#[test]
fn the_vocoder_decodes_long_form_exactly_and_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("v.mp4");
    let made = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=64x64:r=25:d=9.2", "-c:v", "libx264"])
        .arg(&video)
        .output()
        .unwrap();
    assert!(made.status.success());
    let generate = |name: &str, decoder: &str| {
        let out = dir.path().join(name);
        let run = foley(&[&"generate", &video, &"-o", &out, &"--steps", &"2", &"--decoder", &decoder, &"--timings"]);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{stderr}");
        assert!(stderr.contains(decoder), "--timings names the {decoder}: {stderr}");
        foley_media::decode_audio(&out.with_extension("wav"), 16_000).unwrap()
    };
    let (a, b, gl) = (generate("a.mp4", "vocoder"), generate("b.mp4", "vocoder"), generate("g.mp4", "griffin-lim"));
    assert_eq!(a.len(), 9 * 16_000 + 16_000 / 5, "9.2 s to the sample");
    assert_eq!(a, b, "the vocoder is deterministic");
    assert_eq!(a.len(), gl.len());
    assert!(a != gl && a.iter().all(|v| v.is_finite()) && a.iter().any(|v| v.abs() > 1e-3));
}

/// Inpainting keeps everything outside the range (but 25 ms beside each edge), a continuation
/// keeps the existing audio and runs on to the asked length, and a reference recording changes
/// what is generated.
#[test]
fn inpainting_continuation_and_a_reference() {
    let dir = tempfile::tempdir().unwrap();
    let wav = |p: &Path| foley_media::decode_audio(p, 16_000).unwrap();
    let base = dir.path().join("base.mp4");
    let run = foley(&[&"generate", &demo(), &"-o", &base, &"--steps", &"2"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let existing = wav(&base.with_extension("wav"));

    let inpainted = dir.path().join("inpaint.mp4");
    let run = foley(&[&"generate", &demo(), &"--audio", &base.with_extension("wav"), &"--inpaint", &"3:5", &"-o", &inpainted, &"--steps", &"2"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let got = wav(&inpainted.with_extension("wav"));
    assert_eq!(got.len(), existing.len());
    let (a, b) = (((3.0 - 0.025) * 16_000.0) as usize, ((5.0 + 0.025) * 16_000.0) as usize);
    assert_eq!(&got[..a], &existing[..a], "before the range");
    assert_eq!(&got[b..], &existing[b..], "after the range");
    assert_ne!(&got[a..b], &existing[a..b], "the range is regenerated");

    let video = dir.path().join("ten.mp4");
    let made = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=64x64:r=25:d=10", "-c:v", "libx264"])
        .arg(&video)
        .output()
        .unwrap();
    assert!(made.status.success());
    let extended = dir.path().join("extend.mp4");
    let run = foley(&[&"generate", &video, &"--audio", &base.with_extension("wav"), &"--extend", &"1.5", &"-o", &extended, &"--steps", &"2"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let got = wav(&extended.with_extension("wav"));
    assert_eq!(got.len(), 9.5 as usize * 16_000 + 8_000, "8 s + 1.5 s");
    let keep = existing.len() - 800;
    assert_eq!(&got[..keep], &existing[..keep], "the existing audio is kept but its last 50 ms");

    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eval/videos/v-iashin_SpecVQGAN__data__vas__videos__dog__video_02677.mp4");
    let referenced = dir.path().join("ref.mp4");
    let run = foley(&[&"generate", &demo(), &"--reference-audio", &reference, &"-o", &referenced, &"--steps", &"2"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let got = wav(&referenced.with_extension("wav"));
    assert_eq!(got.len(), existing.len());
    assert_ne!(got, existing, "the reference changes the result");
    // Bad combinations are refused before any work.
    for (args, phrase) in [
        (vec!["--inpaint", "3:5"], "--audio FILE"),
        (vec!["--inpaint", "5:3", "--audio", "x.wav"], "START:END"),
        (vec!["--extend", "-1", "--audio", "x.wav"], "--extend"),
    ] {
        let video = demo();
        let mut all: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"generate", &video];
        all.extend(args.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
        let run = foley(&all);
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success() && err.contains(phrase), "{args:?}: {err}");
    }
}
