//! axum peer: the default `axum::serve` on tokio's current_thread runtime. axum (through hyper)
//! adds `Date` itself; `Server` is set per handler.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{Path, Query};
use axum::http::StatusCode;
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

#[derive(Deserialize)]
struct UserQuery {
    limit: Option<String>,
    q: Option<String>,
}

#[derive(Serialize)]
struct User {
    user_id: u64,
    limit: u32,
    q: Option<String>,
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

/// The framework-hello route: `limit` 1..=100 (default 10), `q` at most 50 characters, 422
/// otherwise. Checked by hand, as an axum app would without a validation crate; the error body
/// is FastAPI's shape for the first failing check only.
async fn user(Path(user_id): Path<u64>, Query(q): Query<UserQuery>) -> axum::response::Response {
    let limit = match q.limit.as_deref().map(str::parse::<u32>) {
        None => 10,
        Some(Ok(l)) if (1..=100).contains(&l) => l,
        _ => return invalid("limit"),
    };
    if q.q.as_ref().is_some_and(|s| s.chars().count() > 50) {
        return invalid("q");
    }
    let body = User {
        user_id,
        limit,
        q: q.q,
    };
    ([(SERVER, "axum")], Json(body)).into_response()
}

fn invalid(field: &str) -> axum::response::Response {
    let body = serde_json::json!({"detail": [{"type": "value_error", "loc": ["query", field]}]});
    (StatusCode::UNPROCESSABLE_ENTITY, [(SERVER, "axum")], Json(body)).into_response()
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
            .route("/sleep", get(sleep))
            .route("/users/{user_id}", get(user));
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        println!(
            "axum: listening on http://{}",
            listener.local_addr().unwrap()
        );
        axum::serve(listener, app).await.expect("serve");
    });
}
