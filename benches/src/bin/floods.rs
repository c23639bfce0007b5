//! Floods (issue 15, item 3): many connections that cost the attacker nothing and the server
//! a descriptor each, while ordinary requests are timed.
//!
//! ```sh
//! benches/scripts/floods.sh                       # all three phases, ~2 min
//! benches/scripts/floods.sh --phase slow|burst|ws [--slow 5000] [--burst 20000] [--ws 1000]
//! ```
//!
//! * `slow`: `--slow` connections trickle a request head one byte a second (slowloris) and as
//!   many send a complete head and one body byte, then nothing (a stalled upload), while four
//!   keep-alive connections ask for `/healthz` back to back. Expected: every trickler closed by
//!   the server's `head_timeout` (10 s from the first byte) or `body_read_timeout` (10 s of
//!   silence), and the normal requests' p99 < 50 ms.
//! * `burst`: `--burst` connections opened at once, each asking for `/healthz` (the default
//!   limits, then `--limit-concurrency 2000`). Expected: no crash, each answered 200 or 503 or
//!   refused at connect, the server's memory bounded (peak RSS of the tree recorded). Over
//!   10,000 connections the clients are child processes of this binary, 10,000 each at most
//!   (`--burst-client N --addr A`; one process may not hold more descriptors than its limit).
//! * `ws`: `showcase --workers 1` (one chat hub); `--ws` WebSocket clients join `/ws/chat` and
//!   never read; 5 chatters (`tungstenite`) send `--chat-rate` (10) messages a second each of
//!   `--chat-size` (16) bytes and time their own message's return. Expected: memory bounded (the hub drops a client whose queue is full),
//!   chat p99 < 50 ms.
//!
//! `FLOODS_SERVER_ARGS="--timeout-keep-alive 60"` adds flags to the burst's server.
//!
//! The slow and burst clients run on one tokio thread (allowed in benches); the measured
//! clients are blocking threads, so a busy flood task cannot delay their timing.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use waitless_benches::reliability::client::Conn;
use waitless_benches::reliability::sample::{tree_fds, tree_rss_kib};
use waitless_benches::reliability::showcase::Showcase;
use waitless_benches::reliability::stats::{micros, percentiles, Percentiles};
use waitless_benches::reliability::{flag, num_flag, today};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let phase = flag(&args, "phase").unwrap_or_else(|| "all".into());
    let slow: usize = num_flag(&args, "slow", 5000);
    let burst: usize = num_flag(&args, "burst", 20_000);
    let ws: usize = num_flag(&args, "ws", 1000);
    let chat = Chat {
        rate: num_flag(&args, "chat-rate", 10),
        size: num_flag(&args, "chat-size", 16),
    };
    if !["all", "slow", "burst", "ws"].contains(&phase.as_str()) {
        eprintln!("--phase: one of slow, burst, ws, all");
        std::process::exit(2);
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("floods: tokio runtime: {e}");
            std::process::exit(1);
        }
    };
    if flag(&args, "burst-client").is_some() {
        std::process::exit(burst_client(&rt, &args));
    }
    println!(
        "# floods, {} (2-core VM shared with other builds; clients on the same cores)\n",
        today()
    );
    let mut pass = true;
    let run = |name: &str| phase == "all" || phase == name;
    if run("slow") {
        pass &= report("slow", slow_phase(&rt, slow));
    }
    if run("burst") {
        pass &= report("burst (default limits)", burst_phase(&rt, burst, &[]));
        pass &= report(
            "burst (--limit-concurrency 2000)",
            burst_phase(&rt, burst, &["--limit-concurrency", "2000"]),
        );
    }
    if run("ws") {
        pass &= report("ws", ws_phase(&rt, ws, chat));
    }
    std::process::exit(i32::from(!pass));
}

