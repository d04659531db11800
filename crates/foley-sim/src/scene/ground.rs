//! The ground band and the surface textures: each surface has its own colour and pattern so
//! the picture alone tells grass from gravel (and hence which footstep sounds).

use super::GROUND_Y;
use crate::canvas::{Canvas, shade};
use crate::classes::Surface;
use crate::rng::Rng;

/// Tiles of surfaces across the ground band, left to right.
#[derive(Debug, Clone)]
pub struct Ground {
    /// `(x0, x1, surface)`, covering `[0, 1]` without gaps.
    pub tiles: Vec<(f32, f32, Surface)>,
    texture_seed: u64,
}

impl Ground {
    /// With a walker: 2 to 4 distinct surfaces (uniform over [`Surface::ALL`]); else one.
    pub fn generate(rng: &mut Rng, walker: bool) -> Self {
        let n = if walker { 2 + rng.below(3) } else { 1 };
        let mut pool = Surface::ALL.to_vec();
        let mut surfaces = Vec::with_capacity(n);
        for _ in 0..n {
            surfaces.push(pool.remove(rng.below(pool.len())));
        }
        // Jittered, roughly equal tile widths so every tile is wide enough to be stepped on.
        let mut edges = vec![0.0f32];
        for i in 1..n {
            edges.push((i as f64 / n as f64 + rng.range(-0.08, 0.08) / n as f64) as f32);
        }
        edges.push(1.0);
        let tiles = (0..n).map(|i| (edges[i], edges[i + 1], surfaces[i])).collect();
        Self { tiles, texture_seed: rng.next_u64() }
    }

    /// The surface under scene x.
    pub fn surface_at(&self, x: f32) -> Surface {
        let x = x.clamp(0.0, 1.0);
        self.tiles.iter().find(|t| x >= t.0 && x <= t.1).map_or(self.tiles[0].2, |t| t.2)
    }

    /// Draws every tile with its texture.
    pub fn draw(&self, c: &mut Canvas) {
        let mut rng = Rng::new(self.texture_seed);
        for &(x0, x1, s) in &self.tiles {
            draw_surface(c, [x0, GROUND_Y, x1, 1.0], s, &mut rng);
        }
    }
}

/// Fills `r = [x0, y0, x1, y1]` with the texture of surface `s`.
pub fn draw_surface(c: &mut Canvas, r: [f32; 4], s: Surface, rng: &mut Rng) {
    let [x0, y0, x1, y1] = r;
    let (w, h) = (x1 - x0, y1 - y0);
    let base = s.color();
    c.rect(x0, y0, x1, y1, base, 1.0);
    let at = |rng: &mut Rng| (x0 + w * rng.f64() as f32, y0 + h * rng.f64() as f32);
    let count = |density: f32| ((w * h * density) as usize).max(3);
    match s {
        Surface::Grass => {
            for _ in 0..count(2500.0) {
                let (x, y) = at(rng);
                let k = rng.range(0.7, 1.3) as f32;
                c.line(&[(x, y), (x + 0.003, y - 0.012)], 0.004, shade(base, k), 1.0);
            }
        }
        Surface::Wood => {
            let mut x = x0;
            while x < x1 {
                let pw = rng.range(0.035, 0.055) as f32;
                c.rect(x, y0, (x + pw).min(x1), y1, shade(base, rng.range(0.85, 1.15) as f32), 1.0);
                c.line(&[(x, y0), (x, y1)], 0.004, shade(base, 0.55), 1.0);
                for _ in 0..3 {
                    let gy = y0 + h * rng.f64() as f32;
                    c.line(&[(x + 0.004, gy), ((x + pw - 0.004).min(x1), gy + 0.004)], 0.002, shade(base, 0.75), 0.8);
                }
                x += pw;
            }
        }
        Surface::Stone => {
            c.rect(x0, y0, x1, y1, shade(base, 0.6), 1.0);
            let n = count(400.0);
            for _ in 0..n {
                let (x, y) = at(rng);
                c.circle(x, y, rng.range(0.015, 0.025) as f32, shade(base, rng.range(0.9, 1.2) as f32), 1.0);
            }
        }
        Surface::Metal => {
            let mut x = x0;
            while x < x1 - 0.01 {
                c.line(&[(x + 0.01, y0 + 0.01), (x + 0.045, y1 - 0.01)], 0.01, shade(base, 1.25), 0.6);
                c.circle(x + 0.01, y0 + 0.015, 0.005, shade(base, 0.5), 1.0);
                c.circle(x + 0.01, y1 - 0.015, 0.005, shade(base, 0.5), 1.0);
                c.line(&[(x, y0), (x, y1)], 0.003, shade(base, 0.6), 1.0);
                x += 0.06;
            }
        }
        Surface::Gravel => {
            for _ in 0..count(3500.0) {
                let (x, y) = at(rng);
                c.circle(x, y, rng.range(0.003, 0.007) as f32, shade(base, rng.range(0.6, 1.6) as f32), 1.0);
            }
        }
        Surface::Snow => {
            for _ in 0..count(300.0) {
                let (x, y) = at(rng);
                c.circle(x, y, rng.range(0.01, 0.03) as f32, [215, 225, 240], 0.5);
            }
        }
        Surface::Water => {
            for _ in 0..count(600.0) {
                let (x, y) = at(rng);
                c.line(&[(x, y), (x + 0.012, y - 0.004), (x + 0.024, y)], 0.004, [170, 205, 250], 0.8);
            }
        }
        Surface::Sand => {
            for _ in 0..count(2000.0) {
                let (x, y) = at(rng);
                c.circle(x, y, 0.003, shade(base, rng.range(0.8, 1.1) as f32), 1.0);
            }
        }
        Surface::Dirt => {
            for _ in 0..count(600.0) {
                let (x, y) = at(rng);
                c.circle(x, y, rng.range(0.004, 0.012) as f32, shade(base, rng.range(0.55, 0.8) as f32), 1.0);
            }
        }
    }
    // A lighter top edge so the surface boundary reads clearly.
    c.rect(x0, y0, x1, y0 + 0.006, shade(base, 1.2), 1.0);
}
