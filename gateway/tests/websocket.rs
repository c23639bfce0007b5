//! WebSocket over real sockets, against a client we did not write (`tungstenite`, blocking, over
//! std `TcpStream`) and the raw-frame client in `ws_client` for what tungstenite refuses to send.
//! The RFC 6455 rules one by one (Autobahn's sections as a table) are in `websocket_cases.rs`.

mod ws_client;

use std::io::Write;
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::Message as TMessage;
use waitless_gateway::Config;
use ws_client::*;

type Client = tungstenite::WebSocket<TcpStream>;

fn client(addr: std::net::SocketAddr, path: &str) -> Client {
    let (ws, resp) = tungstenite::client(format!("ws://{addr}{path}"), connect(addr)).unwrap();
    assert_eq!(resp.status(), 101);
    ws
}

fn server() -> TestServer {
    TestServer::start(Config::default(), || WsApp::new(None))
}

fn server_with_reports(config: Config) -> (TestServer, mpsc::Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    (TestServer::start(config, move || WsApp::new(Some(tx))), rx)
}

/// The next frame tungstenite reports as a message (it answers pings itself).
fn read(ws: &mut Client) -> TMessage {
    ws.read().expect("read")
}

#[test]
fn tungstenite_echoes_text_binary_and_a_1_mib_message_then_closes_cleanly() {
    let (srv, reports) = server_with_reports(Config::default());
    for path in ["/echo", "/echo-unsplit"] {
        let mut ws = client(srv.addr, path);
        ws.send(TMessage::text("héllo")).unwrap();
        assert_eq!(read(&mut ws), TMessage::text("héllo"));
        ws.send(TMessage::binary(vec![0u8, 1, 2, 255])).unwrap();
        assert_eq!(read(&mut ws), TMessage::binary(vec![0u8, 1, 2, 255]));
        let big: Vec<u8> = (0..1024 * 1024u32).map(|i| (i * 7) as u8).collect();
        ws.send(TMessage::binary(big.clone())).unwrap();
        assert_eq!(read(&mut ws), TMessage::binary(big));
        let big_text = "ü".repeat(300_000);
        ws.send(TMessage::text(big_text.clone())).unwrap();
        assert_eq!(read(&mut ws), TMessage::text(big_text));
        // A ping from the client is answered by the socket, not the app.
        ws.send(TMessage::Ping(b"are you there".to_vec().into()))
            .unwrap();
        assert_eq!(
            read(&mut ws),
            TMessage::Pong(b"are you there".to_vec().into())
        );
        ws.close(Some(CloseFrame {
            code: CloseCode::Library(4001),
            reason: "done".into(),
        }))
        .unwrap();
        // The server echoes the code; then the handshake is complete.
        match read(&mut ws) {
            TMessage::Close(Some(f)) => assert_eq!(u16::from(f.code), 4001),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            ws.read(),
            Err(tungstenite::Error::ConnectionClosed)
        ));
        assert_eq!(reports.recv_timeout(DEADLINE).unwrap(), "close 4001");
    }
}

#[test]
fn subprotocol_is_the_servers_first_choice_among_the_clients_and_extra_headers_are_sent() {
    let srv = server();
    let mut req = format!("ws://{}/subproto", srv.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "chat, x, chat.v2".parse().unwrap(),
    );
    let (mut ws, resp) = tungstenite::client(req, connect(srv.addr)).unwrap();
    let h = resp.headers();
    assert_eq!(h["sec-websocket-protocol"], "chat.v2");
    assert_eq!(h["x-extra"], "1");
    // The app's forged accept header was dropped (tungstenite checked the real one).
    assert_eq!(h.get_all("sec-websocket-accept").iter().count(), 1);
    ws.send(TMessage::text("hi")).unwrap();
    assert_eq!(read(&mut ws), TMessage::text("hi"));
    // No protocol in common: no header.
    let mut s = connect(srv.addr);
    s.write_all(handshake("/subproto", "Sec-WebSocket-Protocol: mqtt\r\n").as_bytes())
        .unwrap();
    let head = read_head(&mut s).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(!head.contains("sec-websocket-protocol"), "{head}");
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=\r\n"),
        "{head}"
    );
}

