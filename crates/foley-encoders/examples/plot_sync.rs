//! Training curves of sync-backbone runs (CSV files of `train_sync`) as one PNG.
//!
//! cargo run --release -p foley-encoders --example plot_sync -- out.png label=run.csv ...

use plotters::prelude::*;
use plotters::style::FontStyle;

/// Moving average over `w` points (the per-step losses are noisy).
fn smooth(xs: &[(f64, f64)], w: usize) -> Vec<(f64, f64)> {
    (0..xs.len()).map(|i| {
        let lo = i.saturating_sub(w - 1);
        let n = (i - lo + 1) as f64;
        (xs[i].0, xs[lo..=i].iter().map(|p| p.1).sum::<f64>() / n)
    }).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = &args[0];
    let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    let runs: Vec<(String, Vec<(f64, f64)>, Vec<(f64, f64)>)> = args[1..].iter().map(|spec| {
        let (label, path) = spec.split_once('=').expect("label=file.csv");
        let text = std::fs::read_to_string(path).expect("csv");
        let (mut c, mut v) = (Vec::new(), Vec::new());
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let step: f64 = f[0].parse().unwrap();
            if let Ok(x) = f[1].parse() { c.push((step, x)); }
            if let Ok(x) = f[3].parse() { v.push((step, x)); }
        }
        (label.to_string(), smooth(&c, 25), smooth(&v, 25))
    }).collect();
    let steps = runs.iter().flat_map(|r| r.1.iter().chain(&r.2)).map(|p| p.0).fold(1.0, f64::max);
    let root = BitMapBackend::new(out, (1000, 420)).into_drawing_area();
    root.fill(&WHITE).unwrap();
    let (left, right) = root.split_horizontally(500);
    let colors = [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44), RGBColor(214, 39, 40), RGBColor(148, 103, 189)];
    for (area, title, pick, top) in [(&left, "InfoNCE loss (25-step mean)", 1usize, 4.0f64), (&right, "VAMA masked-mel MSE (25-step mean)", 2, 0.3)] {
        let mut chart = ChartBuilder::on(area).caption(title, ("sans-serif", 16)).margin(8).x_label_area_size(30).y_label_area_size(44)
            .build_cartesian_2d(0f64..steps, 0f64..top).unwrap();
        chart.configure_mesh().x_desc("step").label_style(("sans-serif", 11)).draw().unwrap();
        for (i, (label, c, v)) in runs.iter().enumerate() {
            let series = if pick == 1 { c } else { v };
            if series.is_empty() { continue; }
            let color = colors[i % colors.len()];
            chart.draw_series(LineSeries::new(series.iter().copied(), color.stroke_width(2))).unwrap()
                .label(label.clone()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).label_font(("sans-serif", 12)).draw().unwrap();
    }
    root.present().unwrap();
}
