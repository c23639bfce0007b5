//! may-minihttp peer: one may worker thread, the TechEmpower configuration (4 KiB coroutine
//! stacks). may-minihttp writes `Server: M` and `Date` itself.

use std::io;
use std::time::Duration;

use may_minihttp::{HttpService, HttpServiceFactory, Request, Response};
use serde::Serialize;

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

#[derive(Serialize)]
struct Slept {
    slept_ms: u64,
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

struct Service;

impl HttpService for Service {
    fn call(&mut self, req: Request, rsp: &mut Response) -> io::Result<()> {
        let target = req.path();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        match path {
            "/plaintext" => {
                rsp.header("Content-Type: text/plain").body("Hello, World!");
            }
            "/json" => {
                rsp.header("Content-Type: application/json");
                let body = serde_json::to_vec(&Message {
                    message: "Hello, World!",
                })?;
                rsp.body_mut().extend_from_slice(&body);
            }
            "/sleep" => {
                let ms: u64 = query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("ms="))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                may::coroutine::sleep(Duration::from_millis(ms));
                rsp.header("Content-Type: application/json");
                let body = serde_json::to_vec(&Slept { slept_ms: ms })?;
                rsp.body_mut().extend_from_slice(&body);
            }
            _ => {
                rsp.status_code(404, "Not Found");
            }
        }
        Ok(())
    }
}

struct Factory;

impl HttpServiceFactory for Factory {
    type Service = Service;
    fn new_service(&self, _: usize) -> Service {
        Service
    }
}

fn main() {
    may::config()
        .set_workers(1)
        .set_pool_capacity(500)
        .set_stack_size(0x1000);
    let addr = ("127.0.0.1", port());
    let server = Factory.start(addr).expect("bind");
    println!("may-minihttp: listening on http://127.0.0.1:{}", addr.1);
    server.join().unwrap();
}
