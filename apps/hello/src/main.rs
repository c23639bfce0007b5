//! `hello`: the TechEmpower endpoints written against the raw gateway interface, no framework.
//!
//! * `GET /plaintext` → `Hello, World!` (text/plain)
//! * `GET /json` → `{"message":"Hello, World!"}`, serialized per request
//! * `GET /sleep?ms=N` → waits N ms on a timer (0..=10000) without blocking the loop
//!
//! ```sh
//! cargo run --release -p hello -- --host 127.0.0.1 --port 8000
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use waitless_gateway::{App, Config, Request, Responder, Server};

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

fn usage() -> &'static str {
    "usage: hello [--host HOST] [--port PORT]\n  --host HOST  address to bind (default 127.0.0.1)\n  --port PORT  port to bind, 0 for any free port (default 8000)"
}

fn main() -> ExitCode {
    let mut host = "127.0.0.1".to_owned();
    let mut port: u16 = 8000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or(format!("{name} needs a value"))
        };
        let parsed: Result<(), String> = match flag.as_str() {
            "--host" => value("--host").map(|v| host = v),
            "--port" => value("--port").and_then(|v| v.parse().map(|p| port = p).map_err(|_| format!("invalid value for --port: {v:?}"))),
            "--workers" => value("--workers").and_then(|v| match v.parse::<u32>() {
                Ok(1) => Ok(()),
                _ => Err(format!("--workers {v}: only 1 worker is supported until the multi-process runner lands")),
            }),
            "-h" | "--help" => {
                println!("{}", usage());
                return ExitCode::SUCCESS;
            }
            other => Err(format!("unknown flag {other:?}")),
        };
        if let Err(msg) = parsed {
            eprintln!("hello: {msg}\n{}", usage());
            return ExitCode::from(2);
        }
    }
    let bind: SocketAddr = match format!("{host}:{port}")
        .parse()
        .or_else(|_| format!("[{host}]:{port}").parse())
    {
        Ok(a) => a,
        Err(_) => {
            eprintln!("hello: invalid value for --host: {host:?}");
            return ExitCode::from(2);
        }
    };
    let config = Config {
        bind,
        access_log: false,
        ..Config::default()
    };
    let result = waitless_executor::block_on(async {
        let server = Server::bind(config)?;
        println!(
            "waitless: listening on http://{} (workers: 1)",
            server.local_addr()
        );
        server.run(Hello).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hello: {e}");
            ExitCode::FAILURE
        }
    }
}
