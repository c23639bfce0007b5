//! Unix-domain sockets: streams (with a listener) and datagrams.
//!
//! Same rules as TCP and UDP: a `UnixStream` is a stream socket (a short read proves it
//! drained), a `UnixDatagram` is not. Addresses are read back through `std` (one `dup` per
//! query: they are asked for rarely, and std owns the `sockaddr_un` parsing).

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;

use crate::fd::Async;
use crate::sys::{self, socket, FdKind, Ready};

/// A unix-domain stream listener registered with this thread's reactor.
pub struct UnixListener {
    io: Async<OwnedFd>,
}

impl UnixListener {
    /// Binds to `path` (which must not exist) and listens with the default backlog.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let fd = socket::new_socket(libc::AF_UNIX, libc::SOCK_STREAM)?;
        socket::bind(fd.as_raw_fd(), &socket::unix_sockaddr(path.as_ref())?)?;
        socket::listen(fd.as_raw_fd(), crate::DEFAULT_BACKLOG)?;
        Ok(UnixListener {
            io: Async::register(fd, FdKind::OWN_STREAM, 0)?,
        })
    }

    /// Registers a `std` listener (sets it non-blocking).
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: Async::new(OwnedFd::from(listener))?,
        })
    }

    /// Deregisters the listener and returns it as a `std` listener (still non-blocking).
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        self.io.into_inner().map(Into::into)
    }

    /// Accepts one connection; like [`TcpListener::accept`](crate::TcpListener::accept), the
    /// stream starts readable.
    pub async fn accept(&self) -> io::Result<UnixStream> {
        let fd = self
            .io
            .read_with(|fd| socket::accept(fd.as_raw_fd()))
            .await?
            .0;
        Ok(UnixStream {
            io: Async::register(fd, FdKind::OWN_STREAM, Ready::READABLE | Ready::WRITABLE)?,
        })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        std::os::unix::net::UnixListener::from(self.io.get_ref().try_clone()?).local_addr()
    }
}

/// A unix-domain stream socket registered with this thread's reactor.
pub struct UnixStream {
    io: Async<OwnedFd>,
}

impl UnixStream {
    /// Connects to the listener at `path`.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let fd = socket::new_socket(libc::AF_UNIX, libc::SOCK_STREAM)?;
        let in_progress = socket::connect(fd.as_raw_fd(), &socket::unix_sockaddr(path.as_ref())?)?;
        let stream = UnixStream {
            io: Async::register(fd, FdKind::OWN_STREAM, 0)?,
        };
        if in_progress {
            stream.io.writable().await?;
            if let Some(err) = socket::take_error(stream.io.as_raw_fd())? {
                return Err(err);
            }
        }
        Ok(stream)
    }

    /// A connected pair (`socketpair`), both registered with this thread's reactor.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = socket::socketpair(libc::SOCK_STREAM)?;
        Ok((
            UnixStream {
                io: Async::register(a, FdKind::OWN_STREAM, Ready::WRITABLE)?,
            },
            UnixStream {
                io: Async::register(b, FdKind::OWN_STREAM, Ready::WRITABLE)?,
            },
        ))
    }

    /// Registers a `std` stream (sets it non-blocking).
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: Async::new(OwnedFd::from(stream))?,
        })
    }

    /// Deregisters the stream and returns it as a `std` stream (still non-blocking).
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        self.io.into_inner().map(Into::into)
    }

    /// The address of this end.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        std::os::unix::net::UnixStream::from(self.io.get_ref().try_clone()?).local_addr()
    }

    /// The address of the other end.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        std::os::unix::net::UnixStream::from(self.io.get_ref().try_clone()?).peer_addr()
    }

    super::stream_methods!();
}

super::impl_stream_io!(UnixStream);
super::impl_stream_io!(&UnixStream);

/// A unix-domain datagram socket registered with this thread's reactor.
pub struct UnixDatagram {
    io: Async<OwnedFd>,
}

impl UnixDatagram {
    fn wrap(fd: OwnedFd) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            io: Async::register(fd, FdKind::OWN_DATAGRAM, Ready::WRITABLE)?,
        })
    }

    /// A socket bound to `path`.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        let fd = socket::new_socket(libc::AF_UNIX, libc::SOCK_DGRAM)?;
        socket::bind(fd.as_raw_fd(), &socket::unix_sockaddr(path.as_ref())?)?;
        UnixDatagram::wrap(fd)
    }

    /// A socket bound to no address (it can send, and receive once connected).
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::wrap(socket::new_socket(libc::AF_UNIX, libc::SOCK_DGRAM)?)
    }

    /// A connected pair (`socketpair`).
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = socket::socketpair(libc::SOCK_DGRAM)?;
        Ok((UnixDatagram::wrap(a)?, UnixDatagram::wrap(b)?))
    }

    /// Registers a `std` socket (sets it non-blocking).
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            io: Async::new(OwnedFd::from(socket))?,
        })
    }

    /// Deregisters the socket and returns it as a `std` socket (still non-blocking).
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixDatagram> {
        self.io.into_inner().map(Into::into)
    }

    /// Sets the default destination of [`send`](UnixDatagram::send).
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        socket::connect(self.io.as_raw_fd(), &socket::unix_sockaddr(path.as_ref())?).map(|_| ())
    }

    /// Sends one datagram to the socket bound at `path`.
    pub async fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let to = socket::unix_sockaddr(path.as_ref())?;
        self.io
            .write_with(|fd| socket::send_to(fd.as_raw_fd(), buf, &to))
            .await
    }

    /// Sends one datagram to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .write_with(|fd| sys::write(fd.as_raw_fd(), buf, true))
            .await
    }

    /// Receives one datagram (a datagram longer than `buf` is truncated).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_read(cx, buf)).await
    }

    /// The address this socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        std::os::unix::net::UnixDatagram::from(self.io.get_ref().try_clone()?).local_addr()
    }
}

macro_rules! fd_impls {
    ($($ty:ident)*) => {$(
        impl AsFd for $ty {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.io.get_ref().as_fd()
            }
        }

        impl AsRawFd for $ty {
            fn as_raw_fd(&self) -> RawFd {
                self.io.as_raw_fd()
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("fd", &self.io.as_raw_fd())
                    .finish()
            }
        }
    )*};
}

fd_impls!(UnixListener UnixStream UnixDatagram);
