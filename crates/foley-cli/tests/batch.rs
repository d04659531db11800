//! `foley batch` end to end: a folder with broken files in it (each reported and skipped, the
//! rest generated, the summary accurate, nothing left for the failures), `--resume`, a manifest
//! with per-row options (two jobs at once), batches refused before any work, and models that do
//! not load (the summary says every item was not run).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

fn foley(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_foley")).args(args.iter().map(|a| a.as_ref())).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `seconds` of assets/demo/demo.mp4 from `from`, re-encoded (so its length is whole frames).
fn clip(dest: &Path, from: f64, seconds: f64) {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/demo/demo.mp4");
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-ss", &from.to_string(), "-t", &seconds.to_string(), "-i"])
        .arg(demo)
        .args(["-an", "-c:v", "libx264"])
        .arg(dest)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffmpeg: {}", String::from_utf8_lossy(&out.stderr));
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    v.sort();
    v
}

fn samples(wav: &Path) -> Vec<f32> {
    foley_media::decode_audio(wav, 16_000).unwrap()
}

fn video_seconds(video: &Path) -> f64 {
    let info = foley_media::probe(video).unwrap();
    info.video.unwrap().duration.or(info.duration).unwrap()
}

fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

fn summary(out: &Path) -> (String, serde_json::Value) {
    let csv = std::fs::read_to_string(out.join("batch-summary.csv")).unwrap();
    let json = serde_json::from_str(&std::fs::read_to_string(out.join("batch-summary.json")).unwrap()).unwrap();
    (csv, json)
}

/// The status and error of the summary's item whose input ends in `name`.
fn item<'a>(json: &'a serde_json::Value, name: &str) -> (&'a str, Option<&'a str>) {
    let items = json["items"].as_array().unwrap();
    let it = items.iter().find(|i| i["input"].as_str().unwrap().ends_with(name)).unwrap_or_else(|| panic!("{name} not in {json}"));
    (it["status"].as_str().unwrap(), it["error"].as_str())
}

