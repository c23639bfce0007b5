//! How the WebSocket reader takes bytes off the connection: a frame kept in place in the
//! connection's buffer, a frame larger than that buffer read straight into the message buffer
//! with the next frame's bytes spilling into the connection's buffer in the same `readv` — and
//! in every case the same messages, however the bytes are cut.
//!
//! Runs over `waitless_gateway::testing`'s in-memory pipe, which scatters a vectored read over
//! both buffers like `readv` and counts the server's reads, so a test can cut the byte stream at
//! any position (the server reads each piece before the next is written) and count syscalls.

use std::future::Future;
use std::time::Duration;

use futures_lite::future::yield_now;
use waitless_executor::block_on;
use waitless_gateway::testing::{TestConn, TestServer};
use waitless_gateway::websocket::{self, Message, Options};
use waitless_gateway::{App, Request, Responder};

/// The connection's read buffer once a frame has asked for more than the usual 8 KiB.
const CAPACITY: usize = 32 * 1024;
const LIMIT: Duration = Duration::from_secs(60);

/// Echoes text and binary messages through the two halves (the message is sent from where it
/// was received: in place in the connection's buffer, or the message buffer).
struct Echo;

impl App for Echo {
    async fn call(&self, req: Request<'_>, res: Responder<'_>) {
        let Ok(mut ws) = websocket::accept(req, res, &Options::default()).await else {
            return;
        };
        let (mut rx, mut tx) = ws.split();
        for _ in 0..1_000 {
            match rx.recv().await {
                Ok(Message::Close(..)) | Err(_) => return,
                Ok(msg) => {
                    if tx.send(msg).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

fn with_limit<F: Future>(f: F) -> F::Output {
    block_on(async move {
        futures_lite::FutureExt::or(async { Some(f.await) }, async {
            waitless_reactor::sleep(LIMIT).await;
            None
        })
        .await
        .expect("test timed out")
    })
}

/// A masked client frame (FIN set).
fn client_frame(opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// The server's (unmasked) frame.
fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => f.push(n as u8),
        n if n <= 0xFFFF => {
            f.push(126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(payload);
    f
}

/// The client's byte stream — a binary message of `size` bytes, a Ping, a short text — the
/// server's expected answer, and the positions where frames and headers begin and end.
struct Script {
    stream: Vec<u8>,
    answer: Vec<u8>,
    boundaries: Vec<usize>,
}

fn script(size: usize) -> Script {
    let big: Vec<u8> = (0..size).map(|i| (i * 7 + i / 251) as u8).collect();
    let text = "after ✓ — next frame";
    let a = client_frame(0x2, &big, [0x37, 0xfa, 0x21, 0x3d]);
    let ping = client_frame(0x9, b"p!", [1, 2, 3, 4]);
    let b = client_frame(0x1, text.as_bytes(), [0xa5, 0x5a, 0xff, 0x00]);
    let a_head = a.len() - size;
    let boundaries = vec![
        a_head,
        a.len(),
        a.len() + 6,
        a.len() + ping.len(),
        a.len() + ping.len() + 6,
    ];
    Script {
        stream: [a, ping, b].concat(),
        answer: [
            server_frame(0x2, &big),
            server_frame(0xA, b"p!"),
            server_frame(0x1, text.as_bytes()),
        ]
        .concat(),
        boundaries,
    }
}

/// Opens a WebSocket on `server`; returns the connection and the server's reads so far.
async fn open(server: &TestServer<Echo>) -> (TestConn, usize) {
    let mut conn = server.connect();
    conn.send_raw(
        b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    for _ in 0..100 {
        let got = conn.read_raw().await.unwrap();
        assert!(!got.is_empty(), "closed during the handshake");
        head.extend_from_slice(&got);
        if head.ends_with(b"\r\n\r\n") {
            break;
        }
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "), "{head:?}");
    let reads = conn.server_reads();
    (conn, reads)
}

/// Writes one piece and lets the server read all of it before the next one is written.
async fn feed(conn: &mut TestConn, piece: &[u8]) {
    conn.send_raw(piece).await.unwrap();
    for _ in 0..100_000 {
        if conn.unread_by_server() == 0 {
            return;
        }
        yield_now().await;
    }
    panic!("the server stopped reading");
}

/// Reads `len` bytes of answer; fails after 5 s without them (lost bytes would hang).
async fn read_answer(conn: &mut TestConn, len: usize) -> Vec<u8> {
    let mut got = Vec::new();
    for _ in 0..100_000 {
        if got.len() >= len {
            break;
        }
        let chunk = futures_lite::FutureExt::or(async { Some(conn.read_raw().await) }, async {
            waitless_reactor::sleep(Duration::from_secs(5)).await;
            None
        })
        .await;
        let Some(chunk) = chunk else {
            panic!("no answer after {} of {len} bytes", got.len());
        };
        let chunk = chunk.unwrap();
        assert!(
            !chunk.is_empty(),
            "closed after {} of {len} bytes",
            got.len()
        );
        got.extend_from_slice(&chunk);
    }
    got
}

/// Writes `s.stream` cut at `cuts` (ascending), each piece read by the server before the next,
/// and checks the answer byte for byte.
async fn run_cut(server: &TestServer<Echo>, s: &Script, cuts: &[usize], what: &str) {
    let (mut conn, _) = open(server).await;
    let mut at = 0;
    for &c in cuts.iter().chain([s.stream.len()].iter()) {
        feed(&mut conn, &s.stream[at..c]).await;
        at = c;
    }
    let got = read_answer(&mut conn, s.answer.len()).await;
    if got != s.answer {
        let first = got.iter().zip(&s.answer).position(|(a, b)| a != b);
        panic!(
            "{what}: cuts {cuts:?}: answer differs (got {} bytes, want {}; first difference at {first:?})",
            got.len(),
            s.answer.len()
        );
    }
}

/// Every cut near a frame or header boundary, near multiples of the connection buffer's size
/// (where a read fills it), and pairs: an early cut (so the rest of a large frame is read
/// straight into the message buffer) with a cut around the next frames (so that read spills
/// over into the connection's buffer, in any of their bytes).
fn cut_sets(s: &Script) -> Vec<Vec<usize>> {
    let n = s.stream.len();
    let mut marks = s.boundaries.clone();
    marks.extend((1..=n / CAPACITY).map(|k| k * CAPACITY));
    marks.push(s.boundaries[0] + CAPACITY);
    let near = |m: usize, r: usize| (m.saturating_sub(r)..=m + r).filter(|&c| c > 0 && c < n);
    let mut singles: Vec<usize> = (1..16).collect();
    for &m in &marks {
        singles.extend(near(m, 5));
    }
    singles.sort_unstable();
    singles.dedup();
    let mut sets: Vec<Vec<usize>> = singles.into_iter().map(|c| vec![c]).collect();
    for early in [1, 2, s.boundaries[0], 100, 4096] {
        for &m in &s.boundaries[1..] {
            for late in near(m, 4).filter(|&c| c > early) {
                sets.push(vec![early, late]);
            }
        }
    }
    sets
}

/// A deterministic pseudo-random chunking (xorshift), pieces of 1 to `max` bytes.
fn random_cuts(n: usize, seed: u64, max: usize) -> Vec<usize> {
    let mut x = seed | 1;
    let mut cuts = Vec::new();
    let mut at = 0;
    for _ in 0..100_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        at += 1 + (x as usize % max);
        if at >= n {
            break;
        }
        cuts.push(at);
    }
    cuts
}

#[test]
fn a_frame_following_a_large_payload_is_read_correctly_however_the_bytes_are_cut() {
    with_limit(async {
        let server = TestServer::new(Echo);
        // In place (small, exactly the buffer), assembled (one byte over), assembled with the
        // rest read straight into the message buffer (over twice the buffer).
        for size in [16 * 1024, CAPACITY, CAPACITY + 1, 80 * 1024 + 3] {
            let s = script(size);
            let sets = cut_sets(&s);
            for cuts in &sets {
                run_cut(&server, &s, cuts, &format!("size {size}")).await;
            }
            for seed in 1..=24u64 {
                let max = [7, 300, 5000, 40_000][seed as usize % 4];
                let cuts = random_cuts(s.stream.len(), seed * 0x9E37_79B9, max);
                run_cut(&server, &s, &cuts, &format!("size {size} seed {seed}")).await;
            }
            eprintln!("size {size}: {} cut sets", sets.len() + 24);
        }
    });
}

/// Syscall-equivalents: the in-memory pipe counts the server's reads.
#[test]
fn a_message_and_the_frames_behind_it_take_as_few_reads_as_the_buffers_allow() {
    with_limit(async {
        let server = TestServer::new(Echo);
        // A fresh connection reads into the usual 8 KiB buffer. 16 KiB + Ping + text in one
        // write: the first read fills it; the frame's header asks for the larger buffer
        // (`UpgradedReader::reserve`), and the second read takes the rest; the frame is
        // handled in place. The same again on that connection: one read.
        // 80 KiB + ...: the first read fills the buffer, the second reads the rest into the
        // message buffer and the Ping and the text into the connection's buffer. Reading
        // exactly the rest would take a third read for them.
        for (size, reads) in [(16 * 1024, [2, 1]), (80 * 1024 + 3, [2, 2])] {
            let s = script(size);
            let (mut conn, mut before) = open(&server).await;
            for (round, reads) in reads.into_iter().enumerate() {
                feed(&mut conn, &s.stream).await;
                let got = read_answer(&mut conn, s.answer.len()).await;
                assert!(got == s.answer, "size {size}: answer differs");
                let now = conn.server_reads();
                assert_eq!(now - before, reads, "size {size}, round {round}");
                before = now;
            }
        }
    });
}
