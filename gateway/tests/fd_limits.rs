//! Running out of file descriptors: the default `--limit-concurrency` keeps a flood of
//! connections under `RLIMIT_NOFILE` (the excess gets `503`), and when `accept` does fail
//! (EMFILE) the accept loop backs off and logs once instead of every 10 ms.
//!
//! The server is the `probe` example in a child process whose open-file limit is lowered to 64
//! (the test process keeps its own, so its client sockets are not limited).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);
const NOFILE: libc::rlim_t = 64;

fn probe_path() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join("examples").join("probe")
}

struct Probe {
    child: Child,
    addr: SocketAddr,
    stderr: mpsc::Receiver<String>,
}

impl Probe {
    fn start(args: &[&str]) -> Probe {
        let mut cmd = Command::new(probe_path());
        cmd.args([
            "--port",
            "0",
            "--workers",
            "1",
            "--log-level",
            "info",
            "--no-access-log",
        ])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        // SAFETY: the closure runs in the forked child before exec and only calls setrlimit,
        // which is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                let lim = libc::rlimit {
                    rlim_cur: NOFILE,
                    rlim_max: NOFILE,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("spawn probe");
        let (out_tx, out_rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = out_tx.send(line);
            }
        });
        let (err_tx, err_rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = err_tx.send(line);
            }
        });
        let line: String = out_rx.recv_timeout(DEADLINE).expect("no listening line");
        let addr = line
            .strip_prefix("waitless: listening on http://")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Probe {
            child,
            addr,
            stderr: err_rx,
        }
    }

    /// Stderr lines containing `needle` that arrive within `window`.
    fn count_logs(&self, needle: &str, window: Duration) -> usize {
        let end = Instant::now() + window;
        let mut n = 0;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(needle) => n += 1,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        n
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a request on a new connection; the status, or `None` if no response came in `wait`.
fn request(addr: SocketAddr, wait: Duration) -> (TcpStream, Option<u16>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(wait)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let mut buf = [0u8; 512];
    let status = match s.read(&mut buf) {
        Ok(n) if n >= 12 => std::str::from_utf8(&buf[9..12])
            .ok()
            .and_then(|c| c.parse().ok()),
        _ => None,
    };
    (s, status)
}

#[test]
fn the_default_concurrency_limit_answers_503_before_descriptors_run_out() {
    let probe = Probe::start(&[]);
    let mut open = Vec::new();
    let (mut ok, mut rejected) = (0, 0);
    for _ in 0..100 {
        let (s, status) = request(probe.addr, DEADLINE);
        match status {
            Some(200) => ok += 1,
            Some(503) => rejected += 1,
            other => panic!("unexpected {other:?} after {ok} served, {rejected} refused"),
        }
        open.push(s); // keep every connection open
    }
    // RLIMIT_NOFILE 64 - max(64/10, 32) = 32 connections served, the rest refused.
    assert_eq!(ok, 32);
    assert_eq!(rejected, 68);
    assert_eq!(
        probe.count_logs("accept failed", Duration::from_millis(200)),
        0
    );
}

#[test]
fn accept_backs_off_and_logs_once_when_descriptors_run_out() {
    // A limit above what the descriptors allow: accept itself fails (EMFILE).
    let probe = Probe::start(&["--limit-concurrency", "100000"]);
    let mut open = Vec::new();
    let mut stuck = None;
    for i in 0..100 {
        let (s, status) = request(probe.addr, Duration::from_millis(300));
        match status {
            Some(200) => open.push(s),
            None => {
                stuck = Some(s);
                assert!(i > 30, "descriptors ran out after only {i} connections");
                break;
            }
            Some(other) => panic!("unexpected status {other}"),
        }
    }
    let mut stuck = stuck.expect("the descriptors never ran out");
    // One line when accept starts failing, none while it backs off (the first round logged a
    // line every 10 ms: ~50 in this window).
    assert_eq!(
        probe.count_logs("accept failed", Duration::from_millis(500)),
        1
    );
    // Free some descriptors: the waiting client is served once accept recovers.
    open.truncate(open.len() - 10);
    stuck.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut buf = [0u8; 512];
    let n = stuck.read(&mut buf).expect("served after recovery");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK"));
}
