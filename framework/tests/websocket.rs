//! WebSocket routes over real sockets, against a client we did not write (`tungstenite`,
//! blocking, over std `TcpStream`); the router's answers to non-WebSocket requests through the
//! in-memory `TestClient`.

mod support;

use std::convert::Infallible;
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::FutureExt;
use schemars::JsonSchema;
use serde::Deserialize;
use support::{connect, TestServer, DEADLINE};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::Message as TMessage;
use waitless::broadcast::Hub;
use waitless::websocket::{Error, Message, Options, WebSocket};
use waitless::{App, HttpError, Path, Query, State, TestClient};

type Client = tungstenite::WebSocket<TcpStream>;

fn client(addr: SocketAddr, path: &str) -> Client {
    let (ws, resp) = tungstenite::client(format!("ws://{addr}{path}"), connect(addr)).unwrap();
    assert_eq!(resp.status(), 101);
    ws
}

fn read(ws: &mut Client) -> TMessage {
    ws.read().expect("read")
}

/// The close code the server sent (after the messages before it).
fn close_code(ws: &mut Client) -> u16 {
    loop {
        match ws.read() {
            Ok(TMessage::Close(Some(frame))) => return u16::from(frame.code),
            Ok(TMessage::Close(None)) => return 1005,
            Ok(_) => continue,
            Err(e) => panic!("no Close frame: {e}"),
        }
    }
}

async fn echo(mut ws: WebSocket<'_>) -> Result<(), Error> {
    let (mut rx, mut tx) = ws.split();
    loop {
        match rx.recv().await? {
            Message::Close(..) => return Ok(()),
            msg => tx.send(msg).await?,
        }
    }
}

#[derive(Deserialize, JsonSchema)]
struct Who {
    user: String,
    #[serde(default)]
    #[schemars(range(min = 1, max = 3))]
    times: Option<u8>,
}

/// Path and query extractors on a WebSocket route.
async fn room(
    mut ws: WebSocket<'_>,
    Path(room): Path<String>,
    Query(who): Query<Who>,
) -> Result<(), Error> {
    for _ in 0..who.times.unwrap_or(1) {
        ws.send_text(&format!("{} joined {room}", who.user)).await?;
    }
    Ok(())
}

/// Returns at once: the runner closes with 1000.
async fn hello(mut ws: WebSocket<'_>) -> Result<(), Error> {
    ws.send_text("hello").await
}

/// Fails after one message: 1011.
async fn failing(mut ws: WebSocket<'_>) -> Result<(), HttpError> {
    let _ = ws.send_text("about to fail").await;
    Err(HttpError::new(500, "the database is gone"))
}

async fn panicking(mut ws: WebSocket<'_>) {
    let _ = ws.send_text("about to panic").await;
    panic!("handler bug");
}

/// Closes with its own code.
async fn bye(mut ws: WebSocket<'_>) -> Result<(), Error> {
    ws.close(4000, "bye").await
}

/// Never reads: only the shutdown's cancellation ends it.
async fn deaf(mut ws: WebSocket<'_>) -> Result<(), Error> {
    ws.send_text("listening to nobody").await?;
    futures_lite::future::pending::<()>().await;
    Ok(())
}

const CHAT: &str = "chat";

async fn chat(mut ws: WebSocket<'_>, State(hub): State<Hub>) -> Result<(), Error> {
    let mut sub = hub.subscribe(CHAT);
    let (mut rx, mut tx) = ws.split();
    let inbound = async {
        loop {
            match rx.recv().await? {
                Message::Text(text) => {
                    hub.publish(CHAT, Rc::from(text));
                }
                Message::Binary(_) => {}
                Message::Close(..) => return Ok(()),
            }
        }
    };
    inbound.or(sub.forward_text(&mut tx)).await
}

