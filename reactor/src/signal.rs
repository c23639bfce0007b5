//! Unix signals as an async stream: a self-pipe per [`Signals`].
//!
//! Why a self-pipe and not `signalfd`: a `signalfd` only sees signals that are *blocked* in
//! every thread of the process, which a library cannot arrange (threads started before it, or
//! by other libraries, keep the default mask, and a signal delivered there takes its default
//! action). A handler installed with `sigaction` runs whichever thread the kernel picks; it
//! writes the signal number into a socket that the loop reads like any other fd. The handler
//! does only async-signal-safe things: one atomic load and one `send(MSG_DONTWAIT |
//! MSG_NOSIGNAL)`; a full socket drops the byte (the loop has one queued already).
//!
//! Each signal is routed to the newest live `Signals` that asked for it. The write end of a
//! dropped `Signals` is deliberately never closed: a handler running concurrently may still
//! hold its number, and closing it could let the number be reused by an unrelated file that
//! the handler would then write into. That costs one fd per `Signals` ever created; a program
//! creates one or two.

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use crate::fd::Async;
use crate::sys::{self, cvt, socket, FdKind};

/// Highest signal number handled (Linux real-time signals end at 64).
const MAX_SIGNAL: usize = 64;

/// Write end of the socket each signal is routed to (-1: none).
static ROUTES: [AtomicI32; MAX_SIGNAL + 1] = [const { AtomicI32::new(-1) }; MAX_SIGNAL + 1];

/// Every signal handled so far, one bit each (`1 << (sig - 1)`).
static DELIVERED: AtomicU64 = AtomicU64::new(0);
/// Per signal: the signals whose earlier delivery makes this one end the process (0: none).
static REPEAT_ARMS: [AtomicU64; MAX_SIGNAL + 1] = [const { AtomicU64::new(0) }; MAX_SIGNAL + 1];
/// Per signal: the exit code for that forced end.
static REPEAT_CODE: [AtomicI32; MAX_SIGNAL + 1] = [const { AtomicI32::new(0) }; MAX_SIGNAL + 1];

fn bit(sig: libc::c_int) -> u64 {
    1u64 << (sig - 1)
}

