//! The targets the issues set, each printed **met** or **missed** with the figures behind it, and
//! the TLS cost (a measurement with no target). Kept apart from the tables because these lines
//! are what a reader checks first and what changes when an issue changes its targets.

use std::fmt::Write as _;

use super::cases::{Case, HELLO_HTTP, HELLO_HTTPS, HELLO_JSON};
use super::report::{best_peer, fmt_num, fmt_us, Summary};
use super::servers::{FLOOR, FRAMEWORK_HELLO, WAITLESS};

/// Every section that has figures in `results`.
pub fn all(results: &[(Case, Vec<Summary>)], md: &mut String) {
    issue6(results, md);
    framework(results, md);
    tls_cost(results, md);
}

fn case_rows<'a>(results: &'a [(Case, Vec<Summary>)], id: &str) -> Option<&'a [Summary]> {
    results
        .iter()
        .find(|(c, _)| c.id == id)
        .map(|(_, r)| r.as_slice())
}

fn row<'a>(rows: &'a [Summary], label: &str) -> Option<&'a Summary> {
    rows.iter().find(|s| s.label == label)
}

/// The row named `label`, when it has a CPU figure to divide by.
fn measured<'a>(rows: &'a [Summary], label: &str) -> Option<&'a Summary> {
    row(rows, label).filter(|s| s.cpu_us_per_req.is_finite() && s.cpu_us_per_req > 0.0)
}

fn verdict(ok: bool, what: String) -> String {
    format!("- {} {what}", if ok { "**met**" } else { "**missed**" })
}

/// The targets of issue 6 for waitless, each met or missed with its figure.
fn issue6(results: &[(Case, Vec<Summary>)], md: &mut String) {
    let find = |id: &str| case_rows(results, id);
    let get = |rows: &[Summary], n: &str| row(rows, n).cloned();
    let mut lines = Vec::new();
    let mut unmeasured = Vec::new();
    let mut verdict = |ok: bool, what: String| lines.push(self::verdict(ok, what));
    let mut any = false;
    for (id, peer_factor, floor_check) in [
        ("plaintext-c256", 0.9, true),
        ("json-c256", 0.9, true),
        ("pipelined16-c256", 0.85, false),
    ] {
        let Some(rows) = find(id) else { continue };
        let Some(w) = get(rows, WAITLESS) else {
            continue;
        };
        any = true;
        if floor_check {
            if let Some(f) = get(rows, FLOOR) {
                let r = w.cpu_us_per_req / f.cpu_us_per_req;
                verdict(
                    r <= 1.10,
                    format!(
                        "{id}: within 1.10× of the floor's µs/req — {:.2}× ({} vs {})",
                        r,
                        fmt_num(w.cpu_us_per_req),
                        fmt_num(f.cpu_us_per_req)
                    ),
                );
            }
        }
        if let Some(b) = best_peer(rows, |s| s.cpu_us_per_req) {
            let r = w.cpu_us_per_req / b.cpu_us_per_req;
            verdict(
                r <= peer_factor,
                format!(
                    "{id}: ≤ {peer_factor}× the best peer's µs/req — {:.2}× ({} vs {} {})",
                    r,
                    fmt_num(w.cpu_us_per_req),
                    b.server,
                    fmt_num(b.cpu_us_per_req)
                ),
            );
        }
        if !w.p99_us.is_finite() {
            unmeasured.push(format!(
                "- **not measured** {id}: p99 (wrk printed no usable p99 for waitless)"
            ));
        } else if let Some(b) = best_peer(rows, |s| s.p99_us) {
            verdict(
                w.p99_us <= b.p99_us,
                format!(
                    "{id}: p99 no worse than the best peer's — {} vs {} {}",
                    fmt_us(w.p99_us),
                    b.server,
                    fmt_us(b.p99_us)
                ),
            );
        }
    }
    if let Some(w) = find("sleep100-c1000").and_then(|r| get(r, WAITLESS)) {
        any = true;
        verdict(
            w.rps >= 9_700.0,
            format!(
                "sleep100-c1000: ≥ 97% of 10,000 req/s — {} req/s ({:.1}%)",
                fmt_num(w.rps),
                w.rps / 100.0
            ),
        );
        verdict(
            w.p99_us <= 105_000.0,
            format!("sleep100-c1000: p99 ≤ 105 ms — {:.2} ms", w.p99_us / 1000.0),
        );
    }
    if let Some(w) = find("idle10k").and_then(|r| get(r, WAITLESS)) {
        any = true;
        verdict(
            w.idle_bytes_per_conn <= 1024.0,
            format!(
                "idle10k: ≤ 1 KiB of server RSS per idle connection — {} B",
                fmt_num(w.idle_bytes_per_conn)
            ),
        );
    }
    if any {
        let _ = writeln!(md, "\n### Targets (issue 6)\n");
        for l in lines.into_iter().chain(unmeasured) {
            let _ = writeln!(md, "{l}");
        }
    }
}

