//! In-memory calls: drive any [`App`] through the server's own connection code, with no socket
//! and no thread.
//!
//! Why through the connection code and not by calling `App::call` directly: what a test wants
//! to know is what a client would see — parsing, limits, `HEAD` rules, `100-continue`, chunked
//! framing, keep-alive, the server's own error responses. So a [`TestServer`] runs the very
//! state machine a TCP connection runs, over an in-memory pipe ([`crate::transport`]), and the
//! test reads back bytes and parses them as a client would. It is what the framework's
//! `TestClient` wraps (FastAPI's `TestClient` does the same over ASGI).
//!
//! Everything runs on the current thread's executor: call it inside
//! `waitless_executor::block_on`.
//!
//! ```
//! use waitless_gateway::testing::{TestRequest, TestServer};
//! use waitless_gateway::{App, Request, Responder};
//!
//! struct Echo;
//! impl App for Echo {
//!     async fn call(&self, mut req: Request<'_>, mut res: Responder<'_>) {
//!         let body = req.body.to_vec().await.unwrap_or_default();
//!         let _ = res.send(200, &[("content-type", "text/plain")], &body);
//!     }
//! }
//!
//! waitless_executor::block_on(async {
//!     let server = TestServer::new(Echo);
//!     let res = server.call(TestRequest::post("/echo").body("hi")).await.unwrap();
//!     assert_eq!(res.status, 200);
//!     assert_eq!(res.text(), "hi");
//!     assert_eq!(res.header("server"), Some("waitless"));
//!
//!     // A body streamed in chunks arrives through the chunked decoder.
//!     let req = TestRequest::post("/echo").chunks(["he", "llo"]);
//!     assert_eq!(server.call(req).await.unwrap().text(), "hello");
//! });
//! ```

use std::cell::RefCell;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use futures_lite::FutureExt;
use waitless_executor::spawn;

use crate::config::Config;
use crate::h1::chunked::ChunkedDecoder;
use crate::h1::Version;
use crate::interface::{App, LifespanError, State};
use crate::server::{conn, worker::Worker};
use crate::transport::{memory, Transport};

/// The address a test connection reports as its client (trusted for proxy headers, like a
/// local reverse proxy).
pub const TEST_CLIENT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 50000);

/// Bytes each direction of a test connection buffers before the writer waits.
pub const PIPE_CAPACITY: usize = 256 * 1024;

/// An app behind the server's connection code, reachable in memory.
pub struct TestServer<A: App> {
    worker: Rc<Worker<A>>,
    pipe_capacity: usize,
}

impl<A: App> TestServer<A> {
    /// Wraps `app` with the default [`Config`], without running its lifespan `startup`
    /// (use [`start`](Self::start) for that).
    pub fn new(app: A) -> TestServer<A> {
        TestServer::with_config(app, Config::default(), State::new())
    }

    /// Wraps `app` with `config` and an already built `state`.
    pub fn with_config(app: A, config: Config, state: State) -> TestServer<A> {
        TestServer {
            worker: Rc::new(Worker::new(app, state, config, None)),
            pipe_capacity: PIPE_CAPACITY,
        }
    }

    /// Runs the app's lifespan `startup`, as a worker does before serving, then wraps it.
    pub async fn start(app: A, config: Config) -> Result<TestServer<A>, LifespanError> {
        let mut state = State::new();
        app.startup(&mut state).await?;
        Ok(TestServer::with_config(app, config, state))
    }

    /// Sets how many bytes each direction of later connections buffers (small values make the
    /// server's backpressure and send timeout observable).
    pub fn pipe_capacity(mut self, bytes: usize) -> TestServer<A> {
        self.pipe_capacity = bytes;
        self
    }

    /// The settings the server runs with.
    pub fn config(&self) -> &Config {
        &self.worker.config
    }

    /// The per-worker state the lifespan built.
    pub fn state(&self) -> &State {
        &self.worker.shared.state
    }

