//! The listening socket the supervisor creates (or adopts) before forking: TCP on
//! `--host`/`--port`, a Unix domain socket at `--uds PATH`, or an inherited `--fd N`.
//!
//! Why the supervisor and not the workers: one socket created before `fork` is inherited by every
//! worker and kept open by the supervisor, so a restarting worker never leaves the address
//! unbound (see `docs/runner.md`). A Unix socket is the usual way behind nginx on the same host
//! (no TCP port, no loopback TCP stack, file permissions as access control); `--fd` lets a
//! process manager (systemd socket activation, circus, a test) own the socket instead.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// What kind of socket a listening fd is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Tcp,
    Unix,
}

/// Mode of a new `--uds` socket file: anyone who can reach the directory may connect (uvicorn
/// does the same), so nginx running as another user can; restrict access with the directory.
const UDS_MODE: u32 = 0o666;

/// Binds a Unix domain socket at `path` with `backlog`.
///
/// A socket file left by a server that died without cleaning up is removed first (uvicorn and
/// asyncio do the same); a live server on it (a connect succeeds) or a file that is not a socket
/// is an error instead, so a typo cannot delete a regular file or steal a running server's path.
/// A replaced socket keeps its old permissions.
pub(crate) fn bind_uds(path: &Path, backlog: i32) -> io::Result<UnixListener> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("--uds {}: {e}", path.display()));
    let mut mode = UDS_MODE;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if UnixStream::connect(path).is_ok() {
                return Err(named(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    "another server is listening on it",
                )));
            }
            mode = meta.permissions().mode() & 0o777;
            std::fs::remove_file(path).map_err(named)?;
        }
        Ok(_) => {
            return Err(named(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "exists and is not a socket",
            )))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(named(e)),
    }
    let listener = UnixListener::bind(path).map_err(named)?;
    // std listens with its own backlog; a second `listen` on a listening socket only changes
    // the queue length (Linux, BSD), so `--backlog` applies here too.
    // SAFETY: listen takes no pointers; the fd is open for the duration of the call.
    if unsafe { libc::listen(listener.as_raw_fd(), backlog) } < 0 {
        return Err(named(io::Error::last_os_error()));
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(named)?;
    Ok(listener)
}

/// Removes the `--uds` socket file when the process that created it is done with it.
pub(crate) struct UdsFile {
    path: PathBuf,
    /// Workers are forked copies of the supervisor: only the creator removes the file, even if
    /// a worker's stack is unwound by a panic.
    owner: u32,
}

impl UdsFile {
    pub(crate) fn new(path: PathBuf) -> UdsFile {
        UdsFile {
            path,
            owner: std::process::id(),
        }
    }
}

impl Drop for UdsFile {
    fn drop(&mut self) {
        if std::process::id() == self.owner {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn fd_error(fd: RawFd, what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("--fd {fd}: {what}"))
}

fn sockopt(fd: RawFd, opt: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value`/`len` describe a writable c_int for the call.
    let ret = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(value)
}

/// Takes over an already listening stream socket passed to this process as fd `fd`, and finds
/// its family. Sets it non-blocking (the workers' reactors need that) and close-on-exec (a
/// program the app starts must not inherit it).
pub(crate) fn adopt_fd(fd: RawFd) -> io::Result<(OwnedFd, Kind)> {
    // SAFETY: fcntl(F_GETFD) takes no pointers; it fails with EBADF on a closed fd.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(fd_error(fd, "not an open file descriptor"));
    }
    match sockopt(fd, libc::SO_ACCEPTCONN) {
        Ok(1) => {}
        Ok(_) => {
            return Err(fd_error(
                fd,
                "not a listening socket (listen() was not called)",
            ))
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOTSOCK) => {
            return Err(fd_error(fd, "not a socket"))
        }
        Err(e) => return Err(fd_error(fd, &e.to_string())),
    }
    if sockopt(fd, libc::SO_TYPE).map_err(|e| fd_error(fd, &e.to_string()))? != libc::SOCK_STREAM {
        return Err(fd_error(fd, "not a stream socket"));
    }
    // SAFETY: an all-zero sockaddr_storage is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `storage`/`len` describe a writable sockaddr_storage.
    let ret = unsafe {
        libc::getsockname(
            fd,
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    if ret < 0 {
        return Err(fd_error(fd, &io::Error::last_os_error().to_string()));
    }
    let kind = match libc::c_int::from(storage.ss_family) {
        libc::AF_INET | libc::AF_INET6 => Kind::Tcp,
        libc::AF_UNIX => Kind::Unix,
        _ => return Err(fd_error(fd, "neither a TCP nor a Unix socket")),
    };
    // SAFETY: fcntl with integer arguments only.
    let ok = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        flags >= 0
            && libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) >= 0
            && libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) >= 0
    };
    if !ok {
        return Err(fd_error(fd, &io::Error::last_os_error().to_string()));
    }
    // SAFETY: `fd` is open (checked above) and was handed to this process to serve on with
    // `--fd`; nothing else in the process uses it, so ownership passes to the returned OwnedFd.
    Ok((unsafe { OwnedFd::from_raw_fd(fd) }, kind))
}

/// What the listening line prints: `http://127.0.0.1:8000`, `https://…` or `unix:/run/app.sock`.
pub(crate) fn describe(fd: &OwnedFd, kind: Kind, tls: bool) -> io::Result<String> {
    // Clones registered nowhere, only to ask for the bound address.
    Ok(match kind {
        Kind::Tcp => {
            let addr = std::net::TcpListener::from(fd.try_clone()?).local_addr()?;
            let scheme = if tls { "https" } else { "http" };
            format!("{scheme}://{addr}")
        }
        Kind::Unix => {
            let addr = UnixListener::from(fd.try_clone()?).local_addr()?;
            match addr.as_pathname() {
                Some(path) => format!("unix:{}", path.display()),
                None => "unix:(unnamed)".to_owned(),
            }
        }
    })
}
