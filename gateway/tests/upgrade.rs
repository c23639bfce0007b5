//! The upgrade hook: a `101` hands the app the raw connection (bytes already read first, then
//! the socket, both directions at once).

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use support::*;
use waitless_executor::block_on;
use waitless_executor::channel::mpsc;
use waitless_gateway::testing::{TestRequest, TestServer};
use waitless_gateway::{App, Config, Request, Responder};

/// Echoes raw bytes after a `101` (no WebSocket framing: that is the codec's job, above this).
/// The reader and writer halves run as two futures at once: the reader forwards what it reads
/// through a channel; the writer, with `?tick`, first writes `tick;` on its own (before anything
/// was read), then echoes what the channel brings.
struct RawEcho;

impl App for RawEcho {
    async fn call(&self, req: Request<'_>, mut res: Responder<'_>) {
        if req.scope.path == "/kind" {
            let kind = format!("{:?}", req.scope.kind);
            let _ = res.send(200, &[("x-kind", kind)], b"");
            return;
        }
        if !res.can_upgrade() {
            let _ = res.send(426, &[("upgrade", "echo")], b"upgrade required");
            return;
        }
        let tick = req.scope.query_string == b"tick";
        let Ok(conn) = res.upgrade(req.body, &[("upgrade", "echo")]).await else {
            return;
        };
        let (mut reader, mut writer) = conn.split();
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(4);
        let read_side = async move {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = reader.read(&mut buf).await {
                if tx.send(buf[..n].to_vec()).await.is_err() {
                    break;
                }
            }
            // Dropping `tx` ends the write side.
        };
        let write_side = async move {
            if tick {
                writer.buffer().extend_from_slice(b"tick;");
                let _ = writer.flush().await;
            }
            while let Some(bytes) = rx.recv().await {
                if writer.write_all(&bytes).await.is_err() {
                    break;
                }
            }
        };
        futures_lite::future::zip(read_side, write_side).await;
    }
}

const HANDSHAKE: &[u8] =
    b"GET /raw HTTP/1.1\r\nHost: t\r\nConnection: keep-alive, Upgrade\r\nUpgrade: echo\r\n\r\n";

#[test]
fn raw_echo_after_101_over_a_socket_with_early_bytes_first() {
    let addr = start(Config::default(), || RawEcho);
    let mut s = connect(addr);
    // Bytes sent right behind the head (before the 101) must reach the app first.
    s.write_all(&[HANDSHAKE, b"early;"].concat()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"early;") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\nConnection: Upgrade\r\n"), "{text}");
    assert!(text.contains("\r\nupgrade: echo\r\n"), "{text}");
    assert!(text.contains("\r\n\r\nearly;"), "{text}");
    // Now the socket itself, both ways, several times.
    for msg in [&b"one"[..], b"two", &[0xff; 3000]] {
        s.write_all(msg).unwrap();
        let mut echoed = Vec::new();
        while echoed.len() < msg.len() {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0);
            echoed.extend_from_slice(&buf[..n]);
        }
        assert_eq!(echoed, msg);
    }
    // Closing our side ends the app's call; the server closes the connection.
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(closed_by_server(&mut s));
    // The server goes on serving.
    let r = roundtrip(addr, b"GET /kind HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.header("x-kind"), Some("Http"));
}

#[test]
fn websocket_kind_and_refusals_in_memory() {
    block_on(async {
        let server = TestServer::new(RawEcho);
        let ws = TestRequest::get("/kind")
            .header("connection", "Upgrade")
            .header("upgrade", "websocket");
        let r = server.call(ws).await.unwrap();
        assert_eq!(r.header("x-kind"), Some("WebSocket"));
        let r = server.call(TestRequest::get("/kind")).await.unwrap();
        assert_eq!(r.header("x-kind"), Some("Http"));
        // No upgrade offered: the app's 426.
        let r = server.call(TestRequest::get("/raw")).await.unwrap();
        assert_eq!(r.status, 426);
        // HTTP/1.0 cannot upgrade.
        let r = server
            .call(
                TestRequest::get("/raw")
                    .http10()
                    .header("connection", "upgrade")
                    .header("upgrade", "echo"),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 426);
    });
}

