//! `foley generate --stream`: each window's audio leaves as soon as it is final, to a growing
//! file or standard output, and the streamed samples are exactly the ones of the result.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A real 15.7 s clip (LRS3, 25 fps): three 8 s windows.
fn clip() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/eval/videos/v-iashin_SparseSync__data__lrs3__h264_orig_strict_crop_25fps_224side_16000hz_aac__pretrain__C8zY0oAdQrs__00018.mp4")
}

fn foley() -> Command {
    Command::new(env!("CARGO_BIN_EXE_foley"))
}

fn samples(path: &Path) -> Vec<f32> {
    hound::WavReader::open(path).unwrap().into_samples::<f32>().map(Result::unwrap).collect()
}

#[test]
fn a_stream_file_grows_while_generating_and_equals_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let (out, stream) = (dir.path().join("a.mp4"), dir.path().join("live.wav"));
    let mut child = foley()
        .arg("generate")
        .arg(clip())
        .arg("-o")
        .arg(&out)
        .args(["--steps", "2", "--stream"])
        .arg(&stream)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Audio arrives before generation ends: the first window's samples are in the file while
    // the process still runs.
    let mut seen_early = false;
    while child.try_wait().unwrap().is_none() {
        let len = std::fs::metadata(&stream).map(|m| m.len()).unwrap_or(0);
        if len > 44 + 4 * 16_000 {
            seen_early = true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(seen_early, "no audio in the stream before the end");
    let (streamed, result) = (samples(&stream), samples(&out.with_extension("wav")));
    assert_eq!(streamed.len(), result.len());
    assert!(streamed == result, "the wav carries exactly the streamed samples");
    let (_, peak) = foley_dsp::measure(&result, 16_000).unwrap();
    assert!(peak.unwrap() <= -1.0 + 0.05, "the causal level keeps the ceiling: {peak:?} dBTP");
}

#[test]
fn streamed_to_stdout_equals_the_unstreamed_run() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.mp4");
    let run = foley().arg("generate").arg(clip()).arg("-o").arg(&plain).args(["--steps", "2", "--raw-level"]).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let run = foley()
        .arg("generate")
        .arg(clip())
        .arg("-o")
        .arg(dir.path().join("streamed.mp4"))
        .args(["--steps", "2", "--raw-level", "--stream", "-"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let bytes = run.stdout;
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(&bytes[36..40], b"data");
    let streamed: Vec<f32> = bytes[44..].chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    assert!(streamed == samples(&plain.with_extension("wav")), "stdout carries the same samples as a run without --stream");
}

#[test]
fn stream_with_an_edit_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let run = foley()
        .arg("generate")
        .arg(clip())
        .arg("--audio")
        .arg(clip())
        .args(["--extend", "2", "--stream"])
        .arg(dir.path().join("s.wav"))
        .arg("-o")
        .arg(dir.path().join("o.mp4"))
        .output()
        .unwrap();
    assert!(!run.status.success() && String::from_utf8_lossy(&run.stderr).contains("--stream cannot be combined"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written");
}
