//! The multi-process runner, with real processes of the `probe` example (it answers with the pid
//! of the worker that served the request): worker count, restart after SIGKILL, graceful
//! SIGTERM, rolling restart on SIGHUP, the crash-loop guard and recycling.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);

fn probe_path() -> PathBuf {
    // tests run from target/<profile>/deps; `cargo test` builds examples into ../examples.
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join("examples")
        .join(format!("probe{}", std::env::consts::EXE_SUFFIX))
}

struct Server {
    child: Child,
    addr: SocketAddr,
    stderr: mpsc::Receiver<String>,
}

impl Server {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(probe_path());
        cmd.args(["--port", "0", "--log-level", "info"]).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn probe");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (line_tx, line_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = line_tx.send(line);
            }
        });
        let (err_tx, err_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = err_tx.send(line);
            }
        });
        let line = line_rx.recv_timeout(DEADLINE).expect("no listening line");
        let addr = line
            .strip_prefix("waitless: listening on http://")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Server {
            child,
            addr,
            stderr: err_rx,
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill takes no pointers.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// Waits for the supervisor to exit; its exit status.
    fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "supervisor did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stderr_lines(&self) -> Vec<String> {
        self.stderr.try_iter().collect()
    }

    /// Every stderr line up to the end of the stream (call after the process exited: the
    /// reader thread may still be forwarding its last lines).
    fn stderr_to_end(&self) -> Vec<String> {
        let deadline = Instant::now() + DEADLINE;
        let mut lines = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.stderr.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(_) => break, // disconnected: the pipe reached its end
            }
        }
        lines
    }

    /// Waits until a stderr line contains `needle`.
    fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + DEADLINE;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no log line containing {needle:?}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Workers follow the supervisor (PR_SET_PDEATHSIG).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request on a new connection; the pid that answered.
fn get_pid(addr: SocketAddr, path: &str) -> std::io::Result<i32> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(DEADLINE))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    if !resp.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(format!("bad response {resp:?}")));
    }
    resp.rsplit("\r\n\r\n")
        .next()
        .and_then(|b| b.trim().parse().ok())
        .ok_or_else(|| std::io::Error::other("no pid in body"))
}

/// Collects distinct worker pids until `want` are seen (bounded by count and time).
fn distinct_pids(addr: SocketAddr, want: usize) -> Vec<i32> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    for _ in 0..5000 {
        if let Ok(pid) = get_pid(addr, "/pid") {
            if !seen.contains(&pid) {
                seen.push(pid);
            }
        }
        if seen.len() >= want || Instant::now() > deadline {
            break;
        }
    }
    seen
}

#[test]
fn two_workers_serve_from_two_processes() {
    let server = Server::start(&["--workers", "2"], &[]);
    let pids = distinct_pids(server.addr, 2);
    assert_eq!(pids.len(), 2, "saw only {pids:?}");
    assert!(
        !pids.contains(&server.pid()),
        "the supervisor itself served a request"
    );
}

#[test]
fn a_killed_worker_is_replaced_and_service_continues() {
    killed_worker_is_replaced(&["--workers", "2"]);
}

#[test]
fn reuse_port_mode_also_survives_a_killed_worker() {
    // One SO_REUSEPORT socket per worker slot, kept open by the supervisor: the replacement
    // takes over the dead worker's socket and whatever is queued on it.
    killed_worker_is_replaced(&["--workers", "2", "--reuse-port"]);
}

fn killed_worker_is_replaced(args: &[&str]) {
    let server = Server::start(args, &[]);
    let pids = distinct_pids(server.addr, 2);
    assert_eq!(pids.len(), 2);
    let victim = pids[0];
    // SAFETY: kill takes no pointers.
    unsafe { libc::kill(victim, libc::SIGKILL) };
    let killed_at = Instant::now();
    // Requests keep succeeding: the longest run of failures after the kill stays under 2 s.
    let mut first_ok_after = None;
    let mut replacement = None;
    while killed_at.elapsed() < Duration::from_secs(10) && replacement.is_none() {
        if let Ok(pid) = get_pid(server.addr, "/pid") {
            first_ok_after.get_or_insert(killed_at.elapsed());
            if !pids.contains(&pid) {
                replacement = Some(pid);
            }
        }
    }
    let ok_after = first_ok_after.expect("no request succeeded after the kill");
    assert!(
        ok_after < Duration::from_secs(2),
        "service interrupted for {ok_after:?}"
    );
    let replacement = replacement.expect("no replacement worker appeared");
    assert_ne!(replacement, victim);
    let log = server.stderr_lines().join("\n");
    assert!(
        log.contains(&format!("Worker [{victim}] died (signal 9 (SIGKILL))")),
        "{log}"
    );
}

