//! Sockets: TCP, UDP and unix-domain, on top of [`Async`](crate::Async).
//!
//! Why the types are thin: every one of them is an `Async<OwnedFd>` plus the calls that make
//! sense for its kind. Readiness, the short-read rule, the cooperative budget and deregistration
//! all live in `Async`; the socket syscalls and `sockaddr` conversions live in `sys::socket`.
//! What is left here is the API shape (std's, made async) and the choices a server cares about:
//! `accept4` returns sockets that start readable, listeners take their options before `bind`.

mod resolve;
mod tcp;
mod udp;
mod unix;

pub use resolve::{resolve, Resolve};
pub use tcp::{ListenOptions, TcpListener, TcpStream, DEFAULT_BACKLOG};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};

/// Implements `AsyncRead`/`AsyncWrite` for a stream type (and `&` it) whose `io` field is an
/// `Async<OwnedFd>`; `close` shuts the write half down (sends FIN) and reading stays possible.
macro_rules! impl_stream_io {
    ($ty:ty) => {
        impl futures_lite::io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_read(cx, buf)
            }

            fn poll_read_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_read_vectored(cx, bufs)
            }
        }

        impl futures_lite::io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.io.poll_write_vectored(cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(
                    match crate::sys::socket::shutdown(
                        std::os::fd::AsRawFd::as_raw_fd(&self.io),
                        std::net::Shutdown::Write,
                    ) {
                        Err(e) if e.kind() == std::io::ErrorKind::NotConnected => Ok(()),
                        res => res,
                    },
                )
            }
        }
    };
}
pub(crate) use impl_stream_io;

/// The common methods of a connected stream type whose `io` field is an `Async<OwnedFd>`.
macro_rules! stream_methods {
    () => {
        /// Shuts down the read half, the write half (sends FIN after queued data) or both.
        pub fn shutdown(&self, how: std::net::Shutdown) -> std::io::Result<()> {
            crate::sys::socket::shutdown(std::os::fd::AsRawFd::as_raw_fd(&self.io), how)
        }

        /// Waits until the stream is readable (does not clear readiness; see [`Async`]).
        ///
        /// [`Async`]: crate::Async
        pub async fn readable(&self) -> std::io::Result<()> {
            self.io.readable().await
        }

        /// The poll form of [`readable`](Self::readable).
        pub fn poll_readable(
            &self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.io.poll_readable(cx)
        }

        /// Waits until the stream is writable (does not clear readiness; see [`Async`]).
        ///
        /// [`Async`]: crate::Async
        pub async fn writable(&self) -> std::io::Result<()> {
            self.io.writable().await
        }

        /// Runs `op` on the socket once; clears readiness if it answers `WouldBlock`
        /// (see [`Async::try_io`](crate::Async::try_io)).
        pub fn try_io<R>(
            &self,
            interest: crate::Interest,
            op: impl FnOnce() -> std::io::Result<R>,
        ) -> std::io::Result<R> {
            self.io.try_io(interest, |_| op())
        }

        /// Reads into `buf` (the poll form of `AsyncReadExt::read`).
        pub fn poll_read(
            &self,
            cx: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.io.poll_read(cx, buf)
        }

        /// Reads into several buffers, in order, with one `readv` (see
        /// [`Async::poll_read_vectored`](crate::Async::poll_read_vectored)).
        pub fn poll_read_vectored(
            &self,
            cx: &mut std::task::Context<'_>,
            bufs: &mut [std::io::IoSliceMut<'_>],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.io.poll_read_vectored(cx, bufs)
        }

        /// Writes from `buf`.
        pub fn poll_write(
            &self,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.io.poll_write(cx, buf)
        }

        /// Writes from several buffers in one `writev` (at most 1024 of them per call).
        pub fn poll_write_vectored(
            &self,
            cx: &mut std::task::Context<'_>,
            bufs: &[std::io::IoSlice<'_>],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.io.poll_write_vectored(cx, bufs)
        }

        /// Reads into `buf` without consuming the data (`MSG_PEEK`).
        pub async fn peek(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            std::future::poll_fn(|cx| self.io.poll_peek(cx, buf)).await
        }
    };
}
pub(crate) use stream_methods;
