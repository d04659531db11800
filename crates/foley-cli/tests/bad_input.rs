//! The `foley` binary on bad input: every failure exits non-zero with a message that names the
//! file and the problem, never panics, and leaves no output or temporary file behind. Also
//! every clip of `../shared/eval/videos` works for probe + mel or says it has no audio.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn foley(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_foley")).args(args.iter().map(|a| a.as_ref())).output().unwrap()
}

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg").args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]).args(args).output().unwrap();
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn shared_videos() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eval/videos")
}

/// The bad inputs, each with the phrase its error must contain.
struct Fixtures {
    _dir: tempfile::TempDir,
    out: PathBuf,
    good_video: PathBuf,
    good_audio: PathBuf,
    /// (file, phrase for every command).
    common: Vec<(PathBuf, &'static str)>,
    audio_only: PathBuf,
    zero_frames: PathBuf,
    huge: PathBuf,
}

fn fixtures() -> Fixtures {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let s = |p: &Path| p.to_str().unwrap().to_string();

    std::fs::create_dir(p("a_directory.mp4")).unwrap();
    std::fs::write(p("empty.mp4"), b"").unwrap();
    std::fs::write(p("text.mp4"), "this is not a video\n".repeat(50)).unwrap();
    // The first 30% of a real clip (its moov atom is at the end, so the index is missing).
    let real = std::fs::read(shared_videos().join("v-iashin_SpecVQGAN__data__vas__videos__dog__video_02677.mp4")).unwrap();
    std::fs::write(p("truncated.mp4"), &real[..real.len() * 3 / 10]).unwrap();

    ffmpeg(&["-f", "lavfi", "-i", "testsrc2=s=64x48:r=10:d=1", "-c:v", "libx264", &s(&p("good.mp4"))]);
    ffmpeg(&["-f", "lavfi", "-i", "sine=f=440:d=1", "-c:a", "aac", &s(&p("audio_only.m4a"))]);
    ffmpeg(&["-f", "lavfi", "-i", "sine=f=440:d=1", &s(&p("good.wav"))]);
    // Zero-length video: a stream copy that starts after the end keeps the track, with nothing in it.
    ffmpeg(&["-ss", "5", "-i", &s(&p("good.mp4")), "-c", "copy", &s(&p("zero_frames.mp4"))]);
    // Huge: one 20000x16 PNG frame. libx264 refuses sides above 16384 (ffmpeg cannot make such
    // an H.264 file), and a 20000x20000 frame would need 1.2 GB to encode; 20000 already
    // exceeds MAX_FRAME_SIDE (16384), which is what is being tested.
    ffmpeg(&["-f", "lavfi", "-i", "color=s=20000x16", "-frames:v", "1", "-c:v", "png", &s(&p("huge.mov"))]);

    let out = p("out");
    std::fs::create_dir(&out).unwrap();
    Fixtures {
        common: vec![
            (p("missing.mp4"), "no such file"),
            (p("a_directory.mp4"), "is a directory"),
            (p("empty.mp4"), "file is empty"),
            (p("text.mp4"), "not a media file"),
            (p("truncated.mp4"), "truncated"),
        ],
        good_video: p("good.mp4"),
        good_audio: p("good.wav"),
        audio_only: p("audio_only.m4a"),
        zero_frames: p("zero_frames.mp4"),
        huge: p("huge.mov"),
        out,
        _dir: dir,
    }
}

/// Runs `args`; asserts failure that names `file` and contains `phrase`, no panic, and nothing
/// (not even a temporary) in the output directory.
fn expect_failure(f: &Fixtures, args: &[&dyn AsRef<std::ffi::OsStr>], file: &Path, phrase: &str) {
    let out = foley(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect();
    assert!(!out.status.success(), "{shown:?} succeeded");
    assert!(!stderr.contains("panicked"), "{shown:?} panicked: {stderr}");
    assert!(stderr.contains(&file.display().to_string()), "{shown:?}: stderr does not name {}: {stderr}", file.display());
    assert!(stderr.contains(phrase), "{shown:?}: stderr lacks `{phrase}`: {stderr}");
    let left: Vec<_> = std::fs::read_dir(&f.out).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "{shown:?} left {left:?}");
}

#[test]
fn probe_bad_input() {
    let f = fixtures();
    for (file, phrase) in f.common.iter().chain([(&f.zero_frames, "has no frames"), (&f.huge, "beyond the supported")].map(|(p, s)| (p.clone(), s)).iter()) {
        expect_failure(&f, &[&"probe", file], file, phrase);
        expect_failure(&f, &[&"probe", &"--json", file], file, phrase);
    }
}

#[test]
fn frames_bad_input() {
    let f = fixtures();
    let dest = f.out.join("frames");
    let mut cases: Vec<(PathBuf, &str)> = f.common.clone();
    cases.push((f.audio_only.clone(), "has no video stream"));
    cases.push((f.zero_frames.clone(), "has no frames"));
    cases.push((f.huge.clone(), "beyond the supported"));
    for (file, phrase) in &cases {
        expect_failure(&f, &[&"frames", file, &"--fps", &"8", &"--size", &"32", &"-o", &dest], file, phrase);
    }
    // Starting past the end: no frame, an error, and no output directory.
    expect_failure(&f, &[&"frames", &f.good_video, &"--start", &"30", &"-o", &dest], &f.good_video, "has no frames");
}

#[test]
fn mel_bad_input() {
    let f = fixtures();
    let (png, tensor) = (f.out.join("x.png"), f.out.join("x.safetensors"));
    let mut cases: Vec<(PathBuf, &str)> = f.common.clone();
    cases.push((f.zero_frames.clone(), "has no frames"));
    cases.push((f.huge.clone(), "beyond the supported"));
    cases.push((f.good_video.clone(), "has no audio stream"));
    let tennis = shared_videos().join("XYPB_CondFoleyGen__data__demo_video__tennis.mp4");
    cases.push((tennis, "has no audio stream"));
    for (file, phrase) in &cases {
        expect_failure(&f, &[&"mel", file, &"-o", &png, &"--tensor", &tensor], file, phrase);
    }
}

#[test]
fn mux_bad_input() {
    let f = fixtures();
    let dest = f.out.join("muxed.mp4");
    let mut as_video: Vec<(PathBuf, &str)> = f.common.clone();
    as_video.push((f.audio_only.clone(), "has no video stream"));
    as_video.push((f.zero_frames.clone(), "has no frames"));
    as_video.push((f.huge.clone(), "beyond the supported"));
    for (file, phrase) in &as_video {
        expect_failure(&f, &[&"mux", file, &f.good_audio, &"-o", &dest], file, phrase);
    }
    let mut as_audio: Vec<(PathBuf, &str)> = f.common.clone();
    as_audio.push((f.good_video.clone(), "has no audio stream"));
    for (file, phrase) in &as_audio {
        expect_failure(&f, &[&"mux", &f.good_video, file, &"-o", &dest], file, phrase);
    }
    // Never overwrite an input; the input is untouched.
    let before = std::fs::read(&f.good_video).unwrap();
    let out = foley(&[&"mux", &f.good_video, &f.good_audio, &"-o", &f.good_video]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("refusing to overwrite an input"), "{stderr}");
    assert_eq!(std::fs::read(&f.good_video).unwrap(), before);
}

/// Every real clip works for probe + mel, or fails with exactly "has no audio stream" (two do).
#[test]
fn shared_eval_videos_probe_and_mel() {
    let out = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(shared_videos()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e != "csv")).collect();
    files.sort();
    assert_eq!(files.len(), 20);
    let mut no_audio = Vec::new();
    for file in &files {
        let probe = foley(&[&"probe", &"--json", file]);
        assert!(probe.status.success(), "probe {}: {}", file.display(), String::from_utf8_lossy(&probe.stderr));
        let info: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
        assert!(info["video"]["width"].as_u64().unwrap() > 0, "{}", file.display());
        let png = out.path().join("mel.png");
        let mel = foley(&[&"mel", file, &"-o", &png]);
        let stderr = String::from_utf8_lossy(&mel.stderr);
        assert!(!stderr.contains("panicked"), "{}: {stderr}", file.display());
        if mel.status.success() {
            assert!(info["audio"].as_array().unwrap().len() >= 1);
            assert!(std::fs::metadata(&png).unwrap().len() > 1000);
            std::fs::remove_file(&png).unwrap();
        } else {
            assert_eq!(stderr.trim(), format!("error: {}: has no audio stream", file.display()));
            assert!(info["audio"].as_array().unwrap().is_empty());
            no_audio.push(file.file_name().unwrap().to_string_lossy().into_owned());
        }
        assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0, "{}: leftovers", file.display());
    }
    assert_eq!(no_audio.len(), 2, "{no_audio:?}");
}

