//! A test app for the runner's integration tests (`tests/runner.rs`): it reports which worker
//! process served a request, so tests can see the process tree from outside.
//!
//! * `GET /pid` → the worker's pid
//! * `GET /slow?ms=N` → waits N ms, then answers
//! * `GET /block?ms=N` → blocks the worker's thread for N ms (what CPU-bound work on the loop
//!   does: the worker cannot even see a shutdown signal), then answers
//! * `GET /scheme` → `http` or `https` (`scope.scheme`), `GET /root-path` → `scope.root_path()`
//! * `GET /env?NAME` → the worker's environment variable `NAME` (empty if unset), so tests see
//!   what `--env-file` exported
//! * with `PROBE_CRASH=1` in the environment every worker dies while building the app
//!   (the crash-loop guard's test)

use std::process::ExitCode;
use std::time::Duration;

use waitless_gateway::{App, Request, Responder};

struct Probe;

impl App for Probe {
    async fn call(&self, req: Request<'_>, mut res: Responder<'_>) {
        let query = String::from_utf8_lossy(req.scope.query_string).into_owned();
        if req.scope.path == "/slow" {
            log::info!("slow request started [{}]", std::process::id());
            waitless_reactor::sleep(millis(&query)).await;
        }
        if req.scope.path == "/block" {
            log::info!("blocking request started [{}]", std::process::id());
            std::thread::sleep(millis(&query));
        }
        let body = match req.scope.path.as_ref() {
            "/scheme" => req.scope.scheme.as_str().to_owned(),
            "/root-path" => req.scope.root_path().to_owned(),
            "/env" => std::env::var(&query).unwrap_or_default(),
            _ => std::process::id().to_string(),
        };
        let _ = res.send(200, &[("content-type", "text/plain")], body.as_bytes());
    }
}

/// `ms=N` of a query string (0 if absent or not a number).
fn millis(query: &str) -> Duration {
    let ms = query.strip_prefix("ms=").and_then(|v| v.parse().ok());
    Duration::from_millis(ms.unwrap_or(0))
}

fn main() -> ExitCode {
    waitless_gateway::main("probe", || {
        if std::env::var_os("PROBE_CRASH").is_some() {
            std::process::abort();
        }
        Probe
    })
}