extern "C" fn on_signal(sig: libc::c_int) {
    let Some(route) = usize::try_from(sig).ok().and_then(|s| ROUTES.get(s)) else {
        return;
    };
    let before = DELIVERED.fetch_or(bit(sig), Ordering::AcqRel);
    let idx = sig as usize; // in 1..=MAX_SIGNAL: `ROUTES.get` succeeded
    if before & REPEAT_ARMS[idx].load(Ordering::Acquire) != 0 {
        // SAFETY: _exit is async-signal-safe and takes an integer only.
        unsafe { libc::_exit(REPEAT_CODE[idx].load(Ordering::Acquire)) };
    }
    let fd = route.load(Ordering::Acquire);
    if fd < 0 {
        return;
    }
    let byte = sig as u8;
    // SAFETY: errno is saved and restored around `send` so the interrupted code never sees it
    // change; `send` is async-signal-safe and reads one byte from a live local.
    unsafe {
        let errno = *errno_location();
        libc::send(
            fd,
            (&byte as *const u8).cast(),
            1,
            libc::MSG_DONTWAIT | sys::NOSIGNAL,
        );
        *errno_location() = errno;
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
unsafe fn errno_location() -> *mut libc::c_int {
    // SAFETY: returns the calling thread's errno slot; always valid.
    unsafe { libc::__errno_location() }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
unsafe fn errno_location() -> *mut libc::c_int {
    // SAFETY: returns the calling thread's errno slot; always valid.
    unsafe { libc::__error() }
}

/// A stream of the signals it was created for, received on this thread's loop.
///
/// ```
/// use waitless_reactor::signal::Signals;
/// waitless_executor::block_on(async {
///     let mut signals = Signals::new(&[libc::SIGUSR1]).unwrap();
///     // SAFETY: raising a signal that has a handler installed is harmless.
///     unsafe { libc::raise(libc::SIGUSR1) };
///     assert_eq!(signals.recv().await.unwrap(), libc::SIGUSR1);
/// });
/// ```
///
/// While it exists, the signals it asked for no longer take their default action (a SIGTERM
/// no longer ends the process: the program decides). Dropping it does not restore the default
/// disposition; signals routed to nobody are ignored.
pub struct Signals {
    io: Async<OwnedFd>,
    write: RawFd,
    signals: Vec<libc::c_int>,
}

impl Signals {
    /// Installs handlers for `signals` and routes them to the new stream. `SIGKILL`, `SIGSTOP`
    /// and numbers outside 1..=64 are refused with `InvalidInput`.
    pub fn new(signals: &[libc::c_int]) -> io::Result<Signals> {
        for &sig in signals {
            if !(1..=MAX_SIGNAL as libc::c_int).contains(&sig)
                || sig == libc::SIGKILL
                || sig == libc::SIGSTOP
            {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("signal {sig} cannot be handled"),
                ));
            }
        }
        let (read, write) = socket::socketpair(libc::SOCK_STREAM)?;
        let io = Async::register(read, FdKind::OWN_STREAM, 0)?;
        let write = write.into_raw_fd(); // never closed: see the module docs
        for &sig in signals {
            ROUTES[sig as usize].store(write, Ordering::Release);
            // SAFETY: `act` is a zeroed sigaction filled with a handler that only performs
            // async-signal-safe operations; the old action is not requested.
            unsafe {
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = on_signal as *const () as usize;
                act.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut act.sa_mask);
                cvt(libc::sigaction(sig, &act, std::ptr::null_mut()))?;
            }
        }
        Ok(Signals {
            io,
            write,
            signals: signals.to_vec(),
        })
    }

    /// Makes a repeated stop signal end the process at once: once any signal of this stream has
    /// been delivered, a later `sig` (one of this stream's) calls `_exit(code)` inside the
    /// handler — so it works even while the loop is busy and cannot read the stream. This is
    /// the "second Ctrl-C" of servers: the first starts a graceful shutdown, the second ends
    /// it now (the runner uses `exit_on_repeat(libc::SIGINT, 130)`).
    ///
    /// ```
    /// use waitless_reactor::signal::Signals;
    /// waitless_executor::block_on(async {
    ///     let signals = Signals::new(&[libc::SIGTERM, libc::SIGINT]).unwrap();
    ///     signals.exit_on_repeat(libc::SIGINT, 130).unwrap();
    /// });
    /// ```
    pub fn exit_on_repeat(&self, sig: libc::c_int, code: i32) -> io::Result<()> {
        if !self.signals.contains(&sig) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("signal {sig} is not one of this stream's"),
            ));
        }
        let arms = self.signals.iter().fold(0, |m, &s| m | bit(s));
        REPEAT_CODE[sig as usize].store(code, Ordering::Release);
        REPEAT_ARMS[sig as usize].store(arms, Ordering::Release);
        Ok(())
    }

    /// The next signal received (in arrival order; several deliveries of one signal between two
    /// reads may arrive as one, as the kernel itself merges pending standard signals).
    pub async fn recv(&mut self) -> io::Result<libc::c_int> {
        let mut byte = [0u8; 1];
        let fd = self.io.as_raw_fd();
        let n = poll_fn(|cx| self.io.poll_read_with(cx, |_| sys::read(fd, &mut byte))).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(libc::c_int::from(byte[0]))
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for &sig in &self.signals {
            REPEAT_ARMS[sig as usize].store(0, Ordering::Release);
            let _ = ROUTES[sig as usize].compare_exchange(
                self.write,
                -1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
        }
    }
}

impl std::fmt::Debug for Signals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signals")
            .field("signals", &self.signals)
            .finish()
    }
}
