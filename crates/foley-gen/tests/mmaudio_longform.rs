//! MMAudio's pipeline through the long-form planner: a network without mask channels, so each
//! window continues the last by replacement at every Euler step. Uses the tiny official-code
//! pipeline of `../shared/golden/mmaudio_ext` (trained length 2 s) on the shipped demo video.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use foley_gen::generate::{Request, SampleOptions, Sampler, Window};
use foley_gen::longform::{LongRequest, Splice, generate_long};
use foley_gen::mmaudio::MmaudioWindows;
use foley_gen::mmaudio::check::{Configs, load_pipeline};
use foley_gen::windows::WindowModel;
use foley_seq::SequenceConfig;

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/golden/mmaudio_ext").join(name)
}

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/demo/demo.mp4")
}

fn tiny() -> MmaudioWindows {
    let configs = Configs::read(&golden("mmaudio_ext_shared.json")).unwrap();
    let (mmaudio, _) = load_pipeline(&configs, "pipeline_shared", &golden("pipeline_shared.pth"), &Device::flex()).unwrap();
    MmaudioWindows::new(mmaudio, SequenceConfig::mmaudio_16k(2.0))
}

fn request(video: &Path, duration: f64, seed: u64) -> Request<'_> {
    let options = SampleOptions { sampler: Sampler::Euler(4), cfg: 4.5, seed, use_video: true };
    Request { video, window: Window { start: 0.3, duration }, prompt: Some("a hammer hits a metal plate"), negative: Some("human speech"), options }
}

fn run(model: &mut MmaudioWindows, long: &LongRequest) -> (Vec<f32>, usize) {
    let (mut out, mut windows) = (Vec::new(), 0);
    generate_long(
        model,
        long,
        &mut |s| {
            out.extend_from_slice(s);
            Ok(())
        },
        &mut |_, n| {
            windows = n;
            Ok(())
        },
    )
    .unwrap();
    (out, windows)
}

#[test]
fn any_length_exactly_and_deterministically() {
    let (video, mut model) = (demo(), tiny());
    for duration in [0.5, 2.0, 5.3] {
        let (a, windows) = run(&mut model, &LongRequest::new(request(&video, duration, 7), 0.5));
        assert_eq!(a.len(), (duration * 16_000.0) as usize, "{duration} s: exact length");
        assert!(a.iter().all(|v| v.is_finite()) && a.iter().any(|&v| v != 0.0), "{duration} s: real audio");
        if duration > 2.0 {
            assert!(windows >= 3, "{duration} s over 2 s windows: {windows} windows");
            let (b, _) = run(&mut model, &LongRequest::new(request(&video, duration, 7), 0.5));
            assert_eq!(a, b, "same seed, same samples");
            let (c, _) = run(&mut model, &LongRequest::new(request(&video, duration, 8), 0.5));
            assert_ne!(a, c, "another seed, another soundtrack");
        }
    }
}

#[test]
fn inpainting_keeps_the_audio_outside_the_range() {
    let (video, mut model) = (demo(), tiny());
    let existing: Vec<f32> = (0..16_000 * 5).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
    let seq = model.sequence(model.window_duration());
    let plan = Splice::new(&mut model, &existing, 2.0, 3.0, 5.0, 0.5, &seq).unwrap();
    let mut long = LongRequest::new(request(&video, plan.window.duration, 3), 0.5);
    long.request.window = plan.window;
    long.given = Some(plan.given.clone());
    let (generated, _) = run(&mut model, &long);
    let out = plan.apply(&existing, &generated, 16_000).unwrap();
    let fade = (0.025 * 16_000.0) as usize;
    assert_eq!(out.len(), existing.len());
    assert_eq!(&out[..32_000 - fade], &existing[..32_000 - fade], "before the range");
    assert_eq!(&out[48_000 + fade..], &existing[48_000 + fade..], "after the range");
    assert_ne!(&out[32_000 + fade..48_000 - fade], &existing[32_000 + fade..48_000 - fade], "the range is new");
}
