//! The comparison's plots: one line per server model against the number of
//! clients, as SVG.
//!
//! They are drawn on white with dark text and mid-tone lines, so that they
//! read the same on the book's light and dark themes (a transparent
//! background would show dark text on a dark page). The three models keep
//! their colour in every plot (Okabe and Ito's palette, which colour-blind
//! readers tell apart too) and their line width: where all three servers
//! measure the same (every delivery made, say), the lines lie on top of each
//! other, and nested widths keep each one visible.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One line: a model, and its points (clients, value).
pub struct Series {
    pub label: String,
    /// Which colour and width: the lesson's place among lessons 8, 9 and 10.
    pub colour: usize,
    /// The clients of runs that measured nothing for this plot (the server
    /// died, say): the legend names them, since the line cannot show them.
    pub missing: Vec<f64>,
    pub points: Vec<(f64, f64)>,
}

/// What one plot shows.
pub struct Chart<'a> {
    pub title: &'a str,
    /// Under the title, small: the machine and the load, so that a plot
    /// read apart from its run still says where it comes from.
    pub subtitle: &'a str,
    pub y_label: &'a str,
    pub series: &'a [Series],
}

const WIDTH: u32 = 800;
const HEIGHT: u32 = 500;
const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
const GRID: RGBColor = RGBColor(0xdd, 0xdd, 0xdd);
const COLOURS: [RGBColor; 3] = [
    RGBColor(0x00, 0x72, 0xb2), // blue
    RGBColor(0xd5, 0x5e, 0x00), // vermilion
    RGBColor(0x00, 0x9e, 0x73), // bluish green
];
/// Line widths and marker sizes, widest first (it is drawn first).
const WIDTHS: [u32; 3] = [8, 5, 2];
const MARKERS: [u32; 3] = [6, 4, 3];

/// A y axis spans decades when its largest value is this many times its
/// smallest: then it is drawn on a log scale, or the small values would all
/// sit on the x axis.
const DECADES: f64 = 20.0;

/// Draws `chart` to `path` as SVG: clients on a log scale, the values on a
/// log scale too when they span decades. Points with a value of 0 or less
/// (nothing measured) are left out.
pub fn svg(path: &Path, chart: &Chart<'_>) -> Result<()> {
    let values = || {
        chart
            .series
            .iter()
            .flat_map(|s| &s.points)
            .map(|&(_, y)| y)
            .filter(|y| *y > 0.0)
    };
    let clients = chart.series.iter().flat_map(|s| &s.points).map(|p| p.0);
    let x = padded(
        clients.clone().fold(f64::MAX, f64::min),
        clients.fold(0.0, f64::max),
    );
    let (low, high) = (
        values().fold(f64::MAX, f64::min),
        values().fold(0.0, f64::max),
    );
    if high <= 0.0 {
        // Nothing was measured: an empty plot says so better than none.
        return draw(path, chart, None, x, 0.0..1.0);
    }
    if high / low >= DECADES {
        draw(path, chart, Some(&[1, 2, 5]), x, padded(low, high))
    } else {
        draw(path, chart, None, x, 0.0..high * 1.1)
    }
}

/// A log-scale range around `low ..= high`, with room for the markers.
fn padded(low: f64, high: f64) -> LogCoord<f64> {
    let (low, high) = if low > high { (1.0, 10.0) } else { (low, high) };
    (low / 1.6..high * 1.6).log_scale().into()
}

/// Draws `chart` with these axes. `log_ticks`, for a log y axis: the
/// leading digits of the values labelled on it (see [`is_round`]).
fn draw<X, Y>(path: &Path, chart: &Chart<'_>, log_ticks: Option<&[u32]>, x: X, y: Y) -> Result<()>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let failed = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", path.display());
    let text = |size: u32| ("sans-serif", size).into_font().color(&INK);
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed(&e))?;
    // The title, the subtitle under it, and the chart in what is left.
    let below_title = root.titled(chart.title, text(24)).map_err(|e| failed(&e))?;
    let (header, body) = below_title.split_vertically(62);
    let centred = text(14).pos(Pos::new(HPos::Center, VPos::Top));
    header
        .draw(&Text::new(chart.subtitle, (WIDTH as i32 / 2, 4), centred))
        .map_err(|e| failed(&e))?;
    legend(&header, chart.series).map_err(|e| failed(&e))?;

    let y_label = match log_ticks {
        Some(_) => format!("{} (log scale)", chart.y_label),
        None => chart.y_label.to_string(),
    };
    let x_tick = |v: &f64| match is_round(*v, &[1]) {
        true => number(*v),
        false => String::new(),
    };
    let y_tick = |v: &f64| match log_ticks {
        Some(leading) if !is_round(*v, leading) => String::new(),
        _ => number(*v),
    };
    let mut plot = ChartBuilder::on(&body)
        .margin(16)
        .margin_top(4)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x, y)
        .map_err(|e| failed(&e))?;
    plot.configure_mesh()
        .x_desc("clients (log scale)")
        .y_desc(y_label)
        .x_label_formatter(&x_tick)
        .y_label_formatter(&y_tick)
        .label_style(text(15))
        .axis_desc_style(text(16))
        .axis_style(INK)
        .bold_line_style(GRID)
        .light_line_style(WHITE)
        .draw()
        .map_err(|e| failed(&e))?;

    for series in chart.series {
        let points = series.points.iter().copied().filter(|p| p.1 > 0.0);
        let style = colour(series).stroke_width(width(series));
        let marker = MARKERS[series.colour % MARKERS.len()];
        plot.draw_series(LineSeries::new(points, style).point_size(marker))
            .map_err(|e| failed(&e))?;
    }
    root.present().map_err(|e| failed(&e))
}

