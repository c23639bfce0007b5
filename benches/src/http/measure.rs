//! One trial of one server in one case: a load trial (wrk warm-up, then the measured run with the
//! tree's CPU time read before and after) or the idle trial (the harness itself opens 10,000
//! keep-alive connections and reads the tree's RSS). Kept apart from the servers and from wrk
//! because this is where the figures are defined.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use super::cases::{Case, Entry, IDLE_CONNS};
use super::opts::Opts;
use super::procfs::{tree_cpu_us, tree_status_kib};
use super::report::{fmt_num, fmt_us, summarize, Summary};
use super::servers::{get, Running, Server};
use super::tls::TlsFiles;
use super::wrk::wrk;

#[derive(Clone, Debug, Default)]
pub struct Trial {
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub errors: u64,
    pub requests: u64,
    pub cpu_us_per_req: f64,
    /// Server CPU time over wall time of the measured run, in %.
    pub cpu_pct: f64,
    pub peak_rss_kib: u64,
    /// Idle case: server RSS bytes per idle keep-alive connection.
    pub idle_bytes_per_conn: f64,
    pub idle_rss_before_kib: u64,
    pub idle_rss_after_kib: u64,
    pub idle_open: usize,
}

/// Warm-up, then the measured wrk run; the server's CPU time per completed request.
pub fn load_trial(
    root: &Path,
    run: &Running,
    case: &Case,
    entry: &Entry,
    o: &Opts,
) -> Result<Trial, String> {
    let scheme = if entry.tls { "https" } else { "http" };
    let url = format!("{scheme}://{}{}", run.addr, entry.path);
    // Warm-up (not measured): allocator growth, lazily built state, JITs, TLS sessions.
    wrk(root, &url, case, o.warmup_s)?;
    let cpu0 = tree_cpu_us(run.pid());
    let t0 = Instant::now();
    let w = wrk(root, &url, case, o.duration_s)?;
    if w.requests == 0 {
        return Err(format!("wrk completed no request on {url}"));
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = tree_cpu_us(run.pid()).saturating_sub(cpu0) as f64;
    Ok(Trial {
        rps: w.rps,
        p50_us: w.p50_us,
        p99_us: w.p99_us,
        errors: w.errors,
        requests: w.requests,
        cpu_us_per_req: if w.requests > 0 {
            cpu / w.requests as f64
        } else {
            f64::NAN
        },
        cpu_pct: 100.0 * cpu / 1e6 / wall.max(w.seconds).max(1e-9),
        peak_rss_kib: tree_status_kib(run.pid(), "VmHWM"),
        ..Trial::default()
    })
}

/// Reads one whole response on a keep-alive connection (bounded by the socket's read timeout).
fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    buf.clear();
    let mut chunk = [0u8; 1024];
    for _ in 0..64 {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return true;
            }
        }
    }
    false
}

/// Server RSS with 10,000 idle keep-alive connections, each opened by this process and used for
/// exactly one request. Most servers close idle connections after 5 s, so the connections are
/// opened in batches (connect + write a batch, then read the batch) and measured right away.
pub fn idle_trial(run: &Running) -> Result<Trial, String> {
    // One request first, so lazily built state is not counted per connection.
    get(run.addr, "/plaintext")?;
    std::thread::sleep(Duration::from_millis(300));
    let before = tree_status_kib(run.pid(), "VmRSS");
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(20);
    let mut open: Vec<TcpStream> = Vec::with_capacity(IDLE_CONNS);
    let mut buf = Vec::new();
    let mut failed = None;
    'outer: while open.len() < IDLE_CONNS && Instant::now() < deadline {
        let mut batch = Vec::with_capacity(250);
        for _ in 0..250.min(IDLE_CONNS - open.len()) {
            match TcpStream::connect_timeout(&run.addr, Duration::from_secs(2)) {
                Ok(mut s) => {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
                    let _ = s.set_nodelay(true);
                    if s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                        .is_err()
                    {
                        failed = Some("write failed".to_string());
                        break 'outer;
                    }
                    batch.push(s);
                }
                Err(e) => {
                    failed = Some(format!("connect #{} failed: {e}", open.len() + batch.len()));
                    break 'outer;
                }
            }
        }
        for mut s in batch {
            if !read_response(&mut s, &mut buf) {
                failed = Some(format!("no response on connection #{}", open.len()));
                break 'outer;
            }
            open.push(s);
        }
    }
    let opened_in = t0.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    let after = tree_status_kib(run.pid(), "VmRSS");
    let hwm = tree_status_kib(run.pid(), "VmHWM");
    let n = open.len();
    drop(open);
    if let Some(f) = failed {
        eprintln!("    idle: {f} after {n} connections");
    }
    if opened_in > Duration::from_secs(4) {
        eprintln!("    idle: opening took {opened_in:?}: servers with a 5 s keep-alive timeout may have closed some");
    }
    if n == 0 {
        return Err("no idle connection could be opened".into());
    }
    Ok(Trial {
        idle_bytes_per_conn: (after as f64 - before as f64) * 1024.0 / n as f64,
        idle_rss_before_kib: before,
        idle_rss_after_kib: after,
        idle_open: n,
        peak_rss_kib: hwm,
        rps: f64::NAN,
        p50_us: f64::NAN,
        p99_us: f64::NAN,
        cpu_us_per_req: f64::NAN,
        cpu_pct: f64::NAN,
        ..Trial::default()
    })
}