    /// Opens a connection: the server side runs as a task on this thread's executor.
    pub fn connect(&self) -> TestConn {
        let (client, server) = memory::pair(self.pipe_capacity);
        self.worker.connection_opened();
        let c = conn::Conn::new(
            self.worker.clone(),
            Transport::Memory(server),
            Some(TEST_CLIENT),
        );
        let slots = Rc::new(RefCell::new(Vec::new()));
        spawn(conn::serve(c, slots, conn::active::<A>)).detach();
        TestConn {
            end: client,
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// Sends `req` on a new connection and reads the whole response.
    pub async fn call(&self, req: TestRequest) -> io::Result<TestResponse> {
        let mut conn = self.connect();
        conn.request(&req).await
    }

    /// Sends `req` on a new connection and returns once the response head arrived; the body
    /// is read as it is produced ([`StreamingResponse::chunk`]).
    pub async fn call_streaming(&self, req: TestRequest) -> io::Result<StreamingResponse> {
        let mut conn = self.connect();
        conn.send_tolerant(&req).await?;
        conn.streaming_response(req.method == "HEAD").await
    }

    /// Connections still open.
    pub fn open_connections(&self) -> usize {
        self.worker.open.get()
    }

    /// Shuts down as a worker does: sets the shutdown signal (idle connections close after a
    /// short grace, long handlers hear it), waits up to the graceful timeout for open
    /// connections, then runs the app's lifespan `shutdown`. True if every connection finished
    /// in time.
    pub async fn shutdown(&self) -> bool {
        let worker = &*self.worker;
        worker.shared.shutdown.start();
        let finished = worker.drain().await;
        worker.app.shutdown(&worker.shared.state).await;
        finished
    }
}

impl<A: App> fmt::Debug for TestServer<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("open_connections", &self.open_connections())
            .finish()
    }
}

/// A request to send: method, target, headers, and a body sent whole (`Content-Length`) or in
/// chunks (`Transfer-Encoding: chunked`, one write per chunk).
#[derive(Clone, Debug)]
pub struct TestRequest {
    method: String,
    target: String,
    version: Version,
    headers: Vec<(String, Vec<u8>)>,
    body: Option<Vec<u8>>,
    chunks: Option<Vec<Vec<u8>>>,
}

impl TestRequest {
    /// A request with `method` for `target` (path and query, or an absolute URI).
    pub fn new(method: &str, target: &str) -> TestRequest {
        TestRequest {
            method: method.to_owned(),
            target: target.to_owned(),
            version: Version::Http11,
            headers: Vec::new(),
            body: None,
            chunks: None,
        }
    }

    /// `GET target`.
    pub fn get(target: &str) -> TestRequest {
        TestRequest::new("GET", target)
    }

    /// `POST target`.
    pub fn post(target: &str) -> TestRequest {
        TestRequest::new("POST", target)
    }

    /// Adds a header (a `Host` header replaces the default `testserver`).
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> TestRequest {
        self.headers
            .push((name.to_owned(), value.as_ref().to_vec()));
        self
    }

    /// Sends `body` whole, with `Content-Length`.
    pub fn body(mut self, body: impl AsRef<[u8]>) -> TestRequest {
        self.body = Some(body.as_ref().to_vec());
        self.chunks = None;
        self
    }

    /// Sends the body chunked, one write per chunk.
    pub fn chunks<I, C>(mut self, chunks: I) -> TestRequest
    where
        I: IntoIterator<Item = C>,
        C: AsRef<[u8]>,
    {
        self.chunks = Some(chunks.into_iter().map(|c| c.as_ref().to_vec()).collect());
        self.body = None;
        self
    }

    /// Sends the request as HTTP/1.0 (no default `Host`).
    pub fn http10(mut self) -> TestRequest {
        self.version = Version::Http10;
        self
    }

    /// The method.
    pub fn method(&self) -> &str {
        &self.method
    }

