//! axum peer: the default `axum::serve` on tokio's current_thread runtime. axum (through hyper)
//! adds `Date` itself; `Server` is set per handler.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::Query;
use axum::http::header::{CONTENT_TYPE, SERVER};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

#[derive(Serialize)]
struct Slept {
    slept_ms: u64,
}

#[derive(Deserialize)]
struct SleepQuery {
    ms: u64,
}

fn port() -> u16 {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--port" {
            return args.next().and_then(|p| p.parse().ok()).expect("--port N");
        }
    }
    std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080)
}

async fn plaintext() -> impl IntoResponse {
    (
        [(SERVER, "axum"), (CONTENT_TYPE, "text/plain")],
        "Hello, World!",
    )
}

async fn json() -> impl IntoResponse {
    (
        [(SERVER, "axum")],
        Json(Message {
            message: "Hello, World!",
        }),
    )
}

async fn sleep(Query(q): Query<SleepQuery>) -> impl IntoResponse {
    tokio::time::sleep(Duration::from_millis(q.ms)).await;
    ([(SERVER, "axum")], Json(Slept { slept_ms: q.ms }))
}

fn main() {
    let addr = SocketAddr::from(([127, 0, 0, 1], port()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let app = Router::new()
            .route("/plaintext", get(plaintext))
            .route("/json", get(json))
            .route("/sleep", get(sleep));
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        println!(
            "axum: listening on http://{}",
            listener.local_addr().unwrap()
        );
        axum::serve(listener, app).await.expect("serve");
    });
}
