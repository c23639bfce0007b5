//! No per-request heap allocation on the plaintext path, and none per WebSocket message: a
//! counting global allocator counts the allocations made on the server's thread while it
//! serves keep-alive requests or echoes messages.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use support::*;
use waitless_gateway::{App, Config, Request, Responder, Server};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
/// The counter is global: the tests take turns (they run on parallel threads otherwise).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

thread_local! {
    static COUNT_THIS_THREAD: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: delegates every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNT_THIS_THREAD.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNT_THIS_THREAD.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The hello app's two endpoints.
struct Hello;

impl App for Hello {
    async fn call(&self, req: Request<'_>, mut res: Responder<'_>) {
        let _ = match req.scope.path.as_ref() {
            "/plaintext" => res.send(200, &[("content-type", "text/plain")], b"Hello, World!"),
            _ => res.send_with(200, &[("content-type", "application/json")], |buf| {
                buf.extend_from_slice(br#"{"message":"Hello, World!"}"#);
                Ok(())
            }),
        };
    }
}

#[test]
fn plaintext_and_json_requests_allocate_nothing_per_request() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        COUNT_THIS_THREAD.with(|c| c.set(true));
        waitless_executor::block_on(async move {
            let config = Config {
                bind: "127.0.0.1:0".parse().unwrap(),
                ..Config::default()
            };
            let server = Server::bind(config).unwrap();
            tx.send(server.local_addr().expect("tcp")).unwrap();
            let _ = server.run(Hello).await;
        })
    });
    let addr = rx.recv_timeout(DEADLINE).unwrap();
    let mut s = connect(addr);
    let mut exchange = |n: usize| {
        for i in 0..n {
            let path = if i % 2 == 0 { "/plaintext" } else { "/json" };
            s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
                .unwrap();
            assert_eq!(read_response(&mut s, false).unwrap().status, 200);
        }
    };
    exchange(200); // warm-up: connection task, buffer pool, timer slab, date cache
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    const REQUESTS: usize = 2000;
    exchange(REQUESTS);
    let during = ALLOCATIONS.load(Ordering::SeqCst) - before;
    // Zero per request; a handful allowed for slab/heap growth the warm-up did not reach.
    eprintln!("allocations on the server thread during {REQUESTS} requests: {during}");
    assert!(during <= 8, "{during} allocations for {REQUESTS} requests");
}

/// WebSocket echo through the two halves (the `ws_echo` benchmark's server).
struct WsEcho;

impl App for WsEcho {
    async fn call(&self, req: Request<'_>, res: Responder<'_>) {
        let options = waitless_gateway::websocket::Options::default();
        let Ok(mut ws) = waitless_gateway::websocket::accept(req, res, &options).await else {
            return;
        };
        let (mut rx, mut tx) = ws.split();
        while let Ok(msg) = rx.recv().await {
            if msg.is_close() || tx.send(msg).await.is_err() {
                break;
            }
        }
    }
}

/// A masked binary client frame and the server's unmasked echo of it.
fn ws_frames(size: usize) -> (Vec<u8>, Vec<u8>) {
    let mut head = vec![0x82];
    if size < 126 {
        head.push(size as u8);
    } else if size <= 0xFFFF {
        head.push(126);
        head.extend_from_slice(&(size as u16).to_be_bytes());
    } else {
        head.push(127);
        head.extend_from_slice(&(size as u64).to_be_bytes());
    }
    let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
    let mask = [9, 8, 7, 6];
    let mut client = head.clone();
    client[1] |= 0x80;
    client.extend_from_slice(&mask);
    client.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    (client, [head, payload].concat())
}

#[test]
fn websocket_echo_allocates_nothing_per_message() {
    use std::io::Read;
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        COUNT_THIS_THREAD.with(|c| c.set(true));
        waitless_executor::block_on(async move {
            let config = Config {
                bind: "127.0.0.1:0".parse().unwrap(),
                ..Config::default()
            };
            let server = Server::bind(config).unwrap();
            tx.send(server.local_addr().expect("tcp")).unwrap();
            let _ = server.run(WsEcho).await;
        })
    });
    let addr = rx.recv_timeout(DEADLINE).unwrap();
    let mut s = connect(addr);
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 4096 {
        assert_eq!(s.read(&mut b).unwrap(), 1, "closed during the handshake");
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "));
    // 64 B and 16 KiB: kept in place in the connection's buffer; 48 KiB: assembled in the
    // reused message buffer (under its 64 KiB keep limit).
    for size in [64, 16 * 1024, 48 * 1024] {
        let (frame, echo) = ws_frames(size);
        let mut got = vec![0u8; echo.len()];
        let mut exchange = |n: usize| {
            for _ in 0..n {
                s.write_all(&frame).unwrap();
                s.read_exact(&mut got).unwrap();
                assert!(got == echo, "echo of {size} bytes differs");
            }
        };
        exchange(50); // warm-up: the message buffer reaches its size
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        const MESSAGES: usize = 500;
        exchange(MESSAGES);
        let during = ALLOCATIONS.load(Ordering::SeqCst) - before;
        eprintln!(
            "allocations on the server thread during {MESSAGES} messages of {size} B: {during}"
        );
        assert!(
            during <= 8,
            "{during} allocations for {MESSAGES} messages of {size} B"
        );
    }
}