#[test]
fn broken_files_are_reported_and_skipped_and_resume_retries_only_them() {
    let dir = tempfile::tempdir().unwrap();
    let (videos, out) = (dir.path().join("videos"), dir.path().join("out"));
    std::fs::create_dir(&videos).unwrap();
    clip(&videos.join("a.mp4"), 0.0, 1.0);
    clip(&videos.join("c.mp4"), 2.0, 1.5);
    // Its index (moov) is at the end: the first 40 % is a truncated file.
    clip(&dir.path().join("whole.mp4"), 4.0, 1.0);
    let whole = std::fs::read(dir.path().join("whole.mp4")).unwrap();
    std::fs::write(videos.join("b.mp4"), &whole[..whole.len() * 2 / 5]).unwrap();
    std::fs::write(videos.join("x.mp4"), "not a video\n".repeat(20)).unwrap();
    std::fs::write(videos.join("notes.txt"), "not a video either, and not taken for one\n").unwrap();

    let run = foley(&[&"batch", &videos, &"-o", &out, &"--steps", &"2"]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(&format!("error: 2 of 4 videos failed (see {})", out.join("batch-summary.csv").display())), "{err}");
    for bad in ["b.mp4", "x.mp4"] {
        assert!(err.lines().any(|l| l.starts_with("failed: ") && l.contains(&videos.join(bad).display().to_string())), "no line for {bad}: {err}");
    }
    let done = ["a.foley.mp4", "a.foley.wav", "c.foley.mp4", "c.foley.wav"];
    assert_eq!(names(&out), [&["a.foley.mp4", "a.foley.wav", "batch-summary.csv", "batch-summary.json"][..], &done[2..]].concat(), "no temporaries");
    for stem in ["a", "c"] {
        let wav = samples(&out.join(format!("{stem}.foley.wav")));
        assert_eq!(wav.len(), (video_seconds(&videos.join(format!("{stem}.mp4"))) * 16_000.0) as usize, "{stem}");
        assert!(wav.iter().any(|v| v.abs() > 1e-3), "{stem} is not silent");
    }
    let (csv, json) = summary(&out);
    assert_eq!((json["total"].as_u64(), json["done"].as_u64(), json["failed"].as_u64()), (Some(4), Some(2), Some(2)), "{json}");
    assert_eq!(item(&json, "a.mp4"), ("done", None));
    let (status, error) = item(&json, "b.mp4");
    assert!(status == "failed" && error.unwrap().contains(&videos.join("b.mp4").display().to_string()) && error.unwrap().contains("truncated"), "{json}");
    let (status, error) = item(&json, "x.mp4");
    assert!(status == "failed" && error.unwrap().contains("x.mp4") && error.unwrap().contains("not a media file"), "{json}");
    assert!(json["items"][0]["seconds"].as_f64().unwrap() > 0.0 && json["items"][0]["audio_seconds"].as_f64() == Some(1.0), "{json}");
    assert_eq!(csv.lines().next(), Some("input,mp4,wav,status,seconds,audio_seconds,error"));
    for (name, status, phrase) in [("a.mp4", "done", ""), ("b.mp4", "failed", "truncated"), ("c.mp4", "done", ""), ("x.mp4", "failed", "not a media file")] {
        let line = csv.lines().find(|l| l.starts_with(&videos.join(name).display().to_string())).unwrap_or_else(|| panic!("{name}: {csv}"));
        assert!(line.contains(&format!(",{status},")) && line.contains(phrase), "{line}");
    }

    // Resume: the finished two are not touched, the failed two are tried again.
    let before: Vec<SystemTime> = done.iter().map(|n| mtime(&out.join(n))).collect();
    let run = foley(&[&"batch", &videos, &"-o", &out, &"--steps", &"2", &"--resume"]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(err.contains("resume: 2 of 4 videos already have both outputs; skipped") && err.contains("2 of 4 videos failed"), "{err}");
    assert_eq!(done.iter().map(|n| mtime(&out.join(n))).collect::<Vec<_>>(), before, "done outputs untouched");
    let (_, json) = summary(&out);
    assert_eq!([item(&json, "a.mp4").0, item(&json, "b.mp4").0, item(&json, "c.mp4").0, item(&json, "x.mp4").0], ["skipped", "failed", "skipped", "failed"]);

    // Once the bad files are gone, nothing is left to do: success, nothing rewritten.
    std::fs::remove_file(videos.join("b.mp4")).unwrap();
    std::fs::remove_file(videos.join("x.mp4")).unwrap();
    let run = foley(&[&"batch", &videos, &"-o", &out, &"--resume"]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(String::from_utf8_lossy(&run.stdout).contains("0 done, 0 failed, 2 skipped of 2 videos"));
    assert_eq!(done.iter().map(|n| mtime(&out.join(n))).collect::<Vec<_>>(), before);
}

#[test]
fn a_manifest_gives_each_row_its_own_options() {
    let dir = tempfile::tempdir().unwrap();
    let (jobs, out) = (dir.path().join("jobs"), dir.path().join("out"));
    std::fs::create_dir(&jobs).unwrap();
    clip(&jobs.join("a.mp4"), 0.0, 1.0);
    clip(&dir.path().join("b.mp4"), 3.0, 2.0);
    let manifest = jobs.join("manifest.csv");
    let b = dir.path().join("b.mp4");
    std::fs::write(
        &manifest,
        format!(
            "video,seed,output,prompt,start,duration\n\
             a.mp4,1,a-seed1,,,\n\
             a.mp4,2,a-seed2,,,\n\
             {},,,\"footsteps, on gravel\",0.5,1.2\n",
            b.display()
        ),
    )
    .unwrap();
    let run = foley(&[&"batch", &manifest, &"-o", &out, &"--steps", &"2", &"--jobs", &"2", &"--seed", &"9"]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(String::from_utf8_lossy(&run.stdout).contains("3 done, 0 failed, 0 skipped of 3 videos"));
    let expect = ["a-seed1.foley.mp4", "a-seed1.foley.wav", "a-seed2.foley.mp4", "a-seed2.foley.wav", "b.foley.mp4", "b.foley.wav"];
    assert_eq!(names(&out), [&expect[..], &["batch-summary.csv", "batch-summary.json"]].concat());
    let (one, two) = (samples(&out.join("a-seed1.foley.wav")), samples(&out.join("a-seed2.foley.wav")));
    assert_eq!((one.len(), two.len()), (16_000, 16_000));
    assert_ne!(one, two, "another seed, another soundtrack");
    // 0.5 s of silence keeps the sound in place, then exactly 1.2 s generated.
    let b_wav = samples(&out.join("b.foley.wav"));
    assert_eq!(b_wav.len(), 8_000 + 19_200);
    assert!(b_wav[..8_000].iter().all(|v| *v == 0.0) && b_wav[8_000..].iter().any(|v| v.abs() > 1e-3));
    let (_, json) = summary(&out);
    assert_eq!(json["items"][2]["audio_seconds"].as_f64(), Some(1.2), "{json}");
}

#[test]
fn bad_batches_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let videos = dir.path().join("videos");
    std::fs::create_dir(&videos).unwrap();
    clip(&videos.join("a.mp4"), 0.0, 1.0);
    let manifest = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let a = videos.join("a.mp4");
    std::fs::copy(&a, videos.join("a.mov")).unwrap();
    let cases: Vec<(Vec<PathBuf>, PathBuf, Vec<String>)> = vec![
        (
            vec![manifest("unknown.csv", "video,prompt,speed\nvideos/a.mp4,x,1\n")],
            dir.path().join("unknown.csv"),
            vec!["row 1".into(), "unknown column `speed`".into()],
        ),
        (
            vec![manifest("number.csv", "video,seed\nvideos/a.mp4,1\nvideos/a.mp4,one\n")],
            dir.path().join("number.csv"),
            vec!["row 3, column `seed`: `one` is not a whole number".into()],
        ),
        (
            vec![manifest("same.csv", "video,seed\nvideos/a.mp4,1\nvideos/a.mp4,2\n")],
            dir.path().join("videos/a.mp4 (row 3"),
            vec!["(row 2 of".into(), "would both write".into(), "`output` column".into()],
        ),
        // A folder with a.mov and a.mp4: both would be a.foley.mp4.
        (vec![videos.clone()], a.clone(), vec![format!("{} and {} would both write", videos.join("a.mov").display(), a.display()), "`output` column".into()]),
        (vec![manifest("steps.csv", "video,steps\nvideos/a.mp4,3\n")], dir.path().join("steps.csv"), vec!["row 2".into(), "power of two".into()]),
        (vec![videos.clone(), "--stream".into(), "s.wav".into()], "--stream".into(), vec!["makes no sense for a batch".into()]),
        (vec![videos.clone(), "--inpaint".into(), "1:2".into()], "--inpaint".into(), vec!["foley generate".into()]),
        (vec![videos.clone(), "--loudness".into(), "3".into()], "--loudness".into(), vec!["below 0 LUFS".into()]),
        (vec![dir.path().join("missing")], dir.path().join("missing"), vec!["no such folder or file".into()]),
        (vec![a.clone()], a.clone(), vec!["expected a folder of videos or a .csv manifest".into()]),
    ];
    for (args, named, phrases) in cases {
        let mut all: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"batch"];
        all.extend(args.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
        all.extend([&"-o" as &dyn AsRef<std::ffi::OsStr>, &out]);
        let run = foley(&all);
        let err = stderr(&run);
        assert_eq!(run.status.code(), Some(1), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.contains(&named.display().to_string()), "{args:?}: does not name {}: {err}", named.display());
        for phrase in phrases {
            assert!(err.contains(&phrase), "{args:?}: lacks `{phrase}`: {err}");
        }
        assert!(!out.exists(), "{args:?} created {}", out.display());
    }
}

#[test]
fn models_that_do_not_load_fail_the_batch_with_every_item_said_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let (videos, out) = (dir.path().join("videos"), dir.path().join("out"));
    std::fs::create_dir(&videos).unwrap();
    clip(&videos.join("a.mp4"), 0.0, 1.0);
    clip(&videos.join("b.mp4"), 1.0, 1.0);
    let model = dir.path().join("broken.safetensors");
    std::fs::write(&model, "not a safetensors file").unwrap();
    let run = foley(&[&"batch", &videos, &"-o", &out, &"--model", &model]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    // The error names the model's files (its weights or the config beside them).
    let named = dir.path().join("broken").display().to_string();
    assert!(!err.contains("panicked") && err.contains(&named), "{err}");
    let (_, json) = summary(&out);
    assert_eq!((json["failed"].as_u64(), json["pending"].as_u64()), (Some(2), Some(0)), "{json}");
    for name in ["a.mp4", "b.mp4"] {
        let (status, error) = item(&json, name);
        assert_eq!(status, "failed");
        let error = error.unwrap();
        assert!(error.starts_with("not run: the models did not load") && error.contains(&named), "{error}");
    }
    assert_eq!(names(&out), ["batch-summary.csv", "batch-summary.json"]);
}
