//! Drawing in normalized scene coordinates on a tiny-skia pixmap.
//!
//! Scenes are laid out in `[0, 1] x [0, 1]` (x right, y down) so one description renders at
//! any frame size; lengths such as radii and stroke widths are fractions of the shorter side.

use tiny_skia::{FillRule, Paint, PathBuilder, Pixmap, Rect, Stroke, Transform};

/// An RGB colour.
pub type Rgb = [u8; 3];

/// A pixmap plus the scale from scene units to pixels.
pub struct Canvas {
    pub pixmap: Pixmap,
    sx: f32,
    sy: f32,
    s: f32,
}

fn paint(color: Rgb, alpha: f32) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color_rgba8(color[0], color[1], color[2], (alpha.clamp(0.0, 1.0) * 255.0).round() as u8);
    p
}

/// Linear mix of two colours (`t = 0` gives `a`).
pub fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    let t = t.clamp(0.0, 1.0);
    std::array::from_fn(|i| (a[i] as f32 + (b[i] as f32 - a[i] as f32) * t).round() as u8)
}

/// `color` brightened (`k > 1`) or darkened (`k < 1`).
pub fn shade(color: Rgb, k: f32) -> Rgb {
    std::array::from_fn(|i| (color[i] as f32 * k).round().clamp(0.0, 255.0) as u8)
}

impl Canvas {
    /// A canvas of `width x height` pixels, cleared to black.
    pub fn new(width: u32, height: u32) -> Self {
        let pixmap = Pixmap::new(width, height).expect("frame size is validated by SceneConfig");
        let (sx, sy) = (width as f32, height as f32);
        Self { pixmap, sx, sy, s: sx.min(sy) }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.pixmap.width()
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.pixmap.height()
    }

    /// Scene units to pixels (x, y).
    pub fn to_px(&self, x: f32, y: f32) -> (f32, f32) {
        (x * self.sx, y * self.sy)
    }

    /// Fills an axis-aligned rectangle.
    pub fn rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, color: Rgb, alpha: f32) {
        let (a, b) = self.to_px(x0.min(x1), y0.min(y1));
        let (c, d) = self.to_px(x0.max(x1), y0.max(y1));
        if let Some(r) = Rect::from_ltrb(a, b, c, d) {
            self.pixmap.fill_rect(r, &paint(color, alpha), Transform::identity(), None);
        }
    }

    /// Fills a circle of radius `r` (a fraction of the shorter side).
    pub fn circle(&mut self, cx: f32, cy: f32, r: f32, color: Rgb, alpha: f32) {
        let (x, y) = self.to_px(cx, cy);
        if let Some(path) = PathBuilder::from_circle(x, y, (r * self.s).max(0.3)) {
            self.pixmap.fill_path(&path, &paint(color, alpha), FillRule::Winding, Transform::identity(), None);
        }
    }

    /// Fills a closed polygon.
    pub fn poly(&mut self, pts: &[(f32, f32)], color: Rgb, alpha: f32) {
        if let Some(path) = self.path(pts, true) {
            self.pixmap.fill_path(&path, &paint(color, alpha), FillRule::Winding, Transform::identity(), None);
        }
    }

    /// Strokes a polyline of width `w` (a fraction of the shorter side) with round caps.
    pub fn line(&mut self, pts: &[(f32, f32)], w: f32, color: Rgb, alpha: f32) {
        if let Some(path) = self.path(pts, false) {
            let stroke = Stroke { width: (w * self.s).max(0.5), line_cap: tiny_skia::LineCap::Round, ..Stroke::default() };
            self.pixmap.stroke_path(&path, &paint(color, alpha), &stroke, Transform::identity(), None);
        }
    }

    fn path(&self, pts: &[(f32, f32)], close: bool) -> Option<tiny_skia::Path> {
        let mut pb = PathBuilder::new();
        let mut it = pts.iter().map(|&(x, y)| self.to_px(x, y));
        let (x, y) = it.next()?;
        pb.move_to(x, y);
        for (x, y) in it {
            pb.line_to(x, y);
        }
        if close {
            pb.close();
        }
        pb.finish()
    }

    /// Fills the full-width band `[y0, y1)` with a vertical gradient, row by row (no seams).
    pub fn vertical_gradient(&mut self, y0: f32, y1: f32, top: Rgb, bottom: Rgb) {
        let (w, h) = (self.width() as usize, self.height() as usize);
        let (r0, r1) = (((y0 * self.sy).round() as usize).min(h), ((y1 * self.sy).round() as usize).min(h));
        let data = self.pixmap.data_mut();
        for row in r0..r1 {
            let c = mix(top, bottom, (row - r0) as f32 / (r1 - r0).max(2) as f32);
            for px in data[row * w * 4..(row + 1) * w * 4].chunks_exact_mut(4) {
                px.copy_from_slice(&[c[0], c[1], c[2], 255]);
            }
        }
    }

    /// Overwrites this canvas with `other` (same size): the per-frame reset to the background.
    pub fn copy_from(&mut self, other: &Canvas) {
        self.pixmap.data_mut().copy_from_slice(other.pixmap.data());
    }

    /// Writes the frame as packed RGB (the canvas is opaque, so premultiplied RGBA is plain RGBA).
    pub fn write_rgb(&self, rgb: &mut Vec<u8>) {
        rgb.clear();
        rgb.reserve(self.pixmap.data().len() / 4 * 3);
        for px in self.pixmap.data().chunks_exact(4) {
            rgb.extend_from_slice(&px[..3]);
        }
    }
}