fn report(name: &str, r: Result<bool, String>) -> bool {
    match r {
        Ok(pass) => {
            println!("{name}: {}\n", if pass { "PASS" } else { "FAIL" });
            pass
        }
        Err(e) => {
            println!("{name}: could not run: {e}\n");
            false
        }
    }
}

/// Blocking `/healthz` clients timing each request until `stop`.
struct Probe {
    stop: Arc<AtomicBool>,
    lat: Arc<Mutex<Vec<u32>>>,
    errors: Arc<Mutex<u64>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Probe {
    fn start(addr: SocketAddr, conns: usize) -> Probe {
        let stop = Arc::new(AtomicBool::new(false));
        let lat = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(Mutex::new(0));
        let threads = (0..conns)
            .map(|_| {
                let (stop, lat, errors) =
                    (Arc::clone(&stop), Arc::clone(&lat), Arc::clone(&errors));
                std::thread::spawn(move || {
                    let mut c = Conn::new(addr, Duration::from_secs(10));
                    while !stop.load(Ordering::Relaxed) {
                        let t = Instant::now();
                        match c.request("GET", "/healthz", None) {
                            Ok(r) if r.status == 200 => {
                                if let Ok(mut v) = lat.lock() {
                                    v.push(micros(t.elapsed()));
                                }
                            }
                            _ => {
                                if let Ok(mut e) = errors.lock() {
                                    *e += 1;
                                }
                            }
                        }
                        // A user's pace, not a benchmark's: the question is latency, not rate.
                        std::thread::sleep(Duration::from_millis(2));
                    }
                })
            })
            .collect();
        Probe {
            stop,
            lat,
            errors,
            threads,
        }
    }

    /// Latencies so far (and clears them).
    fn take(&self) -> Percentiles {
        let mut v = self
            .lat
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        percentiles(&mut v)
    }

    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        self.errors.lock().map_or(0, |e| *e)
    }
}

/// How a trickling connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// The server answered (status) and closed, after this long from the first byte.
    Closed(Option<u16>, Duration),
    /// Reset by the server.
    Reset(Duration),
    /// Still open at the deadline.
    Open,
    /// Could not connect.
    NoConnect,
}

async fn trickle_head(addr: SocketAddr, deadline: Instant) -> End {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return End::NoConnect;
    };
    let head = b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let t0 = Instant::now();
    let mut buf = [0u8; 512];
    for &b in head.iter() {
        if s.write_all(&[b]).await.is_err() {
            return End::Reset(t0.elapsed());
        }
        // A second's pause, during which the server may answer and close.
        if let Ok(r) = tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await {
            return ended(r, &buf, t0);
        }
        if Instant::now() > deadline {
            return End::Open;
        }
    }
    End::Open
}

async fn stalled_body(addr: SocketAddr, deadline: Instant) -> End {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return End::NoConnect;
    };
    let head = b"POST /items HTTP/1.1\r\nHost: slow\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{";
    let t0 = Instant::now();
    if s.write_all(head).await.is_err() {
        return End::Reset(t0.elapsed());
    }
    let mut buf = [0u8; 512];
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(left, s.read(&mut buf)).await {
        Ok(r) => ended(r, &buf, t0),
        Err(_) => End::Open,
    }
}

fn ended(r: std::io::Result<usize>, buf: &[u8], t0: Instant) -> End {
    match r {
        Ok(n) => {
            let status = std::str::from_utf8(&buf[..n.min(buf.len())])
                .ok()
                .and_then(|t| t.split(' ').nth(1)?.parse().ok());
            End::Closed(status, t0.elapsed())
        }
        Err(_) => End::Reset(t0.elapsed()),
    }
}