    fn has(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The request head as it goes on the wire.
    fn head(&self) -> Vec<u8> {
        let mut out = format!(
            "{} {} HTTP/{}\r\n",
            self.method,
            self.target,
            self.version.as_str()
        )
        .into_bytes();
        if self.version == Version::Http11 && !self.has("host") {
            out.extend_from_slice(b"Host: testserver\r\n");
        }
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        if let Some(body) = &self.body {
            if !self.has("content-length") && !self.has("transfer-encoding") {
                out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
            }
        } else if self.chunks.is_some() && !self.has("transfer-encoding") {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// A complete response as a client saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestResponse {
    /// The final status.
    pub status: u16,
    /// Headers in order, names as sent.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The decoded body (chunked framing removed).
    pub body: Vec<u8>,
    /// Interim (1xx) statuses received before this response, e.g. `[100]`.
    pub interim: Vec<u16>,
}

impl TestResponse {
    /// The first value of header `name` (case-insensitive) as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }

    /// Every value of header `name`, in order.
    pub fn header_all(&self, name: &str) -> Vec<&[u8]> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
            .collect()
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn header_in<'h>(headers: &'h [(String, Vec<u8>)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
}

/// How the body of a response is delimited.
#[derive(Debug)]
enum Framing {
    None,
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
}

/// A response whose body is read as it arrives.
#[derive(Debug)]
pub struct StreamingResponse {
    /// The final status.
    pub status: u16,
    /// Headers in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Interim (1xx) statuses received first.
    pub interim: Vec<u16>,
    conn: TestConn,
    framing: Framing,
}

impl StreamingResponse {
    /// The first value of header `name` as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }

    /// The next piece of the body as it arrived (`None` at its end).
    pub async fn chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        self.conn.body_chunk(&mut self.framing).await
    }

    /// Reads the rest of the body.
    pub async fn rest(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(c) = self.chunk().await? {
            out.extend_from_slice(&c);
        }
        Ok(out)
    }

    /// The connection, for what follows the response (raw bytes after a `101`).
    pub fn into_conn(self) -> TestConn {
        self.conn
    }
}

/// The client end of one in-memory connection.
pub struct TestConn {
    end: memory::Endpoint,
    /// Received and not yet consumed: `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
}

impl TestConn {
    /// Writes raw bytes to the server.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = poll_fn(|cx| self.end.poll_write(cx, rest)).await?;
            rest = &rest[n..];
        }
        Ok(())
    }

    /// Writes `req` (a chunked body one chunk per write, yielding to the server in between).
    pub async fn send(&mut self, req: &TestRequest) -> io::Result<()> {
        self.send_raw(&req.head()).await?;
        if let Some(body) = &req.body {
            self.send_raw(body).await?;
        }
        if let Some(chunks) = &req.chunks {
            for c in chunks.iter().filter(|c| !c.is_empty()) {
                let mut framed = format!("{:x}\r\n", c.len()).into_bytes();
                framed.extend_from_slice(c);
                framed.extend_from_slice(b"\r\n");
                self.send_raw(&framed).await?;
                futures_lite::future::yield_now().await;
            }
            self.send_raw(b"0\r\n\r\n").await?;
        }
        Ok(())
    }

    /// Sends `req` and reads its whole response.
    ///
    /// A server that answers early and closes (a `413` before the body) makes the send fail;
    /// like an HTTP client, this then still reads the response.
    pub async fn request(&mut self, req: &TestRequest) -> io::Result<TestResponse> {
        self.send_tolerant(req).await?;
        self.response(req.method == "HEAD").await
    }

    async fn send_tolerant(&mut self, req: &TestRequest) -> io::Result<()> {
        match self.send(req).await {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }

    /// How many writes the server made on this connection so far (each would be one `write`
    /// syscall on a socket: the server batches pipelined responses and buffered chunks).
    pub fn server_writes(&self) -> usize {
        self.end.writes_received()
    }

    /// How many reads the server made on this connection so far (each would be one `read`
    /// syscall on a socket).
    pub fn server_reads(&self) -> usize {
        self.end.reads_by_peer()
    }

    /// Reads one whole response (`head_request`: it answers a `HEAD`, so it has no body).
    pub async fn response(&mut self, head_request: bool) -> io::Result<TestResponse> {
        let (status, headers, interim, mut framing) = self.read_head(head_request).await?;
        let mut body = Vec::new();
        while let Some(c) = self.body_chunk(&mut framing).await? {
            body.extend_from_slice(&c);
        }
        Ok(TestResponse {
            status,
            headers,
            body,
            interim,
        })
    }

    /// Reads a response head; the body is then read from the returned stream.
    pub async fn streaming_response(mut self, head_request: bool) -> io::Result<StreamingResponse> {
        let (status, headers, interim, framing) = self.read_head(head_request).await?;
        Ok(StreamingResponse {
            status,
            headers,
            interim,
            conn: self,
            framing,
        })
    }

    /// Reads whatever bytes arrive next (after an upgrade, say); empty at end of stream.
    pub async fn read_raw(&mut self) -> io::Result<Vec<u8>> {
        if self.pos < self.buf.len() {
            let out = self.buf[self.pos..].to_vec();
            self.buf.clear();
            self.pos = 0;
            return Ok(out);
        }
        let mut chunk = vec![0u8; 16 * 1024];
        let n = poll_fn(|cx| self.end.poll_read(cx, &mut chunk)).await?;
        chunk.truncate(n);
        Ok(chunk)
    }

    /// Reads until the server closes; returns every byte it sent before that.
    pub async fn read_to_end(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let c = self.read_raw().await?;
            if c.is_empty() {
                return Ok(out);
            }
            out.extend_from_slice(&c);
        }
    }

    /// Whether the server closes the connection (no more bytes, end of stream) within
    /// `within`; bytes it sends meanwhile are an error.
    pub async fn closed_within(&mut self, within: Duration) -> io::Result<bool> {
        let eof = async { self.read_raw().await.map(|b| Some(b.is_empty())) };
        let wait = async {
            waitless_reactor::sleep(within).await;
            Ok(None)
        };
        match eof.or(wait).await? {
            Some(true) => Ok(true),
            Some(false) => Err(io::Error::other("the server sent more bytes")),
            None => Ok(false),
        }
    }

    /// Closes this side's sending direction (the server sees end of stream).
    pub fn close_write(&self) {
        self.end.close_write();
    }

    /// Bytes this side wrote that the server has not read yet.
    pub fn unread_by_server(&self) -> usize {
        self.end.unread_by_peer()
    }

    /// Reads at least one more byte into the buffer; false at end of stream.
    async fn fill(&mut self) -> io::Result<bool> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + 16 * 1024, 0);
        let spare = &mut self.buf[old..];
        let res = poll_fn(|cx| self.end.poll_read(cx, spare)).await;
        let n = *res.as_ref().unwrap_or(&0);
        self.buf.truncate(old + n);
        res.map(|n| n > 0)
    }

    #[allow(clippy::type_complexity)]
    async fn read_head(
        &mut self,
        head_request: bool,
    ) -> io::Result<(u16, Vec<(String, Vec<u8>)>, Vec<u16>, Framing)> {
        let mut interim = Vec::new();
        loop {
            let parsed = parse_response_head(&self.buf[self.pos..])?;
            let Some((len, status, headers)) = parsed else {
                if !self.fill().await? {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed before a response head",
                    ));
                }
                continue;
            };
            self.pos += len;
            if (100..200).contains(&status) && status != 101 {
                interim.push(status);
                continue;
            }
            let framing = response_framing(status, &headers, head_request)?;
            return Ok((status, headers, interim, framing));
        }
    }

    async fn body_chunk(&mut self, framing: &mut Framing) -> io::Result<Option<Vec<u8>>> {
        loop {
            let avail = &self.buf[self.pos..];
            match framing {
                Framing::None => return Ok(None),
                Framing::Length(0) => return Ok(None),
                Framing::Length(left) if !avail.is_empty() => {
                    let n = (*left).min(avail.len() as u64) as usize;
                    *left -= n as u64;
                    self.pos += n;
                    return Ok(Some(avail[..n].to_vec()));
                }
                Framing::Chunked(dec) if dec.is_done() => return Ok(None),
                Framing::Chunked(dec) if !avail.is_empty() => {
                    let (used, data) = dec
                        .decode(avail)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    let out = data.map(|r| avail[r].to_vec());
                    self.pos += used;
                    if let Some(out) = out.filter(|o| !o.is_empty()) {
                        return Ok(Some(out));
                    }
                    continue;
                }
                Framing::UntilClose if !avail.is_empty() => {
                    let out = avail.to_vec();
                    self.pos = self.buf.len();
                    return Ok(Some(out));
                }
                _ => {}
            }
            if !self.fill().await? {
                return match framing {
                    Framing::UntilClose => Ok(None),
                    _ => Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed inside a response body",
                    )),
                };
            }
        }
    }
}