#[test]
fn both_halves_at_once_in_memory() {
    block_on(async {
        let server = TestServer::new(RawEcho);
        let mut conn = server.connect();
        conn.send_raw(&HANDSHAKE.replace_query()).await.unwrap();
        let head = conn.response(false).await.unwrap();
        assert_eq!(head.status, 101);
        // The ticker's write arrives without any read from us.
        let mut got = conn.read_raw().await.unwrap();
        assert_eq!(got, b"tick;");
        conn.send_raw(b"ping").await.unwrap();
        got = conn.read_raw().await.unwrap();
        assert_eq!(got, b"ping");
        conn.close_write();
        assert!(conn.closed_within(Duration::from_secs(5)).await.unwrap());
        assert_eq!(server.open_connections(), 0);
    });
}

trait ReplaceQuery {
    fn replace_query(&self) -> Vec<u8>;
}

impl ReplaceQuery for &[u8] {
    /// The handshake for `/raw?tick`.
    fn replace_query(&self) -> Vec<u8> {
        String::from_utf8_lossy(self)
            .replacen("GET /raw ", "GET /raw?tick ", 1)
            .into_bytes()
    }
}

/// Reports the read buffer's capacity after the `101`, then asks for a larger one with bytes
/// still unread in it: `cap=N;` after the upgrade, `kept=<unread bytes>;cap=M;` after
/// `reserve` (and `lost;` if the unread bytes changed), then echoes what follows.
struct Reserve;

impl App for Reserve {
    async fn call(&self, req: Request<'_>, res: Responder<'_>) {
        let Ok(conn) = res.upgrade(req.body, &[("upgrade", "echo")]).await else {
            return;
        };
        let (mut reader, mut writer) = conn.split();
        let before = reader.capacity();
        // The bytes that came behind the head are buffered; keep them unread across `reserve`.
        let unread = match reader.fill_buf().await {
            Ok(b) => b.to_vec(),
            Err(_) => return,
        };
        reader.reserve(20_000);
        let kept = reader.buffered().to_vec();
        let report = format!(
            "cap={before};kept={};cap={};{}",
            String::from_utf8_lossy(&kept),
            reader.capacity(),
            if kept == unread { "" } else { "lost;" }
        );
        reader.consume(kept.len());
        if writer.write_all(report.as_bytes()).await.is_err() {
            return;
        }
        // The grown buffer serves reads as the old one did.
        while let Ok(bytes @ [_, ..]) = reader.fill_buf().await {
            let bytes = bytes.to_vec();
            reader.consume(bytes.len());
            if writer.write_all(&bytes).await.is_err() {
                return;
            }
        }
    }
}

#[test]
fn an_upgraded_connection_keeps_the_usual_read_buffer_until_the_protocol_reserves_more() {
    let addr = start(Config::default(), || Reserve);
    let mut s = connect(addr);
    s.write_all(&[HANDSHAKE, b"early"].concat()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let want: &[u8] = b";kept=early;cap=20000;";
    while !got.ends_with(want) {
        let n = s
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&got)));
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
        assert!(got.len() < 4096, "{}", String::from_utf8_lossy(&got));
    }
    // The usual 8 KiB buffer (less the head in front of the unread bytes), not a grown one.
    let text = String::from_utf8_lossy(&got).into_owned();
    let cap: usize = text
        .split("cap=")
        .nth(1)
        .and_then(|c| c.split(';').next()?.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!((4096..=8192).contains(&cap), "{text}");
    // 12 KiB arrives and comes back through the grown buffer.
    let big = vec![b'x'; 12 * 1024];
    s.write_all(&big).unwrap();
    let mut echoed = Vec::new();
    while echoed.len() < big.len() {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        echoed.extend_from_slice(&buf[..n]);
    }
    assert_eq!(echoed, big);
}
