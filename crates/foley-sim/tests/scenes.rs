//! Scene generation and drawing (no sound bank needed).

use foley_sim::render::render_frames;
use foley_sim::scene::{Family, Scene, SceneConfig};

fn single(family: Family, seed: u64, duration: f64) -> SceneConfig {
    SceneConfig { families: vec![family], distractors: false, ..SceneConfig::new(seed, duration) }
}

/// Pixels of `bbox` (pixels, clipped) that differ by more than 24 levels in some channel.
fn changed_pixels(a: &[u8], b: &[u8], width: u32, bbox: [u32; 4]) -> usize {
    let [x0, y0, x1, y1] = bbox;
    let mut n = 0;
    for y in y0..y1 {
        for x in x0..x1 {
            let i = ((y * width + x) * 3) as usize;
            if (0..3).any(|c| a[i + c].abs_diff(b[i + c]) > 24) {
                n += 1;
            }
        }
    }
    n
}

fn pixel_bbox(cfg: &SceneConfig, b: [f32; 4]) -> [u32; 4] {
    let px = |v: f32, s: u32| (v * s as f32).round().clamp(0.0, s as f32) as u32;
    [px(b[0], cfg.width), px(b[1], cfg.height), px(b[2], cfg.width), px(b[3], cfg.height)]
}

#[test]
fn every_family_renders_and_sounds() {
    for (i, &family) in Family::ALL.iter().enumerate() {
        let cfg = single(family, 1000 + i as u64, 6.0);
        let scene = Scene::generate(&cfg).unwrap();
        assert!(!scene.cues().is_empty(), "{} made no sound in 6 s", family.name());
        let frames = render_frames(&scene);
        assert_eq!(frames.len(), 150 * 224 * 224 * 3);
        let fb = 224 * 224 * 3;
        assert_ne!(&frames[..fb], &frames[149 * fb..], "{} never changes", family.name());
        let sounding: Vec<_> = scene.sources().into_iter().filter(|s| s.family.is_some()).collect();
        assert_eq!(sounding.len(), 1);
        assert_eq!(sounding[0].family, Some(family));
    }
}

#[test]
fn every_event_has_a_visible_change_at_its_frame() {
    for (i, &family) in Family::ALL.iter().enumerate() {
        for seed in [7 + i as u64, 300 + i as u64] {
            let cfg = single(family, seed, 10.0);
            let scene = Scene::generate(&cfg).unwrap();
            let frames = render_frames(&scene);
            let fb = (cfg.width * cfg.height * 3) as usize;
            for (_, cue) in scene.cues() {
                let k = (cue.onset * cfg.fps as f64 - 1e-9).ceil() as usize;
                assert!(k >= 1 && k < scene.num_frames());
                let bbox = pixel_bbox(&cfg, cue.bbox);
                let changed = changed_pixels(&frames[(k - 1) * fb..k * fb], &frames[k * fb..(k + 1) * fb], cfg.width, bbox);
                assert!(changed >= 4, "{} seed {seed}: {} at {:.3}s changes only {changed} px at frame {k}", family.name(), cue.class.name(), cue.onset);
            }
        }
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_scene() {
    let cfg = SceneConfig::new(424_242, 3.0);
    let a = Scene::generate(&cfg).unwrap();
    let b = Scene::generate(&cfg).unwrap();
    assert_eq!(a.cues(), b.cues());
    assert_eq!(render_frames(&a), render_frames(&b));
    let c = Scene::generate(&SceneConfig { seed: 424_243, ..cfg }).unwrap();
    assert_ne!(render_frames(&a), render_frames(&c));
}

#[test]
fn any_size_and_frame_rate() {
    let cfg = SceneConfig { width: 320, height: 180, fps: 30, ..SceneConfig::new(5, 2.0) };
    let scene = Scene::generate(&cfg).unwrap();
    assert_eq!(scene.num_frames(), 60);
    assert_eq!(render_frames(&scene).len(), 60 * 320 * 180 * 3);
    assert!(Scene::generate(&SceneConfig { width: 225, ..cfg.clone() }).is_err());
    assert!(Scene::generate(&SceneConfig { duration: f64::NAN, ..cfg.clone() }).is_err());
    let four = vec![Family::Drop, Family::Door, Family::Gun, Family::Fire];
    assert!(Scene::generate(&SceneConfig { families: four, ..cfg }).is_err());
}

#[test]
fn long_scenes_keep_generating_events() {
    // Ten minutes: every family keeps making sounds to the end, and late frames draw.
    let cfg = SceneConfig { families: vec![Family::Walk, Family::Drop, Family::Cart, Family::Door], ..SceneConfig::new(899_900, 600.0) };
    let scene = Scene::generate(&cfg).unwrap();
    for family in [Family::Walk, Family::Drop, Family::Cart, Family::Door] {
        let ids: Vec<u32> = scene.sources().iter().filter(|s| s.family == Some(family)).map(|s| s.id).collect();
        let last = scene.cues().iter().filter(|c| ids.contains(&c.0)).map(|c| c.1.onset).fold(0.0, f64::max);
        assert!(last > 580.0, "{} stops at {last:.1}s", family.name());
    }
    let mut canvas = scene.canvas();
    scene.render_frame(scene.num_frames() - 1, &mut canvas);
}

#[test]
fn sampled_scenes_mix_families_and_distractors() {
    let mut families = std::collections::HashSet::new();
    let mut overlapping = 0;
    for seed in 0..40 {
        let scene = Scene::generate(&SceneConfig::new(seed, 8.0)).unwrap();
        let sources = scene.sources();
        assert!(sources.iter().any(|s| s.family.is_some()), "seed {seed} is silent");
        assert!(sources.iter().any(|s| s.family.is_none()), "seed {seed} has no distractor");
        families.extend(sources.iter().filter_map(|s| s.family));
        if sources.iter().filter(|s| s.family.is_some()).count() >= 2 {
            overlapping += 1;
        }
    }
    assert_eq!(families.len(), Family::ALL.len(), "40 seeds should cover every family");
    assert!(overlapping >= 20, "only {overlapping}/40 scenes have several sources");
}
