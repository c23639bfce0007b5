//! The soak's chart: one panel per series over time, hand-written SVG (no plotting crate: a few
//! polylines and labels are all a flat-or-not question needs).

use std::fmt::Write as _;

/// One panel: a title, a unit, and the y values (one per sample, same x for every panel).
pub struct Series<'a> {
    pub title: &'a str,
    pub unit: &'a str,
    pub values: &'a [f64],
}

const WIDTH: f64 = 900.0;
const PANEL_H: f64 = 150.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The SVG document: `title` on top, then each series against `xs` (seconds).
pub fn chart(title: &str, xs: &[f64], panels: &[Series<'_>]) -> String {
    let height = TOP + panels.len() as f64 * (PANEL_H + 40.0) + 20.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="22" font-size="15" font-weight="bold">{}</text>"#,
        esc(title)
    );
    let x_max = xs.iter().copied().fold(1.0_f64, f64::max);
    for (i, p) in panels.iter().enumerate() {
        let top = TOP + i as f64 * (PANEL_H + 40.0) + 18.0;
        panel(&mut out, top, xs, x_max, p);
    }
    out.push_str("</svg>\n");
    out
}

fn panel(out: &mut String, top: f64, xs: &[f64], x_max: f64, s: &Series<'_>) {
    let plot_w = WIDTH - LEFT - RIGHT;
    let max = s.values.iter().copied().fold(0.0_f64, f64::max);
    // The y axis starts at 0 so that "flat" is judged against the whole value, not a zoom.
    let y_max = if max > 0.0 { nice(max * 1.1) } else { 1.0 };
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="{}" font-weight="bold">{} ({})</text>"#,
        top - 6.0,
        esc(s.title),
        esc(s.unit)
    );
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{PANEL_H}" fill="none" stroke="#999"/>"##
    );
    for k in 0..=4 {
        let v = y_max * f64::from(k) / 4.0;
        let y = top + PANEL_H - PANEL_H * f64::from(k) / 4.0;
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            label(v)
        );
    }
    for k in 0..=5 {
        let t = x_max * f64::from(k) / 5.0;
        let x = LEFT + plot_w * f64::from(k) / 5.0;
        let _ = writeln!(
            out,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{t:.0} s</text>"#,
            top + PANEL_H + 14.0
        );
    }
    let mut points = String::new();
    for (x, y) in xs.iter().zip(s.values) {
        let px = LEFT + plot_w * x / x_max;
        let py = top + PANEL_H - PANEL_H * (y / y_max).clamp(0.0, 1.0);
        let _ = write!(points, "{px:.1},{py:.1} ");
    }
    let _ = writeln!(
        out,
        r##"<polyline points="{}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>"##,
        points.trim_end()
    );
}

/// A round axis maximum at or above `v` (1, 2 or 5 times a power of ten).
fn nice(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|&c| c >= v)
        .unwrap_or(10.0 * p)
}

fn label(v: f64) -> String {
    if v >= 100.0 || v == 0.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::{chart, nice, Series};

    #[test]
    fn a_chart_has_one_polyline_per_series() {
        let xs = [0.0, 1.0, 2.0];
        let a = [1.0, 2.0, 3.0];
        let svg = chart(
            "t",
            &xs,
            &[
                Series {
                    title: "a",
                    unit: "u",
                    values: &a,
                },
                Series {
                    title: "b",
                    unit: "u",
                    values: &a,
                },
            ],
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(nice(3.3), 5.0);
        assert_eq!(nice(120.0), 200.0);
    }
}
