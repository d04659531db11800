//! A glass pane in a frame: a stone flies in on a parabola and shatters it (glass_break at the
//! instant of contact); shards fall and fade, and a new pane appears silently later.

use super::{Bbox, Cue, Element, Family, Slot};
use crate::canvas::{Canvas, shade};
use crate::classes::SoundClass;
use crate::rng::Rng;

const G: f64 = 3.0;
/// Flight time of the stone before it hits.
const FLIGHT: f64 = 0.5;
/// How long shards stay visible.
const SHARDS: f64 = 1.0;

#[derive(Debug, Clone)]
struct Throw {
    hit: f64,
    /// The stone comes from the left (`-1`) or the right (`1`).
    side: f32,
    /// The new pane is back at this time.
    repaired: f64,
    /// Shard velocities (scene units per second) and sizes.
    shards: Vec<(f32, f32, f32)>,
    gain: f32,
    pick: u64,
}

/// A pane and the throws that break it.
pub struct Pane {
    rect: [f32; 4],
    throws: Vec<Throw>,
}

impl Pane {
    /// A break every 2.5-6 s.
    pub fn generate(rng: &mut Rng, s: Slot, duration: f64) -> Self {
        let rect = [s.x(0.2), s.y(0.15), s.x(0.8), s.y(0.75)];
        let mut throws = Vec::new();
        let mut t = rng.range(0.6, 2.0);
        while t < duration {
            let n = 8 + rng.below(6);
            let shards = (0..n).map(|_| (rng.range(-0.35, 0.35) as f32, rng.range(-0.6, 0.1) as f32, rng.range(0.012, 0.03) as f32)).collect();
            let repaired = t + rng.range(1.5, 3.0);
            let side = if rng.chance(0.5) { -1.0 } else { 1.0 };
            throws.push(Throw { hit: t, side, repaired, shards, gain: rng.range(0.7, 1.0) as f32, pick: rng.next_u64() });
            t = repaired + rng.range(1.0, 3.0);
        }
        Self { rect, throws }
    }

    fn center(&self) -> (f32, f32) {
        ((self.rect[0] + self.rect[2]) / 2.0, (self.rect[1] + self.rect[3]) / 2.0)
    }
}

impl Element for Pane {
    fn name(&self) -> &'static str {
        "glass"
    }

    fn family(&self) -> Option<Family> {
        Some(Family::Glass)
    }

    fn draw_static(&self, c: &mut Canvas) {
        let [x0, y0, x1, y1] = self.rect;
        let (cx, _) = self.center();
        c.rect(cx - 0.01, y1, cx + 0.01, 0.8, [90, 70, 50], 1.0);
        c.rect(x0 - 0.015, y0 - 0.015, x1 + 0.015, y1 + 0.015, [90, 70, 50], 1.0);
        c.rect(x0, y0, x1, y1, [60, 60, 70], 1.0);
    }

    fn draw(&self, t: f64, c: &mut Canvas) {
        let [x0, y0, x1, y1] = self.rect;
        let (cx, cy) = self.center();
        let i = self.throws.partition_point(|th| th.repaired <= t);
        let throw = self.throws.get(i).filter(|th| th.hit - FLIGHT <= t);
        let intact = throw.is_none_or(|th| t < th.hit);
        if intact {
            let fade_in = if i > 0 { ((t - self.throws[i - 1].repaired) / 0.3).clamp(0.0, 1.0) as f32 } else { 1.0 };
            c.rect(x0, y0, x1, y1, [170, 215, 235], 0.85 * fade_in);
            c.line(&[(x0 + 0.02, y1 - 0.04), (x0 + 0.08, y0 + 0.03)], 0.01, [245, 250, 255], 0.8 * fade_in);
        }
        let Some(th) = throw else { return };
        if t < th.hit {
            // The stone on its parabola, arriving at the pane centre at `hit`.
            let dt = (th.hit - t) as f32;
            let vx = 0.4 / FLIGHT as f32;
            let x = cx + th.side * vx * dt;
            let y = cy - (0.6 * dt - 0.5 * G as f32 * dt * dt) + 0.0;
            c.circle(x, y, 0.014, [90, 85, 80], 1.0);
        } else if t - th.hit < SHARDS {
            let age = (t - th.hit) as f32;
            let alpha = 1.0 - age / SHARDS as f32;
            for (j, &(vx, vy, size)) in th.shards.iter().enumerate() {
                let x = cx + vx * age;
                let y = cy + vy * age + 0.5 * G as f32 * age * age;
                let spin = j as f32 + age * 8.0;
                let pts = [
                    (x + size * spin.cos(), y + size * spin.sin()),
                    (x + size * (spin + 2.2).cos(), y + size * (spin + 2.2).sin()),
                    (x + 0.6 * size * (spin + 4.0).cos(), y + 0.6 * size * (spin + 4.0).sin()),
                ];
                c.poly(&pts, shade([170, 215, 235], 1.1), alpha);
            }
            if age < 0.08 {
                c.circle(cx, cy, 0.05, [255, 255, 255], 0.8);
            }
        }
    }

    fn cues(&self) -> Vec<Cue> {
        let [x0, y0, x1, y1] = self.rect;
        let bbox: Bbox = [x0 - 0.02, y0 - 0.02, x1 + 0.02, y1 + 0.02];
        let cue = |th: &Throw| Cue { onset: th.hit, class: SoundClass::GlassBreak, gain: th.gain, pick: th.pick, bbox, sustain: None };
        self.throws.iter().map(cue).collect()
    }
}
