//! `hello`: the TechEmpower endpoints written against the raw gateway interface, no framework.
//!
//! * `GET /plaintext` → `Hello, World!` (text/plain)
//! * `GET /json` → `{"message":"Hello, World!"}`, serialized per request
//! * `GET /sleep?ms=N` → waits N ms on a timer (0..=10000) without blocking the loop
//!
//! ```sh
//! cargo run --release -p hello -- --host 127.0.0.1 --port 8000 --workers 2
//! ```
//!
//! Every flag of the waitless runner applies (`--help` lists them).

use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use waitless_gateway::{App, Request, Responder};

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

struct Hello;

impl App for Hello {
    async fn call(&self, req: Request<'_>, mut res: Responder<'_>) {
        let scope = &req.scope;
        let get = matches!(scope.method, "GET" | "HEAD");
        let result = match scope.path.as_ref() {
            "/plaintext" if get => {
                res.send(200, &[("content-type", "text/plain")], b"Hello, World!")
            }
            "/json" if get => res.send_with(200, &[("content-type", "application/json")], |buf| {
                serde_json::to_writer(
                    buf,
                    &Message {
                        message: "Hello, World!",
                    },
                )
                .map_err(std::io::Error::other)
            }),
            "/sleep" if get => match query_u64(scope.query_string, "ms") {
                Some(ms) if ms <= 10_000 => {
                    waitless_reactor::sleep(Duration::from_millis(ms)).await;
                    res.send_with(200, &[("content-type", "application/json")], |buf| {
                        serde_json::to_writer(buf, &serde_json::json!({ "slept_ms": ms }))
                            .map_err(std::io::Error::other)
                    })
                }
                _ => res.send(
                    422,
                    &[("content-type", "application/json")],
                    br#"{"detail":"ms must be an integer in 0..=10000"}"#,
                ),
            },
            "/plaintext" | "/json" | "/sleep" => res.send(
                405,
                &[("content-type", "application/json"), ("allow", "GET, HEAD")],
                br#"{"detail":"Method Not Allowed"}"#,
            ),
            _ => res.send(
                404,
                &[("content-type", "application/json")],
                br#"{"detail":"Not Found"}"#,
            ),
        };
        if let Err(e) = result {
            log::debug!("hello: response failed: {e}");
        }
    }
}

fn query_u64(query: &[u8], key: &str) -> Option<u64> {
    query.split(|&b| b == b'&').find_map(|pair| {
        let (k, v) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        (k == key.as_bytes()).then(|| std::str::from_utf8(v).ok()?.parse().ok())?
    })
}

fn main() -> ExitCode {
    waitless_gateway::main("hello", || Hello)
}