/// Publishes `n` messages of `size` bytes at a chat's pace (one per millisecond: a rate, not a
/// wait for an event — a reading client keeps up with it, one that does not read cannot).
async fn publish(State(hub): State<Hub>, Query(p): Query<Publish>) -> String {
    let msg: Rc<str> = Rc::from("x".repeat(p.size));
    for _ in 0..p.n {
        hub.publish(CHAT, msg.clone());
        waitless_reactor::sleep(Duration::from_millis(1)).await;
    }
    hub.subscribers(CHAT).to_string()
}

/// Publishes `n` messages of `size` bytes at once, without yielding between them.
async fn publish_burst(State(hub): State<Hub>, Query(p): Query<Publish>) -> String {
    let msg: Rc<str> = Rc::from("x".repeat(p.size));
    for _ in 0..p.n {
        hub.publish(CHAT, msg.clone());
    }
    hub.subscribers(CHAT).to_string()
}

#[derive(Deserialize, JsonSchema)]
struct Publish {
    n: u32,
    size: usize,
}

async fn subscribers(State(hub): State<Hub>) -> String {
    hub.subscribers(CHAT).to_string()
}

fn app() -> App {
    let quick_close = Options {
        close_timeout: Duration::from_millis(200),
        ..Options::default()
    };
    App::new()
        .on_startup(|| async { Ok::<_, Infallible>(Hub::<Rc<str>>::new(8)) })
        .websocket("/ws/echo", echo)
        .websocket("/ws/rooms/{room}", room)
        .websocket("/ws/hello", hello)
        .websocket("/ws/failing", failing)
        .websocket("/ws/panicking", panicking)
        .websocket("/ws/bye", bye)
        .websocket_with("/ws/deaf", quick_close, deaf)
        .websocket("/ws/chat", chat)
        .post("/publish", publish)
        .post("/publish-burst", publish_burst)
        .get("/subscribers", subscribers)
}

#[test]
fn echo_text_and_binary_over_a_real_socket() {
    let srv = TestServer::start(app);
    let mut ws = client(srv.addr, "/ws/echo");
    ws.send(TMessage::text("héllo")).unwrap();
    assert_eq!(read(&mut ws), TMessage::text("héllo"));
    ws.send(TMessage::binary(vec![0u8, 1, 2, 255])).unwrap();
    assert_eq!(read(&mut ws), TMessage::binary(vec![0u8, 1, 2, 255]));
    ws.close(None).unwrap();
    assert!(matches!(read(&mut ws), TMessage::Close(_)));
}

