//! Server-Sent Events and streamed bodies: exact framing, keep-alive, `Last-Event-ID`, one
//! write per burst (in memory, through the `TestClient`), and over real sockets: a client
//! that hangs up ends the stream and runs its cleanup, a server shutdown ends it cleanly.

mod support;

use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use futures_lite::{stream, StreamExt};
use support::{connect, read_to_end, read_until, TestServer, DEADLINE};
use waitless::gateway::testing::TestRequest;
use waitless::{App, Event, LastEventId, Response, Sse, TestClient};

async fn framing() -> Sse {
    let events = vec![
        Event::data("one line"),
        Event::data("first\nsecond\r\nthird\rfourth"),
        Event::data("{\"a\":1}").event("update").id("42"),
        Event::data("x").retry(Duration::from_millis(2500)),
        Event::comment("just a comment"),
        Event::data("").event("evil\nevent: forged").id("4\r\n2"),
    ];
    Sse::new(stream::iter(events))
}

#[test]
fn event_framing_is_exact() {
    let client = TestClient::new(App::new().get("/sse", framing));
    let res = client.get("/sse").send();
    assert_eq!(res.status.as_u16(), 200);
    assert_eq!(res.header("content-type"), Some("text/event-stream"));
    assert_eq!(res.header("cache-control"), Some("no-cache"));
    assert_eq!(res.header("x-accel-buffering"), Some("no"));
    assert_eq!(res.header("transfer-encoding"), Some("chunked"));
    assert_eq!(
        res.text(),
        "data: one line\n\n\
         data: first\ndata: second\ndata: third\ndata: fourth\n\n\
         id: 42\nevent: update\ndata: {\"a\":1}\n\n\
         data: x\nretry: 2500\n\n\
         : just a comment\n\n\
         id: 42\nevent: evilevent: forged\ndata: \n\n"
    );
}

/// One event, then nothing: only keep-alive comments follow.
async fn quiet() -> Sse {
    let events = stream::once(Event::data("hello")).chain(stream::pending());
    Sse::new(events).keep_alive(Duration::from_millis(30))
}

#[test]
fn keep_alive_comments_when_no_event_comes() {
    let client = TestClient::new(App::new().get("/quiet", quiet));
    let mut res = client.get("/quiet").stream();
    let mut got = String::new();
    // Each `chunk` waits for the next piece the server writes (an event, no sleeping here).
    for _ in 0..10 {
        if got.matches(": ping\n\n").count() >= 2 {
            break;
        }
        let chunk = res.chunk().expect("the stream ended");
        got.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert_eq!(got, "data: hello\n\n: ping\n\n: ping\n\n");
}

async fn resume(LastEventId(last): LastEventId) -> Sse {
    let next = last
        .and_then(|id| id.parse::<u32>().ok())
        .map_or(0, |n| n + 1);
    let events =
        stream::iter(next..next + 2).map(|i| Event::data(format!("n{i}")).id(i.to_string()));
    Sse::new(events)
}

#[test]
fn last_event_id_reaches_the_handler() {
    let client = TestClient::new(App::new().get("/resume", resume));
    assert_eq!(
        client.get("/resume").send().text(),
        "id: 0\ndata: n0\n\nid: 1\ndata: n1\n\n"
    );
    assert_eq!(
        client
            .get("/resume")
            .header("last-event-id", "41")
            .send()
            .text(),
        "id: 42\ndata: n42\n\nid: 43\ndata: n43\n\n"
    );
}

async fn burst() -> Response {
    let chunks = stream::iter((0..100).map(|i| format!("chunk {i}\n").into_bytes()));
    Response::stream("text/plain", chunks)
}

#[test]
fn chunks_ready_together_leave_in_one_write() {
    let client = TestClient::new(App::new().get("/burst", burst));
    let (res, writes) = waitless_executor::block_on(async {
        let mut conn = client.server().connect();
        let res = conn.request(&TestRequest::get("/burst")).await.unwrap();
        (res, conn.server_writes())
    });
    assert_eq!(res.text().lines().count(), 100);
    assert!(writes <= 2, "100 ready chunks took {writes} writes");
}

/// Sends on `tx` when dropped: the stream's cleanup.
struct Cleanup(mpsc::Sender<&'static str>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = self.0.send("cleaned up");
    }
}

/// An endless event stream that owns a `Cleanup`; no keep-alive, so only the disconnect
/// watch (not a failed write) can notice a vanished client.
fn endless(tx: mpsc::Sender<&'static str>) -> App {
    App::new().get("/endless", move || {
        let guard = Cleanup(tx.clone());
        async move {
            let events = stream::once(Event::data("first")).chain(stream::poll_fn(move |_| {
                let _ = &guard;
                std::task::Poll::Pending
            }));
            Sse::new(events).no_keep_alive()
        }
    })
}

#[test]
fn a_client_hanging_up_ends_the_stream_and_runs_its_cleanup() {
    let (tx, rx) = mpsc::channel();
    let srv = TestServer::start(move || endless(tx));
    let mut s = connect(srv.addr);
    s.write_all(b"GET /endless HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let got = read_until(&mut s, "data: first\n\n");
    assert!(got.starts_with("HTTP/1.1 200 "), "{got}");
    assert!(rx.try_recv().is_err(), "cleaned up too early");
    drop(s);
    assert_eq!(rx.recv_timeout(DEADLINE), Ok("cleaned up"));
}

#[test]
fn shutdown_ends_an_event_stream_cleanly() {
    let (tx, rx) = mpsc::channel();
    let srv = TestServer::start(move || endless(tx));
    let mut s = connect(srv.addr);
    s.write_all(b"GET /endless HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    read_until(&mut s, "data: first\n\n");
    srv.stop();
    // The rest: the chunked terminator (a complete response), then the connection closes.
    let rest = read_to_end(&mut s);
    assert!(rest.ends_with("0\r\n\r\n"), "{rest:?}");
    assert_eq!(rx.recv_timeout(DEADLINE), Ok("cleaned up"));
    assert!(srv.finished_within(DEADLINE));
}

/// The showcase's `/events?n=…&interval_ms=…` as `docs/framework.md` writes it.
async fn ticks() -> Sse {
    let events = stream::iter(0..3).then(|i| async move {
        if i > 0 {
            waitless_reactor::sleep(Duration::from_millis(10)).await;
        }
        Event::data(i.to_string())
    });
    Sse::new(events)
}

#[test]
fn events_spaced_by_a_timer_as_in_the_guide() {
    let client = TestClient::new(App::new().get("/events", ticks));
    assert_eq!(
        client.get("/events").send().text(),
        "data: 0\n\ndata: 1\n\ndata: 2\n\n"
    );
}
