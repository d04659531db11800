//! A spout pouring into a pool: while the valve is open, the stream width and the ripples on
//! the pool show the flow, and the flow drives the gain of one continuous `water` event.

use super::{Bbox, CONTROL_RATE, Cue, Element, Family, Slot, Sustain, Wobble};
use crate::canvas::Canvas;
use crate::classes::SoundClass;
use crate::rng::Rng;

const RAMP: f64 = 0.2;

#[derive(Debug, Clone, Copy)]
struct Pour {
    on: f64,
    off: f64,
    pick: u64,
}

/// Pipe, valve, pool and the pouring periods.
pub struct Spout {
    /// Mouth of the pipe.
    mouth: (f32, f32),
    /// Pool rectangle.
    pool: [f32; 4],
    pours: Vec<Pour>,
    flow: Wobble,
}

impl Spout {
    /// Pours of 2-10 s separated by 1-4 s.
    pub fn generate(rng: &mut Rng, s: Slot, duration: f64) -> Self {
        let mouth = (s.x(0.45), s.y(0.2));
        let pool = [s.x(0.1), s.y(0.8), s.x(0.9), s.floor];
        let mut pours = Vec::new();
        let mut t = rng.range(0.15, 1.5);
        while t < duration {
            let off = t + rng.range(2.0, 10.0);
            pours.push(Pour { on: t, off, pick: rng.next_u64() });
            t = off + rng.range(1.0, 4.0);
        }
        Self { mouth, pool, pours, flow: Wobble::new(rng, duration + 1.0, 0.8) }
    }

    fn flow_at(&self, p: &Pour, t: f64) -> f32 {
        if t < p.on || t >= p.off {
            return 0.0;
        }
        let ramp = ((t - p.on) / RAMP).min((p.off - t) / RAMP).min(1.0) as f32;
        ramp * (0.4 + 0.6 * self.flow.at(t))
    }
}

impl Element for Spout {
    fn name(&self) -> &'static str {
        "spout"
    }

    fn family(&self) -> Option<Family> {
        Some(Family::Water)
    }

    fn draw_static(&self, c: &mut Canvas) {
        let (mx, my) = self.mouth;
        let [x0, y0, x1, y1] = self.pool;
        c.rect(x0 - 0.012, y0 - 0.015, x1 + 0.012, y1, [120, 115, 110], 1.0);
        c.rect(x0, y0, x1, y1, [45, 95, 170], 1.0);
        c.rect(x0 - 0.06, my - 0.012, mx + 0.01, my + 0.012, [110, 110, 120], 1.0);
        c.rect(mx - 0.012, my - 0.012, mx + 0.012, my + 0.025, [110, 110, 120], 1.0);
    }

    fn draw(&self, t: f64, c: &mut Canvas) {
        let (mx, my) = self.mouth;
        let [x0, y0, x1, _] = self.pool;
        let i = self.pours.partition_point(|p| p.off <= t);
        let pour = self.pours.get(i).filter(|p| p.on <= t);
        let f = pour.map_or(0.0, |p| self.flow_at(p, t));
        // Valve wheel: its spokes turn while the valve opens.
        let (vx, vy) = (mx - 0.035, my - 0.03);
        let a = pour.map_or(0.0, |p| ((t - p.on).min(0.3) * 10.0) as f32);
        c.circle(vx, vy, 0.016, [180, 40, 40], 1.0);
        c.line(&[(vx - 0.014 * a.cos(), vy - 0.014 * a.sin()), (vx + 0.014 * a.cos(), vy + 0.014 * a.sin())], 0.005, [240, 240, 240], 1.0);
        c.line(&[(vx + 0.014 * a.sin(), vy - 0.014 * a.cos()), (vx - 0.014 * a.sin(), vy + 0.014 * a.cos())], 0.005, [240, 240, 240], 1.0);
        if f <= 0.0 {
            return;
        }
        let w = 0.004 + 0.014 * f;
        c.rect(mx - w, my + 0.025, mx + w, y0, [150, 200, 250], 0.9);
        c.rect(mx - w * 0.3, my + 0.025, mx + w * 0.3, y0, [230, 245, 255], 0.7);
        // Ripples travel outwards from the stream; their height follows the flow.
        for k in 0..4 {
            let phase = ((t * 1.5 + k as f64 * 0.25).fract()) as f32;
            for side in [-1.0f32, 1.0] {
                let x = mx + side * (0.01 + phase * (x1 - x0) * 0.45);
                if x > x0 && x < x1 {
                    c.line(
                        &[(x - 0.012, y0 + 0.006), (x, y0 + 0.006 - 0.02 * f * (1.0 - phase)), (x + 0.012, y0 + 0.006)],
                        0.004,
                        [200, 230, 255],
                        1.0 - phase,
                    );
                }
            }
        }
        c.circle(mx, y0, 0.01 + 0.02 * f, [220, 240, 255], 0.8);
    }

    fn cues(&self) -> Vec<Cue> {
        let (mx, my) = self.mouth;
        let [x0, _, x1, y1] = self.pool;
        let bbox: Bbox = [x0.min(mx - 0.05), my - 0.05, x1, y1];
        let cue = |p: &Pour| {
            let n = ((p.off - p.on) * CONTROL_RATE).ceil() as usize + 1;
            let gain = (0..n).map(|k| self.flow_at(p, (p.on + k as f64 / CONTROL_RATE).min(p.off - 1e-9))).collect();
            let sustain = Sustain { offset: p.off, gain, rate: vec![1.0; n] };
            Cue { onset: p.on, class: SoundClass::Water, gain: 1.0, pick: p.pick, bbox, sustain: Some(sustain) }
        };
        self.pours.iter().map(cue).collect()
    }
}
