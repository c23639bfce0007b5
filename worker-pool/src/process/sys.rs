//! The syscalls of the process pool: socketpair, starting a pool process, pidfd, kill.
//!
//! This file and the one `from_raw_fd` in `child.rs` hold the crate's only `unsafe` code.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

/// Environment variable that marks a pool process; its value is the socket's fd number.
pub(crate) const POOL_PROCESS_ENV: &str = "WAITLESS_POOL_PROCESS";
/// Environment variable carrying the frame size limit to the pool process.
pub(crate) const MAX_FRAME_ENV: &str = "WAITLESS_POOL_MAX_FRAME";

fn cvt(n: libc::c_int) -> io::Result<libc::c_int> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n)
    }
}

/// A connected pair of unix stream sockets, both close-on-exec.
pub(crate) fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let ty = libc::SOCK_STREAM | libc::SOCK_CLOEXEC;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let ty = libc::SOCK_STREAM;
    // SAFETY: `fds` is a valid array of two ints for the kernel to fill.
    cvt(unsafe { libc::socketpair(libc::AF_UNIX, ty, 0, fds.as_mut_ptr()) })?;
    // SAFETY: on success both fds are new and owned by nobody else.
    let pair = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    for fd in [pair.0.as_raw_fd(), pair.1.as_raw_fd()] {
        // SAFETY: F_SETFD takes no pointer; `fd` is open.
        cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) })?;
    }
    Ok(pair)
}

/// The program a pool process executes: the running binary itself.
///
/// On Linux `/proc/self/exe` names the very file this process was started from, even if the path
/// was replaced since (the std docs warn that `current_exe`'s path "should not be trusted"); the
/// fork in `Command::spawn` inherits it, so the child's `/proc/self/exe` is the same binary.
fn pool_process_program() -> io::Result<std::path::PathBuf> {
    #[cfg(target_os = "linux")]
    {
        let proc_exe = std::path::Path::new("/proc/self/exe");
        if proc_exe.exists() {
            return Ok(proc_exe.to_owned());
        }
    }
    std::env::current_exe()
}

/// Starts a pool process: re-executes this binary with the marker variable pointing at `child_end`.
///
/// In the child, before `execve`: the socket loses close-on-exec (so it survives the exec), the
/// parent-death signal is set to SIGKILL (Linux), and the child leaves the parent's process group,
/// so a Ctrl-C in a terminal reaches the parent, which decides what happens to pool processes.
pub(crate) fn spawn_pool_process(child_end: &OwnedFd, max_frame: usize) -> io::Result<Child> {
    let program = pool_process_program()?;
    let arg0 = std::env::args_os()
        .next()
        .unwrap_or_else(|| program.clone().into_os_string());
    let fd: RawFd = child_end.as_raw_fd();
    let parent = std::process::id();
    let mut cmd = Command::new(&program);
    cmd.arg0(arg0)
        .env(POOL_PROCESS_ENV, fd.to_string())
        .env(MAX_FRAME_ENV, max_frame.to_string())
        .stdin(Stdio::null());
    // SAFETY: the closure runs in the forked child before exec and only issues async-signal-safe
    // syscalls (fcntl, prctl, getppid, setpgid); it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            cvt(libc::fcntl(fd, libc::F_SETFD, 0))?;
            #[cfg(any(target_os = "linux", target_os = "android"))]
            {
                cvt(libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ))?;
                // The parent may have died between fork and prctl: then nobody would kill us.
                if libc::getppid() as u32 != parent {
                    libc::_exit(1);
                }
            }
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            let _ = parent;
            cvt(libc::setpgid(0, 0))?;
            Ok(())
        });
    }
    cmd.spawn()
}

/// A pidfd for `pid` (Linux ≥ 5.3): readable once the process has exited. `None` elsewhere.
pub(crate) fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: pidfd_open takes two integers; on success it returns a new fd we own.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
        if fd >= 0 {
            // SAFETY: `fd` is a new descriptor owned by nobody else.
            return Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
        }
        None
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = pid;
        None
    }
}
