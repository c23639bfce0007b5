//! TCP: a listener that accepts many connections per wake-up and hands out streams that start
//! readable, and a stream with vectored writes, `peek` and the options servers set.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::fd::Async;
use crate::sys::{socket, FdKind, Ready};

/// Default listen backlog (uvicorn uses 2048; the kernel caps it at `net.core.somaxconn`).
pub const DEFAULT_BACKLOG: i32 = 2048;

/// Options for [`ListenOptions::bind`]; [`TcpListener::bind`] uses the defaults.
#[derive(Clone, Debug)]
pub struct ListenOptions {
    backlog: i32,
    reuse_address: bool,
    reuse_port: bool,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions {
            backlog: DEFAULT_BACKLOG,
            reuse_address: true,
            reuse_port: false,
        }
    }
}

impl ListenOptions {
    /// Defaults: backlog [`DEFAULT_BACKLOG`], `SO_REUSEADDR` on, `SO_REUSEPORT` off.
    pub fn new() -> Self {
        Self::default()
    }

    /// The length of the queue of connections waiting for `accept`.
    pub fn backlog(mut self, backlog: i32) -> Self {
        self.backlog = backlog.max(1);
        self
    }

    /// `SO_REUSEADDR`: rebind a port whose old connections are still in `TIME_WAIT`.
    pub fn reuse_address(mut self, on: bool) -> Self {
        self.reuse_address = on;
        self
    }

    /// `SO_REUSEPORT`: let several sockets (one per worker process) listen on the same port; the
    /// kernel spreads new connections over them.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// Creates a non-blocking listening socket and registers it with this thread's reactor.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<TcpListener> {
        let fd = self.bind_std(addr)?;
        Ok(TcpListener {
            io: Async::register(fd, FdKind::OWN_STREAM, 0)?,
        })
    }

    /// Creates the listening socket without registering it (for a parent process that hands it to
    /// workers). The socket is non-blocking and close-on-exec.
    pub fn bind_std(&self, addr: SocketAddr) -> io::Result<OwnedFd> {
        let fd = socket::new_inet_socket(&addr, libc::SOCK_STREAM)?;
        if self.reuse_address {
            socket::set_opt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        }
        if self.reuse_port {
            socket::set_opt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
        }
        socket::bind(fd.as_raw_fd(), &socket::to_sockaddr(&addr))?;
        socket::listen(fd.as_raw_fd(), self.backlog)?;
        Ok(fd)
    }
}

/// A TCP listener registered with this thread's reactor.
pub struct TcpListener {
    io: Async<OwnedFd>,
}

