//! WebSocket echo on tokio-tungstenite, tokio `current_thread` (one core, like one waitless
//! worker): the idiomatic loop — `next()` a message, `send()` it back (send flushes). Pings are
//! answered by tungstenite. Usage: `peer-ws-tokio PORT`.

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};

async fn echo(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    while let Some(Ok(msg)) = ws.next().await {
        if msg.is_text() || msg.is_binary() {
            if ws.send(msg).await.is_err() {
                break;
            }
        } else if msg.is_close() {
            break;
        }
    }
}

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
        println!("peer-ws-tokio: listening on ws://127.0.0.1:{port}");
        loop {
            if let Ok((s, _)) = listener.accept().await {
                tokio::task::spawn_local(echo(s));
            }
        }
    });
}
