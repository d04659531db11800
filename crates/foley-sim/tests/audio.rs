//! The soundtrack: sample-accurate placement, onsets against events.json, determinism of the
//! written files, and the real sound bank (built by `foley sim bank`, which scripts/setup.sh runs).

use foley_sim::bank::{self, Bank, Recording, RecordingInfo};
use foley_sim::events::{Event, EventsFile};
use foley_sim::mix::{MixConfig, mix};
use foley_sim::onset::{OnsetConfig, detect};
use foley_sim::render::{render_clip, write_scene};
use foley_sim::scene::{Family, Scene, SceneConfig};
use foley_sim::{SoundClass, Surface};

/// One hop of MMAudio's 16 kHz mel (256 samples = 16 ms).
const ONE_HOP: f64 = foley_seq::MelConfig::MMAUDIO_16K.hop as f64 / foley_seq::MelConfig::MMAUDIO_16K.sample_rate as f64;

fn real_bank(rate: u32) -> Bank {
    let dir = bank::default_dir();
    Bank::load(&dir, rate).unwrap_or_else(|e| panic!("{e:#}\n(the sound bank is built by `foley sim bank`, run from scripts/setup.sh)"))
}

fn impulsive() -> Vec<Family> {
    vec![Family::Walk, Family::Drop, Family::Gun, Family::Glass]
}

/// A bank whose every recording is a unit impulse followed by silence.
fn impulse_bank(sr: u32) -> Bank {
    let recs = SoundClass::ALL
        .iter()
        .map(|&class| {
            let mut samples = vec![0.0; 400];
            samples[0] = 1.0;
            let info = RecordingInfo {
                id: format!("impulse.{}", class.name()),
                class,
                package: "test".into(),
                source: "synthetic".into(),
                license: "CC0-1.0".into(),
                copyright: String::new(),
                trimmed_start: 0.0,
                duration: 400.0 / sr as f64,
            };
            Recording { info, samples }
        })
        .collect();
    Bank::from_recordings(sr, recs)
}

#[test]
fn recordings_start_exactly_at_their_onset_sample() {
    let sr = 16_000;
    let bank = impulse_bank(sr);
    let cfg = SceneConfig { families: vec![Family::Walk, Family::Gun, Family::Door], ..SceneConfig::new(31, 12.0) };
    let scene = Scene::generate(&cfg).unwrap();
    let quiet = MixConfig { noise_floor_db: None, ..MixConfig::default() };
    let m = mix(&scene, &bank, &quiet).unwrap();
    assert_eq!(m.waveform.len(), 12 * sr as usize);
    let mut expected = vec![0f32; m.waveform.len()];
    for e in &m.events {
        expected[(e.onset * sr as f64).round() as usize] += e.gain;
    }
    assert!(m.events.len() > 20);
    for (i, (a, b)) in m.waveform.iter().zip(&expected).enumerate() {
        assert!((a - b).abs() <= 1e-6, "sample {i}: mixed {a}, expected {b}");
    }
}

/// Level (dB) of `x[a..b]` as the loudest 4 ms window.
fn max_level(x: &[f32], a: usize, b: usize) -> f32 {
    let w = 64;
    (a..b.saturating_sub(w)).step_by(32).map(|i| 10.0 * (x[i..i + w].iter().map(|v| v * v).sum::<f32>() / w as f32 + 1e-12).log10()).fold(-120.0, f32::max)
}

#[test]
fn detected_onsets_match_events_json_within_one_hop() {
    let bank = real_bank(16_000);
    let sr = 16_000.0;
    let cfg_onset = OnsetConfig::default();
    let (mut checked, mut total) = (0, 0);
    // Dense mixed scenes, then one scene per impulsive family.
    let mut scenes: Vec<(u64, Vec<Family>)> = [11u64, 12, 13].map(|s| (s, impulsive())).to_vec();
    let singles = [Family::Walk, Family::Drop, Family::Gun, Family::Glass, Family::Explosion, Family::Door];
    scenes.extend(singles.iter().enumerate().map(|(i, f)| (20 + i as u64, vec![*f])));
    for (seed, families) in scenes {
        let cfg = SceneConfig { families, ..SceneConfig::new(seed, 10.0) };
        let clip = render_clip(&cfg, &bank, &MixConfig::default()).unwrap();
        let x = &clip.waveform;
        let onsets = detect(x, 16_000, &cfg_onset);
        for e in clip.events.iter().filter(|e| !e.is_continuous()) {
            total += 1;
            // Only onsets that stand out of what is already sounding can be heard, or detected.
            let s = (e.onset * sr).round() as usize;
            let rec = bank.recordings.iter().find(|r| r.info.id == e.recording).unwrap();
            let own: Vec<f32> = rec.samples.iter().take(128).map(|v| v * e.gain).collect();
            let own_db = max_level(&own, 0, own.len());
            let before = max_level(x, s.saturating_sub(640), s);
            if own_db < -40.0 || own_db < before + 9.0 {
                continue;
            }
            checked += 1;
            let nearest = onsets.iter().map(|t| (t - e.onset).abs()).fold(f64::INFINITY, f64::min);
            assert!(nearest <= ONE_HOP, "seed {seed}: {} at {:.4}s: nearest detected onset {:.1} ms away", e.class.name(), e.onset, nearest * 1e3);
        }
        // No sound without an event: every detected onset lies inside some event.
        for &t in &onsets {
            let covered = clip.events.iter().any(|e| t >= e.onset - ONE_HOP && t <= e.offset + ONE_HOP);
            assert!(covered, "seed {seed}: onset at {t:.4}s with no event");
        }
    }
    assert!(checked * 2 >= total, "only {checked} of {total} events were distinct enough to check");
}