impl TcpListener {
    /// Binds with the default [`ListenOptions`] (backlog 2048, `SO_REUSEADDR`).
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        ListenOptions::default().bind(addr)
    }

    /// Resolves `host:port` off the loop (see [`resolve`](crate::resolve)) and binds the first
    /// address that works.
    pub async fn bind_host(host_port: &str) -> io::Result<TcpListener> {
        let addrs = crate::resolve(host_port).await?;
        first_ok(addrs, |addr| async move { TcpListener::bind(addr) }).await
    }

    /// Registers an already listening socket (e.g. one inherited from a parent process).
    pub fn from_owned(fd: OwnedFd) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: Async::new(fd)?,
        })
    }

    /// Registers an already listening `std` listener (sets it non-blocking).
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        TcpListener::from_owned(OwnedFd::from(listener))
    }

    /// Deregisters the listener and returns it as a `std` listener (still non-blocking).
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        self.io.into_inner().map(std::net::TcpListener::from)
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket::name(self.io.as_raw_fd(), false)?.to_inet()
    }

    /// Accepts one connection.
    ///
    /// The listener stays marked readable until `accept` reports `WouldBlock`, so a loop of
    /// `accept().await` drains the whole queue of pending connections on one wake-up, one
    /// `accept4` syscall per connection. Each accept spends one unit of the task's cooperative
    /// budget, so a flood of connections cannot starve the connections already accepted.
    ///
    /// The stream starts **readable**: a client usually sends its request right behind the
    /// handshake, so the first read is tried at once instead of after another loop turn. If the
    /// bytes are not there yet, that read answers `WouldBlock` and the stream waits as usual.
    ///
    /// An error (`EMFILE` when out of fds, `ECONNABORTED`, ...) is returned as is; a loop that
    /// retries should pause first (see the crate example), or it retries until the budget runs
    /// out on every turn.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for one connection (see [`TcpListener::accept`]).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (fd, peer) = match self
            .io
            .poll_read_with(cx, |fd| socket::accept(fd.as_raw_fd()))
        {
            Poll::Ready(Ok(v)) => v,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        let peer = match peer.to_inet() {
            Ok(peer) => peer,
            Err(e) => return Poll::Ready(Err(e)),
        };
        Poll::Ready(
            Async::register(fd, FdKind::OWN_STREAM, Ready::READABLE | Ready::WRITABLE)
                .map(|io| (TcpStream { io }, peer)),
        )
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("fd", &self.io.as_raw_fd())
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

/// Tries `f` on each address in turn; the last error if none works.
pub(crate) async fn first_ok<T, F, Fut>(addrs: Vec<SocketAddr>, mut f: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address resolved");
    for addr in addrs {
        match f(addr).await {
            Ok(v) => return Ok(v),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A TCP connection registered with this thread's reactor.
///
/// Reading and writing through `&TcpStream` lets one task read while another writes.
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// fn check(s: waitless_reactor::TcpStream) { assert_send(s) }
/// ```
pub struct TcpStream {
    io: Async<OwnedFd>,
}

impl TcpStream {
    /// Connects without blocking: `connect` returns `EINPROGRESS`, the stream waits for writability
    /// and then reads `SO_ERROR` (so a refused connection is reported as `ConnectionRefused`).
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let fd = socket::new_inet_socket(&addr, libc::SOCK_STREAM)?;
        let in_progress = socket::connect(fd.as_raw_fd(), &socket::to_sockaddr(&addr))?;
        let stream = TcpStream {
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

    /// Resolves `host:port` off the loop (see [`resolve`](crate::resolve)) and connects to the
    /// first address that accepts.
    pub async fn connect_host(host_port: &str) -> io::Result<TcpStream> {
        let addrs = crate::resolve(host_port).await?;
        first_ok(addrs, TcpStream::connect).await
    }

    /// Wraps a connected `std` stream (sets it non-blocking).
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: Async::new(OwnedFd::from(stream))?,
        })
    }

    /// Deregisters the stream and returns it as a `std` stream (still non-blocking).
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        self.io.into_inner().map(std::net::TcpStream::from)
    }

    /// Enables or disables Nagle's algorithm (`TCP_NODELAY`).
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        socket::set_opt(
            self.raw(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            on as libc::c_int,
        )
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(socket::get_opt(self.raw(), libc::IPPROTO_TCP, libc::TCP_NODELAY)? != 0)
    }

    /// `SO_KEEPALIVE`, and on Linux the idle time before the first probe (`TCP_KEEPIDLE`,
    /// whole seconds, at least 1). `None` turns keepalive off.
    pub fn set_keepalive(&self, idle: Option<Duration>) -> io::Result<()> {
        let fd = self.raw();
        socket::set_opt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_KEEPALIVE,
            idle.is_some() as libc::c_int,
        )?;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(idle) = idle {
            let secs = idle.as_secs().clamp(1, i32::MAX as u64) as libc::c_int;
            socket::set_opt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, secs)?;
        }
        Ok(())
    }

    /// Whether `SO_KEEPALIVE` is on.
    pub fn keepalive(&self) -> io::Result<bool> {
        Ok(socket::get_opt(self.raw(), libc::SOL_SOCKET, libc::SO_KEEPALIVE)? != 0)
    }

    /// `SO_LINGER`: `Some(d)` makes `close` wait up to `d` for unsent data (`Some(ZERO)` resets
    /// the connection on close); `None` restores the default (close returns at once, the kernel
    /// sends the rest in the background).
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        let value = libc::linger {
            l_onoff: linger.is_some() as libc::c_int,
            l_linger: linger.map_or(0, |d| d.as_secs().min(i32::MAX as u64) as libc::c_int),
        };
        socket::set_opt_raw(self.raw(), libc::SOL_SOCKET, libc::SO_LINGER, &value)
    }

    /// The current `SO_LINGER` setting.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        let init = libc::linger {
            l_onoff: 0,
            l_linger: 0,
        };
        let v = socket::get_opt_raw(self.raw(), libc::SOL_SOCKET, libc::SO_LINGER, init)?;
        Ok((v.l_onoff != 0).then(|| Duration::from_secs(v.l_linger.max(0) as u64)))
    }

    /// The address of the other end.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        socket::name(self.raw(), true)?.to_inet()
    }

    /// The address of this end.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket::name(self.raw(), false)?.to_inet()
    }

    fn raw(&self) -> RawFd {
        self.io.as_raw_fd()
    }

    super::stream_methods!();
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("fd", &self.io.as_raw_fd())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

super::impl_stream_io!(TcpStream);
super::impl_stream_io!(&TcpStream);
