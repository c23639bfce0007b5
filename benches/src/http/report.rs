//! From trials to Markdown: medians over the repeats, one table per case, the targets met or
//! missed, and the ratio matrices. Text only; the chart is `chart.rs`.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use super::cases::Case;
use super::measure::Trial;
use super::process::run_bounded;
use super::servers::{is_peer, FLOOR};
use super::targets;

pub fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Medians over the repeats of one row of a case (errors are summed).
#[derive(Clone, Debug)]
pub struct Summary {
    /// The server (its colour in the chart, whether it is a peer).
    pub server: &'static str,
    /// The row's name: the server's, or a reference's (`waitless /json`, `waitless https`).
    pub label: String,
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub errors: u64,
    pub cpu_us_per_req: f64,
    pub cpu_pct: f64,
    pub peak_rss_mib: f64,
    pub idle_bytes_per_conn: f64,
    pub idle_before_mib: f64,
    pub idle_after_mib: f64,
    pub idle_open: f64,
}

pub fn summarize(server: &'static str, label: &str, trials: &[Trial]) -> Summary {
    let m = |f: fn(&Trial) -> f64| median(trials.iter().map(f).collect());
    Summary {
        server,
        label: label.to_string(),
        rps: m(|t| t.rps),
        p50_us: m(|t| t.p50_us),
        p99_us: m(|t| t.p99_us),
        errors: trials.iter().map(|t| t.errors).sum(),
        cpu_us_per_req: m(|t| t.cpu_us_per_req),
        cpu_pct: m(|t| t.cpu_pct),
        peak_rss_mib: m(|t| t.peak_rss_kib as f64 / 1024.0),
        idle_bytes_per_conn: m(|t| t.idle_bytes_per_conn),
        idle_before_mib: m(|t| t.idle_rss_before_kib as f64 / 1024.0),
        idle_after_mib: m(|t| t.idle_rss_after_kib as f64 / 1024.0),
        idle_open: m(|t| t.idle_open as f64),
    }
}

pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v.abs() >= 10_000.0 {
        let s = format!("{:.0}", v);
        let mut out = String::new();
        for (i, ch) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 && ch.is_ascii_digit() {
                out.push(',');
            }
            out.push(ch);
        }
        out
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

pub fn fmt_us(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v >= 1000.0 {
        format!("{} ms", fmt_num(v / 1000.0))
    } else {
        format!("{} µs", fmt_num(v))
    }
}

pub fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b != 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "–".into()
    }
}

/// The figures that get a ratio matrix, with whether lower is better.
pub type Figure = (&'static str, fn(&Summary) -> f64);

fn figures(case: &Case) -> Vec<Figure> {
    if case.idle {
        vec![
            ("idle bytes per connection", |s| s.idle_bytes_per_conn),
            ("peak RSS", |s| s.peak_rss_mib),
        ]
    } else {
        vec![
            ("server CPU µs/request", |s| s.cpu_us_per_req),
            ("requests/s", |s| s.rps),
            ("p50 latency", |s| s.p50_us),
            ("p99 latency", |s| s.p99_us),
            ("peak RSS", |s| s.peak_rss_mib),
        ]
    }
}

pub fn best_peer(rows: &[Summary], f: fn(&Summary) -> f64) -> Option<&Summary> {
    rows.iter()
        .filter(|s| is_peer(s.server) && f(s).is_finite())
        .min_by(|a, b| f(a).total_cmp(&f(b)))
}

pub fn case_table(case: &Case, rows: &[Summary], md: &mut String) {
    let floor = rows.iter().find(|s| s.label == FLOOR);
    let _ = writeln!(md, "\n### {}\n", case.title);
    if case.idle {
        let best = best_peer(rows, |s| s.idle_bytes_per_conn);
        let _ = writeln!(md, "| server | bytes/conn | RSS before | RSS after | connections | ×floor | ×best peer ({}) |", best.map_or("–", |b| b.label.as_str()));
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|");
        for s in rows {
            let _ = writeln!(
                md,
                "| {} | {} | {} MiB | {} MiB | {} | {} | {} |",
                s.label,
                fmt_num(s.idle_bytes_per_conn),
                fmt_num(s.idle_before_mib),
                fmt_num(s.idle_after_mib),
                fmt_num(s.idle_open),
                ratio(
                    s.idle_bytes_per_conn,
                    floor.map_or(f64::NAN, |f| f.idle_bytes_per_conn)
                ),
                ratio(
                    s.idle_bytes_per_conn,
                    best.map_or(f64::NAN, |b| b.idle_bytes_per_conn)
                ),
            );
        }
    } else {
        let best = best_peer(rows, |s| s.cpu_us_per_req);
        let _ = writeln!(
            md,
            "| server | req/s | p50 | p99 | errors | **CPU µs/req** | server CPU | peak RSS | µs/req ×floor | µs/req ×best peer ({}) |",
            best.map_or("–", |b| b.label.as_str())
        );
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for s in rows {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | **{}** | {}% | {} MiB | {} | {} |",
                s.label,
                fmt_num(s.rps),
                fmt_us(s.p50_us),
                fmt_us(s.p99_us),
                s.errors,
                fmt_num(s.cpu_us_per_req),
                fmt_num(s.cpu_pct),
                fmt_num(s.peak_rss_mib),
                ratio(
                    s.cpu_us_per_req,
                    floor.map_or(f64::NAN, |f| f.cpu_us_per_req)
                ),
                ratio(
                    s.cpu_us_per_req,
                    best.map_or(f64::NAN, |b| b.cpu_us_per_req)
                ),
            );
        }
    }
}

