//! Test support: a server on 127.0.0.1:0 in a background thread, and a small raw HTTP client
//! with deadlines (so a broken server fails a test instead of hanging it).

#![allow(dead_code)] // each test file uses a different subset

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use waitless_gateway::{App, Config, Request, Responder, Server, NO_HEADERS};

pub const DEADLINE: Duration = Duration::from_secs(10);

/// Starts `make_app()` on a fresh thread with `config` (bound to 127.0.0.1:0).
pub fn start<A: App>(config: Config, make_app: impl FnOnce() -> A + Send + 'static) -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        waitless_executor::block_on(async move {
            let config = Config {
                bind: "127.0.0.1:0".parse().unwrap(),
                ..config
            };
            let server = Server::bind(config).expect("bind");
            tx.send(server.local_addr().expect("tcp")).unwrap();
            let _ = server.run(make_app()).await;
        })
    });
    rx.recv_timeout(DEADLINE).expect("server did not start")
}

pub fn start_default() -> SocketAddr {
    start(Config::default(), || TestApp)
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s.set_write_timeout(Some(DEADLINE)).unwrap();
    s
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads exactly one response from `s` (Content-Length, chunked, or until close).
pub fn read_response(s: &mut TcpStream, head_request: bool) -> io::Result<Response> {
    let start = Instant::now();
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(p) = find(&buf, b"\r\n\r\n") {
            break p + 4;
        }
        if start.elapsed() > DEADLINE {
            return Err(io::ErrorKind::TimedOut.into());
        }
        let mut byte = [0u8; 1];
        if s.read(&mut byte)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("eof after {:?}", String::from_utf8_lossy(&buf)),
            ));
        }
        buf.push(byte[0]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line {status_line:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            l.split_once(':')
                .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        })
        .collect();
    let mut resp = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(resp);
    }
    if let Some(len) = resp.header("content-length") {
        let len: usize = len.parse().map_err(io::Error::other)?;
        resp.body = vec![0; len];
        s.read_exact(&mut resp.body)?;
    } else if resp
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let line = read_line(s)?;
            let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(io::Error::other)?;
            if size == 0 {
                while !read_line(s)?.is_empty() {}
                break;
            }
            let mut chunk = vec![0; size];
            s.read_exact(&mut chunk)?;
            resp.body.extend_from_slice(&chunk);
            read_line(s)?;
        }
    } else {
        s.read_to_end(&mut resp.body)?;
    }
    Ok(resp)
}

fn read_line(s: &mut TcpStream) -> io::Result<String> {
    let mut line = Vec::new();
    loop {
        let mut b = [0u8; 1];
        if s.read(&mut b)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if b[0] == b'\n' {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(String::from_utf8_lossy(&line).into_owned());
        }
        line.push(b[0]);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Sends `raw` on a new connection and reads one response.
pub fn roundtrip(addr: SocketAddr, raw: &[u8]) -> Response {
    let mut s = connect(addr);
    s.write_all(raw).unwrap();
    read_response(&mut s, raw.starts_with(b"HEAD")).expect("response")
}

/// True once the server has closed `s` (reads EOF or a reset) within the deadline.
pub fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// The server still serves a good request on a fresh connection.
pub fn assert_alive(addr: SocketAddr) {
    let r = roundtrip(addr, b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"Hello, World!");
}

/// Every response carries Date and Server.
pub fn assert_standard_headers(r: &Response) {
    assert_eq!(r.header("server"), Some("waitless"), "{r:?}");
    let date = r.header("date").expect("Date header");
    assert!(
        date.ends_with(" GMT") && date.len() == 29,
        "bad Date {date:?}"
    );
}

/// The app used by most tests: a route per server behaviour.
pub struct TestApp;

impl App for TestApp {
    async fn call(&self, mut req: Request<'_>, mut res: Responder<'_>) {
        let path = req.scope.path.to_string();
        let query = String::from_utf8_lossy(req.scope.query_string).into_owned();
        let num = |key: &str| -> u64 {
            query
                .split('&')
                .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let _ = match path.as_str() {
            "/plaintext" => res.send(200, &[("content-type", "text/plain")], b"Hello, World!"),
            "/echo" => match req.body.to_vec().await {
                Ok(body) => res.send(200, &[("content-type", "application/octet-stream")], &body),
                Err(e) => res.send(e.status(), NO_HEADERS, e.to_string().as_bytes()),
            },
            "/echo-stream" => {
                // Chunked in, chunked out: every request chunk becomes a response chunk.
                let _ = res.start(200, &[("content-type", "application/octet-stream")]);
                while let Ok(Some(c)) = req.body.chunk().await {
                    let c = c.to_vec();
                    if res.write(&c).await.is_err() {
                        break;
                    }
                }
                res.finish().await
            }
            "/stream" => {
                let _ = res.start(200, &[("content-type", "text/plain")]);
                for i in 0..num("n") {
                    if res.write(format!("part {i}\n").as_bytes()).await.is_err() {
                        return;
                    }
                }
                res.finish().await
            }
            "/big" => {
                let body = vec![b'x'; num("kb") as usize * 1024];
                res.send(200, &[("content-type", "application/octet-stream")], &body)
            }
            "/slow" => {
                waitless_reactor::sleep(Duration::from_millis(num("ms"))).await;
                res.send(200, NO_HEADERS, b"slept")
            }
            "/client" => {
                let text = format!(
                    "{} {}",
                    req.scope
                        .client
                        .map(|c| c.ip().to_string())
                        .unwrap_or_default(),
                    req.scope.scheme.as_str()
                );
                res.send(200, NO_HEADERS, text.as_bytes())
            }
            "/scope" => {
                let text = format!(
                    "{} {} {} {:?} {}",
                    req.scope.method,
                    req.scope.path,
                    String::from_utf8_lossy(req.scope.raw_path),
                    req.scope.version,
                    String::from_utf8_lossy(req.scope.query_string)
                );
                res.send(200, NO_HEADERS, text.as_bytes())
            }
            "/panic" => panic!("handler exploded"),
            "/noresponse" => Ok(()),
            "/bad-header" => res.send(200, &[("x-bad", "a\r\nInjected: 1")], b""),
            _ => res.send(
                404,
                &[("content-type", "application/json")],
                br#"{"detail":"Not Found"}"#,
            ),
        };
    }
}
