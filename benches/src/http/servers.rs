//! The servers under test: how each is built, started on a free port of 127.0.0.1 pinned to core
//! 0, checked against the TechEmpower rules the figures rely on, and stopped. Everything that
//! differs between waitless, the floor and the peers lives here, so the rest of the harness
//! treats a server as a name, an address and a process tree.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::cases::USERS_PATH;
use super::process::{on_path, run_bounded, show, step};
use super::procfs::{proc_stat, tree};
use super::tls::TlsFiles;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An app on the waitless gateway, from the root workspace (`target/release/<bin>`), with
    /// the gateway's CLI (the same flags as uvicorn).
    App(&'static str),
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
    /// Paths it serves beyond /plaintext and /json (by prefix): /sleep, /users.
    pub extra: &'static [&'static str],
    /// Whether it runs the TLS case (the gateway's `--ssl-certfile`/`--ssl-keyfile`). Only hello
    /// does: the TLS layer is the gateway's, measuring it once is enough.
    pub tls: bool,
}

impl Server {
    /// Whether it answers GET `path` (every server answers /plaintext and /json).
    pub fn serves(&self, path: &str) -> bool {
        path.starts_with("/plaintext")
            || path.starts_with("/json")
            || self.extra.iter().any(|p| path.starts_with(p))
    }
}

/// hello (`apps/hello`), the raw gateway interface.
pub const WAITLESS: &str = "waitless";
/// The `framework-hello` bin of this crate: the same endpoints through the `waitless` framework.
pub const FRAMEWORK_HELLO: &str = "framework-hello";
pub const FLOOR: &str = "floor";

const SLEEP: &[&str] = &["/sleep"];
const SLEEP_USERS: &[&str] = &["/sleep", "/users"];

pub fn all_servers() -> Vec<Server> {
    let s = |name, kind, extra| Server {
        name,
        kind,
        extra,
        tls: false,
    };
    vec![
        Server {
            tls: true,
            ..s(WAITLESS, Kind::App("hello"), SLEEP)
        },
        s(FRAMEWORK_HELLO, Kind::App("framework-hello"), &["/users"]),
        s(FLOOR, Kind::Rust("peer-floor"), &[]),
        s("hyper", Kind::Rust("peer-hyper"), SLEEP),
        s("axum", Kind::Rust("peer-axum"), SLEEP_USERS),
        s("actix", Kind::Rust("peer-actix"), SLEEP),
        s("may-minihttp", Kind::Rust("peer-may-minihttp"), SLEEP),
        s("uvicorn", Kind::Uvicorn, SLEEP_USERS),
        s("node", Kind::Node, SLEEP),
    ]
}

/// A peer in the sense of the targets: not waitless (hello or the framework), not the floor.
pub fn is_peer(name: &str) -> bool {
    name != WAITLESS && name != FRAMEWORK_HELLO && name != FLOOR
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
    /// Starts `server` on a free port, over HTTPS with `tls`, and waits (≤ 30 s) until the port
    /// accepts.
    pub fn start(server: &Server, root: &Path, tls: Option<&TlsFiles>) -> Result<Running, String> {
        let port = free_port();
        let p = port.to_string();
        let mut cmd = Command::new("taskset");
        cmd.args(["-c", "0"]);
        match server.kind {
            Kind::App(bin) => app_args(&mut cmd, &root.join("target/release").join(bin), &p, tls),
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

/// The gateway's CLI for an app: one process, no access log (like every peer, and uvicorn with
/// `--no-access-log`), HTTPS with `tls`.
fn app_args(cmd: &mut Command, bin: &Path, port: &str, tls: Option<&TlsFiles>) {
    cmd.arg(bin)
        .args(["--host", "127.0.0.1", "--port", port, "--workers", "1"]);
    // An older hello without the flag still runs (with its log on).
    let help = run_bounded(Command::new(bin).arg("--help"), Duration::from_secs(10));
    if matches!(&help, Ok((_, out, err)) if out.contains("--no-access-log") || err.contains("--no-access-log"))
    {
        cmd.args(["--no-access-log", "--log-level", "warning"]);
    }
    if let Some(t) = tls {
        cmd.arg("--ssl-certfile")
            .arg(&t.cert)
            .arg("--ssl-keyfile")
            .arg(&t.key);
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

/// What every server answers on [`USERS_PATH`] (field order is FastAPI's, serde's and the
/// contract's).
const USERS_BODY: &str = r#"{"user_id":42,"limit":5,"q":"abc"}"#;

/// Checks the TechEmpower rules we rely on; returns the problems found.
pub fn check_server(server: &Server, addr: SocketAddr) -> Vec<String> {
    let mut bad = Vec::new();
    let mut paths = vec![
        ("/plaintext", "Hello, World!", "text/plain"),
        ("/json", "\"message\":\"Hello, World!\"", "application/json"),
    ];
    if server.serves("/sleep") {
        paths.push(("/sleep?ms=1", "", ""));
    }
    if server.serves(USERS_PATH) {
        paths.push((USERS_PATH, USERS_BODY, "application/json"));
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
            Kind::App(bin) => prepare_app(root, s.name, bin, build),
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

/// The package an app's binary belongs to, and whether that package may be missing (hello, in a
/// checkout from before it existed).
fn app_package(bin: &str) -> (&'static str, bool) {
    match bin {
        "hello" => ("hello", true),
        _ => ("waitless-benches", false),
    }
}

fn prepare_app(root: &Path, name: &str, bin: &str, build: bool) -> bool {
    let (package, may_be_missing) = app_package(bin);
    if may_be_missing && !package_exists(root, package) {
        println!("skipping {name}: the `{package}` package does not exist yet");
        return false;
    }
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root)
        .args(["build", "--release", "-p", package, "--bin", bin]);
    if build && !step(&mut cmd) {
        println!("skipping {name}: `{}` failed", show(&cmd));
        return false;
    }
    let there = root.join("target/release").join(bin).is_file();
    if !there {
        println!("skipping {name}: no target/release/{bin}");
    }
    there
}

fn package_exists(root: &Path, package: &str) -> bool {
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
    let needle = format!("\"name\":\"{package}\"");
    matches!(&meta, Ok((_, out, _)) if out.contains(&needle))
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
