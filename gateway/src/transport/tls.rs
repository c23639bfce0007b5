//! HTTPS: TLS with `rustls` over the reactor's `TcpStream`.
//!
//! Why rustls: it is sans-IO — it turns ciphertext into plaintext and back in memory and never
//! touches a socket — so it runs on our reactor with no runtime of its own (tokio-rustls is a
//! thin adapter of the same kind for tokio). This file is that adapter: reads pull TLS records
//! from the socket into the session until plaintext is available; writes push plaintext in and
//! flush records out; `Io::write_all` flushes after every write batch.
//!
//! Cost per connection: one `Arc` clone of the shared server config (rustls needs it) and the
//! session's own buffers; per request nothing beyond the encryption itself (measured in
//! `docs/benchmarks.md`).

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};
use waitless_reactor::TcpStream;

use crate::config::{Config, TlsFiles};

/// The TLS settings of a worker: certificates loaded once.
pub(crate) struct Acceptor {
    config: Arc<ServerConfig>,
}

impl Acceptor {
    /// `None` when `config.tls` is not set.
    pub(crate) fn from_config(config: &Config) -> io::Result<Option<Acceptor>> {
        config.tls.as_ref().map(Acceptor::load).transpose()
    }

    fn load(files: &TlsFiles) -> io::Result<Acceptor> {
        let bad = |what: &str, path: &std::path::Path, e: &dyn std::fmt::Display| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{what} {}: {e}", path.display()),
            )
        };
        let mut reader = BufReader::new(File::open(&files.certfile)?);
        let certs = CertificateDer::pem_reader_iter(&mut reader)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad("cannot read certificates from", &files.certfile, &e))?;
        if certs.is_empty() {
            return Err(bad("no certificate in", &files.certfile, &"empty"));
        }
        let mut reader = BufReader::new(File::open(&files.keyfile)?);
        let key = PrivateKeyDer::from_pem_reader(&mut reader)
            .map_err(|e| bad("cannot read a private key from", &files.keyfile, &e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| bad("certificate and key do not fit:", &files.keyfile, &e))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Acceptor {
            config: Arc::new(config),
        })
    }

    pub(crate) fn accept(&self, tcp: TcpStream) -> io::Result<TlsStream> {
        let session = ServerConnection::new(self.config.clone()).map_err(io::Error::other)?;
        Ok(TlsStream {
            tcp,
            session: RefCell::new(session),
        })
    }
}

/// A TLS session over a TCP stream.
pub(crate) struct TlsStream {
    tcp: TcpStream,
    session: RefCell<ServerConnection>,
}

/// `io::Read`/`io::Write` over the reactor stream inside a poll: `Pending` becomes
/// `WouldBlock` (the waker is registered), which rustls passes back to us.
struct Sync<'a, 'c> {
    tcp: &'a TcpStream,
    cx: &'a mut Context<'c>,
}

impl Read for Sync<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.tcp.poll_read(self.cx, buf) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for Sync<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.tcp.poll_write(self.cx, buf) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn pending_if_would_block<T>(r: io::Result<T>) -> Poll<io::Result<T>> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
        r => Poll::Ready(r),
    }
}

impl TlsStream {
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut session = self.session.borrow_mut();
        loop {
            match session.reader().read(buf) {
                Ok(n) => return Poll::Ready(Ok(n)), // 0: the peer sent close_notify
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The peer closed the socket without close_notify: end of stream all the same.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Poll::Ready(Ok(0)),
                Err(e) => return Poll::Ready(Err(e)),
            }
            // Handshake replies (or alerts) must go out before we can read on.
            if session.wants_write() {
                if let Poll::Ready(Err(e)) = Self::poll_flush_session(&self.tcp, &mut session, cx) {
                    return Poll::Ready(Err(e));
                }
            }
            let mut io = Sync { tcp: &self.tcp, cx };
            match session.read_tls(&mut io) {
                Ok(0) => return Poll::Ready(Ok(0)),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
                Err(e) => return Poll::Ready(Err(e)),
            }
            if let Err(e) = session.process_new_packets() {
                // Tell the peer why (best effort), then fail the read.
                let _ = Self::poll_flush_session(&self.tcp, &mut session, cx);
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
            }
        }
    }

    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let mut session = self.session.borrow_mut();
        loop {
            let n = session.writer().write(buf)?;
            if n > 0 || buf.is_empty() {
                // Push what we can now; the rest goes out with `poll_flush`.
                if let Poll::Ready(Err(e)) = Self::poll_flush_session(&self.tcp, &mut session, cx) {
                    return Poll::Ready(Err(e));
                }
                return Poll::Ready(Ok(n));
            }
            // rustls's send buffer is full: flush it first.
            match Self::poll_flush_session(&self.tcp, &mut session, cx) {
                Poll::Ready(Ok(())) => {}
                other => return other.map(|r| r.map(|()| 0)),
            }
        }
    }

    pub(crate) fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Self::poll_flush_session(&self.tcp, &mut self.session.borrow_mut(), cx)
    }

    fn poll_flush_session(
        tcp: &TcpStream,
        session: &mut ServerConnection,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while session.wants_write() {
            let mut io = Sync { tcp, cx };
            match pending_if_would_block(session.write_tls(&mut io)) {
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Ready when a read can make progress: plaintext already decrypted, or socket bytes.
    pub(crate) fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<()> {
        let buffered = self
            .session
            .borrow_mut()
            .process_new_packets()
            .map(|s| s.plaintext_bytes_to_read() > 0 || s.peer_has_closed())
            .unwrap_or(true);
        if buffered {
            Poll::Ready(())
        } else {
            self.tcp.poll_readable(cx).map(|_| ())
        }
    }

    pub(crate) fn peer_closed(&self) -> bool {
        let closed = self
            .session
            .borrow_mut()
            .process_new_packets()
            .map(|s| s.peer_has_closed())
            .unwrap_or(true);
        closed || super::rdhup(self.tcp.as_raw_fd())
    }
}
