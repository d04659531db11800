//! Training curves of sync-backbone runs as one PNG: InfoNCE loss on the left, VAMA's masked-mel
//! MSE on the right, each as a 25-step moving average (per-step losses are noisy).

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::sync_train::StepLog;

/// Moving-average window of the plotted losses, in steps.
const SMOOTHING: usize = 25;

/// The losses of one run, `(step, loss)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub label: String,
    pub contrastive: Vec<(f64, f64)>,
    pub vama: Vec<(f64, f64)>,
}

impl Curve {
    /// From the step logs of a run.
    pub fn from_steps(label: &str, logs: &[StepLog]) -> Self {
        let series = |pick: fn(&StepLog) -> Option<f64>| logs.iter().filter_map(|l| pick(l).map(|v| (l.step as f64, v))).collect();
        Self { label: label.to_string(), contrastive: series(|l| l.contrastive), vama: series(|l| l.vama) }
    }

    /// From a run's `curve.csv` (`step,contrastive,accuracy,vama,...`).
    pub fn read_csv(label: &str, path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default();
        if !header.starts_with("step,contrastive,accuracy,vama") {
            return Err(anyhow!("{}: not a sync training curve (header `{header}`)", path.display()));
        }
        let (mut contrastive, mut vama) = (Vec::new(), Vec::new());
        for (n, line) in lines.enumerate() {
            let fields: Vec<&str> = line.split(',').collect();
            let step: f64 = fields[0].parse().map_err(|_| anyhow!("{}: line {}: bad step `{}`", path.display(), n + 2, fields[0]))?;
            if let Some(v) = fields.get(1).and_then(|f| f.parse().ok()) {
                contrastive.push((step, v));
            }
            if let Some(v) = fields.get(3).and_then(|f| f.parse().ok()) {
                vama.push((step, v));
            }
        }
        Ok(Self { label: label.to_string(), contrastive, vama })
    }
}

/// Moving average over the last `w` points.
fn smooth(xs: &[(f64, f64)], w: usize) -> Vec<(f64, f64)> {
    (0..xs.len())
        .map(|i| {
            let lo = i.saturating_sub(w - 1);
            (xs[i].0, xs[lo..=i].iter().map(|p| p.1).sum::<f64>() / (i - lo + 1) as f64)
        })
        .collect()
}

/// Draw `curves` into the PNG at `path` (1000x420).
pub fn plot_curves(path: &Path, curves: &[Curve]) -> Result<()> {
    let err = |e: &dyn std::fmt::Debug| anyhow!("plotting {}: {e:?}", path.display());
    // Registering twice is harmless; the font is compiled in, so this cannot fail for want of files.
    let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    let smoothed: Vec<(&str, Vec<(f64, f64)>, Vec<(f64, f64)>)> =
        curves.iter().map(|c| (c.label.as_str(), smooth(&c.contrastive, SMOOTHING), smooth(&c.vama, SMOOTHING))).collect();
    let steps = smoothed.iter().flat_map(|c| c.1.iter().chain(&c.2)).map(|p| p.0).fold(1.0, f64::max);
    let root = BitMapBackend::new(path, (1000, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (left, right) = root.split_horizontally(500);
    let colors = [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44), RGBColor(214, 39, 40), RGBColor(148, 103, 189), RGBColor(140, 86, 75)];
    let panels = [(&left, "InfoNCE loss (25-step mean)", true), (&right, "VAMA masked-mel MSE (25-step mean)", false)];
    for (area, title, contrastive) in panels {
        let pick = |c: &(&str, Vec<(f64, f64)>, Vec<(f64, f64)>)| if contrastive { c.1.clone() } else { c.2.clone() };
        let top = smoothed.iter().flat_map(|c| pick(c)).map(|p| p.1).fold(0.0, f64::max);
        let top = if top > 0.0 { top * 1.05 } else { 1.0 };
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(44)
            .build_cartesian_2d(0f64..steps, 0f64..top)
            .map_err(|e| err(&e))?;
        chart.configure_mesh().x_desc("step").label_style(("sans-serif", 11)).draw().map_err(|e| err(&e))?;
        let mut any = false;
        for (i, c) in smoothed.iter().enumerate() {
            let series = pick(c);
            if series.is_empty() {
                continue;
            }
            any = true;
            let color = colors[i % colors.len()];
            chart
                .draw_series(LineSeries::new(series, color.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(c.0)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
        }
        if any {
            chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).label_font(("sans-serif", 12)).draw().map_err(|e| err(&e))?;
        }
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_is_a_trailing_mean() {
        let xs = [(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)];
        assert_eq!(smooth(&xs, 2), vec![(0.0, 1.0), (1.0, 2.0), (2.0, 4.0)]);
    }
}
