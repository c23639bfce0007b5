//! UDP: one datagram per operation.
//!
//! A UDP socket is registered as a datagram fd, so a short read (a small datagram in a big
//! buffer) does not clear readiness: more datagrams may be queued behind it, and only
//! `WouldBlock` proves the queue empty.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use crate::fd::Async;
use crate::sys::{self, socket, FdKind};

/// A UDP socket registered with this thread's reactor (`!Send`, like every I/O type here).
pub struct UdpSocket {
    io: Async<OwnedFd>,
}

impl UdpSocket {
    /// Binds a non-blocking UDP socket to `addr` (port 0: any free port).
    pub fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
        let fd = socket::new_inet_socket(&addr, libc::SOCK_DGRAM)?;
        socket::bind(fd.as_raw_fd(), &socket::to_sockaddr(&addr))?;
        Ok(UdpSocket {
            io: Async::register(fd, FdKind::OWN_DATAGRAM, 0)?,
        })
    }

    /// Registers a `std` socket (sets it non-blocking).
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: Async::new(OwnedFd::from(socket))?,
        })
    }

    /// Deregisters the socket and returns it as a `std` socket (still non-blocking).
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        self.io.into_inner().map(std::net::UdpSocket::from)
    }

    /// The address this socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket::name(self.raw(), false)?.to_inet()
    }

    /// The address set with [`connect`](UdpSocket::connect).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        socket::name(self.raw(), true)?.to_inet()
    }

    /// Sets the default destination of [`send`](UdpSocket::send) and filters what
    /// [`recv`](UdpSocket::recv) receives.
    pub fn connect(&self, addr: SocketAddr) -> io::Result<()> {
        socket::connect(self.raw(), &socket::to_sockaddr(&addr)).map(|_| ())
    }

    /// Sends one datagram to `addr`.
    pub async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> io::Result<usize> {
        let to = socket::to_sockaddr(&addr);
        self.io
            .write_with(|fd| socket::send_to(fd.as_raw_fd(), buf, &to))
            .await
    }

    /// Receives one datagram and its sender (a datagram longer than `buf` is truncated).
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, from) = self
            .io
            .read_with(|fd| socket::recv_from(fd.as_raw_fd(), buf, 0))
            .await?;
        Ok((n, from.to_inet()?))
    }

    /// Like [`recv_from`](UdpSocket::recv_from), but leaves the datagram queued.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, from) = self
            .io
            .read_with(|fd| socket::recv_from(fd.as_raw_fd(), buf, libc::MSG_PEEK))
            .await?;
        Ok((n, from.to_inet()?))
    }

    /// Sends one datagram to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .write_with(|fd| sys::write(fd.as_raw_fd(), buf, true))
            .await
    }

    /// Receives one datagram from the connected peer.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_read(cx, buf)).await
    }

    /// Waits until a datagram can be received (does not clear readiness; see [`Async`]).
    pub async fn readable(&self) -> io::Result<()> {
        self.io.readable().await
    }

    /// Waits until a datagram can be sent (does not clear readiness; see [`Async`]).
    pub async fn writable(&self) -> io::Result<()> {
        self.io.writable().await
    }

    /// `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        socket::set_opt(
            self.raw(),
            libc::SOL_SOCKET,
            libc::SO_BROADCAST,
            on as libc::c_int,
        )
    }

    /// The pending socket error (`SO_ERROR`), cleared by reading it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        socket::take_error(self.raw())
    }

    fn raw(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("fd", &self.io.as_raw_fd())
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
