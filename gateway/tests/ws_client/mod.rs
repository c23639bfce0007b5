//! WebSocket test support: an app with one route per behaviour, a server on 127.0.0.1:0 that
//! can be shut down from the test, and a raw-frame client (hand-built frames, so every malformed
//! case can be sent exactly as written).

#![allow(dead_code)] // each test file uses a different subset

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use waitless_gateway::websocket::{self, Message, Options};
use waitless_gateway::{App, Config, Request, Responder, Server};

pub const DEADLINE: Duration = Duration::from_secs(10);

/// What the app reports about a socket's end (for the tests that look from the server side).
pub type Reports = mpsc::Sender<String>;

/// Routes: `/echo` (split, echoes text and binary), `/echo-unsplit`, `/noclose` (returns after
/// the first message), `/close?CODE` (answers the first message with `close(CODE, "bye")`),
/// `/flood` (sends 64 KiB messages until a send fails), `/small` (1 KiB message limit),
/// `/ping` (ping every 100 ms, 300 ms timeout), `/subproto` (protocols `chat.v2`, `chat`).
pub struct WsApp {
    pub reports: Option<Reports>,
    echo: Options,
    small: Options,
    ping: Options,
    idle: Options,
    subproto: Options,
}

impl WsApp {
    pub fn new(reports: Option<Reports>) -> WsApp {
        WsApp {
            reports,
            echo: Options::default(),
            small: Options {
                max_message_size: 1024,
                ..Options::default()
            },
            ping: Options {
                ping_interval: Some(Duration::from_millis(100)),
                ping_timeout: Duration::from_millis(300),
                ..Options::default()
            },
            idle: Options {
                idle_timeout: Some(Duration::from_millis(300)),
                ..Options::default()
            },
            subproto: Options {
                protocols: vec!["chat.v2".into(), "chat".into()],
                headers: vec![
                    ("x-extra".into(), "1".into()),
                    ("sec-websocket-accept".into(), "forged".into()),
                ],
                ..Options::default()
            },
        }
    }

    fn report(&self, what: String) {
        if let Some(r) = &self.reports {
            let _ = r.send(what);
        }
    }
}

impl App for WsApp {
    async fn call(&self, req: Request<'_>, res: Responder<'_>) {
        let path = req.scope.path.to_string();
        let query = String::from_utf8_lossy(req.scope.query_string).into_owned();
        let options = match path.as_str() {
            "/small" => &self.small,
            "/ping" => &self.ping,
            "/idle" => &self.idle,
            "/subproto" => &self.subproto,
            _ => &self.echo,
        };
        let mut ws = match websocket::accept(req, res, options).await {
            Ok(ws) => ws,
            Err(refused) => return self.report(format!("refused {:?}", refused.status())),
        };
        let end = match path.as_str() {
            "/echo-unsplit" => echo_unsplit(&mut ws).await,
            "/noclose" => ws.recv().await.map(|_| "returned".to_owned()),
            "/close" => {
                let code = query.parse().unwrap_or(1000);
                let _ = ws.recv().await;
                ws.close(code, "bye")
                    .await
                    .map(|_| format!("closed {code}"))
            }
            "/flood" => flood(&mut ws).await,
            _ => echo(&mut ws).await,
        };
        self.report(match end {
            Ok(s) => s,
            Err(e) => format!("error {e:?}"),
        });
    }
}

/// Echoes until Close; returns how it ended (`close CODE`).
async fn echo(ws: &mut websocket::WebSocket<'_>) -> Result<String, websocket::Error> {
    let (mut rx, mut tx) = ws.split();
    for _ in 0..1_000_000 {
        match rx.recv().await? {
            Message::Close(code, _) => return Ok(format!("close {code}")),
            msg => tx.send(msg).await?,
        }
    }
    Ok("too many".into())
}

/// The same with the unsplit socket (the message is copied before it is sent back).
async fn echo_unsplit(ws: &mut websocket::WebSocket<'_>) -> Result<String, websocket::Error> {
    for _ in 0..1_000_000 {
        let owned: Result<(bool, Vec<u8>), u16> = match ws.recv().await? {
            Message::Text(t) => Ok((true, t.as_bytes().to_vec())),
            Message::Binary(b) => Ok((false, b.to_vec())),
            Message::Close(code, _) => Err(code),
        };
        match owned {
            Ok((true, t)) => ws.send_text(&String::from_utf8_lossy(&t)).await?,
            Ok((false, b)) => ws.send_binary(&b).await?,
            Err(code) => return Ok(format!("close {code}")),
        }
    }
    Ok("too many".into())
}

/// Sends 64 KiB messages to a client that does not read, until a send fails.
async fn flood(ws: &mut websocket::WebSocket<'_>) -> Result<String, websocket::Error> {
    let chunk = vec![0x5a; 64 * 1024];
    for sent in 0..100_000u32 {
        if let Err(e) = ws.send_binary(&chunk).await {
            return Ok(format!("flood stopped after {sent}: {e:?}"));
        }
    }
    Ok("flood never blocked".into())
}

/// A server running `app` on 127.0.0.1:0 in a thread; `stop` shuts it down gracefully (a
/// connection to a control listener ends the `run_until` future: an event, no polling).
pub struct TestServer {
    pub addr: SocketAddr,
    control: SocketAddr,
    done: mpsc::Receiver<()>,
}

