//! A walker crossing the ground: bouts of walking and standing, turning at the edges. Each foot
//! contact is a footstep whose class is the surface under that foot; a dust puff (or splash)
//! appears at the contact.

use super::ground::Ground;
use super::{Bbox, Cue, Element, Family, GROUND_Y};
use crate::canvas::{Canvas, Rgb, shade};
use crate::classes::Surface;
use crate::rng::Rng;

const X_MIN: f64 = 0.06;
const X_MAX: f64 = 0.94;
/// Walker height in scene units.
const HEIGHT: f32 = 0.26;
/// How long the dust puff of a contact lasts.
const PUFF: f64 = 0.16;
/// Fastest walking speed (scene widths per second); the gain grows with speed.
const V_MAX: f64 = 0.18;

/// A linear piece of the body trajectory: `x(t) = x0 + v (t - t0)` on `[t0, t1)`.
#[derive(Debug, Clone, Copy)]
struct Piece {
    t0: f64,
    t1: f64,
    x0: f64,
    v: f64,
}

/// One foot contact.
#[derive(Debug, Clone, Copy)]
struct Step {
    t: f64,
    foot: usize,
    x: f64,
    surface: Surface,
    gain: f32,
    pick: u64,
}

/// The walker: its trajectory, its footsteps and its colours.
pub struct Walker {
    pieces: Vec<Piece>,
    steps: Vec<Step>,
    /// Time a foot spends in the air between two of its contacts.
    swing: f64,
    shirt: Rgb,
    trousers: Rgb,
}

impl Walker {
    /// Bouts of walking (2-6 s, 0.06-0.18 widths/s, 0.36-0.55 s per step) and standing.
    pub fn generate(rng: &mut Rng, ground: &Ground, duration: f64) -> Self {
        let mut pieces = Vec::new();
        let mut steps = Vec::new();
        let mut x = rng.range(0.15, 0.85);
        let mut dir = if rng.chance(0.5) { 1.0 } else { -1.0 };
        let period = rng.range(0.36, 0.55);
        let mut t = 0.0;
        let mut foot = 0;
        while t < duration + 1.0 {
            // Stand still for a while, sometimes.
            if t > 0.0 && rng.chance(0.35) {
                let stand = rng.range(0.5, 2.5);
                pieces.push(Piece { t0: t, t1: t + stand, x0: x, v: 0.0 });
                t += stand;
            }
            let speed = rng.range(0.06, V_MAX);
            let n_steps = (rng.range(2.0, 6.0) / period).ceil() as usize;
            let bout_start = t;
            for i in 0..n_steps {
                // The body moves at constant speed, turning back at the edges.
                let t_next = bout_start + (i + 1) as f64 * period;
                let mut tt = t;
                while tt < t_next {
                    let limit = if dir > 0.0 { X_MAX } else { X_MIN };
                    let t_edge = tt + (limit - x) / (dir * speed);
                    let t_end = t_edge.min(t_next);
                    pieces.push(Piece { t0: tt, t1: t_end, x0: x, v: dir * speed });
                    x += dir * speed * (t_end - tt);
                    if t_edge <= t_next {
                        dir = -dir;
                    }
                    tt = t_end;
                }
                let foot_x = (x + dir * 0.012).clamp(0.0, 1.0);
                let jitter = rng.range(-0.1, 0.1);
                steps.push(Step {
                    t: t_next,
                    foot,
                    x: foot_x,
                    surface: ground.surface_at(foot_x as f32),
                    gain: ((0.55 + 0.45 * speed / V_MAX + jitter) as f32).clamp(0.2, 1.0),
                    pick: rng.next_u64(),
                });
                foot = 1 - foot;
                t = t_next;
            }
        }
        let shirt = [rng.below(200) as u8 + 40, rng.below(200) as u8 + 30, rng.below(200) as u8 + 40];
        let trousers = shade([rng.below(120) as u8 + 40, rng.below(120) as u8 + 40, rng.below(160) as u8 + 60], 0.8);
        Self { pieces, steps, swing: period, shirt, trousers }
    }

