//! Objects dropped one after another onto a slab of one material. Each landing and bounce is
//! an impact whose loudness follows the impact speed; water swallows the object with a splash.

use super::ground::draw_surface;
use super::{Bbox, Cue, Element, Family, Slot, draw_burst};
use crate::canvas::{Canvas, Rgb, shade};
use crate::classes::Material;
use crate::rng::Rng;

/// Gravity in scene heights per second squared.
const G: f64 = 3.0;
/// Impact speed that gives full gain (a fall of half the frame height).
const V_FULL: f64 = 1.732;
/// Bounces slower than this make no sound worth placing.
const V_MIN: f64 = 0.35;
/// Life of the impact mark.
const MARK: f64 = 0.15;

#[derive(Debug, Clone, Copy)]
struct Impact {
    t: f64,
    /// Speed at impact.
    v: f64,
    pick: u64,
}

#[derive(Debug, Clone)]
struct Fall {
    t0: f64,
    x: f32,
    y0: f64,
    r: f32,
    color: Rgb,
    square: bool,
    impacts: Vec<Impact>,
    /// When the object has vanished.
    t_end: f64,
}

/// A slab plus the objects that fall on it.
pub struct Drops {
    material: Material,
    slab: [f32; 4],
    falls: Vec<Fall>,
    texture_seed: u64,
}

impl Drops {
    /// One object at a time, from heights of 0.2-0.65 of the frame, 0.3-2.5 s apart.
    pub fn generate(rng: &mut Rng, s: Slot, duration: f64) -> Self {
        let material = Material::ALL[rng.below(Material::ALL.len())];
        let slab = [s.x(0.08), s.y(0.82), s.x(0.92), s.floor];
        let rest = slab[1] as f64;
        let e = material.restitution();
        let mut falls = Vec::new();
        let mut t = rng.range(0.0, 1.0);
        while t < duration {
            let r = rng.range(0.018, 0.032) as f32;
            let y0 = rest - r as f64 - rng.range(0.2, 0.65);
            let mut impacts = Vec::new();
            let mut ti = t + (2.0 * (rest - r as f64 - y0) / G).sqrt();
            let mut v = G * (ti - t);
            loop {
                impacts.push(Impact { t: ti, v, pick: rng.next_u64() });
                v *= e;
                if v < V_MIN {
                    break;
                }
                ti += 2.0 * v / G;
            }
            let settle = if material == Material::Water { 0.5 } else { 0.6 };
            let t_end = ti + settle + 0.3;
            let color = [rng.below(200) as u8 + 40, rng.below(200) as u8 + 40, rng.below(200) as u8 + 40];
            let x = (slab[0] + 0.03 + rng.f64() as f32 * (slab[2] - slab[0] - 0.06)).clamp(slab[0], slab[2]);
            falls.push(Fall { t0: t, x, y0, r, color, square: rng.chance(0.4), impacts, t_end });
            t = t_end + rng.range(0.3, 2.5);
        }
        Self { material, slab, falls, texture_seed: rng.next_u64() }
    }

    /// Centre height and opacity of a fall's object at `t`.
    fn state(&self, f: &Fall, t: f64) -> (f64, f32) {
        let rest = self.slab[1] as f64 - f.r as f64;
        let first = f.impacts[0].t;
        if t < first {
            return (f.y0 + 0.5 * G * (t - f.t0).powi(2), 1.0);
        }
        let last = f.impacts.last().expect("a fall has at least one impact").t;
        let fade = (1.0 - ((t - (f.t_end - 0.3)) / 0.3).clamp(0.0, 1.0)) as f32;
        if self.material == Material::Water {
            // Sinks below the surface and fades.
            return (rest + (t - first).min(0.5) * 0.06, fade * (1.0 - ((t - first) / 0.5) as f32).max(0.2));
        }
        if t >= last {
            return (rest, fade);
        }
        let i = f.impacts.partition_point(|im| im.t <= t) - 1;
        let u = f.impacts[i].v * self.material.restitution();
        let dt = t - f.impacts[i].t;
        (rest - (u * dt - 0.5 * G * dt * dt), 1.0)
    }
}

impl Element for Drops {
    fn name(&self) -> &'static str {
        "drops"
    }

    fn family(&self) -> Option<Family> {
        Some(Family::Drop)
    }

    fn draw_static(&self, c: &mut Canvas) {
        let [x0, y0, x1, y1] = self.slab;
        c.rect(x0 - 0.004, y0 - 0.004, x1 + 0.004, y1, [40, 40, 40], 1.0);
        draw_surface(c, [x0, y0, x1, y1], self.material.surface(), &mut Rng::new(self.texture_seed));
    }

    fn draw(&self, t: f64, c: &mut Canvas) {
        let i = self.falls.partition_point(|f| f.t_end <= t);
        let Some(f) = self.falls.get(i).filter(|f| f.t0 <= t) else {
            return;
        };
        let (y, alpha) = self.state(f, t);
        let (x, y) = (f.x, y as f32);
        if f.square {
            c.rect(x - f.r, y - f.r, x + f.r, y + f.r, f.color, alpha);
        } else {
            c.circle(x, y, f.r, f.color, alpha);
            c.circle(x - f.r * 0.35, y - f.r * 0.35, f.r * 0.3, shade(f.color, 1.5), alpha);
        }
        let surface_y = self.slab[1];
        for im in &f.impacts {
            let age = t - im.t;
            if self.material == Material::Water {
                if (0.0..0.3).contains(&age) {
                    let k = (age / 0.3) as f32;
                    for j in 0..6 {
                        let a = std::f32::consts::PI * (0.15 + 0.14 * j as f32);
                        let (dx, dy) = (a.cos() * 0.06 * k, -a.sin() * (0.07 * k - 0.09 * k * k));
                        c.circle(x + dx, surface_y + dy, 0.008, [215, 235, 255], 1.0 - k);
                    }
                }
            } else {
                draw_burst(c, x, surface_y, age, MARK, 0.035 * (im.v / V_FULL).min(1.2) as f32 + 0.015, [255, 250, 220]);
            }
        }
    }

    fn cues(&self) -> Vec<Cue> {
        let class = self.material.impact();
        let mut out = Vec::new();
        for f in &self.falls {
            for im in &f.impacts {
                let bbox: Bbox = [f.x - 0.07, self.slab[1] - 0.08, f.x + 0.07, self.slab[1] + 0.03];
                let gain = (im.v / V_FULL).clamp(0.05, 1.0) as f32;
                out.push(Cue { onset: im.t, class, gain, pick: im.pick, bbox, sustain: None });
            }
        }
        out
    }
}
