//! `mux`: the video packets are copied bit-exactly (same per-packet hashes), rotation is kept,
//! and the soundtrack is padded or trimmed to the video's duration; inputs are never
//! overwritten and nothing temporary is left behind.

mod common;

use std::path::Path;

use common::{ffmpeg, ffprobe};
use foley_media::{MediaError, decode_audio, mux, probe, write_wav};

/// Per-packet hashes of the video stream (`framemd5` of a stream copy), comments dropped.
fn video_packet_hashes(path: &Path) -> Vec<String> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(path)
        .args(["-map", "0:v:0", "-c", "copy", "-f", "framemd5", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().lines().filter(|l| !l.starts_with('#')).map(str::to_string).collect()
}

/// Duration in seconds of the first stream of `kind` (`v` or `a`), from its packets' timestamps.
fn stream_duration(path: &Path, kind: &str) -> f64 {
    let out = ffprobe(&["-select_streams", &format!("{kind}:0"), "-show_entries", "stream=duration", "-of", "csv=p=0", path.to_str().unwrap()]);
    out.trim().trim_end_matches(',').parse().unwrap()
}

/// A 2 s, 25 fps H.264 video with a display rotation of 90 degrees and its own (dropped) audio.
fn rotated_video(dir: &Path) -> std::path::PathBuf {
    let plain = dir.join("plain.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=96x64:r=25:d=2",
        "-f",
        "lavfi",
        "-i",
        "sine=f=300:d=2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
        plain.to_str().unwrap(),
    ]);
    let rotated = dir.join("video.mp4");
    // ffmpeg 5.1 has no -display_rotation; the legacy tag becomes a display matrix on copy.
    ffmpeg(&["-i", plain.to_str().unwrap(), "-c", "copy", "-metadata:s:v:0", "rotate=90", rotated.to_str().unwrap()]);
    std::fs::remove_file(plain).unwrap();
    assert_eq!(probe(&rotated).unwrap().video.unwrap().rotation, 90);
    rotated
}

fn names(dir: &Path) -> Vec<String> {
    let mut n: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    n.sort();
    n
}

#[test]
fn mux_copies_video_and_fits_audio_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let video = rotated_video(dir.path());
    let source_hashes = video_packet_hashes(&video);
    assert_eq!(source_hashes.len(), 50);
    let video_duration = stream_duration(&video, "v");
    assert!((video_duration - 2.0).abs() < 1e-6);

    // Shorter: 1 s stereo 48 kHz AAC. Longer: 3.5 s mono f32 WAV at 16 kHz (our own writer).
    let short = dir.path().join("short.m4a");
    ffmpeg(&["-f", "lavfi", "-i", "sine=f=440:sample_rate=48000:d=1", "-ac", "2", "-c:a", "aac", short.to_str().unwrap()]);
    let long = dir.path().join("long.wav");
    let tone: Vec<f32> = (0..56_000).map(|i| 0.5 * (std::f32::consts::TAU * 440.0 * i as f32 / 16_000.0).sin()).collect();
    write_wav(&long, &tone, 16_000).unwrap();

    for (audio, rate, channels) in [(&short, 48_000, 2), (&long, 16_000, 1)] {
        let out = dir.path().join(format!("out_{}.mp4", audio.file_stem().unwrap().to_string_lossy()));
        mux(&video, audio, &out).unwrap();
        let what = out.display().to_string();

        assert_eq!(video_packet_hashes(&out), source_hashes, "{what}: video packets must be identical");
        let info = probe(&out).unwrap();
        let v = info.video.as_ref().unwrap();
        assert_eq!((v.rotation, v.display_width, v.display_height), (90, 64, 96), "{what}: rotation kept");
        assert_eq!(info.audio.len(), 1, "{what}: only the new soundtrack");
        let a = &info.audio[0];
        assert_eq!((a.codec.as_str(), a.sample_rate, a.channels), ("aac", rate, channels), "{what}");

        let one_aac_frame = 1024.0 / rate as f64;
        let audio_duration = stream_duration(&out, "a");
        assert!(
            (audio_duration - video_duration).abs() <= one_aac_frame,
            "{what}: audio {audio_duration} s vs video {video_duration} s (one AAC frame = {one_aac_frame} s)"
        );
        // Decoded, the soundtrack also ends within one AAC frame of the video.
        let decoded = decode_audio(&out, rate).unwrap();
        let decoded_duration = decoded.len() as f64 / rate as f64;
        assert!((decoded_duration - video_duration).abs() <= one_aac_frame, "{what}: decoded {decoded_duration} s");
        // The tone is there at the start; the short input is padded with silence.
        let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
        assert!(rms(&decoded[rate as usize / 10..rate as usize / 2]) > 0.05, "{what}: tone present");
        if audio == &short {
            let tail = &decoded[rate as usize * 3 / 2..rate as usize * 19 / 10];
            assert!(rms(tail) < 1e-3, "{what}: padded with silence, rms {}", rms(tail));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o644, "{what}: mode");
        }
    }
    assert_eq!(names(dir.path()), ["long.wav", "out_long.mp4", "out_short.mp4", "short.m4a", "video.mp4"]);
}

#[test]
fn mux_never_overwrites_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let video = rotated_video(dir.path());
    let audio = dir.path().join("a.wav");
    write_wav(&audio, &vec![0.1; 16_000], 16_000).unwrap();
    let before = std::fs::read(&video).unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    // The same files, spelled differently.
    let video_alias = sub.join("../video.mp4");
    let audio_alias = sub.join("../a.wav");
    for out in [&video, &audio, &video_alias, &audio_alias] {
        let err = mux(&video, &audio, out).unwrap_err();
        assert!(matches!(err, MediaError::OverwriteInput { .. }), "{}: {err}", out.display());
        assert!(err.to_string().contains("refusing to overwrite an input"), "{err}");
    }
    assert_eq!(std::fs::read(&video).unwrap(), before);
    assert_eq!(names(dir.path()), ["a.wav", "sub", "video.mp4"]);

    // Swapped roles fail cleanly too: the audio file has no video, the video's audio is fine.
    let out = dir.path().join("out.mp4");
    let err = mux(&audio, &video, &out).unwrap_err();
    assert!(matches!(err, MediaError::NoVideo { .. }), "{err}");
    assert!(!out.exists());
}