#[test]
fn sigterm_lets_a_slow_request_finish_then_exits_zero() {
    let mut server = Server::start(&["--workers", "2"], &[]);
    let addr = server.addr;
    let slow = std::thread::spawn(move || get_pid(addr, "/slow?ms=700"));
    server.wait_for_log("slow request started");
    server.signal(libc::SIGTERM);
    let status = server.wait();
    assert!(status.success(), "exit status {status:?}");
    let pid = slow.join().unwrap().expect("the in-flight request failed");
    assert!(pid > 0);
    // The port is closed: new connections are refused.
    assert!(TcpStream::connect(addr).is_err());
}

/// A worker that cannot stop (its thread is blocked, so it never sees SIGTERM) is SIGKILLed
/// `KILL_GRACE` (5 s) after `--timeout-graceful-shutdown` (1 s), and the supervisor exits. Two
/// workers: with one there is no supervisor.
#[test]
fn a_worker_that_does_not_stop_is_killed_after_the_graceful_timeout_and_the_kill_grace() {
    let mut server = Server::start(&["--workers", "2", "--timeout-graceful-shutdown", "1"], &[]);
    let addr = server.addr;
    let blocked = std::thread::spawn(move || get_pid(addr, "/block?ms=60000"));
    server.wait_for_log("blocking request started");
    let t0 = Instant::now();
    server.signal(libc::SIGTERM);
    server.wait_for_log("Workers did not stop in time: killing 1");
    let killed_after = t0.elapsed();
    server.wait();
    assert!(
        killed_after >= Duration::from_millis(5_900) && killed_after < Duration::from_secs(15),
        "killed after {killed_after:?} (expected 1 s + 5 s)"
    );
    assert!(
        blocked.join().unwrap().is_err(),
        "the blocked request was answered"
    );
}

#[test]
fn sighup_restarts_every_worker_without_failing_a_request() {
    let server = Server::start(&["--workers", "2"], &[]);
    let before = distinct_pids(server.addr, 2);
    assert_eq!(before.len(), 2);
    let addr = server.addr;
    let (done_tx, done_rx) = mpsc::channel();
    let (running_tx, running_rx) = mpsc::channel();
    let load = std::thread::spawn(move || {
        let mut results = Vec::new();
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline && done_rx.try_recv().is_err() {
            results.push(get_pid(addr, "/pid"));
            let _ = running_tx.send(());
        }
        results
    });
    running_rx.recv_timeout(DEADLINE).unwrap(); // the load is running
    server.signal(libc::SIGHUP);
    // Load continues until both old workers are gone from the answers.
    let deadline = Instant::now() + DEADLINE;
    let mut fresh = Vec::new();
    while fresh.len() < 2 && Instant::now() < deadline {
        if let Ok(pid) = get_pid(addr, "/pid") {
            if !before.contains(&pid) && !fresh.contains(&pid) {
                fresh.push(pid);
            }
        }
    }
    let _ = done_tx.send(());
    let results = load.join().unwrap();
    let failures: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} requests failed: {failures:?}",
        failures.len(),
        results.len()
    );
    assert_eq!(fresh.len(), 2, "new workers did not take over");
}

#[test]
fn a_crash_loop_stops_the_supervisor_with_a_clear_message() {
    let mut server = Server::start(&["--workers", "2"], &[("PROBE_CRASH", "1")]);
    let status = server.wait();
    assert!(!status.success());
    let log = server.stderr_to_end().join("\n");
    assert!(log.contains("giving up"), "{log}");
}

#[test]
fn limit_max_requests_recycles_workers_without_failures() {
    let server = Server::start(&["--workers", "2", "--limit-max-requests", "5"], &[]);
    let mut pids = Vec::new();
    for _ in 0..40 {
        let pid = get_pid(server.addr, "/pid").expect("a request failed during recycling");
        if !pids.contains(&pid) {
            pids.push(pid);
        }
    }
    assert!(pids.len() >= 4, "workers were not recycled: {pids:?}");
}

#[test]
fn sigttin_adds_a_worker_and_sigttou_removes_one() {
    let server = Server::start(&["--workers", "2"], &[]);
    assert_eq!(distinct_pids(server.addr, 2).len(), 2);
    server.signal(libc::SIGTTIN);
    server.wait_for_log("Received SIGTTIN: 3 workers");
    assert_eq!(
        distinct_pids(server.addr, 3).len(),
        3,
        "no third worker answered"
    );
    server.signal(libc::SIGTTOU);
    server.wait_for_log("stopped (exit code 0)");
    // Still serving with the remaining workers.
    assert!(get_pid(server.addr, "/pid").is_ok());
}

#[test]
fn a_second_sigint_forces_the_exit() {
    let mut server = Server::start(
        &["--workers", "2", "--timeout-graceful-shutdown", "30"],
        &[],
    );
    let addr = server.addr;
    // A request that would hold the graceful shutdown for 10 s.
    let _slow = std::thread::spawn(move || get_pid(addr, "/slow?ms=10000"));
    server.wait_for_log("slow request started");
    let t0 = Instant::now();
    server.signal(libc::SIGINT);
    server.wait_for_log("Received SIGINT");
    server.signal(libc::SIGINT);
    let status = server.wait();
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "forced exit took {:?}",
        t0.elapsed()
    );
    assert_eq!(status.code(), Some(130));
}
