//! A campfire that is lit, burns with a flickering flame whose size drives the crackle gain,
//! and dies down; each burning period is one continuous `fire` event.

use super::{Bbox, CONTROL_RATE, Cue, Element, Family, Slot, Sustain, Wobble};
use crate::canvas::{Canvas, mix};
use crate::classes::SoundClass;
use crate::rng::Rng;

/// Flames grow from nothing over this time after ignition and vanish over it at the end.
const RAMP: f64 = 0.3;

#[derive(Debug, Clone, Copy)]
struct Burn {
    on: f64,
    off: f64,
    pick: u64,
}

/// Logs, and the periods during which they burn.
pub struct Campfire {
    base: (f32, f32),
    burns: Vec<Burn>,
    size: Wobble,
}

impl Campfire {
    /// Burning periods of 4-15 s separated by 1-4 s of cold logs.
    pub fn generate(rng: &mut Rng, s: Slot, duration: f64) -> Self {
        let base = (s.x(0.5), s.floor - 0.02);
        let mut burns = Vec::new();
        let mut t = rng.range(0.15, 1.5);
        while t < duration {
            let off = t + rng.range(4.0, 15.0);
            burns.push(Burn { on: t, off, pick: rng.next_u64() });
            t = off + rng.range(1.0, 4.0);
        }
        Self { base, burns, size: Wobble::new(rng, duration + 1.0, 1.5) }
    }

    /// Flame size in `[0, 1]` at `t` (0 when not burning).
    fn flame(&self, b: &Burn, t: f64) -> f32 {
        if t < b.on || t >= b.off {
            return 0.0;
        }
        let ramp = ((t - b.on) / RAMP).min((b.off - t) / RAMP).min(1.0) as f32;
        ramp * (0.35 + 0.65 * self.size.at(t))
    }
}

impl Element for Campfire {
    fn name(&self) -> &'static str {
        "campfire"
    }

    fn family(&self) -> Option<Family> {
        Some(Family::Fire)
    }

    fn draw_static(&self, c: &mut Canvas) {
        let (x, y) = self.base;
        for (i, col) in [[60, 60, 60], [80, 76, 70], [66, 64, 62]].iter().enumerate() {
            c.circle(x - 0.07 + 0.07 * i as f32, y + 0.01, 0.02, *col, 1.0);
        }
        c.line(&[(x - 0.06, y), (x + 0.05, y - 0.025)], 0.022, [110, 70, 35], 1.0);
        c.line(&[(x - 0.05, y - 0.025), (x + 0.06, y)], 0.022, [95, 60, 30], 1.0);
    }

    fn draw(&self, t: f64, c: &mut Canvas) {
        let (x, y) = self.base;
        let i = self.burns.partition_point(|b| b.off <= t);
        let Some(b) = self.burns.get(i).filter(|b| b.on <= t) else {
            return;
        };
        let s = self.flame(b, t);
        let h = 0.04 + 0.16 * s;
        for j in 0..5 {
            let off = (j as f32 - 2.0) * 0.022;
            let flick = (0.75 + 0.25 * ((t * (9.0 + j as f64 * 2.3) + j as f64).sin() as f32)) * (1.0 - 0.3 * off.abs() * 20.0);
            let top = (x + off * 0.6 + 0.01 * ((t * 7.0 + j as f64).sin() as f32), y - 0.01 - h * flick);
            let outer = mix([230, 80, 20], [250, 150, 30], j as f32 / 4.0);
            c.poly(&[(x + off - 0.022 * (0.5 + s), y - 0.01), top, (x + off + 0.022 * (0.5 + s), y - 0.01)], outer, 0.9);
        }
        c.poly(&[(x - 0.025, y - 0.01), (x, y - 0.01 - 0.55 * h), (x + 0.025, y - 0.01)], [255, 225, 90], 0.95);
        let lit = t - b.on;
        if lit < 0.2 {
            for j in 0..6 {
                let a = j as f32 * 1.05;
                let r = 0.02 + 0.2 * lit as f32;
                c.circle(x + a.cos() * r, y - 0.03 - a.sin().abs() * r, 0.006, [255, 240, 150], 1.0);
            }
        }
    }

    fn cues(&self) -> Vec<Cue> {
        let (x, y) = self.base;
        let bbox: Bbox = [x - 0.09, y - 0.22, x + 0.09, y + 0.03];
        let cue = |b: &Burn| {
            let n = ((b.off - b.on) * CONTROL_RATE).ceil() as usize + 1;
            let gain = (0..n).map(|k| self.flame(b, (b.on + k as f64 / CONTROL_RATE).min(b.off - 1e-9))).collect();
            let sustain = Sustain { offset: b.off, gain, rate: vec![1.0; n] };
            Cue { onset: b.on, class: SoundClass::Fire, gain: 1.0, pick: b.pick, bbox, sustain: Some(sustain) }
        };
        self.burns.iter().map(cue).collect()
    }
}
