//! The loss curve as a PNG (plotters, bundled DejaVu font).

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::FontStyle;

static FONT: Once = Once::new();

/// Per-step losses (light) and their 50-step moving average (dark), log-scaled loss axis.
pub fn write_loss_png(path: &Path, losses: &[f32], title: &str) -> Result<(), String> {
    FONT.call_once(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    });
    if losses.is_empty() {
        return Err("no losses to plot".into());
    }
    let smooth: Vec<f32> = (0..losses.len())
        .map(|i| {
            let w = &losses[i.saturating_sub(49)..=i];
            w.iter().sum::<f32>() / w.len() as f32
        })
        .collect();
    let finite = losses.iter().copied().filter(|v| v.is_finite() && *v > 0.0);
    let (lo, hi) = finite.fold((f32::MAX, 0f32), |(a, b), v| (a.min(v), b.max(v)));
    let root = BitMapBackend::new(path, (900, 500)).into_drawing_area();
    let e = |e: DrawingAreaErrorKind<_>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(32)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..losses.len() as f64, (lo.max(1e-4) as f64..hi.max(lo * 1.01) as f64).log_scale())
        .map_err(e)?;
    chart.configure_mesh().x_desc("step").y_desc("loss").draw().map_err(e)?;
    let series = |v: &[f32]| v.iter().enumerate().map(|(i, &l)| (i as f64 + 1.0, l.max(1e-4) as f64)).collect::<Vec<_>>();
    chart.draw_series(LineSeries::new(series(losses), RGBColor(160, 190, 230))).map_err(e)?;
    chart.draw_series(LineSeries::new(series(&smooth), RGBColor(20, 60, 140).stroke_width(2))).map_err(e)?;
    root.present().map_err(|err| format!("{}: {err}", path.display()))
}
