//! A door in a wall: the handle turns and the door swings open (door_open at the start of the
//! motion), stays open, then swings shut faster and faster and bangs (door_close at the instant
//! it meets the frame, louder the faster it closes).

use super::{Bbox, Cue, Element, Family, Slot, draw_burst};
use crate::canvas::{Canvas, Rgb, shade};
use crate::classes::SoundClass;
use crate::rng::Rng;

/// How long the handle stays turned after the opening starts.
const HANDLE: f64 = 0.3;
/// Duration of the shake after a bang.
const SHAKE: f64 = 0.2;
/// Closing speed (openness per second) that gives full gain.
const FULL_SPEED: f64 = 4.0;

#[derive(Debug, Clone, Copy)]
struct Cycle {
    /// Opening starts.
    open: f64,
    /// Opening takes this long.
    open_len: f64,
    /// Closing starts.
    close: f64,
    /// Closing takes this long; the bang is at `close + close_len`.
    close_len: f64,
    picks: [u64; 2],
}

impl Cycle {
    fn bang(&self) -> f64 {
        self.close + self.close_len
    }
}

/// A door with its open/close cycles.
pub struct Door {
    frame: [f32; 4],
    color: Rgb,
    wall: Rgb,
    cycles: Vec<Cycle>,
}

impl Door {
    /// Cycles every 1-4 s: opening 0.5-1.2 s, open 0.4-2.5 s, closing 0.25-0.8 s.
    pub fn generate(rng: &mut Rng, s: Slot, duration: f64) -> Self {
        let frame = [s.x(0.3), s.y(0.25), s.x(0.7), s.floor];
        let mut cycles = Vec::new();
        let mut t = rng.range(0.2, 1.5);
        while t < duration {
            let open_len = rng.range(0.5, 1.2);
            let close = t + open_len + rng.range(0.4, 2.5);
            let close_len = rng.range(0.25, 0.8);
            cycles.push(Cycle { open: t, open_len, close, close_len, picks: [rng.next_u64(), rng.next_u64()] });
            t = close + close_len + rng.range(1.0, 4.0);
        }
        let color = [rng.below(120) as u8 + 90, rng.below(90) as u8 + 50, rng.below(60) as u8 + 30];
        let wall = [rng.below(60) as u8 + 150, rng.below(60) as u8 + 140, rng.below(60) as u8 + 130];
        Self { frame, color, wall, cycles }
    }

    /// Openness in `[0, 1]` at `t`: eased out when opening, accelerating when closing.
    fn openness(c: &Cycle, t: f64) -> f64 {
        if t < c.open || t >= c.bang() {
            0.0
        } else if t < c.open + c.open_len {
            let p = (t - c.open) / c.open_len;
            1.0 - (1.0 - p) * (1.0 - p)
        } else if t < c.close {
            1.0
        } else {
            let p = (t - c.close) / c.close_len;
            1.0 - p * p
        }
    }
}

impl Element for Door {
    fn name(&self) -> &'static str {
        "door"
    }

    fn family(&self) -> Option<Family> {
        Some(Family::Door)
    }

    fn draw_static(&self, c: &mut Canvas) {
        let [x0, y0, x1, y1] = self.frame;
        c.rect(x0 - 0.07, y0 - 0.06, x1 + 0.07, y1, self.wall, 1.0);
        for row in 0..8 {
            let y = y0 - 0.06 + row as f32 * (y1 - y0 + 0.06) / 8.0;
            c.line(&[(x0 - 0.07, y), (x1 + 0.07, y)], 0.003, shade(self.wall, 0.8), 1.0);
        }
        c.rect(x0 - 0.012, y0 - 0.012, x1 + 0.012, y1, [60, 45, 35], 1.0);
        c.rect(x0, y0, x1, y1, [25, 22, 30], 1.0);
    }

    fn draw(&self, t: f64, c: &mut Canvas) {
        let [x0, y0, x1, y1] = self.frame;
        let i = self.cycles.partition_point(|cy| cy.bang() + SHAKE <= t);
        let cycle = self.cycles.get(i).filter(|cy| cy.open <= t);
        let o = cycle.map_or(0.0, |cy| Self::openness(cy, t)) as f32;
        let since_bang = cycle.map_or(f64::INFINITY, |cy| t - cy.bang());
        let shake = if (0.0..SHAKE).contains(&since_bang) { (0.008 * (1.0 - since_bang / SHAKE) * (since_bang * 90.0).sin()) as f32 } else { 0.0 };
        // The door turns about its left hinge: seen edge-on it narrows.
        let w = (x1 - x0) * (1.0 - 0.8 * o);
        let (dx0, dx1) = (x0 + shake, x0 + w + shake);
        c.rect(dx0, y0, dx1, y1, shade(self.color, 1.0 - 0.35 * o), 1.0);
        c.rect(dx0 + 0.1 * w, y0 + 0.05, dx1 - 0.1 * w, y0 + 0.2 * (y1 - y0), shade(self.color, 0.8), 1.0);
        c.rect(dx0 + 0.1 * w, y0 + 0.45 * (y1 - y0), dx1 - 0.1 * w, y1 - 0.05, shade(self.color, 0.8), 1.0);
        let turned = cycle.is_some_and(|cy| (0.0..HANDLE).contains(&(t - cy.open)));
        let hy = y0 + 0.55 * (y1 - y0);
        let hx = dx1 - 0.02;
        let tip = if turned { (hx - 0.02, hy + 0.025) } else { (hx - 0.03, hy) };
        c.circle(hx, hy, 0.007, [210, 190, 90], 1.0);
        c.line(&[(hx, hy), tip], 0.008, [210, 190, 90], 1.0);
        if let Some(cy) = cycle {
            draw_burst(c, x1, y0 + 0.5 * (y1 - y0), t - cy.bang(), 0.15, 0.05, [255, 255, 255]);
        }
    }

    fn cues(&self) -> Vec<Cue> {
        let [x0, y0, x1, y1] = self.frame;
        let bbox: Bbox = [x0 - 0.03, y0 - 0.03, x1 + 0.06, y1];
        let mut out = Vec::new();
        for c in &self.cycles {
            out.push(Cue { onset: c.open, class: SoundClass::DoorOpen, gain: 0.8, pick: c.picks[0], bbox, sustain: None });
            // Openness speed at the bang is 2 / close_len.
            let gain = ((2.0 / c.close_len) / FULL_SPEED).clamp(0.3, 1.0) as f32;
            out.push(Cue { onset: c.bang(), class: SoundClass::DoorClose, gain, pick: c.picks[1], bbox, sustain: None });
        }
        out
    }
}