/// Every case in turn; within a case, every row once per repeat in the same order (A B C,
/// A B C, …), so that a burst of noise on the machine hits all rows alike.
pub fn measure_all(
    root: &Path,
    servers: &[Server],
    cases: &[Case],
    tls: Option<&TlsFiles>,
    o: &Opts,
) -> Vec<(Case, Vec<Summary>)> {
    let total: usize = cases
        .iter()
        .map(|c| c.entries(servers).len() * o.repeats)
        .sum();
    let mut progress = Progress {
        started: Instant::now(),
        done: 0,
        total,
    };
    cases
        .iter()
        .map(|case| {
            let rows = measure_case(root, servers, case, tls, o, &mut progress);
            (*case, rows)
        })
        .collect()
}

/// The progress line printed after each trial.
struct Progress {
    started: Instant,
    done: usize,
    total: usize,
}

fn measure_case(
    root: &Path,
    servers: &[Server],
    case: &Case,
    tls: Option<&TlsFiles>,
    o: &Opts,
    progress: &mut Progress,
) -> Vec<Summary> {
    let entries = case.entries(servers);
    let mut trials: Vec<Vec<Trial>> = vec![Vec::new(); entries.len()];
    for rep in 0..o.repeats {
        for (i, e) in entries.iter().enumerate() {
            progress.done += 1;
            match one_trial(root, case, e, tls, o) {
                Ok(t) => {
                    progress.report(case, rep, &e.label, &t);
                    trials[i].push(t);
                }
                Err(err) => eprintln!(
                    "[{}/{}] {} #{} {}: FAILED: {err}",
                    progress.done,
                    progress.total,
                    case.id,
                    rep + 1,
                    e.label
                ),
            }
        }
    }
    entries
        .iter()
        .zip(&trials)
        .filter(|(_, t)| !t.is_empty())
        .map(|(e, t)| summarize(e.server.name, &e.label, t))
        .collect()
}

/// A fresh server, one trial, the server stopped whatever the outcome.
fn one_trial(
    root: &Path,
    case: &Case,
    entry: &Entry,
    tls: Option<&TlsFiles>,
    o: &Opts,
) -> Result<Trial, String> {
    let tls = match (entry.tls, tls) {
        (false, _) => None,
        (true, Some(t)) => Some(t),
        (true, None) => return Err("no TLS certificate for this run".into()),
    };
    Running::start(entry.server, root, tls).and_then(|mut r| {
        let t = if case.idle {
            idle_trial(&r)
        } else {
            load_trial(root, &r, case, entry, o)
        };
        r.stop();
        t
    })
}

impl Progress {
    fn report(&self, case: &Case, rep: usize, label: &str, t: &Trial) {
        let head = format!(
            "[{}/{} {:.0}s] {} #{} {}",
            self.done,
            self.total,
            self.started.elapsed().as_secs_f64(),
            case.id,
            rep + 1,
            label
        );
        if case.idle {
            eprintln!(
                "{head}: {} B/conn ({} open)",
                fmt_num(t.idle_bytes_per_conn),
                t.idle_open
            );
        } else {
            eprintln!(
                "{head}: {} req/s ({} requests), {} µs/req, p99 {}, {} errors",
                fmt_num(t.rps),
                t.requests,
                fmt_num(t.cpu_us_per_req),
                fmt_us(t.p99_us),
                t.errors
            );
        }
    }
}
