//! Sanity of every metric on real clips (../shared/eval/videos): the original audio scored
//! against itself, against itself shifted (circularly) by 0.2 / 0.5 / 1.0 s, against another clip's audio and
//! against white noise must be ordered as expected. FD is taken over the even-indexed pairs (see
//! `summarize`), so that "another clip" is a different set of sounds. Prints the table BENCHMARKS.md quotes
//! (`cargo test --release -p foley-eval --test sanity -- --nocapture`).

use std::path::{Path, PathBuf};

use foley_eval::avalign::{VideoFlow, video_flow_peaks};
use foley_eval::pipeline::{ClipAudio, ClipFeatures, EvalOptions, Evaluator, list_media};
use foley_eval::report::Summary;
use foley_eval::yamnet::Precision;

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// AV-Align's full-resolution flow is costly; the test computes it for videos this narrow only.
const AV_ALIGN_MAX_WIDTH: u32 = 400;

/// White noise with the RMS of `like`, from a fixed linear congruential sequence.
fn noise_like(like: &[f32], seed: u64) -> Vec<f32> {
    let rms = (like.iter().map(|v| (v * v) as f64).sum::<f64>() / like.len().max(1) as f64).sqrt();
    let mut state = seed;
    (0..like.len())
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let u = (state >> 40) as f64 / (1u64 << 24) as f64; // [0, 1)
            ((u * 2.0 - 1.0) * rms * 3f64.sqrt()) as f32
        })
        .collect()
}

struct Clip {
    name: String,
    audio: ClipAudio,
    features: ClipFeatures,
    video: Option<VideoFlow>,
}

