//! hyper 1.x peer: HTTP/1.1 only, tokio current_thread runtime, one task per connection,
//! `pipeline_flush(true)` (hyper's own switch for pipelined clients). hyper adds `Date` itself.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE, SERVER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpListener;

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

fn query_ms(query: Option<&str>) -> u64 {
    query
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("ms="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn respond(content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut rsp = Response::new(Full::new(body));
    let h = rsp.headers_mut();
    h.insert(SERVER, HeaderValue::from_static("hyper"));
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    rsp
}

async fn handle(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match req.uri().path() {
        "/plaintext" => respond("text/plain", Bytes::from_static(b"Hello, World!")),
        "/json" => {
            let body = serde_json::to_vec(&Message {
                message: "Hello, World!",
            })
            .unwrap();
            respond("application/json", Bytes::from(body))
        }
        "/sleep" => {
            let ms = query_ms(req.uri().query());
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let body = serde_json::to_vec(&Slept { slept_ms: ms }).unwrap();
            respond("application/json", Bytes::from(body))
        }
        _ => {
            let mut rsp = respond("text/plain", Bytes::from_static(b"Not Found"));
            *rsp.status_mut() = StatusCode::NOT_FOUND;
            rsp
        }
    })
}

fn main() {
    let addr = SocketAddr::from(([127, 0, 0, 1], port()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let listener = TcpListener::bind(addr).await.expect("bind");
        println!(
            "hyper: listening on http://{}",
            listener.local_addr().unwrap()
        );
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .pipeline_flush(true)
                    .serve_connection(TokioIo::new(stream), service_fn(handle))
                    .await;
            });
        }
    });
}
