//! No per-request heap allocation on the plaintext path: a counting global allocator counts
//! the allocations made on the server's thread while it serves keep-alive requests.

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
