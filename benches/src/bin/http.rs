//! HTTP load harness (issue 6): waitless's `hello` app against the peers and the floor server,
//! on this machine, in one command:
//!
//! ```sh
//! cargo run --release -p waitless-benches --bin http -- [--quick] [--only SERVER,...] [--cases CASE,...]
//! ```
//!
//! It builds the peers (their own Cargo workspace in `benches/peers/`) and `hello` (when the
//! package exists), creates a Python venv for uvicorn + FastAPI (when `python3` exists), installs
//! `wrk` if it is missing, then for every case runs every server in alternation (A B C, A B C, …),
//! each trial on a freshly started server pinned to core 0 (`taskset -c 0`) and loaded by `wrk -t1`
//! pinned to core 1. It prints Markdown tables (medians over the repeats) and writes
//! `docs/benchmarks.svg`.
//!
//! The figure that compares servers fairly on a 2-core machine is **server CPU µs per request**:
//! the utime+stime of the server's whole process tree (from `/proc`) over the measured run,
//! divided by the requests wrk completed. Without pipelining wrk saturates its own core before
//! a fast server saturates its core, so requests/s measures wrk as much as the server.
//!
//! Every server is started on 127.0.0.1 only, every load is sent to 127.0.0.1 only, and every
//! wait is bounded in time.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Servers and cases
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// waitless's `hello` app from the root workspace.
    Hello,
    /// A binary of the peers workspace (`benches/peers/target/release/<bin>`).
    Rust(&'static str),
    /// uvicorn + FastAPI from the venv in `benches/.venv`.
    Uvicorn,
    /// Node.js `http`.
    Node,
}

#[derive(Clone, Debug)]
struct Server {
    name: &'static str,
    kind: Kind,
    /// Whether it serves /sleep (the floor does not).
    sleeps: bool,
}

const WAITLESS: &str = "waitless";
const FLOOR: &str = "floor";

fn all_servers() -> Vec<Server> {
    let s = |name, kind, sleeps| Server { name, kind, sleeps };
    vec![
        s(WAITLESS, Kind::Hello, true),
        s(FLOOR, Kind::Rust("peer-floor"), false),
        s("hyper", Kind::Rust("peer-hyper"), true),
        s("axum", Kind::Rust("peer-axum"), true),
        s("actix", Kind::Rust("peer-actix"), true),
        s("may-minihttp", Kind::Rust("peer-may-minihttp"), true),
        s("uvicorn", Kind::Uvicorn, true),
        s("node", Kind::Node, true),
    ]
}

/// A peer in the sense of the targets: neither waitless nor the floor.
fn is_peer(name: &str) -> bool {
    name != WAITLESS && name != FLOOR
}

#[derive(Clone, Copy, Debug)]
struct Case {
    id: &'static str,
    title: &'static str,
    path: &'static str,
    conns: u32,
    /// Requests per write (wrk Lua script) when > 1.
    pipeline: u32,
    /// The idle keep-alive memory case instead of a wrk load.
    idle: bool,
}

const IDLE_CONNS: usize = 10_000;

