//! A cart shuttling along rails: each trip (its lamp lit) is one continuous `cart` event whose
//! gain, playback rate and pitch follow the cart's speed.

use super::{Bbox, CONTROL_RATE, Cue, Element, Family, Slot, Sustain};
use crate::canvas::{Canvas, Rgb, shade};
use crate::classes::SoundClass;
use crate::rng::Rng;

/// Speed (scene widths per second) that gives full gain and the highest rate.
const U_MAX: f64 = 0.4;

#[derive(Debug, Clone, Copy)]
struct Trip {
    t0: f64,
    len: f64,
    from: f32,
    to: f32,
    pick: u64,
}

impl Trip {
    /// Position and speed at `t` on the profile `tau - sin(2 pi tau) / (2 pi)`: starts and stops at rest.
    fn at(&self, t: f64) -> (f32, f64) {
        let tau = ((t - self.t0) / self.len).clamp(0.0, 1.0);
        let tp = std::f64::consts::TAU * tau;
        let p = tau - tp.sin() / std::f64::consts::TAU;
        let d = (self.to - self.from) as f64;
        (self.from + (d * p) as f32, d.abs() / self.len * (1.0 - tp.cos()))
    }
}

/// Rails and a cart.
pub struct Cart {
    rail_y: f32,
    ends: (f32, f32),
    color: Rgb,
    trips: Vec<Trip>,
}

impl Cart {
    /// Trips of 1-3 s between the rail ends, 0.5-3 s pauses.
    pub fn generate(rng: &mut Rng, s: Slot, duration: f64) -> Self {
        let ends = (s.x(0.15), s.x(0.85));
        let rail_y = s.floor - 0.01;
        let mut trips = Vec::new();
        let mut at_left = rng.chance(0.5);
        let mut t = rng.range(0.2, 1.5);
        while t < duration {
            let len = rng.range(1.0, 3.0);
            let (from, to) = if at_left { ends } else { (ends.1, ends.0) };
            trips.push(Trip { t0: t, len, from, to, pick: rng.next_u64() });
            at_left = !at_left;
            t += len + rng.range(0.5, 3.0);
        }
        let color = [rng.below(120) as u8 + 60, rng.below(120) as u8 + 60, rng.below(120) as u8 + 60];
        Self { rail_y, ends, color, trips }
    }

    /// The trip in progress or the last one finished, at `t`.
    fn trip(&self, t: f64) -> Option<&Trip> {
        let i = self.trips.partition_point(|tr| tr.t0 <= t);
        i.checked_sub(1).map(|j| &self.trips[j])
    }
}

impl Element for Cart {
    fn name(&self) -> &'static str {
        "cart"
    }

    fn family(&self) -> Option<Family> {
        Some(Family::Cart)
    }

    fn draw_static(&self, c: &mut Canvas) {
        let (a, b) = (self.ends.0 - 0.06, self.ends.1 + 0.06);
        let mut x = a;
        while x <= b {
            c.rect(x - 0.006, self.rail_y - 0.004, x + 0.006, self.rail_y + 0.012, [90, 60, 40], 1.0);
            x += 0.025;
        }
        c.rect(a, self.rail_y - 0.006, b, self.rail_y, [150, 150, 160], 1.0);
    }

    fn draw(&self, t: f64, c: &mut Canvas) {
        let trip = self.trip(t);
        let (x, moving, travelled) = match trip {
            Some(tr) => {
                let (x, _) = tr.at(t);
                (x, t < tr.t0 + tr.len, (x - tr.from).abs())
            }
            None => (self.ends.0, false, 0.0),
        };
        let y = self.rail_y - 0.006;
        let (w, h, r) = (0.05, 0.05, 0.013);
        c.poly(&[(x - w, y - r - h), (x + w, y - r - h), (x + w * 0.8, y - r), (x - w * 0.8, y - r)], self.color, 1.0);
        c.rect(x - w, y - r - h, x + w, y - r - h + 0.008, shade(self.color, 1.3), 1.0);
        for wx in [x - w * 0.55, x + w * 0.55] {
            c.circle(wx, y - r, r, [40, 40, 40], 1.0);
            // Spokes turn with the distance travelled.
            let a = travelled / r;
            c.line(&[(wx - a.cos() * r, y - r - a.sin() * r), (wx + a.cos() * r, y - r + a.sin() * r)], 0.004, [170, 170, 170], 1.0);
        }
        let lamp = if moving { [255, 240, 120] } else { [90, 90, 80] };
        c.circle(x, y - r - h - 0.012, 0.01, lamp, 1.0);
    }

    fn cues(&self) -> Vec<Cue> {
        let y = self.rail_y;
        let cue = |tr: &Trip| {
            let n = (tr.len * CONTROL_RATE).ceil() as usize + 1;
            let speed: Vec<f64> = (0..n).map(|k| tr.at(tr.t0 + k as f64 / CONTROL_RATE).1).collect();
            let gain = speed.iter().map(|u| (u / U_MAX).min(1.0) as f32).collect();
            let rate = speed.iter().map(|u| (0.7 + 0.6 * (u / U_MAX).min(1.0)) as f32).collect();
            let (a, b) = (tr.from.min(tr.to) - 0.06, tr.from.max(tr.to) + 0.06);
            let bbox: Bbox = [a, y - 0.1, b, y + 0.01];
            let sustain = Sustain { offset: tr.t0 + tr.len, gain, rate };
            Cue { onset: tr.t0, class: SoundClass::Cart, gain: 1.0, pick: tr.pick, bbox, sustain: Some(sustain) }
        };
        self.trips.iter().map(cue).collect()
    }
}
