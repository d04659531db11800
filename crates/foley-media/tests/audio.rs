//! Audio round trips through our writers and ffmpeg's decoder, and decoding a real stereo
//! 44.1 kHz AAC file to MMAudio's 16 kHz mono.

mod common;

use std::f64::consts::TAU;
use std::path::Path;

use common::ffmpeg;
use foley_media::{MediaError, decode_audio, decode_audio_segment, write_flac, write_wav};

/// A deterministic test signal: a sine plus a chirp, with full-scale +1/-1 clicks.
fn signal(n: usize, sr: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let t = i as f64 / sr as f64;
            match i % 4000 {
                0 => 1.0,
                1 => -1.0,
                _ => (0.3 * (TAU * 440.0 * t).sin() + 0.2 * (TAU * (100.0 + 900.0 * t) * t).sin()) as f32,
            }
        })
        .collect()
}

/// Amplitude of the `freq` Hz component of `x` (sampled at `sr`), by projection on sin/cos.
/// Over a whole number of seconds, components at other integer frequencies contribute nothing.
fn amplitude(x: &[f32], sr: u32, freq: f64) -> f64 {
    let (mut re, mut im) = (0.0, 0.0);
    for (i, &v) in x.iter().enumerate() {
        let phase = TAU * freq * i as f64 / sr as f64;
        re += v as f64 * phase.cos();
        im += v as f64 * phase.sin();
    }
    2.0 * (re * re + im * im).sqrt() / x.len() as f64
}

fn only_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn wav_round_trip_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    for sr in [16_000, 44_100] {
        let x = signal(sr as usize * 3 / 2, sr);
        let path = dir.path().join(format!("x{sr}.wav"));
        write_wav(&path, &x, sr).unwrap();
        assert_eq!(decode_audio(&path, sr).unwrap(), x, "f32 WAV at {sr} Hz must round-trip bit-exactly");
        // A segment is the same samples, cut at exact sample positions.
        let seg = decode_audio_segment(&path, sr, 0.25, Some(0.5)).unwrap();
        let (a, b) = (sr as usize / 4, 3 * sr as usize / 4);
        assert_eq!(seg, x[a..b], "[0.25, 0.75) s at {sr} Hz");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
        }
    }
    assert_eq!(only_files(dir.path()), ["x16000.wav", "x44100.wav"], "no temporary file left");
}

#[test]
fn flac_round_trip_within_16_bit_quantization() {
    let dir = tempfile::tempdir().unwrap();
    let sr = 44_100;
    let x = signal(sr as usize, sr);
    let path = dir.path().join("x.flac");
    write_flac(&path, &x, sr).unwrap();
    let y = decode_audio(&path, sr).unwrap();
    assert_eq!(y.len(), x.len());
    let err = x.iter().zip(&y).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(err <= 1.0 / 32768.0, "16-bit FLAC max error {err} (one LSB is {})", 1.0 / 32768.0);
    assert!(err > 0.0, "16-bit quantization must be visible; was the file really FLAC?");
    let codec = common::ffprobe(&["-select_streams", "a", "-show_entries", "stream=codec_name,sample_rate", "-of", "csv=p=0", path.to_str().unwrap()]);
    assert_eq!(codec.trim(), "flac,44100");
    assert_eq!(only_files(dir.path()), ["x.flac"]);
}

/// Stereo 44.1 kHz AAC made by ffmpeg -> 16 kHz mono: length, frequencies and levels kept
/// (the downmix averages the channels).
#[test]
fn stereo_aac_44k_to_16k_mono() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stereo.m4a");
    ffmpeg(&["-f", "lavfi", "-i", "aevalsrc=0.5*sin(2*PI*440*t)|0.5*sin(2*PI*1000*t):s=44100:d=3", "-c:a", "aac", "-b:a", "192k", path.to_str().unwrap()]);
    let info = foley_media::probe(&path).unwrap();
    assert_eq!((info.audio[0].sample_rate, info.audio[0].channels), (44_100, 2));

    let y = decode_audio(&path, 16_000).unwrap();
    // ffmpeg 5.1 skips the encoder priming (edit list) but keeps the padding of the last AAC
    // frame, so up to one frame (1024 samples at 44.1 kHz) of trailing silence is allowed.
    let one_aac_frame = 1024 * 16_000 / 44_100 + 1;
    assert!((48_000..=48_000 + one_aac_frame).contains(&y.len()), "3 s at 16 kHz, got {} samples", y.len());
    assert!(y[48_000..].iter().all(|v| v.abs() < 0.05), "the excess is the padded tail, not signal");
    let mid = &y[8_000..24_000]; // one whole second away from the edges
    for (freq, expected) in [(440.0, 0.25), (1000.0, 0.25), (441.0, 0.0), (700.0, 0.0), (2000.0, 0.0)] {
        let a = amplitude(mid, 16_000, freq);
        assert!((a - expected).abs() < 0.01, "{freq} Hz: amplitude {a:.4}, expected {expected}");
    }
}

#[test]
fn video_without_audio_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("silent.mp4");
    ffmpeg(&["-f", "lavfi", "-i", "testsrc2=s=64x48:r=10:d=1", "-c:v", "libx264", path.to_str().unwrap()]);
    let err = decode_audio(&path, 16_000).unwrap_err();
    assert!(matches!(err, MediaError::NoAudio { .. }), "{err}");
    assert_eq!(err.to_string(), format!("{}: has no audio stream", path.display()));
    assert!(matches!(decode_audio(&path, 0), Err(MediaError::InvalidArgument(_))));
}

/// Probes are remembered per file version: a file rewritten in place (new size or time) is
/// probed again, one put back under another name still answers with that name.
#[test]
fn probe_answers_for_the_file_as_it_is_now() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.wav");
    write_wav(&path, &signal(16_000, 16_000), 16_000).unwrap();
    let first = foley_media::probe(&path).unwrap();
    assert!((first.duration.unwrap() - 1.0).abs() < 1e-3, "{first:?}");
    assert_eq!(foley_media::probe(&path).unwrap().duration, first.duration);
    write_wav(&path, &signal(32_000, 16_000), 16_000).unwrap();
    let second = foley_media::probe(&path).unwrap();
    assert!((second.duration.unwrap() - 2.0).abs() < 1e-3, "{second:?}");
    std::fs::write(&path, b"not audio").unwrap();
    assert!(matches!(foley_media::probe(&path), Err(MediaError::Unreadable { .. })), "a file turned to junk is probed again");
    let link = dir.path().join("b.wav");
    write_wav(&path, &signal(16_000, 16_000), 16_000).unwrap();
    std::os::unix::fs::symlink(&path, &link).unwrap();
    foley_media::probe(&path).unwrap();
    assert_eq!(foley_media::probe(&link).unwrap().path, link.display().to_string());
}
