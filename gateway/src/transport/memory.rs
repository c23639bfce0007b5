//! An in-memory, bounded, bidirectional byte pipe: the transport of `crate::testing`.
//!
//! Why bounded: the server's backpressure and send-timeout rules are part of what tests check,
//! so a pipe that never fills would hide them. Each direction holds at most `capacity` bytes; a
//! writer beyond that waits for the reader, exactly as with a socket's send buffer.
//! Single-threaded (`Rc<RefCell>`): both ends live on the test's one event loop.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, IoSlice, IoSliceMut};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// One direction of the pipe.
#[derive(Default)]
struct Half {
    bytes: VecDeque<u8>,
    capacity: usize,
    /// The writing end closed (or was dropped): readers see end of stream once drained.
    write_closed: bool,
    /// The reading end was dropped: writes fail with `BrokenPipe`.
    read_closed: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
    /// Writes that moved bytes into this direction, and reads that took bytes out (tests count
    /// syscall-equivalents).
    writes: usize,
    reads: usize,
}

impl Half {
    fn wake_reader(&mut self) {
        if let Some(w) = self.reader.take() {
            w.wake();
        }
    }

    fn wake_writer(&mut self) {
        if let Some(w) = self.writer.take() {
            w.wake();
        }
    }
}

/// One end of an in-memory pipe.
pub(crate) struct Endpoint {
    rx: Rc<RefCell<Half>>,
    tx: Rc<RefCell<Half>>,
}

/// Two connected ends; each direction buffers at most `capacity` bytes.
pub(crate) fn pair(capacity: usize) -> (Endpoint, Endpoint) {
    let half = || {
        Rc::new(RefCell::new(Half {
            capacity: capacity.max(1),
            ..Half::default()
        }))
    };
    let (a_to_b, b_to_a) = (half(), half());
    (
        Endpoint {
            rx: b_to_a.clone(),
            tx: a_to_b.clone(),
        },
        Endpoint {
            rx: a_to_b,
            tx: b_to_a,
        },
    )
}

impl Endpoint {
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut rx = self.rx.borrow_mut();
        if rx.bytes.is_empty() {
            if rx.write_closed || buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            rx.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = take_into(&mut rx.bytes, buf);
        rx.reads += 1;
        rx.wake_writer();
        Poll::Ready(Ok(n))
    }

    /// Scatters what is buffered over `bufs` in order, like `readv` (counted as one read).
    pub(crate) fn poll_read_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut rx = self.rx.borrow_mut();
        let room: usize = bufs.iter().map(|b| b.len()).sum();
        if rx.bytes.is_empty() {
            if rx.write_closed || room == 0 {
                return Poll::Ready(Ok(0));
            }
            rx.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n: usize = bufs.iter_mut().map(|b| take_into(&mut rx.bytes, b)).sum();
        rx.reads += 1;
        rx.wake_writer();
        Poll::Ready(Ok(n))
    }

    /// Gathers `bufs` in order, like `writev` (counted as one write).
    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut tx = self.tx.borrow_mut();
        if tx.read_closed || tx.write_closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let room = tx.capacity.saturating_sub(tx.bytes.len());
        if room == 0 && total > 0 {
            tx.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let mut left = room.min(total);
        let n = left;
        for buf in bufs {
            let take = left.min(buf.len());
            tx.bytes.extend(&buf[..take]);
            left -= take;
        }
        tx.writes += usize::from(n > 0);
        tx.wake_reader();
        Poll::Ready(Ok(n))
    }

    pub(crate) fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut rx = self.rx.borrow_mut();
        if !rx.bytes.is_empty() || rx.write_closed {
            Poll::Ready(())
        } else {
            rx.reader = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let mut tx = self.tx.borrow_mut();
        if tx.read_closed || tx.write_closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let room = tx.capacity.saturating_sub(tx.bytes.len());
        if room == 0 && !buf.is_empty() {
            tx.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(buf.len());
        tx.bytes.extend(&buf[..n]);
        tx.writes += usize::from(n > 0);
        tx.wake_reader();
        Poll::Ready(Ok(n))
    }

    /// The other end closed its sending side.
    pub(crate) fn peer_closed(&self) -> bool {
        self.rx.borrow().write_closed
    }

    /// Closes this end's sending side: the peer reads what is buffered, then end of stream.
    pub(crate) fn close_write(&self) {
        let mut tx = self.tx.borrow_mut();
        tx.write_closed = true;
        tx.wake_reader();
    }

    /// How many writes the peer made into this end (each a `write` syscall on a socket).
    pub(crate) fn writes_received(&self) -> usize {
        self.rx.borrow().writes
    }

    /// How many reads the peer made from what this end wrote.
    pub(crate) fn reads_by_peer(&self) -> usize {
        self.tx.borrow().reads
    }

    /// Bytes written by this end and not yet read by the peer.
    pub(crate) fn unread_by_peer(&self) -> usize {
        self.tx.borrow().bytes.len()
    }
}

/// Moves as many bytes as fit from the front of `from` into `to`; returns how many.
fn take_into(from: &mut VecDeque<u8>, to: &mut [u8]) -> usize {
    let n = to.len().min(from.len());
    let (a, b) = from.as_slices();
    let first = n.min(a.len());
    to[..first].copy_from_slice(&a[..first]);
    to[first..n].copy_from_slice(&b[..n - first]);
    from.drain(..n);
    n
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.close_write();
        let mut rx = self.rx.borrow_mut();
        rx.read_closed = true;
        rx.bytes.clear();
        rx.wake_writer();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;

    #[test]
    fn bounded_both_ways_with_end_of_stream() {
        waitless_executor::block_on(async {
            let (a, b) = pair(4);
            let n = poll_fn(|cx| a.poll_write(cx, b"hello")).await.unwrap();
            assert_eq!(n, 4, "a write beyond the capacity is short");
            let waker = futures_lite::future::poll_once(poll_fn(|cx| a.poll_write(cx, b"o"))).await;
            assert!(waker.is_none(), "a full pipe makes the writer wait");
            let mut buf = [0u8; 8];
            assert_eq!(poll_fn(|cx| b.poll_read(cx, &mut buf)).await.unwrap(), 4);
            assert_eq!(&buf[..4], b"hell");
            a.close_write();
            assert!(b.peer_closed());
            assert_eq!(poll_fn(|cx| b.poll_read(cx, &mut buf)).await.unwrap(), 0);
            drop(b);
            let err = poll_fn(|cx| a.poll_write(cx, b"x")).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        });
    }
}