/// Happy path on a short real clip: mel picture and tensor, then Griffin-Lim back to audio.
#[test]
fn mel_then_griffin_lim_on_a_real_clip() {
    let dir = tempfile::tempdir().unwrap();
    let clip = shared_videos().join("v-iashin_SpecVQGAN__data__vas__videos__dog__video_02677.mp4");
    let (png, tensor, wav) = (dir.path().join("x.png"), dir.path().join("x.safetensors"), dir.path().join("y.wav"));
    let out = foley(&[&"mel", &clip, &"--duration", &"2", &"-o", &png, &"--tensor", &tensor]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let info = decoder.read_info().unwrap().info().clone();
    assert!(info.width > 0 && info.height > 0);

    let bytes = std::fs::read(&tensor).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let config = foley_seq::MelConfig::MMAUDIO_16K;
    let frames = config.num_frames(2 * config.sample_rate as usize);
    assert_eq!(st.tensor("mel").unwrap().shape(), [config.n_mels, frames]);

    let out = foley(&[&"griffin-lim", &tensor, &"-o", &wav, &"--iterations", &"16"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let audio = foley_media::decode_audio(&wav, config.sample_rate).unwrap();
    assert_eq!(audio.len(), frames * config.hop, "wav length = frames x hop");
    assert!(audio.iter().any(|v| v.abs() > 1e-3), "not silent");
    // The same mel through `foley vocode`, and the clip resynthesized through its own mel.
    let (z, r) = (dir.path().join("z.wav"), dir.path().join("r.wav"));
    let out = foley(&[&"vocode", &tensor, &"-o", &z, &"--decoder", &"griffin-lim", &"--iterations", &"16"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(foley_media::decode_audio(&z, config.sample_rate).unwrap().len(), frames * config.hop);
    let out = foley(&[&"vocode", &clip, &"-o", &r, &"--decoder", &"griffin-lim", &"--iterations", &"16", &"--score"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("distance to the original: mel L1"));
    let mut names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["r.wav", "x.png", "x.safetensors", "y.wav", "z.wav"], "no temporaries");
}

#[test]
fn vocode_bad_input() {
    let f = fixtures();
    let wav = f.out.join("y.wav");
    let mut cases: Vec<(PathBuf, &str)> = f.common.clone();
    cases.push((f.good_video.clone(), "has no audio stream"));
    for (file, phrase) in &cases {
        expect_failure(&f, &[&"vocode", file, &"-o", &wav, &"--decoder", &"griffin-lim"], file, phrase);
    }
    let missing = f.out.join("missing-vocoder.safetensors");
    expect_failure(&f, &[&"vocode", &f.good_audio, &"-o", &wav, &"--model", &missing], &missing, "no vocoder");
    // The output may not be the input.
    expect_failure(&f, &[&"vocode", &f.good_audio, &"-o", &f.good_audio, &"--decoder", &"griffin-lim"], &f.good_audio, "input");
}

/// Happy path of `foley frames`: 1 s at 8 fps -> frame_000000..7.png (32x32), into a new
/// directory and again into the existing one, with no temporary left beside it.
#[test]
fn frames_of_a_good_video_land_in_place() {
    let f = fixtures();
    let dest = f.out.join("frames");
    for _ in 0..2 {
        let out = foley(&[&"frames", &f.good_video, &"--fps", &"8", &"--size", &"32", &"-o", &dest]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut names: Vec<_> = std::fs::read_dir(&dest).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, (0..8).map(|i| format!("frame_{i:06}.png")).collect::<Vec<_>>());
        let beside: Vec<_> = std::fs::read_dir(&f.out).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(beside, ["frames"], "no temporaries beside the output");
    }
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(dest.join("frame_000007.png")).unwrap()));
    let info = decoder.read_info().unwrap().info().clone();
    assert_eq!((info.width, info.height), (32, 32));
}

/// A truncated file whose index survived (moov first): ffprobe describes it, ffmpeg decodes up
/// to the cut and exits 0; mel and mux must still refuse it instead of a silently short result.
#[test]
fn truncated_faststart_file_is_refused() {
    let f = fixtures();
    let dir = f.out.parent().unwrap();
    let clip = shared_videos().join("v-iashin_SpecVQGAN__data__vas__videos__dog__video_02677.mp4");
    let faststart = dir.join("faststart.mp4");
    ffmpeg(&["-i", clip.to_str().unwrap(), "-c", "copy", "-movflags", "+faststart", faststart.to_str().unwrap()]);
    let bytes = std::fs::read(&faststart).unwrap();
    let cut = dir.join("cut_faststart.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() * 3 / 10]).unwrap();
    // The index is intact, so ffprobe alone would describe the file at its full length; probe
    // checks the MP4 boxes against the file size.
    expect_failure(&f, &[&"probe", &cut], &cut, "the file is truncated");

    expect_failure(&f, &[&"mel", &cut, &"-o", &f.out.join("x.png")], &cut, "the file is truncated");
    expect_failure(&f, &[&"mux", &cut, &f.good_audio, &"-o", &f.out.join("m.mp4")], &cut, "the file is truncated");
    // `foley frames` streams PNGs into a temporary directory: the failure leaves nothing.
    expect_failure(&f, &[&"frames", &cut, &"--size", &"32", &"-o", &f.out.join("frames")], &cut, "the file is truncated");
}