fn summarize(name: &str, ends: &[End]) -> (usize, String) {
    let closed: Vec<Duration> = ends
        .iter()
        .filter_map(|e| match e {
            End::Closed(_, d) | End::Reset(d) => Some(*d),
            _ => None,
        })
        .collect();
    let s408 = ends
        .iter()
        .filter(|e| matches!(e, End::Closed(Some(408), _)))
        .count();
    let open = ends.iter().filter(|e| **e == End::Open).count();
    let noconn = ends.iter().filter(|e| **e == End::NoConnect).count();
    let min = closed.iter().min().copied().unwrap_or_default();
    let max = closed.iter().max().copied().unwrap_or_default();
    let line = format!(
        "{name}: {} connections; closed by the server: {} ({s408} with 408), after {:.1}–{:.1} s from the first byte; still open at the deadline: {open}; connect failed: {noconn}",
        ends.len(),
        closed.len(),
        min.as_secs_f64(),
        max.as_secs_f64()
    );
    (open + noconn, line)
}

fn slow_phase(rt: &tokio::runtime::Runtime, n: usize) -> Result<bool, String> {
    println!("## slow: {n} slowloris heads + {n} stalled bodies, 4 normal clients on /healthz\n");
    let app = Showcase::start(&["--workers", "2"])?;
    let addr = app.addr;
    let probe = Probe::start(addr, 4);
    std::thread::sleep(Duration::from_secs(1));
    let before = probe.take();
    let rss0 = tree_rss_kib(app.pid());
    let deadline = Instant::now() + Duration::from_secs(40);
    // Sample the server while the flood lasts (on a thread: the flood owns the tokio thread).
    let sampling = Arc::new(AtomicBool::new(true));
    let pid = app.pid();
    let sampler = {
        let on = Arc::clone(&sampling);
        std::thread::spawn(move || {
            let (mut rss, mut fds) = (0, 0);
            while on.load(Ordering::Relaxed) {
                rss = rss.max(tree_rss_kib(pid));
                fds = fds.max(tree_fds(pid));
                std::thread::sleep(Duration::from_millis(250));
            }
            (rss, fds)
        })
    };
    let t0 = Instant::now();
    let (heads, bodies) = rt.block_on(async {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let h: Vec<_> = (0..n)
                    .map(|_| tokio::task::spawn_local(trickle_head(addr, deadline)))
                    .collect();
                let b: Vec<_> = (0..n)
                    .map(|_| tokio::task::spawn_local(stalled_body(addr, deadline)))
                    .collect();
                let mut heads = Vec::with_capacity(n);
                for t in h {
                    heads.push(t.await.unwrap_or(End::NoConnect));
                }
                let mut bodies = Vec::with_capacity(n);
                for t in b {
                    bodies.push(t.await.unwrap_or(End::NoConnect));
                }
                (heads, bodies)
            })
            .await
    });
    let flood_time = t0.elapsed();
    let during = probe.take();
    sampling.store(false, Ordering::Relaxed);
    let (peak_rss, peak_fds) = sampler.join().unwrap_or((0, 0));
    let errors = probe.finish();
    let (bad_h, line_h) = summarize("slowloris heads", &heads);
    let (bad_b, line_b) = summarize("stalled bodies", &bodies);
    println!("{line_h}\n{line_b}");
    println!(
        "normal /healthz: before the flood p50 {:.2} ms p99 {:.2} ms; during it ({:.0} s, {} requests) p50 {:.2} ms p99 {:.2} ms max {:.1} ms; failed: {errors}",
        before.p50_ms,
        before.p99_ms,
        flood_time.as_secs_f64(),
        during.count,
        during.p50_ms,
        during.p99_ms,
        during.max_ms
    );
    println!(
        "server tree: RSS {:.1} MiB before, peak {:.1} MiB; peak open descriptors {peak_fds}",
        rss0 as f64 / 1024.0,
        peak_rss as f64 / 1024.0
    );
    Ok(bad_h == 0 && bad_b == 0 && during.p99_ms < 50.0 && errors == 0)
}

/// What one connection of the burst saw.
#[derive(Clone, Copy)]
struct Outcome {
    /// The status, or why there was none.
    status: Result<u16, &'static str>,
    /// From the task's start to its connect completing, as the client saw it (the kernel may
    /// have completed the handshake much earlier if the client was slow to look).
    connected: Duration,
    /// From the request's write to the answer (or the close).
    waited: Duration,
}