fn all_cases() -> Vec<Case> {
    let load = |id, title, path, conns, pipeline| Case {
        id,
        title,
        path,
        conns,
        pipeline,
        idle: false,
    };
    vec![
        load("plaintext-c64", "plaintext c64", "/plaintext", 64, 1),
        load("plaintext-c256", "plaintext c256", "/plaintext", 256, 1),
        load(
            "pipelined16-c256",
            "plaintext pipelined-16 c256",
            "/plaintext",
            256,
            16,
        ),
        load("json-c256", "json c256", "/json", 256, 1),
        load(
            "sleep100-c1000",
            "sleep?ms=100 c1000 (ideal 10,000 req/s)",
            "/sleep?ms=100",
            1000,
            1,
        ),
        Case {
            id: "idle10k",
            title: "10,000 idle keep-alive connections",
            path: "/plaintext",
            conns: IDLE_CONNS as u32,
            pipeline: 1,
            idle: true,
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

struct Opts {
    repeats: usize,
    duration_s: u64,
    warmup_s: u64,
    only: Option<Vec<String>>,
    cases: Option<Vec<String>>,
    svg: PathBuf,
    build: bool,
}

const USAGE: &str = "usage: cargo run --release -p waitless-benches --bin http -- [options]
  --quick              one repeat, 3 s runs (development)
  --repeats N          repeats per server and case (default 3)
  --duration S         seconds per measured wrk run (default 4)
  --only S1,S2,...     servers: waitless, floor, hyper, axum, actix, may-minihttp, uvicorn, node
  --cases C1,C2,...    cases: plaintext-c64, plaintext-c256, pipelined16-c256, json-c256,
                       sleep100-c1000, idle10k
  --svg PATH           chart to write (default docs/benchmarks.svg)
  --no-build           use the binaries already built";

fn parse_opts() -> Result<Opts, String> {
    let mut o = Opts {
        repeats: 3,
        duration_s: 4,
        warmup_s: 1,
        only: None,
        cases: None,
        svg: repo_root().join("docs/benchmarks.svg"),
        build: true,
    };
    let mut args = std::env::args().skip(1);
    let list = |v: Option<String>| -> Result<Vec<String>, String> {
        let v = v.ok_or("missing value")?;
        Ok(v.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect())
    };
    let num = |v: Option<String>, what: &str| -> Result<u64, String> {
        v.and_then(|v| v.parse().ok())
            .filter(|&n| n > 0)
            .ok_or(format!("{what} needs a positive number"))
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => {
                o.repeats = 1;
                o.duration_s = 3;
            }
            "--repeats" => o.repeats = num(args.next(), "--repeats")?.min(20) as usize,
            "--duration" => o.duration_s = num(args.next(), "--duration")?.min(60),
            "--only" => o.only = Some(list(args.next())?),
            "--cases" => o.cases = Some(list(args.next())?),
            "--svg" => o.svg = PathBuf::from(args.next().ok_or("--svg needs a path")?),
            "--no-build" => o.build = false,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let names: Vec<&str> = all_servers().iter().map(|s| s.name).collect();
    for n in o.only.iter().flatten() {
        if !names.contains(&n.as_str()) {
            return Err(format!(
                "unknown server `{n}` (known: {})",
                names.join(", ")
            ));
        }
    }
    let ids: Vec<&str> = all_cases().iter().map(|c| c.id).collect();
    for c in o.cases.iter().flatten() {
        if !ids.contains(&c.as_str()) {
            return Err(format!("unknown case `{c}` (known: {})", ids.join(", ")));
        }
    }
    Ok(o)
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ has a parent")
        .to_path_buf()
}

// ---------------------------------------------------------------------------------------------
// Processes: bounded waits, /proc accounting
// ---------------------------------------------------------------------------------------------

/// Runs `cmd` to completion, killing it after `limit`; returns (success, stdout, stderr).
fn run_bounded(cmd: &mut Command, limit: Duration) -> Result<(bool, String, String), String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let mut out = String::new();
    let mut err = String::new();
    // Drain both pipes on threads so a chatty child never blocks on a full pipe.
    let mut so = child.stdout.take().expect("piped");
    let mut se = child.stderr.take().expect("piped");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(st);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    out.push_str(&t_out.join().unwrap_or_default());
    err.push_str(&t_err.join().unwrap_or_default());
    match status {
        Some(st) => Ok((st.success(), out, err)),
        None => Err(format!("{cmd:?} ran past {limit:?} and was killed")),
    }
}

/// Runs a build/setup step with inherited output; true on success.
fn step(cmd: &mut Command) -> bool {
    eprintln!("$ {}", show(cmd));
    matches!(cmd.status(), Ok(s) if s.success())
}

fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn on_path(prog: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
}

/// `(ppid, utime+stime+cutime+cstime in ticks, comm)` of one process.
fn proc_stat(pid: u32) -> Option<(u32, u64, String)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    let comm = s[open + 1..close].to_string();
    // Fields after the command name start at field 3 (state).
    let f: Vec<&str> = s[close + 1..].split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    let ppid = num(1)? as u32;
    let cpu = num(11)? + num(12)? + num(13)? + num(14)?;
    Some((ppid, cpu, comm))
}

/// `root` and every process descended from it.
fn tree(root: u32) -> Vec<u32> {
    let mut parent = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            if let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) {
                if let Some((ppid, _, _)) = proc_stat(pid) {
                    parent.push((pid, ppid));
                }
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() && out.len() < 10_000 {
        let p = out[i];
        out.extend(parent.iter().filter(|&&(_, pp)| pp == p).map(|&(c, _)| c));
        i += 1;
    }
    out
}

fn clock_ticks_per_s() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// CPU time of the whole tree in microseconds.
fn tree_cpu_us(root: u32) -> u64 {
    let ticks: u64 = tree(root)
        .iter()
        .filter_map(|&p| proc_stat(p))
        .map(|(_, c, _)| c)
        .sum();
    ticks * 1_000_000 / clock_ticks_per_s()
}

/// Sum over the tree of a `/proc/PID/status` field in KiB (`VmRSS`, `VmHWM`).
fn tree_status_kib(root: u32, field: &str) -> u64 {
    tree(root)
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .sum()
}

fn raise_nofile() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a valid rlimit for the kernel to fill and read.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        }
    }
    r.rlim_cur
}

