//! `/io/sleep` and `/io/blocking`: the same wait, done the async way and the blocking way.
//!
//! Why both: the seed's central claim is that async is about *waiting* well ("기다리는 동안 다른
//! 요청 처리" — serve other requests while waiting). `/io/sleep` waits on the reactor's timer:
//! the loop serves everything else meanwhile, so 20 concurrent `?ms=300` finish in about 300 ms
//! on one worker. `/io/blocking` is the anti-pattern — `std::thread::sleep` inside an async
//! handler stops the worker's loop ("Blocking I/O: 요청 중 대기 시 실행 흐름 정지"), so the same 20
//! requests take 20 × 300 ms on one worker, and every other request of that worker waits too.
//! It exists only for the demo.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use waitless::{Json, Query};

/// `?ms=N`, 0..=10000.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Wait {
    #[schemars(range(max = 10_000))]
    pub ms: u64,
}

/// `{"slept_ms": N}`.
#[derive(Debug, Serialize)]
pub struct Slept {
    pub slept_ms: u64,
}

/// `GET /io/sleep?ms=N`: waits on a timer; the loop keeps serving.
///
/// Readable from any origin (`Access-Control-Allow-Origin: *`, a public answer without
/// credentials): the index page fires its 100 requests through `w0…w16.localhost`, other
/// origins of this same server, because a browser opens only 6 connections per host.
pub async fn sleep(Query(wait): Query<Wait>) -> ([(&'static str, &'static str); 1], Json<Slept>) {
    waitless_reactor::sleep(Duration::from_millis(wait.ms)).await;
    let headers = [("access-control-allow-origin", "*")];
    (headers, Json(Slept { slept_ms: wait.ms }))
}

/// `GET /io/blocking?ms=N`: **the anti-pattern** — blocks the worker's only thread, so nothing
/// else on this worker moves until it returns.
pub async fn blocking(Query(wait): Query<Wait>) -> Json<Slept> {
    std::thread::sleep(Duration::from_millis(wait.ms));
    Json(Slept { slept_ms: wait.ms })
}
