//! The showcase binary as a real process tree: started with `--port 0`, its port read from the
//! line it prints, its workers and pool processes found in `/proc`, signalled with `kill(2)`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::procfs;

/// A running `showcase`; killed (whole tree) on drop if still running.
pub struct Showcase {
    child: Child,
    pub addr: SocketAddr,
}

/// `target/release/showcase` next to the running bench binary (both built by
/// `cargo build --release`), or `$SHOWCASE` when set.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("SHOWCASE") {
        return PathBuf::from(p);
    }
    let me = std::env::current_exe().unwrap_or_default();
    me.with_file_name("showcase")
}

impl Showcase {
    /// Starts `showcase --port 0 --no-access-log --log-level warning ARGS` and waits (≤ 30 s)
    /// for its listening line. Its stderr (worker deaths, restarts) goes to ours.
    pub fn start(args: &[&str]) -> Result<Showcase, String> {
        let bin = binary();
        let mut child = Command::new(&bin)
            .args(["--port", "0", "--no-access-log", "--log-level", "warning"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {}: {e} (cargo build --release -p showcase)",
                    bin.display()
                )
            })?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) else {
                break;
            };
            if let Some(rest) = line.strip_prefix("waitless: listening on http://") {
                let at = rest.split_whitespace().next().unwrap_or("");
                let addr = at.parse().map_err(|e| format!("{at}: {e}"))?;
                return Ok(Showcase { child, addr });
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        Err("showcase printed no listening line within 30 s".into())
    }

    /// The supervisor's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The HTTP worker processes: the supervisor's children that are forks of it (same
    /// command name; with `--workers 1` the runner serves in the first process and has none).
    pub fn workers(&self) -> Vec<u32> {
        let name = comm(self.pid());
        children(self.pid())
            .into_iter()
            .filter(|&p| comm(p) == name)
            .collect()
    }

    /// The process-pool processes: descendants started by re-executing the binary (through
    /// `/proc/self/exe`, so their command name is `exe`, not the supervisor's).
    pub fn pool_processes(&self) -> Vec<u32> {
        let name = comm(self.pid());
        procfs::tree(self.pid())
            .into_iter()
            .filter(|&p| p != self.pid() && comm(p) != name)
            .collect()
    }

    /// Sends `sig` to the supervisor.
    pub fn signal(&self, sig: i32) {
        signal(self.pid(), sig);
    }

    /// Waits (polling `waitpid`, bounded by `limit`) for the supervisor to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Showcase {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let tree = procfs::tree(self.pid());
            for pid in tree {
                signal(pid, libc::SIGKILL);
            }
            let _ = self.child.wait();
        }
    }
}

/// The direct children of `pid` (from `/proc/*/stat`).
pub fn children(pid: u32) -> Vec<u32> {
    procfs::tree(pid)
        .into_iter()
        .filter(|&p| procfs::proc_stat(p).is_some_and(|(ppid, _, _)| ppid == pid))
        .collect()
}

fn comm(pid: u32) -> Option<String> {
    procfs::proc_stat(pid).map(|(_, _, comm)| comm)
}

/// `kill(pid, sig)`; a process that is already gone is not an error here.
pub fn signal(pid: u32, sig: i32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) with a plain pid and signal number; it touches no memory of ours.
    unsafe {
        libc::kill(pid, sig);
    }
}
