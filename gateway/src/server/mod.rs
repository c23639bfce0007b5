//! The HTTP/1.1 server: accepts connections on one thread and serves each with the state machine
//! in `conn.rs`, calling the app through the interface.
//!
//! This is the seed's "ASGI 서버의 책임" — open the port, receive requests, run the event loop,
//! call the application — for one worker. The multi-process runner starts one of these per core.

pub(crate) mod chunked;
mod conn;
mod date;
pub(crate) mod parse;
mod proxy;
pub(crate) mod response;

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::Poll;

use futures_lite::FutureExt;
use waitless_executor::spawn;
use waitless_reactor::{sleep, ListenOptions, TcpListener, TcpStream};

use crate::config::Config;
use crate::interface::{App, LifespanError, State};
use conn::{BufferPool, Shutdown, Worker};

pub use chunked::ChunkedError;

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

/// A bound HTTP server for one worker thread.
pub struct Server {
    listener: TcpListener,
    local: SocketAddr,
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
            listener,
            local,
            config,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Serves `app` until the process ends.
    pub async fn run<A: App>(self, app: A) -> Result<(), ServeError> {
        self.run_until(app, std::future::pending()).await
    }

    /// Serves `app` until `shutdown` completes, then shuts down gracefully: stops accepting at
    /// once, closes idle keep-alive connections, lets in-flight requests finish (their responses
    /// say `Connection: close`) for up to `config.graceful_timeout`, then runs lifespan shutdown.
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
        let mut state = State::new();
        app.startup(&mut state).await.map_err(ServeError::Startup)?;
        log::info!("Application startup complete.");
        let worker = Rc::new(Worker {
            pool: BufferPool::new(&config),
            app,
            state,
            config,
            open: Cell::new(0),
            served: Cell::new(0),
            shutdown: Shutdown::default(),
            drained: RefCell::new(None),
        });

        let accept = accept_loop(&worker, &listener, local);
        let stopped = async {
            shutdown.await;
            Ok(())
        };
        // Recycling (`limit_max_requests`) starts the shutdown from inside the worker.
        let recycled = async {
            worker.shutdown.wait().await;
            Ok(())
        };
        let result = accept.or(stopped).or(recycled).await;
        // Stop accepting: closing the listener makes new connections fail at once.
        drop(listener);
        worker.shutdown.start();
        let in_flight = worker.open.get();
        let drained = async {
            poll_fn(|cx| {
                if worker.open.get() == 0 {
                    Poll::Ready(())
                } else {
                    *worker.drained.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
            .await;
            true
        };
        let expired = async {
            sleep(worker.config.graceful_timeout).await;
            false
        };
        if !drained.or(expired).await {
            log::warn!(
                "waitless: graceful timeout: {} of {in_flight} connections still open",
                worker.open.get()
            );
        }
        worker.app.shutdown(&worker.state).await;
        result
    }
}

async fn accept_loop<A: App>(
    worker: &Rc<Worker<A>>,
    listener: &TcpListener,
    local: SocketAddr,
) -> Result<(), ServeError> {
    // The active-phase futures of every connection of this worker share one pool; its element
    // type is the (unnameable) future of `conn::active::<A>`, inferred from the call below.
    let slots = Rc::new(RefCell::new(Vec::new()));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                // Running out of fds must not end the server: log, back off briefly, go on.
                log::error!("waitless: accept failed: {e}");
                sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        if worker
            .config
            .limit_concurrency
            .is_some_and(|limit| worker.open.get() >= limit)
        {
            spawn(reject_overloaded(stream)).detach();
            continue;
        }
        worker.open.set(worker.open.get() + 1);
        let conn = conn::Conn::new(worker.clone(), stream, peer, local);
        spawn(conn::serve(conn, slots.clone(), conn::active::<A>)).detach();
    }
}

/// Beyond `limit_concurrency`: answer 503 and close, like uvicorn.
async fn reject_overloaded(stream: TcpStream) {
    let mut out = Vec::with_capacity(256);
    date::refresh();
    response::push_error(&mut out, 503, "Service Unavailable", false);
    let _ = crate::interface::body::write_all(&stream, &out).await;
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
