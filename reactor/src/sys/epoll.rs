//! Bindings to epoll (Linux, Android), edge-triggered, with an `eventfd` notifier.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::{cvt as check, Ready};

/// Token reserved for the notifier's eventfd.
const NOTIFY_TOKEN: u64 = u64::MAX;

/// Interest registered for every source: both directions, edge-triggered, with peer half-close.
const INTEREST: u32 = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;

/// An epoll instance. Its notifier is returned separately by [`Poller::new`].
pub(crate) struct Poller {
    /// The epoll file descriptor.
    epoll: OwnedFd,
}

/// The thread-safe half: writing to the eventfd (registered edge-triggered under
/// [`NOTIFY_TOKEN`]) makes a blocked `epoll_wait` return.
pub(crate) struct Notify {
    event_fd: OwnedFd,
}

/// A reusable buffer of kernel events.
pub(crate) struct Events {
    list: Vec<libc::epoll_event>,
    len: usize,
}

impl Events {
    pub(crate) fn with_capacity(cap: usize) -> Events {
        Events {
            list: vec![libc::epoll_event { events: 0, u64: 0 }; cap.max(1)],
            len: 0,
        }
    }

    /// The events of the last wait as `(token, readiness)`, notifier events excluded.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, Ready)> + '_ {
        self.list[..self.len].iter().filter_map(|ev| {
            // Copy out of the (packed on x86_64) struct before reading.
            let (bits, token) = (ev.events, ev.u64);
            (token != NOTIFY_TOKEN).then(|| (token as usize, to_ready(bits)))
        })
    }

    /// Whether the last wait was (also) ended by the notifier.
    pub(crate) fn notified(&self) -> bool {
        self.list[..self.len].iter().any(|ev| {
            let token = ev.u64;
            token == NOTIFY_TOKEN
        })
    }
}

fn to_ready(bits: u32) -> Ready {
    let mut r = 0;
    if bits & (libc::EPOLLIN | libc::EPOLLPRI) as u32 != 0 {
        r |= Ready::READABLE;
    }
    if bits & libc::EPOLLOUT as u32 != 0 {
        r |= Ready::WRITABLE;
    }
    if bits & libc::EPOLLRDHUP as u32 != 0 {
        r |= Ready::READ_CLOSED;
    }
    if bits & (libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0 {
        r |= Ready::READ_CLOSED | Ready::WRITE_CLOSED;
    }
    Ready(r)
}

impl Poller {
    pub(crate) fn new() -> io::Result<Poller> {
        // SAFETY: epoll_create1 takes no pointers; a non-negative result is a new fd we own.
        let epoll =
            unsafe { OwnedFd::from_raw_fd(check(libc::epoll_create1(libc::EPOLL_CLOEXEC))?) };
        Ok(Poller { epoll })
    }

    /// Registers `notify` as this poller's wake-up source. A notifier is recycled across
    /// reactors (see `reactor.rs`), so it is attached to each new poller in turn; the old
    /// poller's registration died with its epoll fd.
    pub(crate) fn attach(&self, notify: &Notify) -> io::Result<()> {
        // Edge-triggered: every write to the eventfd produces a fresh event, so the counter never
        // has to be read back (no syscall after a notification).
        self.ctl(
            libc::EPOLL_CTL_ADD,
            notify.event_fd.as_raw_fd(),
            (libc::EPOLLIN | libc::EPOLLET) as u32,
            NOTIFY_TOKEN,
        )
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call; epoll_ctl does not
        // keep the pointer. An invalid `fd` is reported as EBADF, not undefined behaviour.
        check(unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut ev) })?;
        Ok(())
    }

    /// Registers `fd` once, for both directions, edge-triggered.
    pub(crate) fn add(&self, fd: RawFd, token: usize) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, INTEREST, token as u64)
    }

    /// epoll forgets a file description when its last fd closes, so closing is enough.
    pub(crate) const NEEDS_DELETE: bool = false;

    /// Registered with `EPOLLRDHUP`: a peer's half-close is its own event, cached as `READ_CLOSED`
    /// (sticky), so a short read may clear `READABLE` without losing an end of stream that
    /// arrived together with the data.
    pub(crate) const REPORTS_READ_CLOSED: bool = true;

    pub(crate) fn delete(&self, fd: RawFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0)
    }

    /// Waits for events: exactly one `epoll_wait` syscall.
    ///
    /// The timeout is rounded *up* to whole milliseconds so a timer never fires early.
    /// An interrupted wait (`EINTR`) returns with no events.
    pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        let ms: libc::c_int = match timeout {
            None => -1,
            Some(t) => {
                let ms = t.as_nanos().div_ceil(1_000_000);
                ms.min(libc::c_int::MAX as u128) as libc::c_int
            }
        };
        let cap = events.list.len().min(libc::c_int::MAX as usize) as libc::c_int;
        // SAFETY: the pointer and capacity describe `events.list`, which outlives the call; the
        // kernel writes at most `cap` entries.
        let n =
            unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), events.list.as_mut_ptr(), cap, ms) };
        if n < 0 {
            events.len = 0;
            let err = io::Error::last_os_error();
            return if err.kind() == io::ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(err)
            };
        }
        events.len = n as usize;
        Ok(())
    }
}

impl Notify {
    pub(crate) fn new() -> io::Result<Notify> {
        // SAFETY: eventfd takes no pointers; a non-negative result is a new fd we own.
        let event_fd = unsafe {
            OwnedFd::from_raw_fd(check(libc::eventfd(
                0,
                libc::EFD_CLOEXEC | libc::EFD_NONBLOCK,
            ))?)
        };
        Ok(Notify { event_fd })
    }

    /// Zeroes the counter before the notifier serves a new poller (so it can never saturate).
    pub(crate) fn reset(&self) {
        let mut value: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from an fd we own; EAGAIN (already zero) is fine.
        unsafe {
            libc::read(
                self.event_fd.as_raw_fd(),
                (&mut value as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }

    /// Wakes the poller: one `write` to the eventfd.
    pub(crate) fn notify(&self) -> io::Result<()> {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to an fd we own.
        let n = unsafe {
            libc::write(
                self.event_fd.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            // EAGAIN means the counter is saturated: a wake-up is already pending.
            if err.kind() != io::ErrorKind::WouldBlock {
                return Err(err);
            }
        }
        Ok(())
    }
}