/// The failure kinds of a burst connection, as counted and as a child prints them.
const FAILURES: [&str; 6] = ["connect", "reset", "closed", "timeout", "garbled", "task"];

/// One connection of the burst.
async fn one_request(addr: SocketAddr, hold: Duration) -> Outcome {
    let start = Instant::now();
    let failed = |why| Outcome {
        status: Err(why),
        connected: start.elapsed(),
        waited: Duration::ZERO,
    };
    let Ok(Ok(mut s)) =
        tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr)).await
    else {
        return failed("connect");
    };
    let connected = start.elapsed();
    if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: burst\r\n\r\n")
        .await
        .is_err()
    {
        return failed("reset");
    }
    let written = Instant::now();
    let mut buf = [0u8; 1024];
    let status = match tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf)).await {
        Ok(Ok(n)) if n > 12 => std::str::from_utf8(&buf[..n])
            .ok()
            .and_then(|t| t.split(' ').nth(1)?.parse().ok())
            .ok_or("garbled"),
        Ok(Ok(_)) => Err("closed"),
        Ok(Err(_)) => Err("reset"),
        Err(_) => Err("timeout"),
    };
    let waited = written.elapsed();
    // Hold the connection so that all of them are open at once.
    tokio::time::sleep(hold).await;
    Outcome {
        status,
        connected,
        waited,
    }
}

/// The most burst connections one client process opens: a process may hold only as many
/// descriptors as its `RLIMIT_NOFILE` (20,000 hard on the benchmark VM, not raisable there), so
/// a larger burst is split over child processes of this binary (`--burst-client`).
const PER_CLIENT_PROCESS: usize = 10_000;

/// `n` burst connections from this process, all at once.
fn burst_requests(rt: &tokio::runtime::Runtime, addr: SocketAddr, n: usize) -> Vec<Outcome> {
    rt.block_on(async {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let tasks: Vec<_> = (0..n)
                    .map(|_| tokio::task::spawn_local(one_request(addr, Duration::from_secs(3))))
                    .collect();
                let mut out = Vec::with_capacity(n);
                for t in tasks {
                    out.push(t.await.unwrap_or(Outcome {
                        status: Err("task"),
                        connected: Duration::ZERO,
                        waited: Duration::ZERO,
                    }));
                }
                out
            })
            .await
    })
}

/// The child's side of a split burst: `floods --burst-client N --addr A` opens N connections and
/// prints one line per connection: the status or failure kind, then the microseconds to the
/// connect and from the write to the answer.
fn burst_client(rt: &tokio::runtime::Runtime, args: &[String]) -> i32 {
    let n: usize = num_flag(args, "burst-client", 0);
    let Some(addr) = flag(args, "addr").and_then(|a| a.parse().ok()) else {
        eprintln!("--burst-client needs --addr HOST:PORT");
        return 2;
    };
    let mut out = String::with_capacity(n * 20);
    for o in burst_requests(rt, addr, n) {
        let what = match o.status {
            Ok(status) => status.to_string(),
            Err(kind) => kind.to_string(),
        };
        out.push_str(&format!(
            "{what} {} {}\n",
            micros(o.connected),
            micros(o.waited)
        ));
    }
    print!("{out}");
    0
}