    fn body_x(&self, t: f64) -> f64 {
        let i = self.pieces.partition_point(|p| p.t1 <= t).min(self.pieces.len() - 1);
        let p = self.pieces[i];
        p.x0 + p.v * (t.clamp(p.t0, p.t1) - p.t0)
    }

    /// Position `(x, lift)` of `foot` at time `t`: planted at its last contact, swinging for
    /// one step period before the next one.
    fn foot(&self, foot: usize, t: f64) -> (f64, f64) {
        let next = self.steps.partition_point(|s| s.t <= t);
        let last = self.steps[..next].iter().rev().find(|s| s.foot == foot);
        let upcoming = self.steps[next..].iter().find(|s| s.foot == foot);
        let from = last.map_or(self.body_x(0.0), |s| s.x);
        match upcoming {
            Some(n) if t > n.t - self.swing => {
                let p = ((t - (n.t - self.swing)) / self.swing).clamp(0.0, 1.0);
                let x = from + (n.x - from) * p;
                (x, (std::f64::consts::PI * p).sin() * 0.03)
            }
            _ => (from, 0.0),
        }
    }
}

impl Element for Walker {
    fn name(&self) -> &'static str {
        "walker"
    }

    fn family(&self) -> Option<Family> {
        Some(Family::Walk)
    }

    fn draw(&self, t: f64, c: &mut Canvas) {
        let g = GROUND_Y + 0.01;
        let bx = self.body_x(t) as f32;
        let hip = (bx, g - 0.45 * HEIGHT);
        let neck = (bx, g - 0.82 * HEIGHT);
        let walking = self.pieces.iter().any(|p| p.v != 0.0 && t >= p.t0 && t < p.t1);
        let arm = if walking { ((t / self.swing * std::f64::consts::PI).sin() * 0.03) as f32 } else { 0.0 };
        for foot in 0..2 {
            let (fx, lift) = self.foot(foot, t);
            let f = (fx as f32, g - lift as f32);
            c.line(&[hip, f], 0.022, shade(self.trousers, 1.0 - 0.2 * foot as f32), 1.0);
            c.rect(f.0 - 0.018, f.1 - 0.012, f.0 + 0.018, f.1 + 0.002, [40, 30, 25], 1.0);
        }
        c.line(&[hip, neck], 0.04, self.shirt, 1.0);
        for s in [-1.0f32, 1.0] {
            c.line(&[(bx, neck.1 + 0.01), (bx + s * arm, g - 0.5 * HEIGHT)], 0.016, shade(self.shirt, 0.8), 1.0);
        }
        c.circle(bx, g - 0.92 * HEIGHT, 0.035, [235, 190, 150], 1.0);
        // Dust puffs (or splashes) of recent contacts.
        let first = self.steps.partition_point(|s| s.t < t - PUFF);
        for s in self.steps[first..].iter().take_while(|s| s.t <= t) {
            let age = ((t - s.t) / PUFF) as f32;
            let color = if s.surface == Surface::Water { [210, 230, 255] } else { shade(s.surface.color(), 1.35) };
            for i in 0..5 {
                let a = std::f32::consts::PI * (0.1 + 0.2 * i as f32);
                let r = 0.012 + 0.035 * age;
                let (x, y) = (s.x as f32 + a.cos() * r * 1.3, g - 0.004 - a.sin() * r);
                c.circle(x, y, 0.009 * (1.0 - 0.5 * age), color, 0.9 * (1.0 - age));
            }
        }
    }

    fn cues(&self) -> Vec<Cue> {
        let g = GROUND_Y;
        let cue = |s: &Step| {
            let x = s.x as f32;
            let bbox: Bbox = [x - 0.06, g - 0.07, x + 0.06, g + 0.03];
            Cue { onset: s.t, class: s.surface.footstep(), gain: s.gain, pick: s.pick, bbox, sustain: None }
        };
        self.steps.iter().map(cue).collect()
    }
}
