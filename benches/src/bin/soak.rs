//! Soak (issue 15, item 4): the showcase under a steady mix at about 70 % of what it can serve,
//! for ten minutes, sampling its memory, descriptors and latency every second — a leak shows as
//! a slope, not as a failure.
//!
//! ```sh
//! benches/scripts/soak.sh                                  # 600 s, writes docs/soak.svg
//! benches/scripts/soak.sh --seconds 60 --out /tmp/soak.svg # a short try
//! ```
//!
//! The mix, on `showcase --workers 2` and a fresh SQLite file: HTTP connections cycling through
//! `GET /healthz` (plaintext-sized), `POST /items`, `GET /items/{id}`, `DELETE /items/{id}`
//! (created and deleted, so the table stays small and a growing file cannot pass for a leak),
//! SSE clients reading one-second streams of `/events` back to back, and WebSocket clients
//! (`tungstenite`) echoing a message on `/ws/echo` every 10 ms. First `--calibrate` seconds
//! unpaced find the HTTP capacity; then each HTTP connection is paced to `--load` (0.7) of it.
//! Every second: the process tree's RSS (sum of `VmRSS`), its open descriptors
//! (`/proc/PID/fd`), HTTP requests answered and their p50/p99, WebSocket echo p99, errors.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use waitless_benches::reliability::client::Conn;
use waitless_benches::reliability::sample::{tree_fds, tree_rss_kib};
use waitless_benches::reliability::showcase::Showcase;
use waitless_benches::reliability::stats::{micros, percentiles};
use waitless_benches::reliability::svg::{chart, Series};
use waitless_benches::reliability::{flag, num_flag, secs_flag, today};

/// Latencies of the current second, and errors, shared by the load threads and the sampler.
#[derive(Default)]
struct Shared {
    http: Mutex<Vec<u32>>,
    ws: Mutex<Vec<u32>>,
    errors: AtomicU64,
    sse_events: AtomicU64,
    stop: AtomicBool,
}

struct Sample {
    t: f64,
    rss_mib: f64,
    fds: f64,
    rps: f64,
    p50: f64,
    p99: f64,
    ws_p99: f64,
    errors: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds = secs_flag(&args, "seconds", 600.0);
    let calibrate = secs_flag(&args, "calibrate", 5.0);
    let load: f64 = num_flag(&args, "load", 0.7);
    let conns: usize = num_flag(&args, "conns", 8);
    let out = flag(&args, "out").unwrap_or_else(|| "docs/soak.svg".into());
    let app = match Showcase::start(&["--workers", "2"]) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("soak: {e}");
            std::process::exit(1);
        }
    };
    let capacity = measure_capacity(app.addr, conns, calibrate);
    let rate = capacity * load;
    println!(
        "# soak, {} (2-core VM shared with other builds; load generator on the same cores)\n",
        today()
    );
    println!("HTTP capacity of the mix, unpaced, {conns} connections: {capacity:.0} req/s; paced at {:.0} % = {rate:.0} req/s for {seconds:?}", load * 100.0);
    let shared = Arc::new(Shared::default());
    let mut threads = Vec::new();
    for i in 0..conns {
        let s = Arc::clone(&shared);
        let addr = app.addr;
        let interval = Duration::from_secs_f64(conns as f64 / rate.max(1.0));
        threads.push(std::thread::spawn(move || {
            http_client(addr, i, Some(interval), &s)
        }));
    }
    for _ in 0..4 {
        let s = Arc::clone(&shared);
        let addr = app.addr;
        threads.push(std::thread::spawn(move || sse_client(addr, &s)));
    }
    for _ in 0..4 {
        let s = Arc::clone(&shared);
        let addr = app.addr;
        threads.push(std::thread::spawn(move || ws_client(addr, &s)));
    }
    let samples = sample_every_second(&app, &shared, seconds);
    shared.stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    report(&samples, &shared, &out, seconds, rate);
}

/// Unpaced HTTP load for `secs`: requests answered per second.
fn measure_capacity(addr: SocketAddr, conns: usize, secs: Duration) -> f64 {
    let shared = Arc::new(Shared::default());
    let threads: Vec<_> = (0..conns)
        .map(|i| {
            let s = Arc::clone(&shared);
            std::thread::spawn(move || http_client(addr, i, None, &s))
        })
        .collect();
    std::thread::sleep(secs);
    shared.stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let n = shared.http.lock().map_or(0, |v| v.len());
    n as f64 / secs.as_secs_f64()
}

