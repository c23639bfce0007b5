//! The HTTP/1.1 server: accepts connections on one thread and serves each with the state machine
//! in `conn.rs`, calling the app through the interface.
//!
//! This is the seed's "ASGI 서버의 책임" — open the port, receive requests, run the event loop,
//! call the application — for one worker. The multi-process runner starts one of these per core.

pub(crate) mod buffers;
pub(crate) mod conn;
mod dispatch;
mod proxy;
pub(crate) mod worker;

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::unix::net::UnixListener;
use std::rc::Rc;
use std::time::Duration;

use futures_lite::FutureExt;
use waitless_executor::spawn;
use waitless_reactor::{sleep, Async, ListenOptions, TcpListener};

use crate::config::Config;
use crate::h1::{date, response};
use crate::interface::{App, LifespanError, State};
use crate::transport::{Io, Transport};
use worker::Worker;

/// Why a server stopped with an error.
#[derive(Debug)]
pub enum ServeError {
    /// Binding or accepting failed.
    Io(io::Error),
    /// The app's lifespan `startup` failed; no request was served.
    Startup(LifespanError),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Io(e) => write!(f, "server I/O error: {e}"),
            ServeError::Startup(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServeError::Io(e) => Some(e),
            ServeError::Startup(e) => Some(e),
        }
    }
}

impl From<io::Error> for ServeError {
    fn from(e: io::Error) -> Self {
        ServeError::Io(e)
    }
}

/// Where a server accepts connections.
pub enum Listener {
    /// A TCP socket (`--host`/`--port`, `--fd`).
    Tcp(TcpListener),
    /// A Unix domain socket (`--uds`), e.g. behind nginx.
    Unix(Async<UnixListener>),
}

impl Listener {
    async fn accept(&self) -> io::Result<(Transport, Option<SocketAddr>)> {
        match self {
            Listener::Tcp(l) => {
                let (stream, peer) = l.accept().await?;
                let _ = stream.set_nodelay(true);
                Ok((Transport::Tcp(stream), Some(peer)))
            }
            Listener::Unix(l) => {
                let (stream, _) = l.read_with(|l| l.accept()).await?;
                stream.set_nonblocking(true)?;
                Ok((Transport::Unix(Async::new(stream)?), None))
            }
        }
    }
}

/// A bound HTTP server for one worker thread.
pub struct Server {
    listener: Listener,
    local: Option<SocketAddr>,
    config: Config,
}

impl Server {
    /// Binds `config.bind` (with `config.backlog`) on this thread's reactor.
    pub fn bind(config: Config) -> io::Result<Server> {
        let listener = ListenOptions::new()
            .backlog(config.backlog)
            .bind(config.bind)?;
        Server::from_listener(listener, config)
    }

    /// Serves on an already bound listener (e.g. one inherited from a supervisor process).
    pub fn from_listener(listener: TcpListener, config: Config) -> io::Result<Server> {
        let local = listener.local_addr()?;
        Ok(Server {
            listener: Listener::Tcp(listener),
            local: Some(local),
            config,
        })
    }

    /// Serves on a bound Unix domain socket (`--uds`).
    pub fn from_unix_listener(listener: UnixListener, config: Config) -> io::Result<Server> {
        listener.set_nonblocking(true)?;
        Ok(Server {
            listener: Listener::Unix(Async::new(listener)?),
            local: None,
            config,
        })
    }

    /// The TCP address actually bound (useful with port 0); `None` on a Unix socket.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }

    /// Serves `app` until the process ends.
    pub async fn run<A: App>(self, app: A) -> Result<(), ServeError> {
        self.run_until(app, std::future::pending()).await
    }

