//! Silent distractors: things that move, flash or swing without making a sound, so a model
//! must learn which visible changes are sound causes.

use super::{Cue, Element, Family, Slot};
use crate::canvas::{Canvas, Rgb, shade};
use crate::rng::Rng;

/// 1-3 distractors: birds and clouds in the sky, and in free slots a pendulum or a blinking lamp.
pub fn spawn(rng: &mut Rng, free: &[Slot], duration: f64) -> Vec<Box<dyn Element>> {
    let n = 1 + rng.below(3);
    let mut out: Vec<Box<dyn Element>> = Vec::new();
    let mut free = free.to_vec();
    for _ in 0..n {
        let kind = rng.below(if free.is_empty() { 2 } else { 4 });
        match kind {
            0 => out.push(Box::new(Birds::generate(rng))),
            1 => out.push(Box::new(Cloud::generate(rng))),
            _ => {
                let s = free.remove(rng.below(free.len()));
                if kind == 2 {
                    out.push(Box::new(Pendulum::generate(rng, s)));
                } else {
                    out.push(Box::new(Lamp::generate(rng, s, duration)));
                }
            }
        }
    }
    out
}

/// A few birds crossing the sky with flapping wings, wrapping around.
pub struct Birds {
    y: f32,
    speed: f32,
    x0: f32,
    flap: f32,
    count: usize,
}

impl Birds {
    fn generate(rng: &mut Rng) -> Self {
        let speed = rng.range(0.05, 0.15) as f32 * if rng.chance(0.5) { 1.0 } else { -1.0 };
        Self { y: rng.range(0.06, 0.25) as f32, speed, x0: rng.f64() as f32, flap: rng.range(5.0, 9.0) as f32, count: 1 + rng.below(3) }
    }
}

impl Element for Birds {
    fn name(&self) -> &'static str {
        "birds"
    }
    fn family(&self) -> Option<Family> {
        None
    }
    fn draw(&self, t: f64, c: &mut Canvas) {
        let t = t as f32;
        for i in 0..self.count {
            let x = (self.x0 + self.speed * t + 0.07 * i as f32).rem_euclid(1.2) - 0.1;
            let y = self.y + 0.025 * i as f32 + 0.01 * (t * 1.3 + i as f32).sin();
            let wing = 0.02 * (t * self.flap + i as f32).sin();
            c.line(&[(x - 0.025, y - wing), (x, y), (x + 0.025, y - wing)], 0.006, [30, 30, 40], 1.0);
        }
    }
    fn cues(&self) -> Vec<Cue> {
        Vec::new()
    }
}

/// A cloud drifting across the sky.
pub struct Cloud {
    y: f32,
    speed: f32,
    x0: f32,
    size: f32,
}

impl Cloud {
    fn generate(rng: &mut Rng) -> Self {
        Self { y: rng.range(0.05, 0.2) as f32, speed: rng.range(0.01, 0.04) as f32, x0: rng.f64() as f32, size: rng.range(0.03, 0.06) as f32 }
    }
}

impl Element for Cloud {
    fn name(&self) -> &'static str {
        "cloud"
    }
    fn family(&self) -> Option<Family> {
        None
    }
    fn draw(&self, t: f64, c: &mut Canvas) {
        let x = (self.x0 + self.speed * t as f32).rem_euclid(1.4) - 0.2;
        for (dx, dy, k) in [(-1.2f32, 0.3f32, 0.8f32), (0.0, 0.0, 1.0), (1.2, 0.3, 0.8), (0.6, -0.4, 0.75)] {
            c.circle(x + dx * self.size, self.y + dy * self.size, self.size * k, [250, 250, 252], 0.9);
        }
    }
    fn cues(&self) -> Vec<Cue> {
        Vec::new()
    }
}

/// A ball swinging on a string from a post; it never touches anything.
pub struct Pendulum {
    pivot: (f32, f32),
    len: f32,
    amp: f32,
    omega: f32,
    color: Rgb,
}

impl Pendulum {
    fn generate(rng: &mut Rng, s: Slot) -> Self {
        let len = rng.range(0.15, 0.25) as f32;
        let color = [rng.below(200) as u8 + 50, rng.below(200) as u8 + 50, rng.below(200) as u8 + 50];
        Self { pivot: (s.x(0.5), s.top + 0.02), len, amp: rng.range(0.3, 0.8) as f32, omega: (3.0 / len.sqrt()).min(9.0), color }
    }
}

impl Element for Pendulum {
    fn name(&self) -> &'static str {
        "pendulum"
    }
    fn family(&self) -> Option<Family> {
        None
    }
    fn draw_static(&self, c: &mut Canvas) {
        let (px, py) = self.pivot;
        c.rect(px - 0.08, py - 0.012, px + 0.08, py, [80, 70, 60], 1.0);
        c.rect(px - 0.08, py, px - 0.07, 0.8, [80, 70, 60], 1.0);
    }
    fn draw(&self, t: f64, c: &mut Canvas) {
        let (px, py) = self.pivot;
        let a = self.amp * (self.omega * t as f32).sin();
        let (bx, by) = (px + self.len * a.sin(), py + self.len * a.cos());
        c.line(&[(px, py), (bx, by)], 0.004, [40, 40, 40], 1.0);
        c.circle(bx, by, 0.025, self.color, 1.0);
        c.circle(bx - 0.008, by - 0.008, 0.008, shade(self.color, 1.5), 1.0);
    }
    fn cues(&self) -> Vec<Cue> {
        Vec::new()
    }
}

/// A lamp on a post blinking on and off at random times.
pub struct Lamp {
    pos: (f32, f32),
    /// Times at which the lamp toggles.
    toggles: Vec<f64>,
    color: Rgb,
}

impl Lamp {
    fn generate(rng: &mut Rng, s: Slot, duration: f64) -> Self {
        let mut toggles = Vec::new();
        let mut t = rng.range(0.0, 1.0);
        while t < duration {
            toggles.push(t);
            t += rng.range(0.2, 1.5);
        }
        let color = [255, rng.below(100) as u8 + 150, rng.below(150) as u8 + 50];
        Self { pos: (s.x(0.5), s.y(0.3)), toggles, color }
    }
}

impl Element for Lamp {
    fn name(&self) -> &'static str {
        "lamp"
    }
    fn family(&self) -> Option<Family> {
        None
    }
    fn draw_static(&self, c: &mut Canvas) {
        let (x, y) = self.pos;
        c.rect(x - 0.006, y, x + 0.006, 0.8, [60, 60, 60], 1.0);
    }
    fn draw(&self, t: f64, c: &mut Canvas) {
        let (x, y) = self.pos;
        let on = self.toggles.partition_point(|&s| s <= t) % 2 == 1;
        if on {
            c.circle(x, y, 0.05, self.color, 0.35);
        }
        c.circle(x, y, 0.022, if on { self.color } else { [70, 70, 60] }, 1.0);
    }
    fn cues(&self) -> Vec<Cue> {
        Vec::new()
    }
}
