//! What the server does when the app misbehaves, proxy headers, lifespan and graceful shutdown.

mod support;

use std::cell::Cell;
use std::io::Write;
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use support::*;
use waitless_gateway::{App, Config, LifespanError, Request, Responder, Server, State};

#[test]
fn a_panicking_handler_gets_500_and_the_worker_keeps_serving() {
    let addr = start_default();
    for _ in 0..3 {
        let r = roundtrip(addr, b"GET /panic HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(r.status, 500);
        assert_eq!(r.text(), r#"{"detail":"Internal Server Error"}"#);
        assert_standard_headers(&r);
        assert_alive(addr);
    }
}

#[test]
fn a_handler_that_returns_without_a_response_gets_500() {
    let addr = start_default();
    let r = roundtrip(addr, b"GET /noresponse HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 500);
    assert_alive(addr);
}

#[test]
fn response_header_injection_is_refused() {
    let addr = start_default();
    let r = roundtrip(addr, b"GET /bad-header HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 500);
    assert_eq!(r.header("injected"), None);
}

#[test]
fn proxy_headers_are_honoured_only_from_trusted_peers() {
    let addr = start_default();
    let raw = b"GET /client HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\n\r\n";
    assert_eq!(roundtrip(addr, raw).text(), "203.0.113.9 https");

    let untrusting = start(
        Config {
            forwarded_allow_ips: waitless_gateway::TrustedProxies::parse("10.9.9.9").unwrap(),
            ..Config::default()
        },
        || TestApp,
    );
    assert_eq!(roundtrip(untrusting, raw).text(), "127.0.0.1 http");

    let off = start(
        Config {
            proxy_headers: false,
            ..Config::default()
        },
        || TestApp,
    );
    assert_eq!(roundtrip(off, raw).text(), "127.0.0.1 http");
}

/// Records lifespan events and serves `/state` from the per-worker state.
struct Lifespan {
    log: Arc<Mutex<Vec<String>>>,
    calls: Cell<u32>,
    slow_started: mpsc::Sender<()>,
}

/// A one-shot signal another thread can fire; its waker takes the executor's remote path.
#[derive(Clone, Default)]
struct Signal(Arc<Mutex<(bool, Option<Waker>)>>);

impl Signal {
    fn fire(&self) {
        let waker = {
            let mut st = self.0.lock().unwrap();
            st.0 = true;
            st.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    async fn wait(self) {
        std::future::poll_fn(|cx| {
            let mut st = self.0.lock().unwrap();
            if st.0 {
                Poll::Ready(())
            } else {
                st.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

impl App for Lifespan {
    async fn startup(&self, state: &mut State) -> Result<(), LifespanError> {
        self.log.lock().unwrap().push("startup".into());
        state.insert(41u32);
        Ok(())
    }

    async fn shutdown(&self, _state: &State) {
        self.log
            .lock()
            .unwrap()
            .push(format!("shutdown after {} calls", self.calls.get()));
    }

    async fn call(&self, req: Request<'_>, mut res: Responder<'_>) {
        self.calls.set(self.calls.get() + 1);
        if req.scope.path == "/slow" {
            let _ = self.slow_started.send(());
            waitless_reactor::sleep(Duration::from_millis(300)).await;
        }
        let v = req.scope.state().get::<u32>().copied().unwrap_or(0) + 1;
        let _ = res.send(200, waitless_gateway::NO_HEADERS, v.to_string().as_bytes());
    }
}

#[test]
fn lifespan_runs_around_requests_and_shutdown_is_graceful() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (addr_tx, addr_rx) = mpsc::channel();
    let stop = Signal::default();
    let stop_in_server = stop.clone();
    let (started_tx, started_rx) = mpsc::channel();
    let thread_log = log.clone();
    let server = std::thread::spawn(move || {
        waitless_executor::block_on(async move {
            let config = Config {
                bind: "127.0.0.1:0".parse().unwrap(),
                ..Config::default()
            };
            let server = Server::bind(config).unwrap();
            addr_tx.send(server.local_addr().expect("tcp")).unwrap();
            let app = Lifespan {
                log: thread_log,
                calls: Cell::new(0),
                slow_started: started_tx,
            };
            server.run_until(app, stop_in_server.wait()).await
        })
    });
    let addr = addr_rx.recv_timeout(DEADLINE).unwrap();
    assert_eq!(
        roundtrip(addr, b"GET /state HTTP/1.1\r\nHost: t\r\n\r\n").text(),
        "42"
    );

    // An idle keep-alive connection and a request in flight when shutdown starts.
    let mut idle = connect(addr);
    idle.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    read_response(&mut idle, false).unwrap();
    let mut slow = connect(addr);
    slow.write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    started_rx.recv_timeout(DEADLINE).unwrap(); // the slow request is inside the app
    stop.fire();

    // The in-flight request completes, told that the connection closes.
    let r = read_response(&mut slow, false).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection"), Some("close"));
    // The idle connection is closed promptly.
    assert!(closed_by_server(&mut idle));
    server.join().unwrap().unwrap();
    // New connections are refused once the listener is closed.
    assert!(std::net::TcpStream::connect(addr).is_err());
    assert_eq!(
        *log.lock().unwrap(),
        vec!["startup".to_string(), "shutdown after 3 calls".to_string()]
    );
}

/// The keep-alive race of a graceful stop (seen by `benches/src/bin/chaos.rs` as requests reset
/// on SIGHUP): a client that has just read a response sends its next request on the same
/// connection while the worker begins to shut down. The connection was idle, but its request is
/// on its way: it must be answered (and told `Connection: close`), not reset unread.
#[test]
fn a_request_on_an_idle_connection_as_shutdown_begins_is_answered_not_reset() {
    let (addr_tx, addr_rx) = mpsc::channel();
    let stop = Signal::default();
    let stop_in_server = stop.clone();
    let (started_tx, started_rx) = mpsc::channel();
    let server = std::thread::spawn(move || {
        waitless_executor::block_on(async move {
            let config = Config {
                bind: "127.0.0.1:0".parse().unwrap(),
                ..Config::default()
            };
            let server = Server::bind(config).unwrap();
            addr_tx.send(server.local_addr().expect("tcp")).unwrap();
            let app = Lifespan {
                log: Arc::default(),
                calls: Cell::new(0),
                slow_started: started_tx,
            };
            server.run_until(app, stop_in_server.wait()).await
        })
    });
    let addr = addr_rx.recv_timeout(DEADLINE).unwrap();
    let mut idle = connect(addr);
    idle.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut idle, false).unwrap().status, 200);
    // A request in flight keeps the worker in its graceful stop for a while.
    let mut slow = connect(addr);
    slow.write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    started_rx.recv_timeout(DEADLINE).unwrap();
    stop.fire();
    // The listener closes when shutdown begins: from then on, connects are refused. Bounded:
    // 10,000 loopback connects take well under the deadline.
    let mut refused = false;
    for _ in 0..10_000 {
        if std::net::TcpStream::connect(addr).is_err() {
            refused = true;
            break;
        }
    }
    assert!(refused, "the listener did not close");
    // The next request on the idle connection, right after shutdown began.
    idle.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let r = read_response(&mut idle, false).expect("an answer, not a reset");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(closed_by_server(&mut idle));
    assert_eq!(read_response(&mut slow, false).unwrap().status, 200);
    server.join().unwrap().unwrap();
}

struct FailingStartup;

impl App for FailingStartup {
    async fn startup(&self, _state: &mut State) -> Result<(), LifespanError> {
        Err(LifespanError("database unreachable".into()))
    }

    async fn call(&self, _req: Request<'_>, _res: Responder<'_>) {
        unreachable!("no request is served when startup fails");
    }
}

#[test]
fn a_failing_startup_stops_the_server_with_its_message() {
    let err = waitless_executor::block_on(async {
        let config = Config {
            bind: "127.0.0.1:0".parse().unwrap(),
            ..Config::default()
        };
        Server::bind(config).unwrap().run(FailingStartup).await
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "lifespan startup failed: database unreachable"
    );
}
