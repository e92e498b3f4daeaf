//! `--plot FILE.svg`: the latency percentile distribution of every
//! histogram of the run (and of the ceiling run with `--compare`), with the
//! percentile on a "nines" axis (90%, 99%, 99.9% ...) and latency on a log axis.

use std::path::Path;

use anyhow::anyhow;
use plotters::prelude::*;

use crate::report::Summary;

/// Writes the plot of `runs` to `path`.
pub fn write(path: &Path, title: &str, runs: &[&Summary]) -> anyhow::Result<()> {
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for s in runs {
        for (name, h) in &s.histos {
            let points: Vec<(f64, f64)> = h
                .percentile_points()
                .into_iter()
                .filter(|(q, _)| *q < 0.99999)
                .map(|(q, ns)| (nines(q), (ns as f64 / 1000.0).max(1.0)))
                .collect();
            if !points.is_empty() {
                series.push((format!("{} {name}", s.target), points));
            }
        }
    }
    if series.is_empty() {
        return Err(anyhow!("no latency samples to plot"));
    }
    let max_x = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|x| x.0))
        .fold(1.0, f64::max)
        .ceil();
    let max_y = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|x| x.1))
        .fold(10.0, f64::max)
        * 1.5;
    let min_y = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|x| x.1))
        .fold(f64::MAX, f64::min)
        .max(1.0)
        / 1.5;

    let root = SVGBackend::new(path, (960, 600)).into_drawing_area();
    let err = |e: DrawingAreaErrorKind<_>| anyhow!("plot: {e:?}");
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..max_x, (min_y..max_y).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (us)")
        .x_labels(max_x as usize + 1)
        .x_label_formatter(&|x| percentile_label(*x))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()
        .map_err(err)?;
    for (i, (name, points)) in series.into_iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// 0.9 -> 1, 0.99 -> 2, ...
fn nines(q: f64) -> f64 {
    -(1.0 - q).max(1e-9).log10()
}

fn percentile_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-x));
    if x < 0.5 {
        "0%".into()
    } else {
        format!("{}%", (p * 1000.0).round() / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nines_axis() {
        assert!((nines(0.99) - 2.0).abs() < 1e-9);
        assert_eq!(percentile_label(2.0), "99%");
        assert_eq!(percentile_label(3.0), "99.9%");
    }
}
