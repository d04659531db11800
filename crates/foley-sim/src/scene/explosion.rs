//! A barrel with a burning fuse that explodes: a flash, flying debris and smoke start at the
//! explosion onset; a new barrel appears silently later.

use super::{Bbox, Cue, Element, Family, Slot};
use crate::canvas::{Canvas, Rgb, mix, shade};
use crate::classes::SoundClass;
use crate::rng::Rng;

const G: f32 = 3.0;
const FLASH: f64 = 0.35;
const DEBRIS: f64 = 1.2;
const SMOKE: f64 = 2.0;

#[derive(Debug, Clone)]
struct Blast {
    t: f64,
    /// The fuse burns for this long before the blast.
    fuse: f64,
    /// A new barrel stands here from this time.
    respawn: f64,
    /// Debris velocities and sizes.
    debris: Vec<(f32, f32, f32)>,
    gain: f32,
    pick: u64,
}

/// A barrel and its explosions.
pub struct Barrel {
    base: (f32, f32),
    color: Rgb,
    blasts: Vec<Blast>,
}

impl Barrel {
    /// An explosion every 4-9 s, preceded by a 0.6-1.5 s fuse.
    pub fn generate(rng: &mut Rng, s: Slot, duration: f64) -> Self {
        let base = (s.x(0.5), s.floor);
        let mut blasts = Vec::new();
        let mut t = rng.range(1.0, 3.0);
        while t < duration {
            let n = 10 + rng.below(8);
            let debris = (0..n).map(|_| (rng.range(-0.5, 0.5) as f32, rng.range(-1.6, -0.6) as f32, rng.range(0.008, 0.02) as f32)).collect();
            let respawn = t + rng.range(2.5, 4.0);
            let fuse = rng.range(0.6, 1.5);
            blasts.push(Blast { t, fuse, respawn, debris, gain: rng.range(0.8, 1.0) as f32, pick: rng.next_u64() });
            t = respawn + fuse + rng.range(0.5, 4.0);
        }
        let color = [rng.below(100) as u8 + 130, rng.below(60) as u8 + 30, rng.below(40) as u8 + 20];
        Self { base, color, blasts }
    }
}

impl Element for Barrel {
    fn name(&self) -> &'static str {
        "barrel"
    }

    fn family(&self) -> Option<Family> {
        Some(Family::Explosion)
    }

    fn draw(&self, t: f64, c: &mut Canvas) {
        let (bx, by) = self.base;
        let (w, h) = (0.05, 0.12);
        let i = self.blasts.partition_point(|b| b.respawn <= t);
        let blast = self.blasts.get(i);
        let standing = blast.is_none_or(|b| t < b.t || t >= b.respawn);
        if standing {
            c.rect(bx - w, by - h, bx + w, by, self.color, 1.0);
            for k in [0.25f32, 0.75] {
                c.rect(bx - w, by - h * k - 0.006, bx + w, by - h * k + 0.006, shade(self.color, 0.6), 1.0);
            }
            c.line(&[(bx, by - h), (bx + 0.02, by - h - 0.04)], 0.005, [60, 50, 40], 1.0);
        }
        let Some(b) = blast else { return };
        let to_blast = b.t - t;
        if standing && to_blast > 0.0 && to_blast < b.fuse {
            // The spark runs down the fuse.
            let p = (1.0 - to_blast / b.fuse) as f32;
            let (sx, sy) = (bx + 0.02 * (1.0 - p), by - h - 0.04 * (1.0 - p));
            c.circle(sx, sy, 0.008 + 0.004 * ((t * 40.0).sin() as f32).abs(), [255, 220, 80], 1.0);
        }
        let age = t - b.t;
        if age < 0.0 {
            return;
        }
        let a = age as f32;
        if age < SMOKE {
            let k = a / SMOKE as f32;
            for j in 0..5 {
                let x = bx + (j as f32 - 2.0) * 0.025 * (1.0 + k);
                c.circle(x, by - 0.05 - 0.2 * k - 0.02 * (j % 2) as f32, 0.03 + 0.04 * k, [90, 90, 90], 0.6 * (1.0 - k));
            }
        }
        if age < DEBRIS {
            let alpha = 1.0 - a / DEBRIS as f32;
            for &(vx, vy, size) in &b.debris {
                let (x, y) = (bx + vx * a, (by - 0.06 + vy * a + 0.5 * G * a * a).min(by));
                c.rect(x - size, y - size, x + size, y + size, shade(self.color, 0.5), alpha);
            }
        }
        if age < FLASH {
            let k = (age / FLASH) as f32;
            let r = 0.06 + 0.12 * k.sqrt();
            c.circle(bx, by - 0.06, r, mix([255, 240, 160], [230, 90, 20], k), 1.0 - k * k);
            c.circle(bx, by - 0.06, r * 0.55, [255, 255, 230], 1.0 - k);
        }
    }

    fn cues(&self) -> Vec<Cue> {
        let (bx, by) = self.base;
        let bbox: Bbox = [bx - 0.12, by - 0.2, bx + 0.12, by];
        let cue = |b: &Blast| Cue { onset: b.t, class: SoundClass::Explosion, gain: b.gain, pick: b.pick, bbox, sustain: None };
        self.blasts.iter().map(cue).collect()
    }
}