impl fmt::Debug for TestConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestConn")
            .field("buffered", &(self.buf.len() - self.pos))
            .finish()
    }
}

/// Parses a response head at the start of `buf`: `(length, status, headers)`, or `None` if it
/// is not complete yet.
#[allow(clippy::type_complexity)]
fn parse_response_head(buf: &[u8]) -> io::Result<Option<(usize, u16, Vec<(String, Vec<u8>)>)>> {
    let mut storage = [httparse::EMPTY_HEADER; 128];
    let mut res = httparse::Response::new(&mut storage);
    match res.parse(buf) {
        Ok(httparse::Status::Complete(len)) => {
            let status = res.code.unwrap_or(0);
            let headers = res
                .headers
                .iter()
                .map(|h| (h.name.to_owned(), h.value.to_vec()))
                .collect();
            Ok(Some((len, status, headers)))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e)),
    }
}

fn response_framing(
    status: u16,
    headers: &[(String, Vec<u8>)],
    head_request: bool,
) -> io::Result<Framing> {
    if head_request || status == 101 || status == 204 || status == 304 {
        return Ok(Framing::None);
    }
    if header_in(headers, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return Ok(Framing::Chunked(ChunkedDecoder::default()));
    }
    match header_in(headers, "content-length") {
        Some(v) => v
            .trim()
            .parse()
            .map(Framing::Length)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad Content-Length")),
        None => Ok(Framing::UntilClose),
    }
}