fn summarize(ev: &Evaluator, clips: &[Clip], generated: &[ClipFeatures]) -> (Summary, Vec<f64>) {
    let results: Vec<_> =
        clips.iter().zip(generated).map(|(c, g)| ev.compare(&c.name, g, &c.features, None, c.video.as_ref().map(|v| (v.peaks.as_slice(), v.fps)))).collect();
    let offsets = results.iter().filter_map(|r| r.sync.map(|s| s.offset_s)).collect();
    let gen_refs: Vec<&ClipFeatures> = generated.iter().collect();
    let ref_refs: Vec<&ClipFeatures> = clips.iter().map(|c| &c.features).collect();
    let mut summary = ev.summarize(&gen_refs, &ref_refs, results, vec![]).summary;
    // FD compares sets, so "another clip" over all pairs (a permutation of the same audio) is
    // exactly 0. It is taken over the even-indexed pairs only: there, "another clip" (clip
    // i + 1's audio) is the odd clips' audio, a different set of real sounds.
    let even = |set: &[&ClipFeatures]| -> Vec<Vec<f32>> { set.iter().step_by(2).flat_map(|f| f.yamnet.embeddings.iter().cloned()).collect() };
    summary.fd = foley_eval::metrics::frechet_distance_sets(&even(&gen_refs), &even(&ref_refs));
    (summary, offsets)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn metrics_order_the_sanity_conditions() {
    let root = shared();
    let ev = Evaluator::load(&root.join("assets/yamnet"), Precision::TfliteHybrid, EvalOptions::default()).unwrap();
    let videos = list_media(&root.join("eval/videos"), &["mp4"]).unwrap();
    let mut clips = Vec::new();
    for (name, path) in &videos {
        let Ok(audio) = ClipAudio::load(path) else { continue }; // two clips have no audio stream
        let narrow = foley_media::probe(path).ok().and_then(|i| i.video).is_some_and(|v| v.display_width <= AV_ALIGN_MAX_WIDTH);
        let video = if narrow { Some(video_flow_peaks(path).unwrap()) } else { None };
        let features = ev.features(&audio);
        clips.push(Clip { name: name.clone(), audio, features, video });
    }
    assert!(clips.len() >= 10, "expected the shared clips with audio, found {}", clips.len());

    let shifts = [0.2, 0.5, 1.0];
    let mut rows: Vec<(String, Summary, Vec<f64>)> = Vec::new();
    let same: Vec<ClipFeatures> = clips.iter().map(|c| c.features.clone()).collect();
    let (s, o) = summarize(&ev, &clips, &same);
    rows.push(("itself".into(), s, o));
    for shift in shifts {
        let g: Vec<ClipFeatures> = clips.iter().map(|c| ev.features(&c.audio.shifted(shift))).collect();
        let (s, o) = summarize(&ev, &clips, &g);
        rows.push((format!("shifted {shift} s"), s, o));
    }
    let other: Vec<ClipFeatures> = (0..clips.len()).map(|i| clips[(i + 1) % clips.len()].features.clone()).collect();
    let (s, o) = summarize(&ev, &clips, &other);
    rows.push(("another clip".into(), s, o));
    let noise: Vec<ClipFeatures> = clips
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let a = ClipAudio { sr16k: noise_like(&c.audio.sr16k, i as u64 + 1), sr22k: noise_like(&c.audio.sr22k, i as u64 + 101) };
            ev.features(&a)
        })
        .collect();
    let (s, o) = summarize(&ev, &clips, &noise);
    rows.push(("white noise".into(), s, o));

    let f = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{x:.3}"));
    println!(
        "\n{} clips with audio; AV-Align on the {} videos at most {AV_ALIGN_MAX_WIDTH} px wide\n",
        clips.len(),
        clips.iter().filter(|c| c.video.is_some()).count()
    );
    println!("| generated audio | FD ↓ | KL softmax ↓ | KL sigmoid ↓ | IS | onset acc ↑ | onset AP ↑ | onset F1 ↑ | median offset (s) | AV-Align ↑ |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, s, offsets) in &rows {
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {:+.3} | {} |",
            f(s.fd),
            f(s.kl_softmax),
            f(s.kl_sigmoid),
            f(s.is_mean),
            f(s.onset_accuracy),
            f(s.onset_ap),
            f(s.onset_f1),
            median(offsets.clone()),
            f(s.av_align)
        );
    }
    println!("(AV-Align of the original audio with its own video: {})\n", f(rows[0].1.av_align_reference));

    let get = |i: usize, m: fn(&Summary) -> Option<f64>| m(&rows[i].1).unwrap();
    let (itself, shifted, another, white) = (0, 1..4, 4, 5);
    // Identity is perfect.
    assert!(get(itself, |s| s.fd) < 1e-6);
    // KL(p ‖ p) with the ε inside the log is -Σ p ε / (p + ε): at most classes × ε in magnitude.
    let bound = 521.0 * foley_eval::metrics::kl::KL_EPS;
    assert!(get(itself, |s| s.kl_softmax).abs() <= bound && get(itself, |s| s.kl_sigmoid).abs() <= bound);
    for m in [|s: &Summary| s.onset_accuracy, |s: &Summary| s.onset_ap, |s: &Summary| s.onset_f1] {
        assert_eq!(get(itself, m), 1.0);
    }
    assert!(median(rows[itself].2.clone()).abs() < 1e-9);
    for (k, shift) in shifted.clone().zip(shifts) {
        // Content metrics: a delay is a small change, a different sound a large one.
        assert!(get(k, |s| s.fd) > get(itself, |s| s.fd) && get(k, |s| s.fd) < get(another, |s| s.fd));
        for m in [|s: &Summary| s.kl_softmax, |s: &Summary| s.kl_sigmoid] {
            assert!(get(k, m) < get(another, m) && get(k, m) < get(white, m), "KL of shifted {shift} s");
        }
        // Timing metrics: the delay is found, and onsets no longer line up.
        let offset = median(rows[k].2.clone());
        assert!((offset - shift).abs() < 0.03, "median offset {offset} for a {shift} s delay");
        assert!(get(k, |s| s.onset_f1) < get(itself, |s| s.onset_f1));
    }
    assert!(get(white, |s| s.fd) > get(another, |s| s.fd));
    for k in [another, white] {
        assert!(get(k, |s| s.onset_f1) < get(itself, |s| s.onset_f1));
        assert!(get(k, |s| s.onset_ap) < get(itself, |s| s.onset_ap));
    }
    // AV-Align separates wrong and noise soundtracks, but not shifts reliably: with ±1 frame
    // tolerance and dense flow peaks, chance coincidences already score ~0.2 (see BENCHMARKS.md).
    for k in [another, white] {
        assert!(get(itself, |s| s.av_align) > get(k, |s| s.av_align), "AV-Align of {}", rows[k].0);
    }
}
