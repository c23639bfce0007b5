//! The waitless side of the WebSocket echo benchmark: one worker (one thread), every text or
//! binary message sent back as it came (`Reader::recv` borrows it, `Writer::send` writes it:
//! no copy, no allocation per message). Usage: `ws_echo PORT`. Driven by `ws_load`; figures in
//! `docs/benchmarks.md` ("WebSocket echo").

use waitless_gateway::websocket::{self, Message, Options};
use waitless_gateway::{App, Config, Request, Responder};

struct Echo(Options);

impl App for Echo {
    async fn call(&self, req: Request<'_>, res: Responder<'_>) {
        let Ok(mut ws) = websocket::accept(req, res, &self.0).await else {
            return;
        };
        let (mut rx, mut tx) = ws.split();
        while let Ok(msg) = rx.recv().await {
            if matches!(msg, Message::Close(..)) || tx.send(msg).await.is_err() {
                break;
            }
        }
    }
}

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let config = Config {
        bind: ([127, 0, 0, 1], port).into(),
        access_log: false,
        ..Config::default()
    };
    println!("ws_echo: listening on ws://127.0.0.1:{port}");
    if let Err(e) = waitless_gateway::serve(Echo(Options::default()), config) {
        eprintln!("ws_echo: {e}");
        std::process::exit(1);
    }
}
