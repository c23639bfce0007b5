//! wrk: running it (pinned to core 1, bounded in time, pipelined through `benches/pipeline.lua`
//! when a case asks) and reading its text output. The parser returns errors as values: a wrk
//! that printed nothing usable fails that trial, not the run.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::cases::Case;
use super::process::{on_path, run_bounded, step};

pub struct Wrk {
    pub requests: u64,
    pub seconds: f64,
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub errors: u64,
}

fn parse_time_us(v: &str) -> Option<f64> {
    let v = v.trim();
    let (num, mul) = if let Some(n) = v.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1e6)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60e6)
    } else {
        (v, 1.0)
    };
    num.parse::<f64>().ok().map(|n| n * mul)
}

pub fn parse_wrk(out: &str) -> Result<Wrk, String> {
    let mut w = Wrk {
        requests: 0,
        seconds: 0.0,
        rps: f64::NAN,
        p50_us: f64::NAN,
        p99_us: f64::NAN,
        errors: 0,
    };
    let mut saw_requests = false;
    for line in out.lines().map(str::trim) {
        let toks: Vec<&str> = line.split_whitespace().collect();
        if line.contains(" requests in ") {
            w.requests = toks[0]
                .parse()
                .map_err(|_| format!("bad wrk line `{line}`"))?;
            w.seconds = toks
                .get(3)
                .map(|t| t.trim_end_matches(','))
                .and_then(parse_time_us)
                .unwrap_or(0.0)
                / 1e6;
            saw_requests = true;
        } else if let Some(v) = line.strip_prefix("Requests/sec:") {
            w.rps = v.trim().parse().unwrap_or(f64::NAN);
        } else if toks.first() == Some(&"50%") {
            w.p50_us = toks
                .get(1)
                .and_then(|t| parse_time_us(t))
                .unwrap_or(f64::NAN);
        } else if toks.first() == Some(&"99%") {
            w.p99_us = toks
                .get(1)
                .and_then(|t| parse_time_us(t))
                .unwrap_or(f64::NAN);
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            w.errors += v
                .split(',')
                .filter_map(|kv| kv.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            w.errors += v.trim().parse::<u64>().unwrap_or(0);
        }
    }
    // wrk under pipelining sometimes prints a percentile as 0: that is no measurement.
    for v in [&mut w.p50_us, &mut w.p99_us] {
        if *v <= 0.0 {
            *v = f64::NAN;
        }
    }
    if saw_requests {
        Ok(w)
    } else {
        Err(format!("no result in wrk output:\n{out}"))
    }
}

/// `wrk -t1` on core 1 against `url` (`http://` or `https://`) with the case's connections and
/// pipelining.
pub fn wrk(root: &Path, url: &str, case: &Case, seconds: u64) -> Result<Wrk, String> {
    let mut cmd = Command::new("taskset");
    cmd.current_dir(root).args([
        "-c".to_string(),
        "1".into(),
        "wrk".into(),
        "-t1".into(),
        format!("-c{}", case.conns),
        format!("-d{seconds}s"),
        "--latency".into(),
    ]);
    if case.pipeline > 1 {
        cmd.args(["-s", "benches/pipeline.lua"]);
    }
    cmd.arg(url);
    if case.pipeline > 1 {
        cmd.args(["--".to_string(), case.pipeline.to_string()]);
    }
    let (ok, out, err) = run_bounded(&mut cmd, Duration::from_secs(seconds + 20))?;
    if !ok {
        return Err(format!("wrk failed: {err}{out}"));
    }
    parse_wrk(&out)
}

pub fn ensure_wrk() -> Result<(), String> {
    if on_path("wrk") {
        return Ok(());
    }
    eprintln!("wrk is missing: installing the Debian package");
    let install = || {
        step(
            Command::new("apt-get")
                .args(["install", "-y", "wrk"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    };
    if !install() {
        step(Command::new("apt-get").arg("update"));
        install();
    }
    if on_path("wrk") {
        Ok(())
    } else {
        Err("wrk is not installed and `apt-get install -y wrk` failed".into())
    }
}

#[cfg(test)]
mod tests {
    use super::parse_wrk;

    #[test]
    fn parses_wrk_output() {
        let out = "Running 3s test @ http://127.0.0.1:1/plaintext
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   473.83us  100.00us   2.00ms   90.00%
  Latency Distribution
     50%  442.00us
     75%  500.00us
     90%  600.00us
     99%    1.03ms
  380000 requests in 3.00s, 45.00MB read
  Socket errors: connect 1, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 5
Requests/sec: 126666.00
Transfer/sec:     15.00MB
";
        let w = parse_wrk(out).unwrap();
        assert_eq!(w.requests, 380_000);
        assert!((w.seconds - 3.0).abs() < 1e-9);
        assert!((w.rps - 126_666.0).abs() < 1e-6);
        assert!((w.p50_us - 442.0).abs() < 1e-6);
        assert!((w.p99_us - 1030.0).abs() < 1e-6);
        assert_eq!(w.errors, 11);
        assert!(parse_wrk("garbage").is_err());
    }
}