#[test]
fn path_and_query_extractors_and_a_failed_extractor_answers_the_handshake_with_422() {
    let srv = TestServer::start(app);
    let mut ws = client(srv.addr, "/ws/rooms/lobby?user=ann&times=2");
    assert_eq!(read(&mut ws), TMessage::text("ann joined lobby"));
    assert_eq!(read(&mut ws), TMessage::text("ann joined lobby"));
    assert_eq!(close_code(&mut ws), 1000);

    let url = format!("ws://{}/ws/rooms/lobby?times=9", srv.addr);
    match tungstenite::client(url, connect(srv.addr)) {
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(res))) => {
            assert_eq!(res.status(), 422);
            let body = String::from_utf8(res.body().clone().unwrap_or_default()).unwrap();
            assert!(body.contains(r#""loc":["query","user"]"#), "{body}");
            assert!(body.contains(r#""loc":["query","times"]"#), "{body}");
        }
        other => panic!(
            "expected a 422 handshake answer, got {:?}",
            other.map(|_| ())
        ),
    }
}

#[test]
fn returning_closes_with_1000_an_error_with_1011_a_panic_with_1011_and_the_worker_keeps_serving() {
    let srv = TestServer::start(app);
    let mut ws = client(srv.addr, "/ws/hello");
    assert_eq!(read(&mut ws), TMessage::text("hello"));
    assert_eq!(close_code(&mut ws), 1000);

    let mut ws = client(srv.addr, "/ws/failing");
    assert_eq!(read(&mut ws), TMessage::text("about to fail"));
    assert_eq!(close_code(&mut ws), 1011);

    let mut ws = client(srv.addr, "/ws/panicking");
    assert_eq!(read(&mut ws), TMessage::text("about to panic"));
    assert_eq!(close_code(&mut ws), 1011);

    let mut ws = client(srv.addr, "/ws/bye");
    match read(&mut ws) {
        TMessage::Close(Some(f)) => assert_eq!((u16::from(f.code), &*f.reason), (4000, "bye")),
        other => panic!("{other:?}"),
    }

    // Still serving, on a new connection.
    let mut ws = client(srv.addr, "/ws/echo");
    ws.send(TMessage::text("still here")).unwrap();
    assert_eq!(read(&mut ws), TMessage::text("still here"));
}

#[test]
fn websocket_routes_in_the_router_plain_get_426_other_methods_405_unknown_404() {
    let client = TestClient::new(app());
    let res = client.get("/ws/echo").send();
    assert_eq!(res.status.as_u16(), 426);
    assert_eq!(res.header("upgrade"), Some("websocket"));
    let res = client.post("/ws/echo").send();
    assert_eq!(res.status.as_u16(), 405);
    assert_eq!(res.header("allow"), Some("GET, HEAD"));
    assert_eq!(client.get("/ws/nope").send().status.as_u16(), 404);
    let ws_routes: Vec<_> = app()
        .routes()
        .filter(|r| r.websocket)
        .map(|r| r.path.clone())
        .collect();
    assert!(ws_routes.contains(&"/ws/chat".to_owned()), "{ws_routes:?}");
    assert!(!app().routes().any(|r| r.path == "/publish" && r.websocket));
}

#[test]
fn chat_broadcasts_each_text_to_every_client_sender_included() {
    let srv = TestServer::start(app);
    let mut a = client(srv.addr, "/ws/chat");
    let mut b = client(srv.addr, "/ws/chat");
    wait_for_subscribers(srv.addr, 2);
    a.send(TMessage::text("hi from a")).unwrap();
    assert_eq!(read(&mut a), TMessage::text("hi from a"));
    assert_eq!(read(&mut b), TMessage::text("hi from a"));
    b.send(TMessage::text("hi from b")).unwrap();
    assert_eq!(read(&mut a), TMessage::text("hi from b"));
    assert_eq!(read(&mut b), TMessage::text("hi from b"));
    drop(a);
    wait_for_subscribers(srv.addr, 1);
}

/// Polls `/subscribers` (bounded in count and time): a subscription is made by the handler
/// after the handshake the client already saw.
fn wait_for_subscribers(addr: SocketAddr, n: usize) {
    let start = Instant::now();
    for _ in 0..1000 {
        if get(addr, "/subscribers") == n.to_string() {
            return;
        }
        assert!(start.elapsed() < DEADLINE, "never {n} subscribers");
        std::thread::yield_now();
    }
    panic!("never {n} subscribers");
}

fn get(addr: SocketAddr, path: &str) -> String {
    request(addr, "GET", path)
}

fn request(addr: SocketAddr, method: &str, path: &str) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(DEADLINE))
        .build()
        .into();
    let res = match method {
        "POST" => agent.post(&format!("http://{addr}{path}")).send_empty(),
        _ => agent.get(&format!("http://{addr}{path}")).call(),
    };
    res.unwrap().body_mut().read_to_string().unwrap()
}

