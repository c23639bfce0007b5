//! The process and signal syscalls of the runner: the crate's only `unsafe` outside the reactor.

use std::io;
use std::time::Duration;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// The signals the supervisor handles synchronously.
pub(crate) const SUPERVISED: [libc::c_int; 6] = [
    libc::SIGCHLD,
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGTTIN,
    libc::SIGTTOU,
];

fn sigset(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and fill a local sigset_t.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Blocks `signals` for this thread (so they queue for `wait_signal`); returns the old mask.
pub(crate) fn block(signals: &[libc::c_int]) -> io::Result<libc::sigset_t> {
    let set = sigset(signals);
    // SAFETY: both pointers refer to live sigset_t values.
    unsafe {
        let mut old: libc::sigset_t = std::mem::zeroed();
        let ret = libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        if ret != 0 {
            return Err(io::Error::from_raw_os_error(ret));
        }
        Ok(old)
    }
}

/// Restores a mask saved by [`block`].
pub(crate) fn set_mask(mask: &libc::sigset_t) {
    // SAFETY: `mask` is a valid sigset_t; the old mask is not requested.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, mask, std::ptr::null_mut());
    }
}

/// Waits for one of the blocked `signals` for at most `timeout`; `None` on timeout.
pub(crate) fn wait_signal(
    signals: &[libc::c_int],
    timeout: Option<Duration>,
) -> Option<libc::c_int> {
    let set = sigset(signals);
    loop {
        let ret = match timeout {
            None => {
                let mut sig: libc::c_int = 0;
                // SAFETY: `set` and `sig` are live locals.
                let r = unsafe { libc::sigwait(&set, &mut sig) };
                if r == 0 {
                    sig
                } else {
                    -1
                }
            }
            Some(t) => {
                let ts = libc::timespec {
                    tv_sec: t.as_secs().min(i32::MAX as u64) as libc::time_t,
                    tv_nsec: t.subsec_nanos() as libc::c_long,
                };
                // SAFETY: `set` and `ts` are live locals; no siginfo is requested.
                unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &ts) }
            }
        };
        if ret > 0 {
            return Some(ret);
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return None; // EAGAIN: timed out
    }
}

/// The result of `fork`.
pub(crate) enum Fork {
    Parent(libc::pid_t),
    Child,
}

/// Forks the process.
///
/// # Safety
///
/// The calling process must be single-threaded (the child only has the calling thread; any
/// lock held by another thread would stay locked forever).
pub(crate) unsafe fn fork() -> io::Result<Fork> {
    // SAFETY: the caller guarantees the process is single-threaded.
    match cvt(unsafe { libc::fork() })? {
        0 => Ok(Fork::Child),
        pid => Ok(Fork::Parent(pid)),
    }
}

/// Number of threads of this process (from /proc on Linux; 1 where it cannot be read).
pub(crate) fn thread_count() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(1)
}

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    Code(i32),
    Signal(i32),
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit code {c}"),
            Exit::Signal(s) => write!(f, "signal {s} ({})", signal_name(*s)),
        }
    }
}

pub(crate) fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGHUP => "SIGHUP",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        _ => "signal",
    }
}

/// Reaps one exited child without blocking.
pub(crate) fn reap() -> Option<(libc::pid_t, Exit)> {
    let mut status: libc::c_int = 0;
    // SAFETY: `status` is a live local; WNOHANG never blocks.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    if pid <= 0 {
        return None;
    }
    let exit = if libc::WIFSIGNALED(status) {
        Exit::Signal(libc::WTERMSIG(status))
    } else {
        Exit::Code(libc::WEXITSTATUS(status))
    };
    Some((pid, exit))
}

pub(crate) fn kill(pid: libc::pid_t, sig: libc::c_int) {
    // SAFETY: kill takes no pointers; a stale pid yields ESRCH, which is ignored.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// Makes the kernel send `sig` to this process when its parent dies (Linux).
pub(crate) fn die_with_parent(sig: libc::c_int) {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes an integer argument only.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = sig;
}

/// Resets the handlers of signals the supervisor blocked, in a freshly forked child.
pub(crate) fn reset_child_signals() {
    for sig in [libc::SIGHUP, libc::SIGTTIN, libc::SIGTTOU, libc::SIGCHLD] {
        // SAFETY: restores the default disposition.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
}
