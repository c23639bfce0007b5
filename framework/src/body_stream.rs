//! The raw request body as a stream of chunks, for handlers that must not buffer it whole (a
//! proxy, a hash of a large upload, a line-by-line import) — Starlette's `request.stream()`.
//!
//! How: like [`Multipart`](crate::multipart::Multipart), the extractor leaves a small bounded
//! queue in the request and the framework pumps body chunks into it while the handler runs (at
//! most two chunks ahead: back-pressure, not buffering). The route's body limit applies: a
//! declared length over it is refused with 413 before the handler runs, a chunked body that
//! grows past it fails the read with [`BodyStreamError::TooLarge`].
//!
//! ```
//! use waitless::{App, BodyStream, BodyStreamError, TestClient};
//!
//! async fn count_lines(mut body: BodyStream) -> Result<String, BodyStreamError> {
//!     let mut lines = 0;
//!     while let Some(chunk) = body.chunk().await? {
//!         lines += chunk.iter().filter(|&&b| b == b'\n').count();
//!     }
//!     Ok(lines.to_string())
//! }
//!
//! let app = App::new().post("/import", count_lines).body_limit(100 * 1024 * 1024);
//! let client = TestClient::new(app);
//! assert_eq!(client.post("/import").body("a\nb\nc\n").send().text(), "3");
//! ```

use std::future::poll_fn;

use bytes::Bytes;
use serde_json::json;

use crate::context::RequestContext;
use crate::extract::{FromRequest, Rejection};
use crate::multipart::Queue;
use crate::openapi::Operation;
use crate::response::{IntoResponse, Response, StatusCode};

/// The request body, chunk by chunk as it arrives.
pub struct BodyStream {
    queue: Option<Queue>,
}

/// Why reading a [`BodyStream`] failed.
#[derive(Debug)]
pub enum BodyStreamError {
    /// The body grew past the route's limit: 413.
    TooLarge,
    /// The client sent a malformed or incomplete body, or went away: 400.
    Broken(String),
}

impl std::fmt::Display for BodyStreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyStreamError::TooLarge => f.write_str("Request body too large"),
            BodyStreamError::Broken(e) => write!(f, "reading the request body failed: {e}"),
        }
    }
}

impl std::error::Error for BodyStreamError {}

impl IntoResponse for BodyStreamError {
    fn into_response(self) -> Response {
        match self {
            BodyStreamError::TooLarge => {
                Response::detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large")
            }
            BodyStreamError::Broken(_) => {
                Response::detail(StatusCode::BAD_REQUEST, "Invalid request body")
            }
        }
    }
}

impl FromRequest for BodyStream {
    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        if req.body_used {
            return Ok(BodyStream { queue: None });
        }
        let limit = req.body_limit();
        if req.body.content_length().is_some_and(|n| n > limit) {
            return Err(Rejection::Response(
                BodyStreamError::TooLarge.into_response(),
            ));
        }
        req.body.set_limit(limit);
        req.body_used = true;
        let queue = Queue::default();
        req.body_pump = Some(queue.clone());
        Ok(BodyStream { queue: Some(queue) })
    }

    fn openapi(op: &mut Operation<'_>) {
        if op.request_body.is_none() {
            op.body_schema(
                "application/octet-stream",
                json!({"type": "string", "format": "binary"}),
            );
        }
    }
}

impl BodyStream {
    /// The next chunk of the body, or `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, BodyStreamError> {
        let Some(queue) = &self.queue else {
            return Ok(None);
        };
        match poll_fn(|cx| queue.poll_chunk(cx)).await {
            None => Ok(None),
            Some(Ok(bytes)) => Ok(Some(bytes)),
            Some(Err(_)) if queue.too_large() => Err(BodyStreamError::TooLarge),
            Some(Err(e)) => Err(BodyStreamError::Broken(e.to_string())),
        }
    }
}

impl std::fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyStream").finish_non_exhaustive()
    }
}