/// `n` burst connections from `n / PER_CLIENT_PROCESS` (rounded up) child processes started
/// together, their outcomes read back from their output.
fn burst_in_processes(addr: SocketAddr, n: usize) -> Result<Vec<Outcome>, String> {
    let me = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let parts = n.div_ceil(PER_CLIENT_PROCESS);
    let mut children = Vec::with_capacity(parts);
    for i in 0..parts {
        let count = n / parts + usize::from(i < n % parts);
        let child = std::process::Command::new(&me)
            .args([
                "--burst-client",
                &count.to_string(),
                "--addr",
                &addr.to_string(),
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start a burst client: {e}"))?;
        children.push(child);
    }
    let mut out = Vec::with_capacity(n);
    for child in children {
        let done = child
            .wait_with_output()
            .map_err(|e| format!("burst client: {e}"))?;
        if !done.status.success() {
            return Err(format!("a burst client failed: {}", done.status));
        }
        out.extend(
            String::from_utf8_lossy(&done.stdout)
                .lines()
                .map(parse_outcome),
        );
    }
    Ok(out)
}

/// One line of a burst client's output back into its outcome.
fn parse_outcome(line: &str) -> Outcome {
    let mut fields = line.split(' ');
    let what = fields.next().unwrap_or("");
    let mut us = || Duration::from_micros(fields.next().and_then(|v| v.parse().ok()).unwrap_or(0));
    let (connected, waited) = (us(), us());
    let status = match what.parse::<u16>() {
        Ok(status) => Ok(status),
        Err(_) => Err(FAILURES
            .into_iter()
            .find(|k| *k == what)
            .unwrap_or("garbled")),
    };
    Outcome {
        status,
        connected,
        waited,
    }
}

fn burst_phase(rt: &tokio::runtime::Runtime, n: usize, extra: &[&str]) -> Result<bool, String> {
    let mut args = vec!["--workers", "2"];
    args.extend_from_slice(extra);
    let more = std::env::var("FLOODS_SERVER_ARGS").unwrap_or_default();
    args.extend(more.split_whitespace());
    println!(
        "## burst: {n} connections at once, each GET /healthz, `showcase {}`\n",
        args.join(" ")
    );
    let mut app = Showcase::start(&args)?;
    let addr = app.addr;
    let rss0 = tree_rss_kib(app.pid());
    let sampling = Arc::new(AtomicBool::new(true));
    let pid = app.pid();
    let sampler = {
        let on = Arc::clone(&sampling);
        std::thread::spawn(move || {
            let (mut rss, mut fds) = (0, 0);
            while on.load(Ordering::Relaxed) {
                rss = rss.max(tree_rss_kib(pid));
                fds = fds.max(tree_fds(pid));
                std::thread::sleep(Duration::from_millis(100));
            }
            (rss, fds)
        })
    };
    let t0 = Instant::now();
    let timed = if n <= PER_CLIENT_PROCESS {
        burst_requests(rt, addr, n)
    } else {
        burst_in_processes(addr, n)?
    };
    let took = t0.elapsed();
    let results: Vec<Result<u16, &str>> = timed.iter().map(|o| o.status).collect();
    // Microseconds of `time` for the outcomes that `keep`.
    let micros_of = |keep: fn(&Outcome) -> bool, time: fn(&Outcome) -> Duration| -> Vec<u32> {
        timed
            .iter()
            .filter(|o| keep(o))
            .map(|o| micros(time(o)))
            .collect()
    };
    let closed: fn(&Outcome) -> bool = |o| o.status == Err("closed");
    let answered: fn(&Outcome) -> bool = |o| o.status.is_ok();
    let mut closed_after = micros_of(closed, |o| o.waited);
    let mut answered_after = micros_of(answered, |o| o.waited);
    let mut closed_connect = micros_of(closed, |o| o.connected);
    let mut answered_connect = micros_of(answered, |o| o.connected);
    sampling.store(false, Ordering::Relaxed);
    let (peak_rss, peak_fds) = sampler.join().unwrap_or((0, 0));
    let count = |f: &dyn Fn(&Result<u16, &str>) -> bool| results.iter().filter(|r| f(r)).count();
    let ok = count(&|r| *r == Ok(200));
    let s503 = count(&|r| *r == Ok(503));
    let mut other: Vec<String> = Vec::new();
    for kind in FAILURES {
        let c = count(&|r| *r == Err(kind));
        if c > 0 {
            other.push(format!("{kind}: {c}"));
        }
    }
    let odd = count(&|r| matches!(r, Ok(s) if *s != 200 && *s != 503));
    // Still serving afterwards?
    let after = Conn::new(addr, Duration::from_secs(10)).request("GET", "/healthz", None);
    let alive = app.wait_exit(Duration::ZERO).is_none() && after.is_ok_and(|r| r.status == 200);
    println!(
        "in {:.1} s: 200: {ok}, 503: {s503}, other statuses: {odd}, failures: {}",
        took.as_secs_f64(),
        if other.is_empty() {
            "none".into()
        } else {
            other.join(", ")
        }
    );
    println!(
        "server tree: RSS {:.1} MiB before, peak {:.1} MiB; peak open descriptors {peak_fds}; serving afterwards: {alive}",
        rss0 as f64 / 1024.0,
        peak_rss as f64 / 1024.0
    );
    let (c, a) = (
        percentiles(&mut closed_after),
        percentiles(&mut answered_after),
    );
    println!(
        "time from the request's write to the answer: p50 {:.0} ms, max {:.0} ms; to a close without answer: p50 {:.0} ms, max {:.0} ms",
        a.p50_ms, a.max_ms, c.p50_ms, c.max_ms
    );
    let (cc, ac) = (
        percentiles(&mut closed_connect),
        percentiles(&mut answered_connect),
    );
    println!(
        "time from a task's start to its connect completing, as the client saw it: answered p50 {:.0} ms, max {:.0} ms; closed without answer min {:.0} ms, p50 {:.0} ms, max {:.0} ms",
        ac.p50_ms,
        ac.max_ms,
        closed_connect.first().map_or(0.0, |&us| f64::from(us) / 1e3),
        cc.p50_ms,
        cc.max_ms
    );
    let unexplained = results
        .iter()
        .filter(|r| !matches!(r, Ok(200) | Ok(503) | Err("connect")))
        .count();
    println!("answers other than 200, 503 or a refused connect: {unexplained}");
    Ok(alive && odd == 0)
}

/// A WebSocket client that completes the handshake on `/ws/chat` and never reads again.
async fn deaf_client(addr: SocketAddr, hold: Arc<tokio::sync::Notify>) -> bool {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return false;
    };
    let req =
        "GET /ws/chat HTTP/1.1\r\nHost: flood\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
               Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    if s.write_all(req.as_bytes()).await.is_err() {
        return false;
    }
    // Read the 101 head only (byte by byte, so no frame after it is read).
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 4096 {
        match s.read(&mut b).await {
            Ok(1) => head.push(b[0]),
            _ => return false,
        }
    }
    let upgraded = head.starts_with(b"HTTP/1.1 101");
    hold.notified().await;
    upgraded
}

/// What the chatters send: messages per second each, and bytes per message.
#[derive(Clone, Copy)]
struct Chat {
    rate: u32,
    size: usize,
}

fn ws_phase(rt: &tokio::runtime::Runtime, n: usize, c: Chat) -> Result<bool, String> {
    println!(
        "## ws: {n} WebSocket clients on /ws/chat that never read, 5 chatters at {} messages/s each of {} bytes, `showcase --workers 1`\n",
        c.rate, c.size
    );
    let app = Showcase::start(&["--workers", "1"])?;
    let addr = app.addr;
    let pid = app.pid();
    let rss0 = tree_rss_kib(pid);
    let hold = Arc::new(tokio::sync::Notify::new());
    let secs = 30;
    let (deaf_ok, samples, chat) = rt.block_on(async {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let tasks: Vec<_> = (0..n)
                    .map(|_| tokio::task::spawn_local(deaf_client(addr, Arc::clone(&hold))))
                    .collect();
                // Let the handshakes finish (bounded), then chat for `secs` while sampling.
                let t = Instant::now();
                while tree_fds(pid) < n as u64 && t.elapsed() < Duration::from_secs(20) {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let chat =
                    std::thread::spawn(move || chatters(addr, 5, c, Duration::from_secs(secs)));
                let mut samples = Vec::new();
                for _ in 0..secs {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    samples.push((tree_rss_kib(pid), tree_fds(pid)));
                }
                let chat = chat.join().unwrap_or_default();
                hold.notify_waiters();
                let mut ok = 0;
                for t in tasks {
                    ok += usize::from(t.await.unwrap_or(false));
                }
                (ok, samples, chat)
            })
            .await
    });
    let (mut lat, sent, lost) = chat;
    let p = percentiles(&mut lat);
    let peak = samples.iter().map(|s| s.0).max().unwrap_or(0);
    let last = samples.last().copied().unwrap_or((0, 0));
    let first_fds = samples.first().map_or(0, |s| s.1);
    println!("{deaf_ok} of {n} deaf clients upgraded (101)");
    println!(
        "chat: {sent} messages sent, {} returned to their sender, {lost} lost; latency p50 {:.2} ms p99 {:.2} ms max {:.1} ms",
        p.count, p.p50_ms, p.p99_ms, p.max_ms
    );
    println!(
        "server RSS: {:.1} MiB before, peak {:.1} MiB, at the end {:.1} MiB; open descriptors after 1 s {first_fds}, at the end {} (deaf clients dropped by the hub close theirs)",
        rss0 as f64 / 1024.0,
        peak as f64 / 1024.0,
        last.0 as f64 / 1024.0,
        last.1
    );
    Ok(p.p99_ms < 50.0 && lost == 0)
}