impl TestServer {
    pub fn start(config: Config, make_app: impl FnOnce() -> WsApp + Send + 'static) -> TestServer {
        let (tx, rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        std::thread::spawn(move || {
            waitless_executor::block_on(async move {
                let config = Config {
                    bind: "127.0.0.1:0".parse().unwrap(),
                    ..config
                };
                let server = Server::bind(config).expect("bind");
                let control =
                    waitless_reactor::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
                tx.send((server.local_addr().unwrap(), control.local_addr().unwrap()))
                    .unwrap();
                let stop = async move {
                    let _ = control.accept().await;
                };
                let _ = server.run_until(make_app(), stop).await;
                let _ = done_tx.send(());
            })
        });
        let (addr, control) = rx.recv_timeout(DEADLINE).expect("server did not start");
        TestServer {
            addr,
            control,
            done,
        }
    }

    /// Starts the graceful shutdown.
    pub fn stop(&self) {
        let _ = TcpStream::connect(self.control);
    }

    /// Whether the server finished within `within`.
    pub fn finished_within(&self, within: Duration) -> bool {
        self.done.recv_timeout(within).is_ok()
    }
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s.set_write_timeout(Some(DEADLINE)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// A handshake request for `path` with extra header lines.
pub fn handshake(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// Reads a response head (up to the blank line); returns it as text.
pub fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert!(head.len() < 16 * 1024, "head too long");
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            other => panic!("no response head: {other:?} after {head:?}"),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Opens a WebSocket on `path` with the raw client.
pub fn open(addr: SocketAddr, path: &str) -> RawWs {
    let mut s = connect(addr);
    s.write_all(handshake(path, "").as_bytes()).unwrap();
    let head = read_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    RawWs { s }
}

/// A frame as sent by the raw client (masked unless `unmasked`).
#[derive(Clone, Debug)]
pub struct Out {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub payload: Vec<u8>,
    pub unmasked: bool,
}

pub fn out(opcode: u8, payload: impl AsRef<[u8]>) -> Out {
    Out {
        fin: true,
        rsv: 0,
        opcode,
        payload: payload.as_ref().to_vec(),
        unmasked: false,
    }
}

impl Out {
    pub fn fin(mut self, fin: bool) -> Out {
        self.fin = fin;
        self
    }
    pub fn rsv(mut self, rsv: u8) -> Out {
        self.rsv = rsv;
        self
    }
    pub fn unmasked(mut self) -> Out {
        self.unmasked = true;
        self
    }

    /// The frame's bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = vec![(if self.fin { 0x80 } else { 0 }) | (self.rsv << 4) | self.opcode];
        let mask_bit = if self.unmasked { 0 } else { 0x80 };
        let n = self.payload.len();
        if n < 126 {
            v.push(mask_bit | n as u8);
        } else if n <= 0xFFFF {
            v.push(mask_bit | 126);
            v.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            v.push(mask_bit | 127);
            v.extend_from_slice(&(n as u64).to_be_bytes());
        }
        if self.unmasked {
            v.extend_from_slice(&self.payload);
        } else {
            let key = [0x12, 0x34, 0x56, 0x78];
            v.extend_from_slice(&key);
            v.extend(self.payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        v
    }
}

pub fn text(t: &str) -> Out {
    out(1, t)
}
pub fn binary(b: impl AsRef<[u8]>) -> Out {
    out(2, b)
}
pub fn cont(b: impl AsRef<[u8]>) -> Out {
    out(0, b)
}
pub fn ping(b: impl AsRef<[u8]>) -> Out {
    out(9, b)
}
pub fn pong(b: impl AsRef<[u8]>) -> Out {
    out(10, b)
}
pub fn close(code: u16, reason: &str) -> Out {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    out(8, p)
}

/// A frame as received from the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct In {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl In {
    pub fn close_code(&self) -> Option<u16> {
        (self.opcode == 8 && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

/// The raw client.
pub struct RawWs {
    pub s: TcpStream,
}

impl RawWs {
    pub fn send(&mut self, f: &Out) {
        self.s.write_all(&f.encode()).unwrap();
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.s.write_all(bytes)
    }

    /// Reads one server frame; `None` at end of stream. Server frames must be unmasked and
    /// have no reserved bits.
    pub fn recv(&mut self) -> Option<In> {
        let mut h = [0u8; 2];
        if read_exact_or_eof(&mut self.s, &mut h).ok()? {
            return None;
        }
        assert_eq!(h[0] & 0x70, 0, "server set reserved bits");
        assert_eq!(h[1] & 0x80, 0, "server masked a frame");
        let len = match h[1] & 0x7F {
            126 => {
                let mut b = [0u8; 2];
                self.s.read_exact(&mut b).ok()?;
                u16::from_be_bytes(b) as usize
            }
            127 => {
                let mut b = [0u8; 8];
                self.s.read_exact(&mut b).ok()?;
                u64::from_be_bytes(b) as usize
            }
            n => n as usize,
        };
        let mut payload = vec![0; len];
        self.s.read_exact(&mut payload).ok()?;
        Some(In {
            fin: h[0] & 0x80 != 0,
            opcode: h[0] & 0x0F,
            payload,
        })
    }

    /// Reads frames until a Close; returns its code (`Some(1005)` for an empty one, `None` if
    /// the stream ended first).
    pub fn close_code(&mut self) -> Option<u16> {
        for _ in 0..100_000 {
            let f = self.recv()?;
            if f.opcode == 8 {
                return Some(f.close_code().unwrap_or(1005));
            }
        }
        None
    }

    /// True once the server closed the TCP connection.
    pub fn closed_by_server(&mut self) -> bool {
        let start = Instant::now();
        let mut buf = [0u8; 4096];
        while start.elapsed() < DEADLINE {
            match self.s.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
        false
    }
}

/// `read_exact` that reports a clean end of stream before the first byte as `Ok(true)`.
fn read_exact_or_eof(s: &mut TcpStream, buf: &mut [u8]) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match s.read(&mut buf[got..])? {
            0 if got == 0 => return Ok(true),
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => got += n,
        }
    }
    Ok(false)
}
