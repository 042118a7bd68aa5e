//! Bar charts drawn on the server as inline SVG (the CSP allows no script,
//! so nothing is drawn in the browser). Every chart carries a `<title>`
//! and `<desc>` for screen readers, and the page shows its numbers as a
//! table too. Only numbers and labels made here go into a chart.

/// One bucket's value; `None` when there is nothing to measure (drawn as
/// a gap, not as zero).
#[derive(Debug, Clone)]
pub struct Point {
    pub label: String,
    pub value: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Bar {
    pub x: String,
    pub y: String,
    pub width: String,
    pub height: String,
    /// For the tooltip (`<title>` inside the bar).
    pub tip: String,
}

#[derive(Debug, Clone)]
pub struct Tick {
    pub x: String,
    pub label: String,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub label: String,
    pub value: String,
}

/// A chart ready for `chart_partial.html`.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Element id prefix (letters and dashes).
    pub id: String,
    pub title: String,
    pub desc: String,
    pub bars: Vec<Bar>,
    pub ticks: Vec<Tick>,
    pub max_label: String,
    pub rows: Vec<Row>,
    pub alt: bool,
}

pub const WIDTH: f64 = 600.0;
pub const HEIGHT: f64 = 200.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;
/// At most this many x-axis labels, so they do not overlap.
const MAX_TICKS: usize = 8;

fn num(value: f64) -> String {
    format!("{value:.1}")
}

/// A value as a person reads it, with `decimals` places.
pub fn shown(value: Option<f64>, decimals: usize, unit: &str) -> String {
    match value {
        Some(v) => format!("{v:.decimals$}{unit}"),
        None => "–".to_owned(),
    }
}

impl Chart {
    /// A bar chart of `points`, values shown with `decimals` places.
    pub fn bars(
        id: &str,
        title: &str,
        desc: &str,
        unit: &str,
        decimals: usize,
        points: &[Point],
        alt: bool,
    ) -> Self {
        let max = points
            .iter()
            .filter_map(|p| p.value)
            .fold(0.0_f64, f64::max);
        let scale_max = if max > 0.0 { max } else { 1.0 };
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let count = points.len().max(1) as f64;
        let slot = plot_w / count;
        let gap = (slot * 0.15).min(4.0);
        let mut bars = Vec::new();
        for (i, point) in points.iter().enumerate() {
            let Some(value) = point.value else { continue };
            let height = (value / scale_max * plot_h).max(if value > 0.0 { 1.0 } else { 0.0 });
            bars.push(Bar {
                x: num(LEFT + slot * i as f64 + gap / 2.0),
                y: num(TOP + plot_h - height),
                width: num((slot - gap).max(1.0)),
                height: num(height),
                tip: format!("{}: {}", point.label, shown(Some(value), decimals, unit)),
            });
        }
        let every = points.len().div_ceil(MAX_TICKS).max(1);
        let ticks = points
            .iter()
            .enumerate()
            .filter(|(i, _)| i % every == 0)
            .map(|(i, p)| Tick {
                x: num(LEFT + slot * i as f64 + slot / 2.0),
                label: p.label.clone(),
            })
            .collect();
        Self {
            id: id.to_owned(),
            title: title.to_owned(),
            desc: desc.to_owned(),
            bars,
            ticks,
            max_label: shown(Some(max), decimals, unit),
            rows: points
                .iter()
                .map(|p| Row {
                    label: p.label.clone(),
                    value: shown(p.value, decimals, unit),
                })
                .collect(),
            alt,
        }
    }

    pub fn axis_x(&self) -> String {
        num(LEFT)
    }

    pub fn axis_right(&self) -> String {
        num(WIDTH - RIGHT)
    }

    pub fn axis_top(&self) -> String {
        num(TOP)
    }

    pub fn axis_bottom(&self) -> String {
        num(HEIGHT - BOTTOM)
    }

    pub fn label_y(&self) -> String {
        num(HEIGHT - BOTTOM + 16.0)
    }

    pub fn view_box(&self) -> String {
        format!("0 0 {WIDTH} {HEIGHT}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_value_and_skip_gaps() {
        let points = vec![
            Point {
                label: "a".into(),
                value: Some(2.0),
            },
            Point {
                label: "b".into(),
                value: None,
            },
            Point {
                label: "c".into(),
                value: Some(4.0),
            },
        ];
        let chart = Chart::bars("t", "T", "d", "", 0, &points, false);
        assert_eq!(chart.bars.len(), 2);
        let heights: Vec<f64> = chart
            .bars
            .iter()
            .map(|b| b.height.parse().unwrap_or_default())
            .collect();
        assert!(
            (heights.get(1).copied().unwrap_or_default() - (HEIGHT - TOP - BOTTOM)).abs() < 0.2
        );
        assert_eq!(chart.rows.get(1).map(|r| r.value.as_str()), Some("–"));
        assert_eq!(chart.max_label, "4");
    }
}