/// `k` chatters for `dur`: each sends `id:seq:` (padded to `c.size`) `c.rate` times a second and times its own message's
/// return through the hub. Returns (latencies µs, sent, lost).
fn chatters(addr: SocketAddr, k: usize, c: Chat, dur: Duration) -> (Vec<u32>, u64, u64) {
    let threads: Vec<_> = (0..k)
        .map(|id| std::thread::spawn(move || chatter(addr, id, c, dur)))
        .collect();
    let mut all = (Vec::new(), 0, 0);
    for t in threads {
        if let Ok((lat, sent, lost)) = t.join() {
            all.0.extend(lat);
            all.1 += sent;
            all.2 += lost;
        }
    }
    all
}

fn chatter(addr: SocketAddr, id: usize, c: Chat, dur: Duration) -> (Vec<u32>, u64, u64) {
    use tungstenite::Message;
    let Ok((mut ws, _)) = tungstenite::connect(format!("ws://{addr}/ws/chat")) else {
        return (Vec::new(), 0, 1);
    };
    if let tungstenite::stream::MaybeTlsStream::Plain(t) = ws.get_ref() {
        let _ = t.set_read_timeout(Some(Duration::from_secs(5)));
    }
    let (mut lat, mut sent, mut lost) = (Vec::new(), 0, 0);
    let start = Instant::now();
    let mut seq = 0u64;
    while start.elapsed() < dur {
        let mut mine = format!("{id}:{seq}:");
        while mine.len() < c.size {
            mine.push('x');
        }
        seq += 1;
        let t = Instant::now();
        if ws.send(Message::text(mine.clone())).is_err() {
            lost += 1;
            break;
        }
        sent += 1;
        // Read (others' messages too) until ours comes back; bounded by the read timeout and
        // a message count.
        let mut back = false;
        for _ in 0..10_000 {
            match ws.read() {
                Ok(Message::Text(txt)) if txt.as_str() == mine => {
                    back = true;
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if back {
            lat.push(micros(t.elapsed()));
        } else {
            lost += 1;
        }
        let period = Duration::from_secs(1) / c.rate.max(1);
        let next = start + period * u32::try_from(seq).unwrap_or(u32::MAX);
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
    }
    (lat, sent, lost)
}
