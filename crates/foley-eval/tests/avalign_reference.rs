//! AV-Align against the reference implementation (OpenCV Farneback + librosa, numbers from
//! `scripts/dev/avalign_reference.py`, stored in `tests/data/avalign_reference.tsv`) on every
//! shared clip that has a soundtrack (18 of 20), each with its own soundtrack.

use std::path::Path;

use foley_eval::avalign::{iou, video_flow_peaks};
use foley_eval::onset::{OnsetConfig, OnsetDetector};

#[test]
fn matches_the_opencv_librosa_reference() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let table = std::fs::read_to_string(here.join("tests/data/avalign_reference.tsv")).unwrap();
    let detector = OnsetDetector::new(OnsetConfig::LIBROSA);
    let (mut ours_sum, mut ref_sum, mut n) = (0.0, 0.0, 0.0);
    // Every clip is measured and printed before the test fails.
    let mut failures = Vec::new();
    let mut check = |ok: bool, msg: String| {
        if !ok {
            failures.push(msg)
        }
    };
    for line in table.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let num = |i: usize| f[i].rsplit(' ').next().unwrap().parse::<f64>().unwrap();
        let (peaks_ref, onsets_ref, score_ref, flow_ref) = (num(3), num(4), num(5), num(6));
        let path = here.join("../../../shared/eval/videos").join(f[0]);
        let video = video_flow_peaks(&path).unwrap();
        let audio = foley_media::decode_audio(&path, OnsetConfig::LIBROSA.sample_rate).unwrap();
        let onsets = detector.detect(&audio).times();
        let score = iou(&onsets, &video.peaks, video.fps);
        let flow = video.trajectory.iter().sum::<f64>() / video.trajectory.len() as f64;
        println!(
            "{}: peaks {} / {peaks_ref}, onsets {} / {onsets_ref}, AV-Align {score:.4} / {score_ref:.4}, mean flow {flow:.4} / {flow_ref:.4}",
            f[0],
            video.peaks.len(),
            onsets.len()
        );
        check((flow - flow_ref).abs() <= 2e-3 * flow_ref, format!("{}: mean flow {flow} vs {flow_ref}", f[0]));
        check((video.peaks.len() as f64 - peaks_ref).abs() <= 1.0, format!("{}: {} video peaks vs {peaks_ref}", f[0], video.peaks.len()));
        // Onsets differ by a couple at most (ffmpeg vs soxr resampling to 22.05 kHz); one onset
        // more or less moves the IoU of a clip with few peaks by about 0.01.
        check((onsets.len() as f64 - onsets_ref).abs() <= 2f64.max(0.05 * onsets_ref), format!("{}: {} onsets vs {onsets_ref}", f[0], onsets.len()));
        check((score - score_ref).abs() <= 0.02, format!("{}: AV-Align {score} vs {score_ref}", f[0]));
        ours_sum += score;
        ref_sum += score_ref;
        n += 1.0;
    }
    println!("mean AV-Align {:.4} vs reference {:.4}", ours_sum / n, ref_sum / n);
    assert!(failures.is_empty(), "{failures:#?}");
    assert!((ours_sum - ref_sum).abs() / n < 0.01);
}
