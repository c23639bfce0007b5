//! The "take the codec from a crate" side of the WebSocket echo benchmark (issue 13 item 1):
//! tungstenite's sans-IO protocol (`tungstenite::accept`, `WebSocket::read`/`write`/`flush`) on
//! the waitless reactor + executor, one thread, one task per connection. Same loop as `ws_echo`,
//! other codec; same codec as `peer-ws-tokio`, other loop. So `ws.sh` can tell how much of the
//! gap between `ws_echo` and tokio-tungstenite is the codec and how much is the runtime.
//!
//! Why the socket wrapper looks like this: tungstenite speaks `std::io::Read`/`Write` and treats
//! `WouldBlock` as "try again later". [`Conn`] keeps the waker of the task's current poll and
//! calls the reactor's `poll_read`/`poll_write` with it; `Pending` (the reactor has registered
//! that waker for the next readiness edge, or the task's budget is spent and it was woken to
//! yield) becomes `WouldBlock`, and the task returns `Pending` until woken. This is how
//! tokio-tungstenite bridges tungstenite to tokio, and it keeps the reactor's short-read rule
//! (no `EAGAIN` probe after a short read), as `ws_echo` gets it.
//!
//! Usage: `ws_echo_tungstenite PORT [READ_BUFFER_SIZE]`. Without the second argument tungstenite
//! runs with its defaults (as `peer-ws-tokio` does); with it, `WebSocketConfig::read_buffer_size`
//! is set (default 128 KiB: tungstenite zero-fills up to that much of its read buffer before
//! every read, which is most of its cost here). Driven by `ws_load`; figures in
//! `docs/benchmarks.md` ("WebSocket echo").

use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tungstenite::handshake::server::{NoCallback, ServerHandshake};
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Error, Message, WebSocket};
use waitless_executor::{block_on, spawn};
use waitless_reactor::{ListenOptions, TcpStream};

/// A non-blocking TCP stream as tungstenite's `Read + Write`, woken through the waker of the
/// task's latest poll.
struct Conn {
    io: TcpStream,
    waker: Waker,
}

impl Conn {
    fn set_waker(&mut self, waker: &Waker) {
        if !self.waker.will_wake(waker) {
            self.waker = waker.clone();
        }
    }

    /// Runs one poll of the reactor with the stored waker; `Pending` becomes `WouldBlock`.
    fn poll_once<R>(
        &self,
        op: impl FnOnce(&TcpStream, &mut Context<'_>) -> Poll<io::Result<R>>,
    ) -> io::Result<R> {
        let mut cx = Context::from_waker(&self.waker);
        match op(&self.io, &mut cx) {
            Poll::Ready(res) => res,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.poll_once(|io, cx| io.poll_read(cx, buf))
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.poll_once(|io, cx| io.poll_write(cx, buf))
    }

    /// TCP with `TCP_NODELAY` holds nothing back: every `write` is already a `send`.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `Pending` if `err` is tungstenite passing on our `WouldBlock` (the waker is registered);
/// `Ready` (end the connection) for anything else.
fn pending_or_end(err: &Error) -> Poll<()> {
    match err {
        Error::Io(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
        _ => Poll::Ready(()),
    }
}

type Handshake = MidHandshake<ServerHandshake<Conn, NoCallback>>;

/// The server side of the opening handshake, resumed after every `WouldBlock`.
async fn handshake(conn: Conn, config: Option<WebSocketConfig>) -> Option<WebSocket<Conn>> {
    let mut fresh = Some(conn);
    let mut mid: Option<Handshake> = None;
    poll_fn(|cx| {
        let res = match (fresh.take(), mid.take()) {
            (Some(mut conn), _) => {
                conn.set_waker(cx.waker());
                tungstenite::accept_with_config(conn, config)
            }
            (None, Some(mut m)) => {
                m.get_mut().get_mut().set_waker(cx.waker());
                m.handshake()
            }
            (None, None) => return Poll::Ready(None),
        };
        match res {
            Ok(ws) => Poll::Ready(Some(ws)),
            Err(HandshakeError::Interrupted(m)) => {
                mid = Some(m);
                Poll::Pending
            }
            Err(HandshakeError::Failure(_)) => Poll::Ready(None),
        }
    })
    .await
}

/// Echoes every text or binary message: `read`, `write`, `flush` (tokio-tungstenite's `next()`
/// then `send()`). Pings and closes are answered by tungstenite inside `read`.
async fn echo(mut ws: WebSocket<Conn>) {
    let mut unflushed = false;
    poll_fn(|cx| {
        ws.get_mut().set_waker(cx.waker());
        loop {
            if unflushed {
                match ws.flush() {
                    Ok(()) => unflushed = false,
                    Err(e) => return pending_or_end(&e),
                }
            }
            match ws.read() {
                Ok(msg @ (Message::Text(_) | Message::Binary(_))) => {
                    // A `WouldBlock` here leaves the frame in tungstenite's write buffer; the
                    // next `flush` sends it.
                    unflushed = true;
                    if let Err(e) = ws.write(msg) {
                        return pending_or_end(&e);
                    }
                }
                Ok(_) => {}
                Err(e) => return pending_or_end(&e),
            }
        }
    })
    .await
}

async fn connection(io: TcpStream, config: Option<WebSocketConfig>) {
    let _ = io.set_nodelay(true);
    let conn = Conn {
        io,
        waker: Waker::noop().clone(),
    };
    if let Some(ws) = handshake(conn, config).await {
        echo(ws).await;
    }
}

async fn serve(addr: SocketAddr, config: Option<WebSocketConfig>) -> io::Result<()> {
    // The gateway's default backlog, so both waitless servers accept the 256 clients alike.
    let listener = ListenOptions::new().backlog(2048).bind(addr)?;
    println!("ws_echo_tungstenite: listening on ws://{addr}");
    loop {
        match listener.accept().await {
            Ok((stream, _)) => spawn(connection(stream, config)).detach(),
            // Out of fds and the like: retrying at once would only spin.
            Err(_) => waitless_reactor::sleep(Duration::from_millis(10)).await,
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(8080);
    let config = args
        .next()
        .and_then(|n| n.parse().ok())
        .map(|n| WebSocketConfig::default().read_buffer_size(n));
    if let Err(e) = block_on(serve(([127, 0, 0, 1], port).into(), config)) {
        eprintln!("ws_echo_tungstenite: {e}");
        std::process::exit(1);
    }
}
