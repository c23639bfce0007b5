//! The servers under test: how each is built, started on a free port of 127.0.0.1 pinned to core
//! 0, checked against the TechEmpower rules the figures rely on, and stopped. Everything that
//! differs between waitless, the floor and the peers lives here, so the rest of the harness
//! treats a server as a name, an address and a process tree.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::process::{on_path, run_bounded, show, step};
use super::procfs::{proc_stat, tree};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
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
pub struct Server {
    pub name: &'static str,
    pub kind: Kind,
    /// Whether it serves /sleep (the floor does not).
    pub sleeps: bool,
}

pub const WAITLESS: &str = "waitless";
pub const FLOOR: &str = "floor";

pub fn all_servers() -> Vec<Server> {
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
pub fn is_peer(name: &str) -> bool {
    name != WAITLESS && name != FLOOR
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

pub struct Running {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Running {
    pub fn start(server: &Server, root: &Path) -> Result<Running, String> {
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

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, a bounded wait, then SIGKILL for whatever of the tree is left.
    pub fn stop(&mut self) {
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
pub fn get(addr: SocketAddr, path: &str) -> Result<String, String> {
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
pub fn check_server(server: &Server, addr: SocketAddr) -> Vec<String> {
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

/// Builds or prepares what the selected servers need; returns the servers that can run.
pub fn prepare(root: &Path, wanted: Vec<Server>, build: bool) -> Vec<Server> {
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
