//! PNG figures: log-mel spectrograms stacked (generated above, reference below) with onsets.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::FontStyle;

/// One spectrogram panel: mel-major log-mel, its frame rate, and onset times to mark.
pub struct MelPanel<'a> {
    pub title: String,
    pub n_mels: usize,
    pub n_frames: usize,
    /// `data[m * n_frames + t]`.
    pub data: &'a [f32],
    pub frame_rate: f64,
    pub onsets: &'a [f64],
}

static FONT: Once = Once::new();

fn register_font() {
    FONT.call_once(|| {
        // Bundled font: the bitmap backend has no system font lookup.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    });
}

/// A perceptually ordered dark-blue → yellow ramp (viridis end points and midpoint).
fn colormap(v: f64) -> RGBColor {
    let stops = [(68.0, 1.0, 84.0), (33.0, 145.0, 140.0), (253.0, 231.0, 37.0)];
    let v = v.clamp(0.0, 1.0) * 2.0;
    let (i, f) = if v >= 2.0 { (1, 1.0) } else { (v.floor() as usize, v.fract()) };
    let (a, b) = (stops[i], stops[i + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Draws the panels one above the other into a PNG at `path`.
pub fn write_comparison_png(path: &Path, panels: &[MelPanel]) -> Result<(), String> {
    register_font();
    let width = 1000u32;
    let height = 260 * panels.len() as u32;
    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let areas = root.split_evenly((panels.len(), 1));
    for (area, panel) in areas.iter().zip(panels) {
        draw_panel(area, panel).map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| format!("{}: {e}", path.display()))
}

fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, plotters::coord::Shift>, p: &MelPanel) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let duration = p.n_frames as f64 / p.frame_rate;
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, ("sans-serif", 16))
        .margin(6)
        .x_label_area_size(28)
        .y_label_area_size(40)
        .build_cartesian_2d(0f64..duration.max(1e-3), 0f64..p.n_mels as f64)?;
    chart.configure_mesh().disable_mesh().x_desc("s").y_desc("mel").label_style(("sans-serif", 11)).draw()?;
    let (lo, hi) = p.data.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
    let span = (hi - lo).max(1e-6) as f64;
    // One rectangle per (frame group, mel): group frames so that at most ~1000 columns are drawn.
    let step = p.n_frames.div_ceil(1000).max(1);
    let cells = (0..p.n_frames).step_by(step).flat_map(|t| {
        (0..p.n_mels).map(move |m| {
            let v = (p.data[m * p.n_frames + t] - lo) as f64 / span;
            let (x0, x1) = (t as f64 / p.frame_rate, (t + step) as f64 / p.frame_rate);
            Rectangle::new([(x0, m as f64), (x1, m as f64 + 1.0)], colormap(v).filled())
        })
    });
    chart.draw_series(cells)?;
    let red = RGBColor(230, 40, 40);
    chart.draw_series(p.onsets.iter().map(|&t| PathElement::new(vec![(t, 0.0), (t, p.n_mels as f64)], red.stroke_width(2))))?;
    Ok(())
}
