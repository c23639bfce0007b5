//! `WS /ws/echo` and `WS /ws/chat` over a real socket with a real client (`tungstenite`).

mod common;

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

fn connect(addr: SocketAddr, path: &str) -> Socket {
    let (ws, res) = tungstenite::connect(format!("ws://{addr}{path}")).expect("handshake");
    assert_eq!(res.status().as_u16(), 101);
    if let MaybeTlsStream::Plain(s) = ws.get_ref() {
        // A missing message fails the test instead of hanging it.
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
    }
    ws
}

/// The next data message (control frames are answered by tungstenite).
fn next(ws: &mut Socket) -> Message {
    for _ in 0..16 {
        match ws.read().expect("a message") {
            Message::Ping(_) | Message::Pong(_) => continue,
            msg => return msg,
        }
    }
    panic!("only control frames");
}

fn text(ws: &mut Socket) -> String {
    match next(ws) {
        Message::Text(t) => t.as_str().to_owned(),
        other => panic!("expected text, got {other:?}"),
    }
}

#[test]
fn echo_returns_text_and_binary_as_sent() {
    let (addr, _db) = common::serve();
    let mut ws = connect(addr, "/ws/echo");
    ws.send(Message::text("héllo")).expect("send");
    assert_eq!(text(&mut ws), "héllo");
    let bytes: Vec<u8> = (0..=255).collect();
    ws.send(Message::binary(bytes.clone())).expect("send");
    assert_eq!(next(&mut ws), Message::binary(bytes));
    let big = "x".repeat(100_000);
    ws.send(Message::text(big.clone())).expect("send");
    assert_eq!(text(&mut ws), big);
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }))
    .expect("close");
    match next(&mut ws) {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("expected the close answer, got {other:?}"),
    }
}

#[test]
fn chat_broadcasts_verbatim_to_everyone_sender_included() {
    let (addr, _db) = common::serve();
    // Each client proves it is subscribed by receiving its own first message.
    let mut a = connect(addr, "/ws/chat");
    a.send(Message::text("a is here")).expect("send");
    assert_eq!(text(&mut a), "a is here");
    let mut b = connect(addr, "/ws/chat");
    b.send(Message::text("b is here")).expect("send");
    assert_eq!(text(&mut b), "b is here");
    assert_eq!(text(&mut a), "b is here", "no join notice before it");

    a.send(Message::text("  {\"raw\": true}\n")).expect("send");
    assert_eq!(text(&mut a), "  {\"raw\": true}\n");
    assert_eq!(text(&mut b), "  {\"raw\": true}\n");

    // Binary is not broadcast; a leaving client is not announced.
    b.send(Message::binary(vec![1, 2, 3])).expect("send");
    b.close(None).expect("close");
    while !matches!(next(&mut b), Message::Close(_)) {}
    a.send(Message::text("still here")).expect("send");
    assert_eq!(text(&mut a), "still here");
}

#[test]
fn chat_is_a_get_route_and_not_documented() {
    let (addr, _db) = common::serve();
    let agent = ureq::Agent::new_with_defaults();
    let res = agent.get(format!("http://{addr}/ws/chat")).call();
    match res {
        Err(ureq::Error::StatusCode(code)) => assert_eq!(code, 426),
        other => panic!("a plain GET is told to upgrade: {other:?}"),
    }
}
