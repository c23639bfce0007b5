//! Inputs the differential fuzz targets (`fuzz/`, against hyper's HTTP/1 server) found where
//! hyper reads a chunked body differently from waitless, pinned here: in each, hyper folds the
//! request that follows the body into the body's framing (an "extension", "trailers") and serves
//! one request, where waitless refuses the body and never serves what follows as anything. A
//! server behind a proxy that did the same as hyper would be desynchronised; waitless must
//! keep refusing. `docs/reliability.md` (## Fuzzing) lists them with their RFC sections.

use std::cell::RefCell;
use std::rc::Rc;

use waitless_executor::block_on;
use waitless_gateway::testing::TestServer;
use waitless_gateway::{App, Request, Responder};

/// Records each request's path and whether its body read cleanly.
#[derive(Clone, Default)]
struct Recorder(Rc<RefCell<Vec<(String, bool)>>>);

impl App for Recorder {
    async fn call(&self, mut req: Request<'_>, mut res: Responder<'_>) {
        let path = req.scope.path.to_string();
        let ok = req.body.to_vec().await.is_ok();
        self.0.borrow_mut().push((path, ok));
        let _ = res.send(200, &[("content-type", "text/plain")], b"");
    }
}

/// Sends `raw` on one connection, ends the stream, and returns what the app saw.
fn served(raw: &[u8]) -> Vec<(String, bool)> {
    let app = Recorder::default();
    let seen = app.0.clone();
    block_on(async move {
        let server = TestServer::new(app);
        let mut conn = server.connect();
        let _ = conn.send_raw(raw).await;
        conn.close_write();
        let _ = conn.read_to_end().await;
    });
    let out = seen.borrow().clone();
    out
}

const HEAD: &str = "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
const NEXT: &str = "GET /next HTTP/1.1\r\nHost: x\r\n\r\n";

#[test]
fn a_control_byte_in_a_chunk_extension_refuses_the_body() {
    // hyper skips any byte but LF up to the CR: `GET /next …` becomes part of the extension of
    // the last chunk and `Host: x` its trailer; one request served.
    let raw = format!("{HEAD}0;!=b\x15=00{NEXT}");
    assert_eq!(served(raw.as_bytes()), [("/upload".to_owned(), false)]);
}

#[test]
fn a_bare_lf_in_a_trailer_line_refuses_the_body() {
    // hyper takes any bytes up to CRLF as a trailer line: the request after the body becomes
    // trailers.
    for trailer in ["X-Other: 2hello\n\r\n", "X-Other: 2\u{e0}hello\n\r\n"] {
        let raw = format!("{HEAD}1\r\nx\r\n0\r\n{trailer}{NEXT}");
        assert_eq!(
            served(raw.as_bytes()),
            [("/upload".to_owned(), false)],
            "{trailer:?}"
        );
    }
}

#[test]
fn the_same_bodies_well_formed_are_served_with_the_next_request() {
    // The control: with valid framing both requests are served, each body read to its end.
    let raw = format!("{HEAD}1;a=b\r\nx\r\n0\r\nX-Other: 2\r\n\r\n{NEXT}");
    assert_eq!(
        served(raw.as_bytes()),
        [("/upload".to_owned(), true), ("/next".to_owned(), true)]
    );
}