/// `nice -20` for this process and everything it starts from now on; false when not allowed.
fn raise_priority() -> bool {
    // SAFETY: plain syscall on this process.
    let ok = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, -20) } == 0;
    if !ok {
        eprintln!("note: could not raise the priority (needs root): other work on the machine will add noise");
    }
    ok
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

// ---------------------------------------------------------------------------------------------
// One running server
// ---------------------------------------------------------------------------------------------

struct Running {
    child: Child,
    addr: SocketAddr,
}

impl Running {
    fn start(server: &Server, root: &Path) -> Result<Running, String> {
        let port = free_port();
        let p = port.to_string();
        let mut cmd = Command::new("taskset");
        cmd.args(["-c", "0"]);
        match server.kind {
            Kind::Hello => {
                let bin = root.join("target/release/hello");
                cmd.arg(&bin)
                    .args(["--host", "127.0.0.1", "--port", &p, "--workers", "1"]);
                // Like every peer (and uvicorn with --no-access-log): no log line per request.
                let help = run_bounded(Command::new(&bin).arg("--help"), Duration::from_secs(10));
                if matches!(&help, Ok((_, out, err)) if out.contains("--no-access-log") || err.contains("--no-access-log"))
                {
                    cmd.args(["--no-access-log", "--log-level", "warning"]);
                }
            }
            Kind::Rust(bin) => {
                cmd.arg(root.join("benches/peers/target/release").join(bin))
                    .args(["--port", &p]);
            }
            Kind::Uvicorn => {
                cmd.arg(root.join("benches/.venv/bin/uvicorn")).args([
                    "app:app",
                    "--app-dir",
                    "benches/peers/python",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    &p,
                    "--workers",
                    "1",
                    "--loop",
                    "uvloop",
                    "--http",
                    "httptools",
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ]);
            }
            Kind::Node => {
                cmd.args(["node", "benches/peers/node/server.js", "--port", &p]);
            }
        }
        let log_dir = root.join("target/http-bench");
        let _ = std::fs::create_dir_all(&log_dir);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_dir.join(format!("{}.log", server.name)))
            .map_err(|e| e.to_string())?;
        let child = cmd
            .current_dir(root)
            .env("PORT", &p)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", show(&cmd)))?;
        let mut r = Running {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        // Wait (bounded) until the port accepts and a request gets an answer.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(st)) = r.child.try_wait() {
                return Err(format!(
                    "{} exited at start ({st}); see target/http-bench/{}.log",
                    server.name, server.name
                ));
            }
            if TcpStream::connect_timeout(&r.addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if Instant::now() >= deadline {
                r.stop();
                return Err(format!(
                    "{} did not accept on {} within 30 s",
                    server.name, r.addr
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(r)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, a bounded wait, then SIGKILL for whatever of the tree is left.
    fn stop(&mut self) {
        let pids: Vec<(u32, String)> = tree(self.pid())
            .into_iter()
            .filter_map(|p| proc_stat(p).map(|(_, _, comm)| (p, comm)))
            .collect();
        // SAFETY: signalling the process this harness started.
        unsafe { libc::kill(self.pid() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for (p, comm) in pids {
            // Only a process that still is the one we saw (same pid and name) is killed.
            if proc_stat(p).is_some_and(|(_, _, c)| c == comm) {
                // SAFETY: signalling a process of the tree this harness started.
                unsafe { libc::kill(p as libc::pid_t, libc::SIGKILL) };
            }
        }
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 GET on a fresh connection; returns the raw response (bounded: 5 s).
fn get(addr: SocketAddr, path: &str) -> Result<String, String> {
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Checks the TechEmpower rules we rely on; returns the problems found.
fn check_server(server: &Server, addr: SocketAddr) -> Vec<String> {
    let mut bad = Vec::new();
    let mut paths = vec![
        ("/plaintext", "Hello, World!", "text/plain"),
        ("/json", "\"message\":\"Hello, World!\"", "application/json"),
    ];
    if server.sleeps {
        paths.push(("/sleep?ms=1", "", ""));
    }
    for (path, body, ctype) in paths {
        match get(addr, path) {
            Ok(r) => {
                let lower = r.to_ascii_lowercase();
                if !r.starts_with("HTTP/1.1 200") {
                    bad.push(format!(
                        "{path}: status line `{}`",
                        r.lines().next().unwrap_or("")
                    ));
                }
                for h in ["\r\ndate:", "\r\nserver:"] {
                    if !lower.contains(h) {
                        bad.push(format!(
                            "{path}: no `{}` header",
                            h.trim_start_matches("\r\n").trim_end_matches(':')
                        ));
                    }
                }
                if !ctype.is_empty() && !lower.contains(&format!("content-type: {ctype}")) {
                    bad.push(format!("{path}: content-type is not {ctype}"));
                }
                if !r.contains(body) {
                    bad.push(format!("{path}: body lacks `{body}`"));
                }
            }
            Err(e) => bad.push(format!("{path}: {e}")),
        }
    }
    bad
}

// ---------------------------------------------------------------------------------------------
// One trial
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Default)]
struct Trial {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    errors: u64,
    requests: u64,
    cpu_us_per_req: f64,
    /// Server CPU time over wall time of the measured run, in %.
    cpu_pct: f64,
    peak_rss_kib: u64,
    /// Idle case: server RSS bytes per idle keep-alive connection.
    idle_bytes_per_conn: f64,
    idle_rss_before_kib: u64,
    idle_rss_after_kib: u64,
    idle_open: usize,
}

struct Wrk {
    requests: u64,
    seconds: f64,
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    errors: u64,
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

fn parse_wrk(out: &str) -> Result<Wrk, String> {
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

fn wrk(root: &Path, addr: SocketAddr, case: &Case, seconds: u64) -> Result<Wrk, String> {
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
    cmd.arg(format!("http://{addr}{}", case.path));
    if case.pipeline > 1 {
        cmd.args(["--".to_string(), case.pipeline.to_string()]);
    }
    let (ok, out, err) = run_bounded(&mut cmd, Duration::from_secs(seconds + 20))?;
    if !ok {
        return Err(format!("wrk failed: {err}{out}"));
    }
    parse_wrk(&out)
}

fn load_trial(root: &Path, run: &Running, case: &Case, o: &Opts) -> Result<Trial, String> {
    // Warm-up (not measured): allocator growth, lazily built state, JITs.
    wrk(root, run.addr, case, o.warmup_s)?;
    let cpu0 = tree_cpu_us(run.pid());
    let t0 = Instant::now();
    let w = wrk(root, run.addr, case, o.duration_s)?;
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
fn idle_trial(run: &Running) -> Result<Trial, String> {
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

// ---------------------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------------------

fn ensure_wrk() -> Result<(), String> {
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

/// Builds or prepares what the selected servers need; returns the servers that can run.
fn prepare(root: &Path, wanted: Vec<Server>, build: bool) -> Vec<Server> {
    let mut ready = Vec::new();
    let any_rust = wanted.iter().any(|s| matches!(s.kind, Kind::Rust(_)));
    let peers_ok = !any_rust
        || !build
        || step(Command::new("cargo").current_dir(root).args([
            "build",
            "--release",
            "--manifest-path",
            "benches/peers/Cargo.toml",
        ]));
    for s in wanted {
        let ok = match s.kind {
            Kind::Hello => {
                let meta = run_bounded(
                    Command::new("cargo").current_dir(root).args([
                        "metadata",
                        "--no-deps",
                        "--format-version",
                        "1",
                        "--offline",
                    ]),
                    Duration::from_secs(120),
                );
                let exists = matches!(&meta, Ok((_, out, _)) if out.contains("\"name\":\"hello\""));
                if !exists {
                    println!(
                        "skipping waitless: the `hello` package does not exist yet (apps/hello)"
                    );
                    false
                } else if build
                    && !step(Command::new("cargo").current_dir(root).args([
                        "build",
                        "--release",
                        "-p",
                        "hello",
                    ]))
                {
                    println!("skipping waitless: `cargo build --release -p hello` failed");
                    false
                } else {
                    root.join("target/release/hello").is_file()
                }
            }
            Kind::Rust(bin) => {
                let there = root
                    .join("benches/peers/target/release")
                    .join(bin)
                    .is_file();
                if !peers_ok || !there {
                    println!("skipping {}: the peers workspace did not build", s.name);
                }
                peers_ok && there
            }
            Kind::Uvicorn => prepare_python(root),
            Kind::Node => {
                let ok = on_path("node");
                if !ok {
                    println!("skipping node: no `node` on PATH");
                }
                ok
            }
        };
        if ok {
            ready.push(s);
        }
    }
    ready
}

fn prepare_python(root: &Path) -> bool {
    let venv = root.join("benches/.venv");
    let uvicorn = venv.join("bin/uvicorn");
    if uvicorn.is_file() {
        return true;
    }
    if !on_path("python3") {
        println!("skipping uvicorn: no `python3` on PATH");
        return false;
    }
    let ok = step(Command::new("python3").arg("-m").arg("venv").arg(&venv))
        && step(
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "-r"])
                .arg(root.join("benches/peers/python/requirements.txt")),
        );
    if !ok || !uvicorn.is_file() {
        println!("skipping uvicorn: could not create the venv in benches/.venv");
        return false;
    }
    true
}

// ---------------------------------------------------------------------------------------------
// Statistics and report
// ---------------------------------------------------------------------------------------------

fn median(mut v: Vec<f64>) -> f64 {
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

/// Medians over the repeats of one server in one case (errors are summed).
#[derive(Clone, Debug)]
struct Summary {
    server: &'static str,
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    errors: u64,
    cpu_us_per_req: f64,
    cpu_pct: f64,
    peak_rss_mib: f64,
    idle_bytes_per_conn: f64,
    idle_before_mib: f64,
    idle_after_mib: f64,
    idle_open: f64,
}

fn summarize(server: &'static str, trials: &[Trial]) -> Summary {
    let m = |f: fn(&Trial) -> f64| median(trials.iter().map(f).collect());
    Summary {
        server,
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

fn fmt_num(v: f64) -> String {
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

fn fmt_us(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v >= 1000.0 {
        format!("{} ms", fmt_num(v / 1000.0))
    } else {
        format!("{} µs", fmt_num(v))
    }
}

fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b != 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "–".into()
    }
}

/// The figures that get a ratio matrix, with whether lower is better.
type Figure = (&'static str, fn(&Summary) -> f64);

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

fn best_peer(rows: &[Summary], f: fn(&Summary) -> f64) -> Option<&Summary> {
    rows.iter()
        .filter(|s| is_peer(s.server) && f(s).is_finite())
        .min_by(|a, b| f(a).total_cmp(&f(b)))
}

fn case_table(case: &Case, rows: &[Summary], md: &mut String) {
    let floor = rows.iter().find(|s| s.server == FLOOR);
    let _ = writeln!(md, "\n### {}\n", case.title);
    if case.idle {
        let best = best_peer(rows, |s| s.idle_bytes_per_conn);
        let _ = writeln!(md, "| server | bytes/conn | RSS before | RSS after | connections | ×floor | ×best peer ({}) |", best.map_or("–", |b| b.server));
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|");
        for s in rows {
            let _ = writeln!(
                md,
                "| {} | {} | {} MiB | {} MiB | {} | {} | {} |",
                s.server,
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
            best.map_or("–", |b| b.server)
        );
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for s in rows {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | **{}** | {}% | {} MiB | {} | {} |",
                s.server,
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

fn ratio_matrices(case: &Case, rows: &[Summary], md: &mut String) {
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
            let _ = write!(md, "{} | ", c.server);
        }
        let _ = writeln!(md, "\n---|{}", "---:|".repeat(rows.len()));
        for r in rows {
            let _ = write!(md, "{} | ", r.server);
            for c in rows {
                let _ = write!(md, "{} | ", ratio(f(r), f(c)));
            }
            let _ = writeln!(md);
        }
    }
    let _ = writeln!(md, "\n</details>");
}

/// The targets of issue 6 for waitless, each met or missed with its figure.
fn targets(results: &[(Case, Vec<Summary>)], md: &mut String) {
    let find = |id: &str| {
        results
            .iter()
            .find(|(c, _)| c.id == id)
            .map(|(_, r)| r.as_slice())
    };
    let get = |rows: &[Summary], n: &str| rows.iter().find(|s| s.server == n).cloned();
    let mut lines = Vec::new();
    let mut unmeasured = Vec::new();
    let mut verdict = |ok: bool, what: String| {
        lines.push(format!(
            "- {} {what}",
            if ok { "**met**" } else { "**missed**" }
        ))
    };
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

// ---------------------------------------------------------------------------------------------
// Chart (hand-written SVG: no fonts or system libraries needed to build it)
// ---------------------------------------------------------------------------------------------

fn color(server: &str) -> &'static str {
    match server {
        WAITLESS => "#d62728",
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
    bars: &[(&str, f64)],
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
    for (i, (name, v)) in bars.iter().enumerate() {
        let yy = y + 24.0 + i as f64 * row;
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" font-size="11" text-anchor="end">{}</text>"#,
            x + label_w - 6.0,
            yy + 12.0,
            esc(name)
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
            color(name)
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

fn write_svg(path: &Path, results: &[(Case, Vec<Summary>)], stamp: &str) -> std::io::Result<()> {
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
            let bars: Vec<(&str, f64)> = rows
                .iter()
                .map(|s| (s.server, s.idle_bytes_per_conn))
                .collect();
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
            let cpu: Vec<(&str, f64)> = rows.iter().map(|s| (s.server, s.cpu_us_per_req)).collect();
            let rps: Vec<(&str, f64)> = rows.iter().map(|s| (s.server, s.rps)).collect();
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

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

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

fn main() -> ExitCode {
    let o = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let root = repo_root();
    let nofile = raise_nofile();
    if nofile < IDLE_CONNS as u64 + 100 {
        eprintln!("warning: RLIMIT_NOFILE is {nofile}; the idle case needs more than {IDLE_CONNS}");
    }
    for tool in ["taskset", "cargo"] {
        if !on_path(tool) {
            eprintln!("error: `{tool}` is not on PATH");
            return ExitCode::FAILURE;
        }
    }
    if let Err(e) = ensure_wrk() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let wanted: Vec<Server> = all_servers()
        .into_iter()
        .filter(|s| {
            o.only
                .as_ref()
                .is_none_or(|l| l.iter().any(|n| n == s.name))
        })
        .collect();
    let servers = prepare(&root, wanted, o.build);
    if servers.is_empty() {
        eprintln!("error: no server to measure");
        return ExitCode::FAILURE;
    }
    // Every server, every wrk and this process itself run at the highest priority (inherited by
    // the children), so that other work on the machine (compilers) yields to the measurement.
    // The builds above ran at normal priority.
    let reniced = raise_priority();
    let cases: Vec<Case> = all_cases()
        .into_iter()
        .filter(|c| o.cases.as_ref().is_none_or(|l| l.iter().any(|n| n == c.id)))
        .collect();

    // Correctness first: each server answers the three paths with Date and Server headers.
    for s in &servers {
        match Running::start(s, &root) {
            Ok(mut r) => {
                for p in check_server(s, r.addr) {
                    println!("warning: {}: {p}", s.name);
                }
                r.stop();
            }
            Err(e) => println!("warning: {e}"),
        }
    }

    let total: usize = cases
        .iter()
        .map(|c| {
            servers
                .iter()
                .filter(|s| s.sleeps || !c.path.starts_with("/sleep"))
                .count()
                * o.repeats
        })
        .sum();
    let started = Instant::now();
    let mut done = 0;
    let mut results: Vec<(Case, Vec<Summary>)> = Vec::new();
    for case in &cases {
        let runs: Vec<&Server> = servers
            .iter()
            .filter(|s| s.sleeps || !case.path.starts_with("/sleep"))
            .collect();
        let mut trials: Vec<Vec<Trial>> = vec![Vec::new(); runs.len()];
        for rep in 0..o.repeats {
            // Alternation: every server once per repeat, in the same order.
            for (i, s) in runs.iter().enumerate() {
                done += 1;
                let outcome = Running::start(s, &root).and_then(|mut r| {
                    let t = if case.idle {
                        idle_trial(&r)
                    } else {
                        load_trial(&root, &r, case, &o)
                    };
                    r.stop();
                    t
                });
                match outcome {
                    Ok(t) => {
                        if case.idle {
                            eprintln!(
                                "[{done}/{total} {:.0}s] {} #{} {}: {} B/conn ({} open)",
                                started.elapsed().as_secs_f64(),
                                case.id,
                                rep + 1,
                                s.name,
                                fmt_num(t.idle_bytes_per_conn),
                                t.idle_open
                            );
                        } else {
                            eprintln!(
                                "[{done}/{total} {:.0}s] {} #{} {}: {} req/s ({} requests), {} µs/req, p99 {}, {} errors",
                                started.elapsed().as_secs_f64(),
                                case.id,
                                rep + 1,
                                s.name,
                                fmt_num(t.rps),
                                t.requests,
                                fmt_num(t.cpu_us_per_req),
                                fmt_us(t.p99_us),
                                t.errors
                            );
                        }
                        trials[i].push(t);
                    }
                    Err(e) => eprintln!(
                        "[{done}/{total}] {} #{} {}: FAILED: {e}",
                        case.id,
                        rep + 1,
                        s.name
                    ),
                }
            }
        }
        let rows: Vec<Summary> = runs
            .iter()
            .zip(&trials)
            .filter(|(_, t)| !t.is_empty())
            .map(|(s, t)| summarize(s.name, t))
            .collect();
        results.push((*case, rows));
    }

    let stamp = format!(
        "{} — {} — {} repeat(s) × {} s",
        now_utc(),
        machine(),
        o.repeats,
        o.duration_s
    );
    let mut md = String::new();
    let _ = writeln!(md, "## HTTP load results\n\n{stamp}. Server pinned to core 0, `wrk -t1` pinned to core 1{}; medians over the repeats (errors: sum).", if reniced { ", both at nice -20" } else { "" });
    let skipped_sleep: Vec<&str> = servers
        .iter()
        .filter(|s| !s.sleeps)
        .map(|s| s.name)
        .collect();
    if !skipped_sleep.is_empty() && cases.iter().any(|c| c.path.starts_with("/sleep")) {
        let _ = writeln!(
            md,
            "/sleep: n/a for {} (canned responses only).",
            skipped_sleep.join(", ")
        );
    }
    for (case, rows) in &results {
        case_table(case, rows, &mut md);
    }
    targets(&results, &mut md);
    for (case, rows) in &results {
        ratio_matrices(case, rows, &mut md);
    }
    println!("{md}");
    let dir = root.join("target/http-bench");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("results.md"), &md);
    match write_svg(&o.svg, &results, &stamp) {
        Ok(()) => println!("chart: {}", o.svg.display()),
        Err(e) => eprintln!("could not write {}: {e}", o.svg.display()),
    }
    eprintln!("total {:.0} s", started.elapsed().as_secs_f64());
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn chart_and_tables_are_written() {
        let cases = all_cases();
        let row = |server: &'static str, cpu: f64| Summary {
            server,
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
            row(WAITLESS, 6.0),
            row(FLOOR, 5.5),
            row("hyper", 7.0),
            row("uvicorn", 100.0),
        ];
        let results: Vec<(Case, Vec<Summary>)> = cases.iter().map(|c| (*c, rows.clone())).collect();
        let path = std::env::temp_dir().join(format!("waitless-http-{}.svg", std::process::id()));
        write_svg(&path, &results, "test").unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("uvicorn") && svg.contains("100 µs »"));
        let mut md = String::new();
        for (c, r) in &results {
            case_table(c, r, &mut md);
        }
        targets(&results, &mut md);
        assert!(md.contains("| waitless | 16,667 |"));
        assert!(md.contains("**met** plaintext-c256: within 1.10× of the floor"));
        assert!(md.contains("**met** idle10k"));
    }

    #[test]
    fn own_process_is_accounted() {
        let me = std::process::id();
        assert!(tree(me).contains(&me));
        assert!(tree_status_kib(me, "VmHWM") > 0);
    }
}
