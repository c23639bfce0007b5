//! The operating-system poller behind the reactor.
//!
//! Both backends expose the same small internal API: `Poller::{new, add, delete, wait, notifier}`,
//! an `Events` buffer that yields `(token, Ready)` pairs, and a `Notify` handle that another thread
//! may use to interrupt `wait`.
//!
//! * `epoll` (Linux, Android) talks to the kernel through `libc` directly, so that a steady-state
//!   loop turn costs exactly one `epoll_wait`: the cross-thread notifier is an edge-triggered
//!   `eventfd` that never needs re-arming, and timeouts are passed as milliseconds instead of
//!   programming a `timerfd`.
//! * `polling` (every other platform, or Linux when built with `--cfg waitless_polling_backend`)
//!   uses the `polling` crate in edge mode. It is portable (kqueue, event ports, ...) but on Linux
//!   it clears and re-arms its notifier after every wait and arms a `timerfd` for every timeout:
//!   3–5 syscalls per turn instead of one (see `docs/reactor.md` for the measured difference).

#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    not(waitless_polling_backend)
))]
mod epoll;
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    not(waitless_polling_backend)
))]
pub(crate) use epoll::{Events, Notify, Poller};

#[cfg(any(
    not(any(target_os = "linux", target_os = "android")),
    waitless_polling_backend
))]
mod polling;
#[cfg(any(
    not(any(target_os = "linux", target_os = "android")),
    waitless_polling_backend
))]
pub(crate) use self::polling::{Events, Notify, Poller};

mod fd;
pub(crate) mod socket;

pub(crate) use fd::{peek, read, readv, set_nonblocking, write, writev, FdKind, IOV_MAX, NOSIGNAL};

/// Readiness reported for one source by one wait.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ready(pub(crate) u8);

impl Ready {
    pub(crate) const READABLE: u8 = 1;
    pub(crate) const WRITABLE: u8 = 2;
    /// The peer shut down its write half (or the connection is gone): reads will not block.
    pub(crate) const READ_CLOSED: u8 = 4;
    /// Hang-up or error: writes will not block (they fail).
    pub(crate) const WRITE_CLOSED: u8 = 8;
}

/// A syscall return value whose error sentinel is `-1` (or any negative value).
pub(crate) trait SysRet: Copy {
    fn is_err(self) -> bool;
}

macro_rules! impl_sys_ret {
    ($($t:ty)*) => {$(
        impl SysRet for $t {
            fn is_err(self) -> bool {
                self < 0
            }
        }
    )*};
}

impl_sys_ret!(i32 i64 isize);

/// The one syscall-result helper: a negative return becomes the thread's last OS error
/// (`errno`), anything else is passed through.
pub(crate) fn cvt<T: SysRet>(ret: T) -> std::io::Result<T> {
    if ret.is_err() {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}
