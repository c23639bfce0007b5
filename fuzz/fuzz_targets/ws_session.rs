#![no_main]
//! Any bytes as what a WebSocket client sends after a successful handshake, in writes of any
//! size, through the gateway's real connection and frame reader (`testing::TestServer`, no
//! socket) to an echo app: no panic, no hang, no allocation beyond the message limit (the
//! `-rss_limit_mb` of the run), and everything the server sends back is a well-formed server
//! frame (unmasked, known opcode, control frames unfragmented and at most 125 bytes).

use libfuzzer_sys::fuzz_target;
use waitless_gateway::testing::TestServer;
use waitless_gateway::websocket::{self, Message, Options};
use waitless_gateway::{App, Request, Responder};

struct Echo(Options);

impl App for Echo {
    async fn call(&self, req: Request<'_>, res: Responder<'_>) {
        let Ok(mut ws) = websocket::accept(req, res, &self.0).await else {
            return;
        };
        for _ in 0..10_000 {
            let echo = match ws.recv().await {
                Ok(Message::Text(t)) => (true, t.as_bytes().to_vec()),
                Ok(Message::Binary(b)) => (false, b.to_vec()),
                Ok(Message::Close(..)) | Err(_) => return,
            };
            let sent = match echo {
                (true, t) => ws.send_text(std::str::from_utf8(&t).unwrap_or("")).await,
                (false, b) => ws.send_binary(&b).await,
            };
            if sent.is_err() {
                return;
            }
        }
    }
}

const HANDSHAKE: &[u8] =
    b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Checks that `out` (after the 101 head) is a sequence of well-formed server frames; a frame
/// cut at the end is allowed (the server may stop writing at any point after a failure).
fn check_server_frames(mut out: &[u8]) {
    for _ in 0..out.len() + 1 {
        let [b0, b1, ..] = *out else { return };
        assert_eq!(b0 & 0x70, 0, "reserved bits set");
        let opcode = b0 & 0x0F;
        assert!(matches!(opcode, 0 | 1 | 2 | 8 | 9 | 10), "opcode {opcode}");
        assert_eq!(b1 & 0x80, 0, "a server frame is never masked");
        let (len, at): (usize, usize) = match b1 & 0x7F {
            126 => match out.get(2..4) {
                Some(b) => (usize::from(u16::from_be_bytes([b[0], b[1]])), 4),
                None => return,
            },
            127 => match out.get(2..10) {
                Some(b) => {
                    let mut be = [0u8; 8];
                    be.copy_from_slice(b);
                    (
                        usize::try_from(u64::from_be_bytes(be)).unwrap_or(usize::MAX),
                        10,
                    )
                }
                None => return,
            },
            n => (usize::from(n), 2),
        };
        if opcode & 0x8 != 0 {
            assert!(b0 & 0x80 != 0 && len <= 125, "bad control frame");
        }
        let Some(rest) = out.get(at.saturating_add(len)..) else {
            return;
        };
        out = rest;
    }
}

fuzz_target!(|input: (u8, &[u8])| {
    let (step, data) = input;
    let step = usize::from(step) + 1;
    let options = Options {
        max_message_size: 64 * 1024,
        ..Options::default()
    };
    let out = waitless_executor::block_on(async move {
        let server = TestServer::new(Echo(options));
        let mut conn = server.connect();
        conn.send_raw(HANDSHAKE)
            .await
            .expect("the handshake is accepted");
        let mut reply = Vec::new();
        // Bounded: each write yields to the server once.
        for piece in data.chunks(step) {
            if conn.send_raw(piece).await.is_err() {
                break;
            }
            yield_once().await;
        }
        conn.close_write();
        if let Ok(all) = conn.read_to_end().await {
            reply = all;
        }
        reply
    });
    let head_end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a 101 head first");
    assert!(
        out.starts_with(b"HTTP/1.1 101 "),
        "{:?}",
        String::from_utf8_lossy(&out[..head_end])
    );
    check_server_frames(&out[head_end + 4..]);
});

/// One turn of the executor for the server task (std only: no futures-lite dependency).
fn yield_once() -> impl std::future::Future<Output = ()> {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
}
