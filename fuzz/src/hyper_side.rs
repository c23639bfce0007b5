//! hyper's side of the differential targets: hyper 1.x's HTTP/1 server over an in-memory
//! duplex pipe on a current-thread tokio runtime, with a service that records each request.
//!
//! Its knobs are set to waitless's defaults so that limits do not count as disagreements:
//! 100 header fields at most, 16 KiB of head, `half_close` so that requests already buffered
//! when the client ends its stream are still served (waitless serves them).

use std::cell::RefCell;
use std::convert::Infallible;
use std::rc::Rc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Seen;

async fn record(
    req: Request<Incoming>,
    seen: Rc<RefCell<Vec<Seen>>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let uri = &parts.uri;
    let mut s = Seen {
        target: Some(uri.to_string().into_bytes()),
        method: parts.method.as_str().to_owned(),
        path: uri.path().as_bytes().to_vec(),
        query: uri.query().unwrap_or("").as_bytes().to_vec(),
        minor: u8::from(parts.version == hyper::Version::HTTP_11),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect(),
        body: Ok(Vec::new()),
    };
    let mut body = body;
    let mut data = Vec::new();
    // Bounded by the input: every data frame is at least one byte of it.
    s.body = loop {
        match body.frame().await {
            Some(Ok(f)) => {
                if let Some(d) = f.data_ref() {
                    data.extend_from_slice(d);
                }
            }
            None => break Ok(data),
            Some(Err(e)) => break Err((data, e.to_string())),
        }
    };
    seen.borrow_mut().push(s);
    Ok(Response::new(Full::new(Bytes::new())))
}

/// Feeds `input` to a fresh hyper connection (in one write, then end of stream) and returns
/// the requests its service saw, in order.
pub fn run(input: &[u8]) -> Vec<Seen> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime without I/O or timers always builds");
    let local = tokio::task::LocalSet::new();
    let record_into = seen.clone();
    let input = input.to_vec();
    local.block_on(&rt, async move {
        let (mut client, server) = tokio::io::duplex(input.len() + 64 * 1024);
        let conn = http1::Builder::new()
            .half_close(true)
            .max_headers(100)
            .max_header_size(16 * 1024)
            .serve_connection(
                hyper_util::rt::TokioIo::new(server),
                service_fn(move |req| record(req, record_into.clone())),
            );
        let serve = tokio::task::spawn_local(conn);
        let _ = client.write_all(&input).await;
        let _ = client.shutdown().await;
        let mut sink = Vec::new();
        let _ = client.read_to_end(&mut sink).await;
        let _ = serve.await;
    });
    let out = seen.borrow().clone();
    out
}
