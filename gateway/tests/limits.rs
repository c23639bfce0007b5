//! Every limit and timeout, crossed once; the server keeps serving afterwards.

mod support;

use std::io::{ErrorKind, Write};
use std::time::{Duration, Instant};

use support::*;
use waitless_gateway::Config;

#[test]
fn head_larger_than_16_kib_is_431() {
    let addr = start_default();
    let mut s = connect(addr);
    let big = format!(
        "GET /plaintext HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(17 * 1024)
    );
    let _ = s.write_all(big.as_bytes());
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.status, 431);
    assert_standard_headers(&r);
    assert!(closed_by_server(&mut s));
    assert_alive(addr);

    // Just under the limit is fine.
    let ok = format!(
        "GET /plaintext HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(15 * 1024)
    );
    assert_eq!(roundtrip(addr, ok.as_bytes()).status, 200);
}

#[test]
fn too_many_headers_is_431() {
    let addr = start_default();
    let mut raw = String::from("GET /plaintext HTTP/1.1\r\nHost: t\r\n");
    for i in 0..150 {
        raw.push_str(&format!("X-{i}: v\r\n"));
    }
    raw.push_str("\r\n");
    assert_eq!(roundtrip(addr, raw.as_bytes()).status, 431);
    assert_alive(addr);
}

#[test]
fn body_over_the_limit_is_413_for_length_and_for_chunked() {
    let addr = start(
        Config {
            max_body_size: 1024,
            ..Config::default()
        },
        || TestApp,
    );
    // Declared too large: refused before the app runs (and before any body byte is read).
    let r = roundtrip(
        addr,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1025\r\n\r\n",
    );
    assert_eq!(r.status, 413);
    assert_alive(addr);

    // Chunked: enforced while streaming, the app's read fails and the server answers 413.
    let mut s = connect(addr);
    s.write_all(b"POST /echo-stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    let chunk = format!("200\r\n{}\r\n", "y".repeat(0x200));
    for _ in 0..2 {
        s.write_all(chunk.as_bytes()).unwrap();
    }
    // Exactly 1024 bytes so far: still allowed; one more byte crosses the limit.
    s.write_all(b"1\r\nz\r\n0\r\n\r\n").unwrap();
    let r = read_response(&mut s, false).unwrap();
    // The streaming app had already started its response, so the stream is cut short and the
    // connection closed; the app saw BodyError::TooLarge.
    assert_eq!(r.status, 200);
    assert!(r.body.len() <= 1024);
    assert_alive(addr);

    let mut s = connect(addr);
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    s.write_all(format!("401\r\n{}\r\n0\r\n\r\n", "y".repeat(0x401)).as_bytes())
        .unwrap();
    assert_eq!(read_response(&mut s, false).unwrap().status, 413);
    assert_alive(addr);

    // The default limit is 1 MiB.
    let addr = start_default();
    let r = roundtrip(
        addr,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1048577\r\n\r\n",
    );
    assert_eq!(r.status, 413);
}

#[test]
fn slowloris_head_gets_408_after_the_head_timeout() {
    let addr = start(
        Config {
            head_timeout: Duration::from_millis(300),
            ..Config::default()
        },
        || TestApp,
    );
    let mut s = connect(addr);
    let t0 = Instant::now();
    s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n")
        .unwrap(); // never finished
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.status, 408);
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert!(closed_by_server(&mut s));
    assert_alive(addr);
}

#[test]
fn idle_keep_alive_connections_are_closed_after_the_timeout() {
    let addr = start(
        Config {
            keep_alive_timeout: Duration::from_millis(200),
            ..Config::default()
        },
        || TestApp,
    );
    let mut s = connect(addr);
    s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, false).unwrap().status, 200);
    let t0 = Instant::now();
    assert!(closed_by_server(&mut s), "idle connection was not closed");
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(150),
        "closed too early: {waited:?}"
    );
    // A connection that never sends anything is closed the same way.
    let mut silent = connect(addr);
    assert!(closed_by_server(&mut silent));
}

#[test]
fn connections_beyond_limit_concurrency_get_503() {
    let addr = start(
        Config {
            limit_concurrency: Some(2),
            ..Config::default()
        },
        || TestApp,
    );
    // Two connections held open with a completed request each (so they are counted).
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = connect(addr);
        s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut s, false).unwrap().status, 200);
        held.push(s);
    }
    let r = roundtrip(addr, b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 503);
    assert_standard_headers(&r);
    drop(held);
    // Once they close, new connections are served again.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let r = roundtrip(addr, b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
        if r.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "server never recovered from the limit"
        );
        std::thread::yield_now();
    }
}

