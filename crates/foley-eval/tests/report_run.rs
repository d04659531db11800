//! The `foley eval` workflow on real files: pairing by name with clear notes for missing
//! partners, and a complete report directory (JSON, Markdown, figure).

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use foley_eval::pipeline::{EvalOptions, Evaluator, pair_inputs};
use foley_eval::run::evaluate_pairs;
use foley_eval::yamnet::Precision;

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

#[test]
fn evaluates_pairs_and_writes_a_report() {
    let videos = shared().join("eval/videos");
    let bento = videos.join("marl_openl3__tests__data__video__bento.mp4");
    let drum = videos.join("v-iashin_SpecVQGAN__data__vas__videos__drum__video_02480.mp4");
    let tmp = tempfile::tempdir().unwrap();
    let (gen_dir, ref_dir, vid_dir, out) = (tmp.path().join("gen"), tmp.path().join("ref"), tmp.path().join("vid"), tmp.path().join("report"));
    for d in [&gen_dir, &ref_dir, &vid_dir] {
        std::fs::create_dir(d).unwrap();
    }
    symlink(&bento, gen_dir.join("bento.mp4")).unwrap();
    symlink(&drum, gen_dir.join("only_generated.mp4")).unwrap();
    symlink(&bento, ref_dir.join("bento.mp4")).unwrap();
    symlink(&drum, ref_dir.join("only_reference.mp4")).unwrap();
    symlink(&bento, vid_dir.join("bento.mp4")).unwrap();

    let pairing = pair_inputs(&gen_dir, &ref_dir, Some(&vid_dir), None).unwrap();
    assert_eq!(pairing.clips.len(), 1);
    assert_eq!(pairing.notes.len(), 2, "{:?}", pairing.notes);
    assert!(pairing.notes.iter().any(|n| n.contains("only_generated") && n.contains("no reference")));
    assert!(pairing.notes.iter().any(|n| n.contains("only_reference") && n.contains("no generated")));

    let ev = Evaluator::load(&shared().join("assets/yamnet"), Precision::TfliteHybrid, EvalOptions::default()).unwrap();
    std::fs::create_dir(&out).unwrap();
    let report = evaluate_pairs(&ev, &pairing, &out, |_| {}).unwrap();
    let clip = &report.clips[0];
    assert_eq!(clip.onset.f1, 1.0);
    assert!(clip.av_align.is_some() && clip.av_align == clip.av_align_reference);
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["summary"]["pairs"], 1);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| bento |") && md.contains("no reference named"));
    let png = std::fs::read(out.join("figures/bento.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
}

/// `--events`: ground-truth onsets from a foley-sim-style events.json replace the reference's
/// detected onsets. Clicks at known times score F1 = 1 against their own event times and 0
/// against times 0.3 s later; a malformed events file is an error naming it.
#[test]
fn events_files_are_the_onset_ground_truth() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = ["gen", "ref", "events", "shifted", "bad", "report"].iter().map(|d| tmp.path().join(d)).collect();
    for d in &dirs[..5] {
        std::fs::create_dir(d).unwrap();
    }
    let sr = 16_000;
    let clicks = [0.5, 1.25, 2.0, 2.75];
    // Decaying noise bursts: sharp onsets at exactly the click times, silence between them.
    let mut wave = vec![0f32; 4 * sr];
    let mut state = 1u64;
    for &t in &clicks {
        let at = (t * sr as f64) as usize;
        for i in 0..1600 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let u = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            wave[at + i] = u * (-(i as f32) / 300.0).exp();
        }
    }
    for d in &dirs[..2] {
        foley_media::write_wav(&d.join("clicks.wav"), &wave, sr as u32).unwrap();
    }
    let events = |offset: f64| {
        let list: Vec<String> = clicks.iter().map(|t| format!("{{\"onset\": {}, \"offset\": {}, \"class\": \"hit\"}}", t + offset, t + offset + 0.1)).collect();
        format!("{{\"version\": 1, \"events\": [{}]}}", list.join(", "))
    };
    std::fs::write(dirs[2].join("clicks.json"), events(0.0)).unwrap();
    std::fs::write(dirs[3].join("clicks.json"), events(0.3)).unwrap();
    std::fs::write(dirs[4].join("clicks.json"), "{\"events\": [{\"class\": \"hit\"}]}").unwrap();

    let ev = Evaluator::load(&shared().join("assets/yamnet"), Precision::TfliteHybrid, EvalOptions::default()).unwrap();
    let f1 = |events: &Path| {
        let out = dirs[5].join(events.file_name().unwrap());
        std::fs::create_dir_all(&out).unwrap();
        let pairing = pair_inputs(&dirs[0], &dirs[1], None, Some(events)).unwrap();
        evaluate_pairs(&ev, &pairing, &out, |_| {}).map(|r| r.clips[0].onset.f1)
    };
    assert_eq!(f1(&dirs[2]).unwrap(), 1.0);
    assert_eq!(f1(&dirs[3]).unwrap(), 0.0);
    let err = f1(&dirs[4]).unwrap_err().to_string();
    assert!(err.contains("clicks.json") && err.contains("numeric onset"), "{err}");
}
