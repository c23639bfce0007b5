//! A private `redis-server` for one test: a free loopback port, a temporary directory, no
//! persistence; killed (and its directory removed) on drop.
//!
//! Shared by path with the showcase's tests (`#[path = …]`), like the framework's CDP client.
//! Without `redis-server` on `PATH` a test prints why it skipped; with
//! `WAITLESS_REQUIRE_COMPONENTS=1` (what `.ci/run` sets) that is a failure instead.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a server may take to say it is ready.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// Skips a test with a printed reason, or fails it when components are required (the rule of
/// `framework/tests/common/mod.rs`).
pub fn skip(test: &str, reason: &str) {
    if std::env::var("WAITLESS_REQUIRE_COMPONENTS").is_ok_and(|v| v == "1") {
        panic!("{test}: {reason} (WAITLESS_REQUIRE_COMPONENTS=1)");
    }
    eprintln!("SKIPPED {test}: {reason}");
}

/// Whether `redis-server` is installed.
pub fn available() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A running `redis-server`.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts one, or returns `None` after [`skip`] when `redis-server` is not installed.
    pub fn start(test: &str) -> Option<RedisServer> {
        if !available() {
            skip(
                test,
                "redis-server is not installed (apt-get install redis-server)",
            );
            return None;
        }
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "waitless-redis-{}-{port}-{}",
            std::process::id(),
            test.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut server = RedisServer {
            child: None,
            port,
            dir,
        };
        server.launch();
        Some(server)
    }

    /// `redis://127.0.0.1:<port>/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills the server (SIGKILL: its memory, hence every queue, is gone).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    fn launch(&mut self) {
        let mut command = Command::new("redis-server");
        die_with_parent(&mut command);
        let mut child = command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--save", "", "--appendonly", "no", "--loglevel", "notice"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("Ready to accept connections") {
                    let _ = tx.send(());
                }
            }
        });
        self.child = Some(child);
        if rx.recv_timeout(READY_WITHIN).is_err() {
            self.kill();
            panic!(
                "redis-server on port {} not ready within {READY_WITHIN:?}",
                self.port
            );
        }
    }

    /// A plain connection for a test's own commands.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .expect("connect to the test's redis-server")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The child gets SIGKILL when the thread that started it exits, so a test binary that dies
/// without unwinding (its watchdog's `exit`, a SIGKILL) leaves no server or worker behind.
pub fn die_with_parent(command: &mut Command) {
    // SAFETY: between fork and exec the closure only calls prctl, which is async-signal-safe,
    // and allocates nothing.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}
