//! waitless's side of the differential targets: the bytes go through the gateway's own
//! connection code (`testing::TestServer`), to an app that records each request and answers
//! `200` with an empty body.

use std::cell::RefCell;
use std::rc::Rc;

use waitless_gateway::testing::TestServer;
use waitless_gateway::{App, Request, Responder, Version};

use crate::Seen;

/// Records every request it is called with.
#[derive(Clone, Default)]
pub struct Recorder(pub Rc<RefCell<Vec<Seen>>>);

impl App for Recorder {
    async fn call(&self, mut req: Request<'_>, mut res: Responder<'_>) {
        let s = &req.scope;
        let mut seen = Seen {
            target: None,
            method: s.method.to_owned(),
            path: if s.raw_path.is_empty() {
                b"/".to_vec()
            } else {
                s.raw_path.to_vec()
            },
            query: s.query_string.to_vec(),
            minor: u8::from(s.version == Version::Http11),
            headers: s
                .headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.to_vec()))
                .collect(),
            body: Ok(Vec::new()),
        };
        let mut data = Vec::new();
        // Bounded by the input: every chunk is at least one byte of it.
        seen.body = loop {
            match req.body.chunk().await {
                Ok(Some(c)) => data.extend_from_slice(c),
                Ok(None) => break Ok(data),
                Err(e) => break Err((data, e.to_string())),
            }
        };
        self.0.borrow_mut().push(seen);
        let _ = res.send(200, &[("content-type", "text/plain")], b"");
    }
}

/// What the connection did with a byte stream.
#[derive(Debug)]
pub struct Outcome {
    /// The requests the app saw, in order.
    pub seen: Vec<Seen>,
    /// The `detail` of the server's last error response (the app itself never sends one).
    pub rejection: Option<String>,
}

/// Feeds `input` to a fresh connection (in one write, then end of stream).
pub fn run(input: &[u8]) -> Outcome {
    let app = Recorder::default();
    let seen = app.0.clone();
    let reply = waitless_executor::block_on(async move {
        let server = TestServer::new(app);
        let mut conn = server.connect();
        // A server that closes early (an error response) makes the write fail: that is fine,
        // what it did until then is recorded.
        let _ = conn.send_raw(input).await;
        conn.close_write();
        conn.read_to_end().await.unwrap_or_default()
    });
    let seen = seen.borrow().clone();
    Outcome {
        seen,
        rejection: last_detail(&reply),
    }
}

/// The text of the last `{"detail":"…"}` body in `reply`.
fn last_detail(reply: &[u8]) -> Option<String> {
    const OPEN: &[u8] = b"{\"detail\":\"";
    let start = reply.windows(OPEN.len()).rposition(|w| w == OPEN)? + OPEN.len();
    let len = reply[start..].iter().position(|&b| b == b'"')?;
    Some(String::from_utf8_lossy(&reply[start..start + len]).into_owned())
}
