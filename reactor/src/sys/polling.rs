//! The portable backend: the `polling` crate in edge-triggered mode (kqueue, event ports, ...).
//!
//! On Linux this backend is only built with `RUSTFLAGS="--cfg waitless_polling_backend"`, to
//! compare its syscall count with the raw epoll backend.

use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::Duration;

use polling::{Event, PollMode};

use super::Ready;

pub(crate) struct Poller {
    poller: Arc<polling::Poller>,
}

/// The portable notifier wakes whichever poller it is attached to. It takes a lock per
/// notification (this backend is the slow, portable one; the epoll backend takes none).
pub(crate) struct Notify {
    poller: std::sync::Mutex<Option<Arc<polling::Poller>>>,
}

pub(crate) struct Events {
    events: polling::Events,
}

impl Events {
    pub(crate) fn with_capacity(cap: usize) -> Events {
        let cap = std::num::NonZeroUsize::new(cap.max(1)).unwrap_or(std::num::NonZeroUsize::MIN);
        Events {
            events: polling::Events::with_capacity(cap),
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, Ready)> + '_ {
        self.events.iter().map(|ev| {
            let mut r = 0;
            if ev.readable {
                r |= Ready::READABLE;
            }
            if ev.writable {
                r |= Ready::WRITABLE;
            }
            if ev.is_interrupt() {
                r |= Ready::READ_CLOSED | Ready::WRITE_CLOSED;
            }
            if ev.is_err() == Some(true) {
                r |= Ready::READ_CLOSED | Ready::WRITE_CLOSED;
            }
            (ev.key, Ready(r))
        })
    }

    /// `polling` hides notifier events, so every wake may have been a notification.
    pub(crate) fn notified(&self) -> bool {
        true
    }
}

impl Poller {
    pub(crate) fn new() -> io::Result<Poller> {
        let poller = Arc::new(polling::Poller::new()?);
        if !poller.supports_edge() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "waitless-reactor needs edge-triggered readiness, which this platform's poller lacks",
            ));
        }
        Ok(Poller { poller })
    }

    pub(crate) fn attach(&self, notify: &Notify) -> io::Result<()> {
        *notify
            .poller
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(self.poller.clone());
        Ok(())
    }

    pub(crate) fn add(&self, fd: RawFd, token: usize) -> io::Result<()> {
        // SAFETY: the reactor deletes every source (NEEDS_DELETE) before its fd is closed.
        unsafe {
            self.poller
                .add_with_mode(fd, Event::all(token), PollMode::Edge)
        }
    }

    /// `polling` requires an explicit delete before the fd is closed.
    pub(crate) const NEEDS_DELETE: bool = true;

    /// `polling` has no read-closed event (no `EPOLLRDHUP`; kqueue's `EV_EOF` is not exposed): a
    /// peer's FIN shows up only as one more readable edge, usually the edge of the data before it.
    /// So a short read does not prove a stream drained here: the end of stream may already be
    /// queued behind the data with its edge spent, and waiting for another edge would wait forever
    /// (`large_transfer_respects_backpressure` hung this way). Reads go on until `WouldBlock` or 0.
    pub(crate) const REPORTS_READ_CLOSED: bool = false;

    pub(crate) fn delete(&self, fd: RawFd) -> io::Result<()> {
        // SAFETY: `fd` is still open: the reactor deletes a source before closing its fd.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        self.poller.delete(fd)
    }

    pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        events.events.clear();
        match self.poller.wait(&mut events.events, timeout) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl Notify {
    pub(crate) fn new() -> io::Result<Notify> {
        Ok(Notify {
            poller: std::sync::Mutex::new(None),
        })
    }

    pub(crate) fn reset(&self) {}

    pub(crate) fn notify(&self) -> io::Result<()> {
        let poller = self
            .poller
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match poller {
            Some(p) => p.notify(),
            None => Ok(()),
        }
    }
}