#[test]
fn handshake_refusals_answer_with_the_rfc_status() {
    let (srv, reports) = server_with_reports(Config::default());
    let base = "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    let key = format!("Sec-WebSocket-Key: {KEY}\r\n");
    let cases: &[(&str, String, u16, &str)] = &[
        ("version 8", format!("{base}{key}Sec-WebSocket-Version: 8\r\n\r\n"), 426, "sec-websocket-version: 13"),
        ("no version", format!("{base}{key}\r\n"), 426, "sec-websocket-version: 13"),
        ("short key", format!("{base}Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n"), 400, "{\"detail\""),
        ("no key", format!("{base}Sec-WebSocket-Version: 13\r\n\r\n"), 400, "{\"detail\""),
        ("key not base64", format!("{base}Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!!!\r\nSec-WebSocket-Version: 13\r\n\r\n"), 400, "{\"detail\""),
        ("two keys", format!("{base}{key}{key}Sec-WebSocket-Version: 13\r\n\r\n"), 400, "{\"detail\""),
        ("no upgrade", format!("GET /echo HTTP/1.1\r\nHost: t\r\n{key}Sec-WebSocket-Version: 13\r\n\r\n"), 426, "upgrade: websocket"),
        ("upgrade: h2c", format!("GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n{key}Sec-WebSocket-Version: 13\r\n\r\n"), 426, "upgrade: websocket"),
        ("HTTP/1.0", format!("GET /echo HTTP/1.0\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{key}Sec-WebSocket-Version: 13\r\n\r\n"), 426, "upgrade: websocket"),
        ("POST", format!("POST /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 0\r\n{key}Sec-WebSocket-Version: 13\r\n\r\n"), 405, "allow: GET"),
    ];
    for (name, raw, status, must_contain) in cases {
        let mut s = connect(srv.addr);
        s.write_all(raw.as_bytes()).unwrap();
        let head = read_head(&mut s);
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status} ")),
            "{name}: {head}"
        );
        let lower = head.to_ascii_lowercase();
        if must_contain.starts_with('{') {
            assert!(
                lower.contains("content-type: application/json"),
                "{name}: {head}"
            );
        } else {
            assert!(
                lower.contains(&must_contain.to_ascii_lowercase()),
                "{name}: {head}"
            );
        }
        assert_eq!(
            reports.recv_timeout(DEADLINE).unwrap(),
            format!("refused Some({status})"),
            "{name}"
        );
    }
    // `Connection` may carry other tokens, any case, over several lines.
    let mut s = connect(srv.addr);
    let raw = format!(
        "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: WebSocket\r\nConnection: keep-alive\r\nConnection: x, UPGRADE\r\n{key}Sec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(raw.as_bytes()).unwrap();
    assert!(read_head(&mut s).starts_with("HTTP/1.1 101 "));
}

#[test]
fn a_handler_that_returns_without_closing_sends_1000_and_close_sends_the_apps_code() {
    let srv = server();
    let mut ws = client(srv.addr, "/noclose");
    ws.send(TMessage::text("x")).unwrap();
    match read(&mut ws) {
        TMessage::Close(Some(f)) => assert_eq!(f.code, CloseCode::Normal),
        other => panic!("{other:?}"),
    }
    let mut ws = client(srv.addr, "/close?4321");
    ws.send(TMessage::text("x")).unwrap();
    match read(&mut ws) {
        TMessage::Close(Some(f)) => {
            assert_eq!(u16::from(f.code), 4321);
            assert_eq!(f.reason.as_str(), "bye");
        }
        other => panic!("{other:?}"),
    }
    // tungstenite answered the close; the server closes the TCP connection.
    assert!(matches!(
        ws.read(),
        Err(tungstenite::Error::ConnectionClosed)
    ));
}

#[test]
fn shutdown_sends_1001_to_open_sockets_and_the_worker_exits_promptly() {
    let config = Config {
        graceful_timeout: Duration::from_secs(20),
        ..Config::default()
    };
    let (srv, reports) = server_with_reports(config);
    let mut a = client(srv.addr, "/echo");
    let mut b = client(srv.addr, "/echo-unsplit");
    a.send(TMessage::text("before")).unwrap();
    assert_eq!(read(&mut a), TMessage::text("before"));
    b.send(TMessage::text("before")).unwrap();
    assert_eq!(read(&mut b), TMessage::text("before"));
    let start = Instant::now();
    srv.stop();
    for ws in [&mut a, &mut b] {
        match read(ws) {
            TMessage::Close(Some(f)) => assert_eq!(f.code, CloseCode::Away),
            other => panic!("{other:?}"),
        }
        // tungstenite has queued its reply; flushing it completes the handshake.
        let _ = ws.flush();
    }
    assert!(srv.finished_within(Duration::from_secs(10)));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let mut ends = [reports.recv().unwrap(), reports.recv().unwrap()];
    ends.sort();
    assert_eq!(ends, ["close 1001", "close 1001"]);
}

#[test]
fn a_client_that_stops_reading_blocks_the_sender_and_is_dropped_after_the_send_timeout() {
    let config = Config {
        send_timeout: Duration::from_millis(500),
        ..Config::default()
    };
    let (srv, reports) = server_with_reports(config);
    let mut ws = open(srv.addr, "/flood");
    // Never read. The server's sends wait for us (each 64 KiB message goes straight to the
    // socket: nothing piles up in the server), then fail after the send timeout.
    let start = Instant::now();
    let report = reports.recv_timeout(DEADLINE).unwrap();
    assert!(report.contains("TimedOut"), "{report}");
    let sent: usize = report
        .split_whitespace()
        .nth(3)
        .and_then(|n| n.trim_end_matches(':').parse().ok())
        .unwrap();
    // What fits in the kernel's socket buffers on both sides, not an unbounded queue.
    assert!(sent * 64 * 1024 < 64 * 1024 * 1024, "{report}");
    assert!(start.elapsed() < Duration::from_secs(8));
    assert!(ws.closed_by_server());
}