    /// Serves `app` until `shutdown` completes, then shuts down gracefully: stops accepting at
    /// once, closes idle keep-alive connections (after a 500 ms grace in which a request already
    /// on its way is still answered), tells long-lived handlers
    /// ([`ShutdownSignal`](crate::ShutdownSignal)), lets in-flight requests finish (their
    /// responses say `Connection: close`) for up to `config.graceful_timeout`, then runs
    /// lifespan shutdown.
    pub async fn run_until<A: App>(
        self,
        app: A,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServeError> {
        let Server {
            listener,
            local,
            config,
        } = self;
        #[cfg(feature = "tls")]
        let tls = match crate::transport::tls::Acceptor::from_config(&config) {
            Ok(tls) => tls,
            Err(e) => return Err(ServeError::Io(e)),
        };
        let mut state = State::new();
        app.startup(&mut state).await.map_err(ServeError::Startup)?;
        log::info!("Application startup complete.");
        let worker = Rc::new(Worker::new(app, state, config, local));

        let accept = accept_loop(
            &worker,
            &listener,
            #[cfg(feature = "tls")]
            tls.as_ref(),
        );
        let stopped = async {
            shutdown.await;
            Ok(())
        };
        // Recycling (`limit_max_requests`) starts the shutdown from inside the worker.
        let recycled = async {
            worker.shared.shutdown.wait().await;
            Ok(())
        };
        let result = accept.or(stopped).or(recycled).await;
        // Stop accepting: closing the listener makes new connections fail at once.
        drop(listener);
        worker.shared.shutdown.start();
        let in_flight = worker.open.get();
        if !worker.drain().await {
            log::warn!(
                "waitless: graceful timeout: {} of {in_flight} connections still open",
                worker.open.get()
            );
        }
        worker.app.shutdown(&worker.shared.state).await;
        result
    }
}

/// First pause after `accept` fails for lack of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM);
/// doubles per consecutive failure up to [`ACCEPT_BACKOFF_MAX`].
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

async fn accept_loop<A: App>(
    worker: &Rc<Worker<A>>,
    listener: &Listener,
    #[cfg(feature = "tls")] tls: Option<&crate::transport::tls::Acceptor>,
) -> Result<(), ServeError> {
    // The active-phase futures of every connection of this worker share one pool; its element
    // type is the (unnameable) future of `conn::active::<A>`, inferred from the call below.
    let slots = Rc::new(RefCell::new(Vec::new()));
    let limit = worker
        .config
        .limit_concurrency
        .unwrap_or_else(default_limit_concurrency);
    let mut backoff = ACCEPT_BACKOFF_MIN;
    let mut failures = 0u64;
    loop {
        let (transport, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                // Running out of fds must not end the server, nor flood the log: one line when
                // it starts, one when it ends, and a growing pause in between (the backlog
                // holds the waiting clients meanwhile).
                if failures == 0 {
                    log::error!("waitless: accept failed: {e}; backing off");
                }
                failures += 1;
                sleep(backoff).await;
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                continue;
            }
        };
        if failures > 0 {
            log::warn!("waitless: accept recovered after {failures} failed attempts");
            failures = 0;
            backoff = ACCEPT_BACKOFF_MIN;
        }
        if worker.open.get() >= limit {
            spawn(reject_overloaded(transport, worker.config.send_timeout)).detach();
            continue;
        }
        #[cfg(feature = "tls")]
        let transport = match (tls, transport) {
            (Some(tls), Transport::Tcp(tcp)) => match tls.accept(tcp) {
                Ok(session) => Transport::Tls(Box::new(session)),
                Err(e) => {
                    log::warn!("waitless: TLS session refused: {e}");
                    continue;
                }
            },
            (_, transport) => transport,
        };
        worker.connection_opened();
        let conn = conn::Conn::new(worker.clone(), transport, peer);
        spawn(conn::serve(conn, slots.clone(), conn::active::<A>)).detach();
    }
}

/// The connection limit when `--limit-concurrency` is not given: what the process's open-file
/// limit (`RLIMIT_NOFILE`, soft) allows, less a tenth (at least 32) kept for the listener,
/// files the app opens and the `503` answers themselves. Without it, a flood of connections
/// would exhaust the descriptors and `accept` would fail for everyone instead of the excess
/// getting a quick `503`.
pub fn default_limit_concurrency() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` into the valid pointer we pass.
    let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur
    } else {
        1024
    };
    let soft = usize::try_from(soft).unwrap_or(usize::MAX);
    soft.saturating_sub((soft / 10).max(32)).max(1)
}

/// Beyond `limit_concurrency`: answer 503 and close, like uvicorn.
async fn reject_overloaded(transport: Transport, send_timeout: Duration) {
    let mut out = Vec::with_capacity(256);
    date::refresh();
    let head = response::HeadDefaults::default();
    response::push_error(&mut out, 503, "Service Unavailable", false, &head);
    let io = Io {
        transport,
        send_timeout,
    };
    let _ = io.write_all(&out).await;
}

/// Binds `config.bind` and serves `app` on this thread until the process ends.
///
/// Prints nothing; the runner prints the "listening on" line.
pub fn serve<A: App>(app: A, config: Config) -> Result<(), ServeError> {
    waitless_executor::block_on(async {
        let server = Server::bind(config)?;
        server.run(app).await
    })
}