/// One keep-alive connection cycling through the HTTP mix, paced to one request per `interval`
/// (none: back to back).
fn http_client(addr: SocketAddr, i: usize, interval: Option<Duration>, s: &Shared) {
    let mut conn = Conn::new(addr, Duration::from_secs(10));
    let start = Instant::now();
    let mut n: u32 = 0;
    let mut item: Option<u64> = None;
    while !s.stop.load(Ordering::Relaxed) {
        if let Some(iv) = interval {
            let due = start + iv * n;
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        n += 1;
        let body = format!(r#"{{"name":"soak-{i}","price":1.5,"tags":["s"]}}"#);
        let (method, path, body) = match (n % 4, item) {
            (1, _) => ("POST", "/items".to_owned(), Some(body.as_str())),
            (2, Some(id)) => ("GET", format!("/items/{id}"), None),
            (3, Some(id)) => ("DELETE", format!("/items/{id}"), None),
            _ => ("GET", "/healthz".to_owned(), None),
        };
        let t = Instant::now();
        let result = conn.request(method, &path, body);
        let us = micros(t.elapsed());
        match result {
            Ok(r) if r.status < 300 => {
                if method == "POST" {
                    item = item_id(&r.body);
                } else if method == "DELETE" {
                    item = None;
                }
                if let Ok(mut v) = s.http.lock() {
                    v.push(us);
                }
            }
            _ => {
                s.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The `"id":N` of a created item (the showcase writes compact JSON).
fn item_id(body: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(body).ok()?;
    let rest = &text[text.find("\"id\":")? + 5..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// One-second event streams (`/events?n=10&interval_ms=100`), one after another.
fn sse_client(addr: SocketAddr, s: &Shared) {
    let mut conn = Conn::new(addr, Duration::from_secs(10));
    while !s.stop.load(Ordering::Relaxed) {
        match conn.request("GET", "/events?n=10&interval_ms=100", None) {
            Ok(r) if r.status == 200 => {
                let events = r.body.windows(6).filter(|w| w == b"data: ").count();
                s.sse_events.fetch_add(events as u64, Ordering::Relaxed);
                if events != 10 {
                    s.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ => {
                s.errors.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// A WebSocket on `/ws/echo`: one message every 10 ms, its echo timed.
fn ws_client(addr: SocketAddr, s: &Shared) {
    use tungstenite::Message;
    while !s.stop.load(Ordering::Relaxed) {
        let Ok((mut ws, _)) = tungstenite::connect(format!("ws://{addr}/ws/echo")) else {
            s.errors.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        if let tungstenite::stream::MaybeTlsStream::Plain(t) = ws.get_ref() {
            let _ = t.set_read_timeout(Some(Duration::from_secs(10)));
        }
        while !s.stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            if ws.send(Message::text("soak echo")).is_err() {
                s.errors.fetch_add(1, Ordering::Relaxed);
                break;
            }
            match ws.read() {
                Ok(Message::Text(_)) => {
                    if let Ok(mut v) = s.ws.lock() {
                        v.push(micros(t.elapsed()));
                    }
                }
                _ => {
                    s.errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Every second until `total`: the tree's RSS and descriptors, and the second's latencies.
fn sample_every_second(app: &Showcase, s: &Shared, total: Duration) -> Vec<Sample> {
    let t0 = Instant::now();
    let mut out = Vec::new();
    let mut k = 1u32;
    while t0.elapsed() < total {
        let due = t0 + Duration::from_secs(u64::from(k));
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        k += 1;
        let mut http = s
            .http
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        let mut ws =
            s.ws.lock()
                .map(|mut v| std::mem::take(&mut *v))
                .unwrap_or_default();
        let p = percentiles(&mut http);
        let w = percentiles(&mut ws);
        out.push(Sample {
            t: t0.elapsed().as_secs_f64(),
            rss_mib: tree_rss_kib(app.pid()) as f64 / 1024.0,
            fds: tree_fds(app.pid()) as f64,
            rps: p.count as f64,
            p50: p.p50_ms,
            p99: p.p99_ms,
            ws_p99: w.p99_ms,
            errors: s.errors.load(Ordering::Relaxed),
        });
    }
    out
}

/// Means over the first and the last minute (or tenth, for short runs), the chart, and the
/// verdict on flatness.
fn report(samples: &[Sample], s: &Shared, out: &str, seconds: Duration, rate: f64) {
    let n = samples.len();
    if n < 4 {
        println!("too few samples ({n})");
        return;
    }
    let w = (n / 10).clamp(1, 60);
    let (head, tail) = (&samples[..w], &samples[n - w..]);
    let mean =
        |xs: &[Sample], f: fn(&Sample) -> f64| xs.iter().map(f).sum::<f64>() / xs.len() as f64;
    let row = |name: &str, f: fn(&Sample) -> f64| {
        let max = samples.iter().map(f).fold(0.0, f64::max);
        println!(
            "| {name} | {:.1} | {:.1} | {max:.1} |",
            mean(head, f),
            mean(tail, f)
        );
    };
    println!("\n| per second ({w} s windows) | first | last | max |\n|---|---|---|---|");
    row("RSS of the tree, MiB", |s| s.rss_mib);
    row("open descriptors", |s| s.fds);
    row("HTTP requests/s", |s| s.rps);
    row("HTTP p50, ms", |s| s.p50);
    row("HTTP p99, ms", |s| s.p99);
    row("WebSocket echo p99, ms", |s| s.ws_p99);
    let errors = samples.last().map_or(0, |s| s.errors);
    println!(
        "\nerrors: {errors}; SSE events received: {}",
        s.sse_events.load(Ordering::Relaxed)
    );
    let xs: Vec<f64> = samples.iter().map(|s| s.t).collect();
    let col = |f: fn(&Sample) -> f64| samples.iter().map(f).collect::<Vec<f64>>();
    let (rss, fds, rps, p99, ws) = (
        col(|s| s.rss_mib),
        col(|s| s.fds),
        col(|s| s.rps),
        col(|s| s.p99),
        col(|s| s.ws_p99),
    );
    let title = format!(
        "showcase --workers 2, soak {} s at {rate:.0} req/s + 4 SSE + 4 WebSocket echo ({})",
        seconds.as_secs(),
        today()
    );
    let svg = chart(
        &title,
        &xs,
        &[
            Series {
                title: "RSS of supervisor + workers + pools",
                unit: "MiB",
                values: &rss,
            },
            Series {
                title: "open file descriptors",
                unit: "count",
                values: &fds,
            },
            Series {
                title: "HTTP requests answered",
                unit: "per second",
                values: &rps,
            },
            Series {
                title: "HTTP p99 latency",
                unit: "ms",
                values: &p99,
            },
            Series {
                title: "WebSocket echo p99 latency",
                unit: "ms",
                values: &ws,
            },
        ],
    );
    match std::fs::write(out, svg) {
        Ok(()) => println!("chart: {out}"),
        Err(e) => println!("chart not written to {out}: {e}"),
    }
}
