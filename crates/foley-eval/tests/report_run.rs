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
    let (gen_dir, ref_dir, vid_dir, out) =
        (tmp.path().join("gen"), tmp.path().join("ref"), tmp.path().join("vid"), tmp.path().join("report"));
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