/// Issue 11: what the framework costs on a validated route (users-c256), against hello's `/json`
/// (the same gateway without the framework), axum (a Rust framework) and FastAPI (what the
/// framework's API copies). Requests/s per core is 10⁶ ÷ µs/req: how many requests one core
/// could serve, which does not depend on how hard wrk pushes.
fn framework(results: &[(Case, Vec<Summary>)], md: &mut String) {
    let Some(rows) = case_rows(results, "users-c256") else {
        return;
    };
    let Some(f) = measured(rows, FRAMEWORK_HELLO) else {
        return;
    };
    let mut lines = Vec::new();
    let us = |s: &Summary| fmt_num(s.cpu_us_per_req);
    if let Some(h) = measured(rows, HELLO_JSON) {
        let r = f.cpu_us_per_req / h.cpu_us_per_req;
        lines.push(verdict(
            r <= 1.3,
            format!(
                "users-c256: framework-hello /users ≤ 1.3× hello /json µs/req — {r:.2}× ({} vs {})",
                us(f),
                us(h)
            ),
        ));
    }
    if let Some(a) = measured(rows, "axum") {
        let r = f.cpu_us_per_req / a.cpu_us_per_req;
        lines.push(verdict(
            r <= 0.85,
            format!(
                "users-c256: framework-hello ≤ 0.85× axum's µs/req on /users — {r:.2}× ({} vs {})",
                us(f),
                us(a)
            ),
        ));
    }
    if let Some(u) = measured(rows, "uvicorn") {
        let per_core = |s: &Summary| 1e6 / s.cpu_us_per_req;
        let r = per_core(f) / per_core(u);
        lines.push(verdict(
            r >= 12.0,
            format!(
                "users-c256: framework-hello ≥ 12× FastAPI's requests/s per core on /users — {r:.1}× ({} vs {} req/s per core)",
                fmt_num(per_core(f)),
                fmt_num(per_core(u))
            ),
        ));
    }
    if !lines.is_empty() {
        let _ = writeln!(md, "\n### Targets (issue 11: the framework)\n");
        for l in lines {
            let _ = writeln!(md, "{l}");
        }
    }
}

/// Issue 9: what TLS adds to a small keep-alive request on hello, from plaintext-tls-c64's two
/// rows (HTTPS and plain HTTP, run in alternation). The 64 handshakes are amortised over the run.
fn tls_cost(results: &[(Case, Vec<Summary>)], md: &mut String) {
    let Some(rows) = case_rows(results, "plaintext-tls-c64") else {
        return;
    };
    let (Some(s), Some(p)) = (measured(rows, HELLO_HTTPS), measured(rows, HELLO_HTTP)) else {
        return;
    };
    let d = s.cpu_us_per_req - p.cpu_us_per_req;
    let _ = writeln!(md, "\n### TLS cost (issue 9)\n");
    let _ = writeln!(
        md,
        "- **measured** plaintext c64, waitless: HTTPS {} µs/req vs HTTP {} µs/req — {}{} µs/req ({:+.0} %); req/s {} vs {}",
        fmt_num(s.cpu_us_per_req),
        fmt_num(p.cpu_us_per_req),
        if d >= 0.0 { "+" } else { "−" },
        fmt_num(d.abs()),
        100.0 * d / p.cpu_us_per_req,
        fmt_num(s.rps),
        fmt_num(p.rps)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::report::sample_results;

    fn with_rows(id: &str, rows: &[(&'static str, &str, f64)]) -> Vec<(Case, Vec<Summary>)> {
        let mut results = sample_results();
        results.retain(|(c, _)| c.id == id);
        let template = results[0].1[0].clone();
        results[0].1 = rows
            .iter()
            .map(|&(server, label, cpu)| Summary {
                server,
                label: label.to_string(),
                cpu_us_per_req: cpu,
                ..template.clone()
            })
            .collect();
        results
    }

    #[test]
    fn issue6_targets() {
        let mut md = String::new();
        all(&sample_results(), &mut md);
        assert!(md.contains("**met** plaintext-c256: within 1.10× of the floor"));
        assert!(md.contains("**met** idle10k"));
    }

    #[test]
    fn framework_targets() {
        let results = with_rows(
            "users-c256",
            &[
                (WAITLESS, HELLO_JSON, 8.0),
                (FRAMEWORK_HELLO, FRAMEWORK_HELLO, 10.0),
                ("axum", "axum", 14.0),
                ("uvicorn", "uvicorn", 250.0),
            ],
        );
        let mut md = String::new();
        all(&results, &mut md);
        assert!(md.contains(
            "**met** users-c256: framework-hello /users ≤ 1.3× hello /json µs/req — 1.25×"
        ));
        assert!(md.contains(
            "**met** users-c256: framework-hello ≤ 0.85× axum's µs/req on /users — 0.71×"
        ));
        assert!(md.contains("**met** users-c256: framework-hello ≥ 12× FastAPI's requests/s per core on /users — 25.0× (100,000 vs 4000 req/s per core)"));
    }

    #[test]
    fn tls_cost_line() {
        let results = with_rows(
            "plaintext-tls-c64",
            &[(WAITLESS, HELLO_HTTP, 12.0), (WAITLESS, HELLO_HTTPS, 16.0)],
        );
        let mut md = String::new();
        all(&results, &mut md);
        assert!(md.contains("HTTPS 16.0 µs/req vs HTTP 12.0 µs/req — +4.00 µs/req (+33 %)"));
    }
}
