//! The chart, `docs/benchmarks.svg`: hand-written SVG, so that no font or system library is needed
//! to build the harness.

use std::fmt::Write as _;
use std::path::Path;

use super::cases::Case;
use super::report::{fmt_num, median, Summary};
use super::servers::{FLOOR, FRAMEWORK_HELLO, WAITLESS};

/// One bar: the row (its label names the bar, its server picks the colour) and the value.
type Bar<'a> = (&'a Summary, f64);

fn color(server: &str) -> &'static str {
    match server {
        WAITLESS => "#d62728",
        FRAMEWORK_HELLO => "#e377c2",
        FLOOR => "#7f7f7f",
        "hyper" => "#1f77b4",
        "axum" => "#17becf",
        "actix" => "#2ca02c",
        "may-minihttp" => "#9467bd",
        "uvicorn" => "#ff7f0e",
        "node" => "#8c564b",
        _ => "#bcbd22",
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One panel of horizontal bars; returns its height. With `cut` (lower-is-better figures), bars
/// beyond 2.5× the panel's median are cut at the panel's edge (marked `»`) so that one slow
/// server does not flatten the others.
#[allow(clippy::too_many_arguments)]
fn panel(
    svg: &mut String,
    x: f64,
    y: f64,
    w: f64,
    title: &str,
    unit: &str,
    bars: &[Bar],
    cut: bool,
) -> f64 {
    let row = 18.0;
    let label_w = 100.0;
    let value_w = 80.0;
    let _ = writeln!(
        svg,
        r#"<text x="{x}" y="{}" font-size="13" font-weight="bold">{}</text>"#,
        y + 14.0,
        esc(title)
    );
    let vals: Vec<f64> = bars
        .iter()
        .map(|b| b.1)
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let max = vals.iter().cloned().fold(0.0, f64::max);
    let cap = if cut {
        (median(vals.clone()) * 2.5).min(max)
    } else {
        max
    }
    .max(f64::MIN_POSITIVE);
    let bar_w = w - label_w - value_w;
    for (i, (s, v)) in bars.iter().enumerate() {
        let yy = y + 24.0 + i as f64 * row;
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" font-size="11" text-anchor="end">{}</text>"#,
            x + label_w - 6.0,
            yy + 12.0,
            esc(&s.label)
        );
        if !v.is_finite() {
            let _ = writeln!(
                svg,
                r##"<text x="{}" y="{}" font-size="11" fill="#888">n/a</text>"##,
                x + label_w + 2.0,
                yy + 12.0
            );
            continue;
        }
        let len = (v.max(0.0) / cap).min(1.0) * bar_w;
        let _ = writeln!(
            svg,
            r#"<rect x="{}" y="{}" width="{:.1}" height="{}" fill="{}"/>"#,
            x + label_w,
            yy + 2.0,
            len.max(1.0),
            row - 5.0,
            color(s.server)
        );
        let cut = if *v > cap * 1.0001 { " »" } else { "" };
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{}" font-size="11">{} {}{}</text>"#,
            x + label_w + len + 4.0,
            yy + 12.0,
            fmt_num(*v),
            unit,
            cut
        );
    }
    24.0 + bars.len() as f64 * row + 14.0
}

pub fn write_svg(
    path: &Path,
    results: &[(Case, Vec<Summary>)],
    stamp: &str,
) -> std::io::Result<()> {
    let width = 1000.0;
    let half = width / 2.0 - 20.0;
    let mut body = String::new();
    let mut y = 50.0;
    for (case, rows) in results {
        let _ = writeln!(
            body,
            r##"<line x1="10" x2="{}" y1="{y}" y2="{y}" stroke="#ccc"/>"##,
            width - 10.0
        );
        let _ = writeln!(
            body,
            r#"<text x="10" y="{}" font-size="14" font-weight="bold">{}</text>"#,
            y + 18.0,
            esc(case.title)
        );
        y += 24.0;
        if case.idle {
            let bars: Vec<Bar> = rows.iter().map(|s| (s, s.idle_bytes_per_conn)).collect();
            y += panel(
                &mut body,
                10.0,
                y,
                half,
                "server RSS bytes per idle connection (lower is better)",
                "B",
                &bars,
                true,
            );
        } else {
            let cpu: Vec<Bar> = rows.iter().map(|s| (s, s.cpu_us_per_req)).collect();
            let rps: Vec<Bar> = rows.iter().map(|s| (s, s.rps)).collect();
            let h1 = panel(
                &mut body,
                10.0,
                y,
                half,
                "server CPU µs per request (lower is better)",
                "µs",
                &cpu,
                true,
            );
            let h2 = panel(
                &mut body,
                width / 2.0 + 10.0,
                y,
                half,
                "requests/s (higher is better)",
                "",
                &rps,
                false,
            );
            y += h1.max(h2);
        }
    }
    let height = y + 20.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="10" y="22" font-size="16" font-weight="bold">waitless HTTP load benchmark — server pinned to 1 core, wrk on the other</text>"#
    );
    let _ = writeln!(
        svg,
        r##"<text x="10" y="40" font-size="11" fill="#555">{} — medians; » = bar cut at 2.5× the panel's median (µs and bytes panels)</text>"##,
        esc(stamp)
    );
    svg.push_str(&body);
    svg.push_str("</svg>\n");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("svg.tmp");
    std::fs::write(&tmp, svg)?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::write_svg;
    use crate::http::report::sample_results;

    #[test]
    fn chart_is_written() {
        let results = sample_results();
        let path = std::env::temp_dir().join(format!("waitless-http-{}.svg", std::process::id()));
        write_svg(&path, &results, "test").unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("uvicorn") && svg.contains("100 µs »"));
    }
}
