//! Child processes and this process's own limits: every command the harness runs has a bounded
//! wait (a stuck peer or wrk must not hang the run), and the harness raises its file limit (the
//! idle case opens 10,000 sockets) and its priority (inherited by servers and wrk, so that other
//! work on a shared machine yields to the measurement).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `cmd` to completion, killing it after `limit`; returns (success, stdout, stderr).
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> Result<(bool, String, String), String> {
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
pub fn step(cmd: &mut Command) -> bool {
    eprintln!("$ {}", show(cmd));
    matches!(cmd.status(), Ok(s) if s.success())
}

pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

pub fn on_path(prog: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
}

pub fn raise_nofile() -> u64 {
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
pub fn raise_priority() -> bool {
    // SAFETY: plain syscall on this process.
    let ok = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, -20) } == 0;
    if !ok {
        eprintln!("note: could not raise the priority (needs root): other work on the machine will add noise");
    }
    ok
}