#[test]
fn same_seed_gives_identical_files() {
    let bank = real_bank(16_000);
    let cfg = SceneConfig::new(777, 3.0);
    let dir = tempfile::tempdir().unwrap();
    let mix = MixConfig { reverb: 0.3, ..MixConfig::default() };
    let a = write_scene(&cfg, &bank, &mix, &dir.path().join("a"), &mut |_, _| {}).unwrap();
    let b = write_scene(&cfg, &bank, &mix, &dir.path().join("b"), &mut |_, _| {}).unwrap();
    for (x, y) in [(&a.wav, &b.wav), (&a.events, &b.events), (&a.mp4, &b.mp4)] {
        assert_eq!(std::fs::read(x).unwrap(), std::fs::read(y).unwrap(), "{} differs between runs", x.display());
    }
    // The files agree with the in-memory clip.
    let clip = render_clip(&cfg, &bank, &mix).unwrap();
    let ev = EventsFile::read(&a.events).unwrap();
    assert_eq!(ev, clip.events_file());
    assert_eq!(foley_media::decode_audio(&a.wav, 16_000).unwrap(), clip.waveform);
    let info = foley_media::probe(&a.mp4).unwrap();
    assert_eq!((info.video.is_some(), info.audio.len()), (true, 1));
    assert!((info.duration.unwrap() - 3.0).abs() < 0.1, "{:?}", info.duration);
}

#[test]
fn dense_scenes_never_clip_and_gains_follow_physics() {
    let bank = real_bank(16_000);
    let cfg = SceneConfig { families: vec![Family::Explosion, Family::Gun, Family::Drop], ..SceneConfig::new(5, 20.0) };
    let clip = render_clip(&cfg, &bank, &MixConfig::default()).unwrap();
    let peak = clip.waveform.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(peak <= 10f32.powf(-1.0 / 20.0) + 1e-6, "peak {peak}");
    // Drops: a bounce is quieter than the landing before it (slower impact).
    let drops: Vec<&Event> = clip
        .events
        .iter()
        .filter(|e| matches!(e.class, SoundClass::ImpactWood | SoundClass::ImpactMetal | SoundClass::ImpactStone | SoundClass::ImpactSoft))
        .collect();
    for w in drops.windows(2) {
        if w[1].onset - w[0].onset < 0.6 {
            assert!(w[1].gain < w[0].gain, "bounce at {} louder than impact at {}", w[1].onset, w[0].onset);
        }
    }
}

#[test]
fn the_bank_covers_every_class_with_licensed_recordings() {
    let m = bank::Manifest::read(&bank::default_dir()).unwrap();
    for p in bank::PACKAGES {
        assert!(m.packages.iter().any(|q| q.name == p && !q.version.is_empty()), "{p} missing");
        assert!(m.recordings.iter().any(|r| r.package == p), "no recording from {p}");
    }
    for c in SoundClass::ALL {
        assert!(m.recordings.iter().filter(|r| r.class == c).count() >= 2, "fewer than 2 recordings of {}", c.name());
    }
    assert!(m.recordings.iter().all(|r| !r.license.is_empty()));
    assert!(m.recordings.iter().any(|r| r.source.contains(".pk3!sound/")), "OpenArena sounds come from pk3 archives");
    let hi = real_bank(44_100);
    let lo = real_bank(16_000);
    for (h, l) in hi.recordings.iter().zip(&lo.recordings) {
        assert_eq!(h.info.id, l.info.id);
        let (dh, dl) = (h.samples.len() as f64 / 44_100.0, l.samples.len() as f64 / 16_000.0);
        assert!((dh - dl).abs() < 0.002, "{}: {dh} s at 44.1k vs {dl} s at 16k", h.info.id);
        let peak = l.samples.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!((peak - 1.0).abs() < 1e-4 && l.samples[0].abs() < 1.0, "{} is not peak-normalized", l.info.id);
    }
    // The footstep class follows the surface under the foot.
    assert_eq!(Surface::Gravel.footstep(), SoundClass::FootstepGravel);
}

#[test]
fn footsteps_take_the_class_of_the_tile_underfoot() {
    let bank = impulse_bank(16_000);
    let mut surfaces = std::collections::HashSet::new();
    for seed in 0..8 {
        let cfg = SceneConfig { families: vec![Family::Walk], ..SceneConfig::new(seed, 15.0) };
        let scene = Scene::generate(&cfg).unwrap();
        let m = mix(&scene, &bank, &MixConfig::default()).unwrap();
        assert!(m.events.len() >= 15, "seed {seed}: {} steps in 15 s", m.events.len());
        for e in &m.events {
            let foot_x = (e.bbox[0] + e.bbox[2]) as f32 / 2.0 / cfg.width as f32;
            let surface = scene.ground().surface_at(foot_x);
            let margin = 2.0 / cfg.width as f32; // pixel rounding of the bbox
            if scene.ground().surface_at(foot_x - margin) != scene.ground().surface_at(foot_x + margin) {
                continue;
            }
            assert_eq!(e.class, surface.footstep(), "seed {seed}: step at x={foot_x:.3}");
            surfaces.insert(surface.footstep());
        }
    }
    assert!(surfaces.len() >= 5, "8 walks should cross at least 5 surfaces, got {surfaces:?}");
}
