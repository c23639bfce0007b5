//! The byte streams a connection can run over: TCP, a Unix socket, an in-memory pipe, TLS.
//!
//! Why an enum and not a generic parameter: `Body` and `Responder` appear in the signature of
//! `App::call`, so a transport type parameter would reach every app. An enum keeps the app
//! contract one type, costs one predictable branch per syscall (nothing measurable next to
//! the syscall itself), and lets the same connection code serve a socket, a test's in-memory
//! pipe (`crate::testing`) and TLS.
//!
//! [`Io`] adds the server's write rule on top: a write that makes no progress for
//! `send_timeout` fails, so a client that stops reading cannot hold a connection forever.

pub(crate) mod memory;
#[cfg(feature = "tls")]
pub(crate) mod tls;

use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_lite::FutureExt;
use waitless_reactor::{sleep, Async, TcpStream};

/// One connection's byte stream.
pub(crate) enum Transport {
    Tcp(TcpStream),
    Unix(Async<UnixStream>),
    Memory(memory::Endpoint),
    #[cfg(feature = "tls")]
    Tls(Box<tls::TlsStream>),
}

impl Transport {
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self {
            Transport::Tcp(s) => s.poll_read(cx, buf),
            Transport::Unix(s) => s.poll_read(cx, buf),
            Transport::Memory(s) => s.poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.poll_read(cx, buf),
        }
    }

    /// Reads into `bufs` in order with one syscall (`readv`) where the transport has one; TLS
    /// reads into the first non-empty buffer (a correct, shorter read: callers loop anyway).
    pub(crate) fn poll_read_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        match self {
            Transport::Tcp(s) => s.poll_read_vectored(cx, bufs),
            Transport::Unix(s) => s.poll_read_vectored(cx, bufs),
            Transport::Memory(s) => s.poll_read_vectored(cx, bufs),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => match bufs.iter_mut().find(|b| !b.is_empty()) {
                Some(first) => s.poll_read(cx, first),
                None => Poll::Ready(Ok(0)),
            },
        }
    }

    /// Writes from `bufs` in order with one syscall (`sendmsg`) where the transport has one;
    /// TLS writes the first non-empty buffer.
    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self {
            Transport::Tcp(s) => s.poll_write_vectored(cx, bufs),
            Transport::Unix(s) => s.poll_write_vectored(cx, bufs),
            Transport::Memory(s) => s.poll_write_vectored(cx, bufs),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => match bufs.iter().find(|b| !b.is_empty()) {
                Some(first) => s.poll_write(cx, first),
                None => Poll::Ready(Ok(0)),
            },
        }
    }

    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self {
            Transport::Tcp(s) => s.poll_write(cx, buf),
            Transport::Unix(s) => s.poll_write(cx, buf),
            Transport::Memory(s) => s.poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.poll_write(cx, buf),
        }
    }

    /// Ready when a read would make progress (data, end of stream or an error). A poll
    /// function, not an `async fn`: an idle connection's wait then holds one pointer.
    pub(crate) fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<()> {
        match self {
            Transport::Tcp(s) => s.poll_readable(cx).map(|_| ()),
            Transport::Unix(s) => s.poll_readable(cx).map(|_| ()),
            Transport::Memory(s) => s.poll_readable(cx),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.poll_readable(cx),
        }
    }

    /// Whether the peer has closed its sending side, looked at without reading (the read
    /// buffer may be full of bytes the server has not consumed yet).
    pub(crate) fn peer_closed(&self) -> bool {
        match self {
            Transport::Tcp(s) => rdhup(s.as_raw_fd()),
            Transport::Unix(s) => rdhup(s.as_raw_fd()),
            Transport::Memory(s) => s.peer_closed(),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.peer_closed(),
        }
    }

    /// Sends any bytes a layered transport (TLS) still holds.
    pub(crate) fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.poll_flush(cx),
            _ => {
                let _ = cx;
                Poll::Ready(Ok(()))
            }
        }
    }
}

/// `poll(2)` with a zero timeout for `POLLRDHUP`: the peer shut down writing (even with data
/// still queued, which a read-based check cannot see past).
fn rdhup(fd: std::os::fd::RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: `pfd` is a valid, initialised pollfd for the duration of the call; nfds is 1.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n > 0 && pfd.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
}

/// Resolves after `timeout` with the error a stalled write reports.
async fn send_timed_out<T>(timeout: Duration) -> io::Result<T> {
    sleep(timeout).await;
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        "no write progress within the send timeout",
    ))
}

/// A transport plus the server's write rule.
pub(crate) struct Io {
    pub(crate) transport: Transport,
    /// A write that makes no progress for this long fails with `TimedOut`.
    pub(crate) send_timeout: Duration,
}

impl Io {
    /// Writes all of `bytes`. Waits while the peer is not reading, but fails with `TimedOut`
    /// once no byte could be written for `send_timeout` (the timer exists only while blocked).
    pub(crate) async fn write_all(&self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let n = match futures_lite::future::poll_once(poll_fn(|cx| {
                self.transport.poll_write(cx, bytes)
            }))
            .await
            {
                Some(res) => res?,
                None => self.write_blocked(bytes).await?,
            };
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            bytes = &bytes[n..];
        }
        match self.transport {
            #[cfg(feature = "tls")]
            Transport::Tls(_) => self.flush().await,
            _ => Ok(()),
        }
    }

    /// Writes all of `head` then all of `tail` with as few syscalls as the transport allows
    /// (one `sendmsg` on a socket that takes both), under the same send-timeout rule as
    /// [`write_all`](Self::write_all). Why: a frame header in the write buffer and a large
    /// payload the app still owns go out together without copying the payload.
    pub(crate) async fn write_all_vectored(&self, head: &[u8], tail: &[u8]) -> io::Result<()> {
        let (mut head, mut tail) = (head, tail);
        while !head.is_empty() {
            let bufs = [IoSlice::new(head), IoSlice::new(tail)];
            let n = match futures_lite::future::poll_once(poll_fn(|cx| {
                self.transport.poll_write_vectored(cx, &bufs)
            }))
            .await
            {
                Some(res) => res?,
                None => {
                    poll_fn(|cx| self.transport.poll_write_vectored(cx, &bufs))
                        .or(send_timed_out(self.send_timeout))
                        .await?
                }
            };
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            let from_head = n.min(head.len());
            head = &head[from_head..];
            tail = &tail[n - from_head..];
        }
        self.write_all(tail).await
    }

    /// The slow path of `write_all`: the peer's window is full; wait, bounded by the timeout.
    async fn write_blocked(&self, bytes: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.transport.poll_write(cx, bytes))
            .or(send_timed_out(self.send_timeout))
            .await
    }

    /// Flushes a layered transport (a no-op for plain sockets).
    pub(crate) async fn flush(&self) -> io::Result<()> {
        poll_fn(|cx| self.transport.poll_flush(cx))
            .or(send_timed_out(self.send_timeout))
            .await
    }

    /// Reads into `buf`, failing with `TimedOut` if nothing arrives for `timeout` (the timer
    /// exists only when the read would block).
    pub(crate) async fn read_timeout(
        &self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> io::Result<usize> {
        let transport = &self.transport;
        if let Some(res) =
            futures_lite::future::poll_once(poll_fn(|cx| transport.poll_read(cx, buf))).await
        {
            return res;
        }
        poll_fn(|cx| transport.poll_read(cx, buf))
            .or(async {
                sleep(timeout).await;
                Err(io::ErrorKind::TimedOut.into())
            })
            .await
    }
}