fn colour(series: &Series) -> RGBColor {
    COLOURS[series.colour % COLOURS.len()]
}

fn width(series: &Series) -> u32 {
    WIDTHS[series.colour % WIDTHS.len()]
}

/// The series' name in the legend, with the runs it has no point for.
fn legend_label(series: &Series) -> String {
    if series.missing.is_empty() {
        return series.label.clone();
    }
    let missing: Vec<String> = series.missing.iter().map(|&x| number(x)).collect();
    format!("{} (none at {})", series.label, missing.join(", "))
}

/// The legend, in a row under the subtitle rather than inside the plot,
/// where it could hide a line.
fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    series: &[Series],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    const Y: i32 = 42;
    const LINE: i32 = 28;
    const GAP: i32 = 36;
    let style = ("sans-serif", 15)
        .into_font()
        .color(&INK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let labels: Vec<String> = series.iter().map(legend_label).collect();
    // Each entry: the line, a gap, the label (about 8 px a character at
    // this size: SVG leaves the real width to the viewer's font).
    let widths: Vec<i32> = labels
        .iter()
        .map(|l| LINE + 8 + 8 * l.chars().count() as i32)
        .collect();
    let total: i32 = widths.iter().sum::<i32>() + GAP * (widths.len() as i32 - 1).max(0);
    let mut x = (WIDTH as i32 - total).max(0) / 2;
    for ((series, label), entry) in series.iter().zip(&labels).zip(widths) {
        let line = colour(series).stroke_width(width(series));
        area.draw(&PathElement::new([(x, Y), (x + LINE, Y)], line))?;
        area.draw(&Text::new(label.as_str(), (x + LINE + 8, Y), style.clone()))?;
        x += entry + GAP;
    }
    Ok(())
}

/// Whether `value` is one of `leading` × 10ⁿ: the only ticks labelled, so
/// that a log axis reads 10, 100, 1,000 rather than 10, 20, 30 … 90, 100.
/// (On a linear axis plotters already picks such round values.)
fn is_round(value: f64, leading: &[u32]) -> bool {
    if value <= 0.0 {
        return value == 0.0;
    }
    let decade = 10f64.powf(value.log10().floor());
    let mantissa = value / decade;
    leading
        .iter()
        .any(|&l| (mantissa - f64::from(l)).abs() < 1e-6)
}

/// An axis label: `10,000`, `250`, `2.5`, `0.25`.
pub fn number(value: f64) -> String {
    if value >= 100.0 {
        thousands(value.round() as u64)
    } else if value >= 1.0 {
        trim(format!("{value:.1}"))
    } else {
        trim(format!("{value:.3}"))
    }
}

/// `12345` → `12,345`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `2.50` → `2.5`, `3.0` → `3`.
fn trim(text: String) -> String {
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_labels_are_short() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(number(10_000.0), "10,000");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.25), "0.25");
    }

    #[test]
    fn draws_a_line_per_model_with_its_label() {
        let series: Vec<Series> = [("lesson 8: threads", 1.0), ("lesson 9: mio", 0.5)]
            .into_iter()
            .enumerate()
            .map(|(i, (label, ms))| Series {
                label: label.into(),
                colour: i,
                points: vec![(10.0, ms), (1000.0, ms * 40.0)],
                missing: vec![10_000.0],
            })
            .collect();
        let path = std::env::temp_dir().join(format!("netlings-plot-{}.svg", std::process::id()));
        let chart = Chart {
            title: "p99",
            subtitle: "2 cores",
            y_label: "ms",
            series: &series,
        };
        svg(&path, &chart).unwrap();
        let drawn = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(drawn.contains("lesson 9: mio (none at 10,000)"), "{drawn}");
        // 0.5 to 40 ms spans decades: a log scale, said on the axis.
        assert!(drawn.contains("ms (log scale)"), "{drawn}");
        assert!(drawn.contains("1,000"), "{drawn}");
    }

    #[test]
    fn only_round_ticks_are_labelled() {
        assert!(is_round(10.0, &[1]));
        assert!(is_round(10_000.0, &[1]));
        assert!(!is_round(20.0, &[1]));
        assert!(is_round(0.05, &[1, 2, 5]));
        assert!(is_round(200.0, &[1, 2, 5]));
        assert!(!is_round(300.0, &[1, 2, 5]));
        assert!(is_round(0.0, &[1]));
    }
}