pub fn ratio_matrices(case: &Case, rows: &[Summary], md: &mut String) {
    if rows.len() < 2 {
        return;
    }
    let _ = writeln!(
        md,
        "\n<details><summary>{}: ratios, row ÷ column</summary>\n",
        case.title
    );
    for (name, f) in figures(case) {
        let _ = write!(md, "\n{name} | ");
        for c in rows {
            let _ = write!(md, "{} | ", c.label);
        }
        let _ = writeln!(md, "\n---|{}", "---:|".repeat(rows.len()));
        for r in rows {
            let _ = write!(md, "{} | ", r.label);
            for c in rows {
                let _ = write!(md, "{} | ", ratio(f(r), f(c)));
            }
            let _ = writeln!(md);
        }
    }
    let _ = writeln!(md, "\n</details>");
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let n = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{n} cores ({cpu})")
}

fn now_utc() -> String {
    run_bounded(
        Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]),
        Duration::from_secs(5),
    )
    .map(|(_, out, _)| out.trim().to_string())
    .unwrap_or_default()
}

/// The line under the title: when, where, how long.
pub fn stamp(repeats: usize, duration_s: u64) -> String {
    format!(
        "{} — {} — {} repeat(s) × {} s",
        now_utc(),
        machine(),
        repeats,
        duration_s
    )
}

/// The whole Markdown report: header, one table per case, the targets, the ratio matrices.
/// `no_sleep` names the servers that were left out of the /sleep case.
pub fn markdown(
    results: &[(Case, Vec<Summary>)],
    no_sleep: &[&str],
    stamp: &str,
    reniced: bool,
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "## HTTP load results\n\n{stamp}. Server pinned to core 0, `wrk -t1` pinned to core 1{}; medians over the repeats (errors: sum).", if reniced { ", both at nice -20" } else { "" });
    if !no_sleep.is_empty() && results.iter().any(|(c, _)| c.path.starts_with("/sleep")) {
        let _ = writeln!(
            md,
            "/sleep: n/a for {} (no /sleep route).",
            no_sleep.join(", ")
        );
    }
    for (case, rows) in results {
        case_table(case, rows, &mut md);
    }
    targets::all(results, &mut md);
    for (case, rows) in results {
        ratio_matrices(case, rows, &mut md);
    }
    md
}

/// Every case with the same four made-up rows, for the report and chart tests.
#[cfg(test)]
pub fn sample_results() -> Vec<(Case, Vec<Summary>)> {
    let row = |server: &'static str, cpu: f64| Summary {
        server,
        label: server.to_string(),
        rps: 1e5 / cpu,
        p50_us: 500.0,
        p99_us: 900.0,
        errors: 0,
        cpu_us_per_req: cpu,
        cpu_pct: 50.0,
        peak_rss_mib: 2.0,
        idle_bytes_per_conn: cpu * 100.0,
        idle_before_mib: 2.0,
        idle_after_mib: 3.0,
        idle_open: 10_000.0,
    };
    let rows = vec![
        row(super::servers::WAITLESS, 6.0),
        row(FLOOR, 5.5),
        row("hyper", 7.0),
        row("uvicorn", 100.0),
    ];
    super::cases::all_cases()
        .into_iter()
        .map(|c| (c, rows.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_formatting() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(vec![f64::NAN]).is_nan());
        assert_eq!(fmt_num(125_000.4), "125,000");
        assert_eq!(fmt_num(6.4123), "6.41");
        assert_eq!(fmt_us(1500.0), "1.50 ms");
        assert_eq!(ratio(1.0, 2.0), "0.50×");
    }

    #[test]
    fn tables_and_targets_are_written() {
        let results = sample_results();
        let mut md = String::new();
        for (c, r) in &results {
            case_table(c, r, &mut md);
        }
        assert!(md.contains("| waitless | 16,667 |"));
    }
}