#[test]
fn a_subscriber_that_does_not_read_is_dropped_not_buffered_and_the_others_get_everything() {
    let srv = TestServer::start(app);
    let slow = client(srv.addr, "/ws/chat");
    let mut fast = client(srv.addr, "/ws/chat");
    wait_for_subscribers(srv.addr, 2);
    const N: usize = 400;
    const SIZE: usize = 64 * 1024;
    let reader = std::thread::spawn(move || {
        let mut got = 0;
        while got < N {
            match fast.read() {
                Ok(TMessage::Text(t)) => {
                    assert_eq!(t.len(), SIZE);
                    got += 1;
                }
                Ok(_) => {}
                Err(e) => panic!("fast reader failed after {got}: {e}"),
            }
        }
        (got, fast) // kept open: its subscription must still count below
    });
    // 25 MiB to a client that reads nothing: more than loopback buffers hold, so its socket
    // blocks, its 8-message queue fills, and the hub drops it.
    let left = request(srv.addr, "POST", &format!("/publish?n={N}&size={SIZE}"));
    let (got, _fast) = reader.join().unwrap();
    assert_eq!(got, N);
    assert_eq!(left, "1", "the slow subscriber should have been dropped");
    // The slow client now reads: some messages, then the end (Close 1008, or a dropped
    // connection when its socket was stuck in the middle of a frame).
    let mut slow = slow;
    let mut received = 0;
    let end = loop {
        match slow.read() {
            Ok(TMessage::Text(_)) => received += 1,
            Ok(TMessage::Close(frame)) => break frame.map(|f| u16::from(f.code)),
            Ok(_) => {}
            Err(_) => break None,
        }
    };
    assert!(received < N, "the slow client got everything: {received}");
    assert!(matches!(end, Some(1008) | None), "{end:?}");
}

#[test]
fn shutdown_closes_open_sockets_with_1001_even_a_handler_that_never_reads() {
    let srv = TestServer::start(app);
    let mut echo = client(srv.addr, "/ws/echo");
    let mut deaf = client(srv.addr, "/ws/deaf");
    echo.send(TMessage::text("before")).unwrap();
    assert_eq!(read(&mut echo), TMessage::text("before"));
    assert_eq!(read(&mut deaf), TMessage::text("listening to nobody"));
    let start = Instant::now();
    srv.stop();
    for ws in [&mut echo, &mut deaf] {
        match read(ws) {
            TMessage::Close(Some(f)) => assert_eq!(f.code, CloseCode::Away),
            other => panic!("{other:?}"),
        }
        let _ = ws.flush();
    }
    assert!(srv.finished_within(DEADLINE));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn websocket_routes_stay_out_of_openapi() {
    let app = App::new()
        .websocket("/ws/echo", echo)
        .get("/plain", || async { "plain" });
    let doc: serde_json::Value = TestClient::new(app).get("/openapi.json").send().json();
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.contains_key("/plain"), "{doc}");
    assert!(!paths.contains_key("/ws/echo"), "{doc}");
}

#[test]
fn messages_queued_together_for_a_subscriber_leave_in_one_write() {
    use waitless_gateway::testing::TestRequest;
    let client = TestClient::new(app());
    waitless_executor::block_on(async {
        let server = client.server();
        let mut ws = server.connect();
        ws.send_raw(
            b"GET /ws/chat HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .unwrap();
        assert_eq!(ws.response(false).await.unwrap().status, 101);
        let mut other = server.connect();
        // The handler subscribes right after the 101; wait for it (bounded).
        for _ in 0..1000 {
            let r = other
                .request(&TestRequest::get("/subscribers"))
                .await
                .unwrap();
            if r.text() == "1" {
                break;
            }
            futures_lite::future::yield_now().await;
        }
        let before = ws.server_writes();
        let r = other
            .request(&TestRequest::post("/publish-burst?n=8&size=100"))
            .await
            .unwrap();
        assert_eq!(r.text(), "1");
        // 8 text frames of 100 bytes: 2 bytes of header each.
        let mut got = Vec::new();
        for _ in 0..1000 {
            if got.len() >= 8 * 102 {
                break;
            }
            got.extend(ws.read_raw().await.unwrap());
        }
        assert_eq!(got.len(), 8 * 102);
        assert!(got
            .chunks(102)
            .all(|f| f[..2] == [0x81, 100] && f[2..].iter().all(|&b| b == b'x')));
        let writes = ws.server_writes() - before;
        assert_eq!(writes, 1, "8 queued messages took {writes} writes");
    });
}