#[test]
fn a_client_that_never_reads_cannot_grow_server_memory() {
    // Each response is 256 KiB; the client pipelines requests without reading a byte. The
    // server must stop reading requests once its socket is full, so the client's own writes
    // eventually block. Without backpressure the server would buffer every response.
    let addr = start_default();
    let s = connect(addr);
    s.set_nonblocking(true).unwrap();
    let req = b"GET /big?kb=256 HTTP/1.1\r\nHost: t\r\n\r\n";
    let mut sent = 0usize;
    let mut blocked = false;
    let deadline = Instant::now() + DEADLINE;
    let mut stream = &s;
    while Instant::now() < deadline {
        match stream.write(req) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                // Give the server a moment to drain what it can, then check it stays blocked.
                std::thread::sleep(Duration::from_millis(50));
                if stream.write(req).is_err() {
                    blocked = true;
                    break;
                }
            }
            Err(e) => panic!("write failed: {e}"),
        }
        assert!(
            sent < 64 << 20,
            "server kept reading: {sent} bytes of requests accepted"
        );
    }
    // What was accepted sits in kernel socket buffers (a few MiB on loopback) and in the
    // server's one read buffer; had the server kept reading, every request would have added
    // 256 KiB of buffered response and the writes would never have blocked.
    assert!(blocked, "the client's writes never blocked");
    drop(s);
    assert_alive(addr);
}

#[test]
fn body_read_timeout_answers_408_over_a_socket() {
    let addr = start(
        Config {
            body_read_timeout: Duration::from_millis(200),
            ..Config::default()
        },
        || TestApp,
    );
    let mut s = connect(addr);
    // A declared megabyte, a few bytes, then silence: the app is reading its body.
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n\r\nabc")
        .unwrap();
    let t0 = Instant::now();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.status, 408, "{}", r.text());
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(closed_by_server(&mut s));
}

#[test]
fn a_client_that_never_reads_is_closed_after_the_send_timeout() {
    let addr = start(
        Config {
            send_timeout: Duration::from_millis(300),
            access_log: false,
            ..Config::default()
        },
        || TestApp,
    );
    let mut s = connect(addr);
    s.set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    // 30,000 pipelined requests, never a byte read: both kernel buffers fill, the server's
    // writes stop making progress, and after the send timeout it must close (a reset, since
    // our requests are left unread) instead of holding the connection forever.
    let one = b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n";
    let deadline = Instant::now() + DEADLINE;
    let mut sent = 0usize;
    loop {
        assert!(
            Instant::now() < deadline,
            "still open after {sent} requests"
        );
        match s.write(one) {
            Ok(_) => sent += 1,
            // Our send buffer is full: the server is stuck writing to us. Keep trying until it
            // gives up (bounded by the deadline above).
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break, // EPIPE / ECONNRESET: the server closed
        }
    }
    assert!(sent > 1000, "the buffers filled after only {sent} requests");
}

/// Blocks its worker thread inside the handler (the mistake the seed warns about, here on
/// purpose: a worker that cannot reach `accept`) until the test says go.
struct BlockingApp {
    started: std::sync::mpsc::Sender<()>,
    go: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl waitless_gateway::App for BlockingApp {
    async fn call(
        &self,
        _req: waitless_gateway::Request<'_>,
        mut res: waitless_gateway::Responder<'_>,
    ) {
        let _ = self.started.send(());
        if let Ok(go) = self.go.lock() {
            let _ = go.recv_timeout(DEADLINE);
        }
        let _ = res.send(200, waitless_gateway::NO_HEADERS, b"unblocked");
    }
}

/// How many of `n` new connections complete their handshake within `wait` each while the
/// server's only worker is blocked (so only the kernel's accept queue takes them).
fn handshakes_while_blocked(backlog: i32, n: usize, wait: Duration) -> usize {
    let (started_tx, started) = std::sync::mpsc::channel();
    let (go, go_rx) = std::sync::mpsc::channel();
    let app = BlockingApp {
        started: started_tx,
        go: std::sync::Mutex::new(go_rx),
    };
    let addr = start(
        Config {
            backlog,
            access_log: false,
            ..Config::default()
        },
        move || app,
    );
    let mut first = connect(addr);
    first
        .write_all(b"GET /block HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    started
        .recv_timeout(DEADLINE)
        .expect("the handler did not start");
    let queued: Vec<_> = (0..n)
        .filter_map(|_| std::net::TcpStream::connect_timeout(&addr, wait).ok())
        .collect();
    let completed = queued.len();
    // Unblocked, the worker answers the first request and then accepts the queued ones.
    go.send(()).unwrap();
    assert_eq!(read_response(&mut first, false).unwrap().status, 200);
    for mut s in queued {
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.write_all(b"GET /q HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        let _ = go.send(());
        assert_eq!(read_response(&mut s, false).unwrap().status, 200);
    }
    completed
}

#[test]
fn connections_beyond_the_backlog_wait_in_the_kernel_and_are_served_later() {
    // Backlog 1: the kernel's accept queue holds backlog + 1 = 2 handshakes; the SYNs of the
    // others are dropped (the client retries after 1 s), so their connects time out here.
    let small = handshakes_while_blocked(1, 5, Duration::from_millis(400));
    assert!(
        (1..=3).contains(&small),
        "{small} of 5 completed with backlog 1"
    );
    // The default backlog takes them all.
    let default =
        handshakes_while_blocked(Config::default().backlog, 5, Duration::from_millis(400));
    assert_eq!(default, 5);
}