#[test]
fn keep_alive_pings_and_a_missing_pong_closes_with_1011() {
    let srv = server();
    let mut ws = open(srv.addr, "/ping");
    for _ in 0..3 {
        let f = ws.recv().expect("ping");
        assert_eq!(f.opcode, 9);
        ws.send(&pong(&f.payload));
    }
    // Stop answering: Close 1011 within the ping timeout.
    let start = Instant::now();
    let f = ws.recv().expect("ping");
    assert_eq!(f.opcode, 9);
    assert_eq!(ws.close_code(), Some(1011));
    assert!(start.elapsed() < Duration::from_secs(3));
    assert!(ws.closed_by_server());
}

/// `Options::idle_timeout` (300 ms on `/idle`): a client that keeps sending is never cut off,
/// however long it stays; one that falls silent gets Close 1000 "idle timeout" after the timeout
/// and the handler sees `Error::IdleTimeout`.
#[test]
fn a_silent_client_is_closed_after_the_idle_timeout_and_an_active_one_is_not() {
    let (srv, reports) = server_with_reports(Config::default());
    let mut ws = open(srv.addr, "/idle");
    // Active for 900 ms, three idle timeouts, a message every 100 ms: every one echoed.
    for i in 0..9 {
        std::thread::sleep(Duration::from_millis(100));
        ws.send(&text(&format!("m{i}")));
        let f = ws.recv().expect("echo while active");
        assert_eq!((f.opcode, f.payload), (1, format!("m{i}").into_bytes()));
    }
    let silent = Instant::now();
    let f = ws.recv().expect("the server's Close");
    assert_eq!(f.opcode, 8);
    assert_eq!(f.close_code(), Some(1000));
    assert_eq!(&f.payload[2..], b"idle timeout");
    let waited = silent.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    let report = reports.recv_timeout(DEADLINE).expect("the handler ended");
    assert_eq!(report, "error IdleTimeout");
}

#[test]
fn a_fragmented_message_with_an_interleaved_ping_over_split_writes() {
    let srv = server();
    let mut ws = open(srv.addr, "/echo");
    // "héllo wörld" in three fragments, a code point cut between the first two, a ping in the
    // middle, and every frame written a few bytes at a time.
    let bytes = "héllo wörld".as_bytes();
    let frames = [
        out(1, &bytes[..2]).fin(false),
        ping(b"mid"),
        cont(&bytes[2..7]).fin(false),
        cont(&bytes[7..]),
    ];
    for f in &frames {
        for piece in f.encode().chunks(3) {
            ws.send_bytes(piece).unwrap();
            ws.s.flush().unwrap();
        }
    }
    let pong = ws.recv().unwrap();
    assert_eq!((pong.opcode, pong.payload.as_slice()), (10, &b"mid"[..]));
    let msg = ws.recv().unwrap();
    assert_eq!((msg.opcode, msg.payload.as_slice()), (1, bytes));
}

/// Over TLS the transport has no vectored I/O: a vectored write sends the buffer first, a
/// spilling read fills the message buffer only. Messages of every path (in place, assembled,
/// read straight into the message buffer; sent from the buffer and beside it) still echo.
#[cfg(feature = "tls")]
#[test]
fn tungstenite_over_tls_echoes_messages_of_every_read_and_write_path() {
    use std::sync::Arc;
    let dir = std::env::temp_dir().join(format!("waitless-ws-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let config = Config {
        tls: Some(waitless_gateway::TlsFiles {
            certfile: cert,
            keyfile: key,
        }),
        ..Config::default()
    };
    let srv = server_with_reports(config).0;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ck.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(tls), name).unwrap();
    let stream = rustls::StreamOwned::new(conn, connect(srv.addr));
    let (mut ws, _) = tungstenite::client("wss://localhost/echo", stream).expect("handshake");
    for size in [64usize, 16 * 1024, 48 * 1024, 200 * 1024] {
        let payload: Vec<u8> = (0..size).map(|i| (i * 13) as u8).collect();
        // Two at once: the second frame arrives behind the first.
        ws.send(TMessage::binary(payload.clone())).unwrap();
        ws.send(TMessage::text("next")).unwrap();
        assert_eq!(ws.read().unwrap(), TMessage::binary(payload), "{size} B");
        assert_eq!(ws.read().unwrap(), TMessage::text("next"));
    }
    ws.close(None).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
