//! A mounted gun firing bursts: each shot shows a muzzle flash, a tracer and a recoil kick
//! starting exactly at the gunshot onset.

use super::{Bbox, Cue, Element, Family, Slot};
use crate::canvas::{Canvas, Rgb, shade};
use crate::classes::SoundClass;
use crate::rng::Rng;

/// The flash is visible this long (longer than a frame at 25 fps).
const FLASH: f64 = 0.06;
const RECOIL: f64 = 0.12;

#[derive(Debug, Clone, Copy)]
struct Shot {
    t: f64,
    gain: f32,
    pick: u64,
}

/// A gun on a stand and its shots.
pub struct Gun {
    /// Muzzle position.
    muzzle: (f32, f32),
    /// Fires to the left (`-1`) or to the right (`1`).
    dir: f32,
    color: Rgb,
    shots: Vec<Shot>,
}

impl Gun {
    /// Bursts of 1-5 shots 0.15-0.4 s apart, every 1.5-5 s.
    pub fn generate(rng: &mut Rng, s: Slot, duration: f64) -> Self {
        let dir = if rng.chance(0.5) { -1.0 } else { 1.0 };
        let muzzle = (s.x(0.5 + 0.35 * dir), s.y(0.55));
        let mut shots = Vec::new();
        let mut t = rng.range(0.3, 2.0);
        while t < duration {
            for _ in 0..1 + rng.below(5) {
                shots.push(Shot { t, gain: rng.range(0.75, 1.0) as f32, pick: rng.next_u64() });
                t += rng.range(0.15, 0.4);
            }
            t += rng.range(1.5, 5.0);
        }
        let grey = rng.below(60) as u8 + 40;
        Self { muzzle, dir, color: [grey, grey, grey + 10], shots }
    }
}

impl Element for Gun {
    fn name(&self) -> &'static str {
        "gun"
    }

    fn family(&self) -> Option<Family> {
        Some(Family::Gun)
    }

    fn draw_static(&self, c: &mut Canvas) {
        let (mx, my) = self.muzzle;
        let base = mx - self.dir * 0.13;
        c.line(&[(base, my + 0.02), (base, 0.8)], 0.012, [70, 60, 50], 1.0);
        c.line(&[(base - 0.04, 0.8), (base, my + 0.03), (base + 0.04, 0.8)], 0.01, [70, 60, 50], 1.0);
    }

    fn draw(&self, t: f64, c: &mut Canvas) {
        let (mx, my) = self.muzzle;
        let i = self.shots.partition_point(|s| s.t <= t);
        let last = i.checked_sub(1).map(|j| self.shots[j]);
        let age = last.map_or(f64::INFINITY, |s| t - s.t);
        let kick = if age < RECOIL { (0.015 * (1.0 - age / RECOIL)) as f32 } else { 0.0 };
        let mx = mx - self.dir * kick;
        let back = mx - self.dir * 0.19;
        c.rect(back.min(mx), my - 0.012, back.max(mx), my + 0.006, self.color, 1.0);
        c.rect(back.min(back + self.dir * 0.08), my - 0.02, back.max(back + self.dir * 0.08), my + 0.015, shade(self.color, 1.2), 1.0);
        let grip = back + self.dir * 0.05;
        c.poly(
            &[(grip, my), (grip + self.dir * 0.025, my), (grip + self.dir * 0.01, my + 0.05), (grip - self.dir * 0.012, my + 0.05)],
            shade(self.color, 0.8),
            1.0,
        );
        if age < FLASH {
            let k = (1.0 - age / FLASH) as f32;
            let fx = mx + self.dir * 0.03;
            let spikes: Vec<(f32, f32)> = (0..10)
                .map(|j| {
                    let a = j as f32 * std::f32::consts::TAU / 10.0;
                    let r = if j % 2 == 0 { 0.05 } else { 0.02 } * (0.6 + 0.4 * k);
                    (fx + self.dir * 0.01 + a.cos() * r * 1.4, my - 0.003 + a.sin() * r)
                })
                .collect();
            c.poly(&spikes, [255, 200, 60], 0.95);
            c.circle(fx, my - 0.003, 0.018, [255, 250, 200], 1.0);
            c.line(&[(fx + self.dir * 0.05, my - 0.003), (fx + self.dir * (0.05 + 0.6 * (age / FLASH) as f32 + 0.1), my - 0.003)], 0.006, [255, 240, 170], 0.9);
        }
    }

    fn cues(&self) -> Vec<Cue> {
        let (mx, my) = self.muzzle;
        let bbox: Bbox = [mx.min(mx + self.dir * 0.12) - 0.02, my - 0.07, mx.max(mx + self.dir * 0.12) + 0.02, my + 0.06];
        let cue = |s: &Shot| Cue { onset: s.t, class: SoundClass::Gunshot, gain: s.gain, pick: s.pick, bbox, sustain: None };
        self.shots.iter().map(cue).collect()
    }
}
