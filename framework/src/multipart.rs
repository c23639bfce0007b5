//! `multipart/form-data` uploads, streamed: file bytes reach the handler as they arrive.
//!
//! Why streamed and how: FastAPI spools an `UploadFile` to a temporary file before the handler
//! runs. Here a handler's arguments are owned values and the body belongs to the connection, so
//! the [`Multipart`] extractor leaves a small bounded queue behind in the request; while the
//! handler runs, the framework pumps body chunks into it (`run_with_pump`, at most two chunks
//! ahead: back-pressure instead of buffering), and the handler reads parts and their chunks
//! from it. A 50 MiB upload never sits in memory whole.
//!
//! Parser: `multer` (rwf2's, the parser behind Rocket and axum's multipart), with default
//! features off. It works on any `futures::Stream` of `Bytes`; tokio is only an optional
//! feature (its `tokio-io` reader), left off. It wants a `Send` stream, so the queue is an
//! `Arc<Mutex<..>>` (never contended: one worker thread).
//!
//! ```
//! use waitless::multipart::Multipart;
//! use waitless::{App, Json, Rejection, StatusCode, TestClient};
//!
//! async fn upload(mut form: Multipart) -> Result<(StatusCode, Json<serde_json::Value>), Rejection> {
//!     let mut file = form.file("file").await?; // missing → 422 at ["body","file"]
//!     let name = file.file_name().unwrap_or("").to_owned();
//!     let mut size = 0;
//!     while let Some(chunk) = file.chunk().await? {  // over the route's limit → 413
//!         size += chunk.len();
//!     }
//!     Ok((StatusCode::CREATED, Json(serde_json::json!({ "filename": name, "size": size }))))
//! }
//!
//! let app = App::new()
//!     .post("/files", upload)
//!     .body_limit(50 * 1024 * 1024)
//!     .multipart_files(&["file"]);
//! let client = TestClient::new(app);
//! let body = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
//!             Content-Type: text/plain\r\n\r\nhello\r\n--XyZ--\r\n";
//! let res = client.post("/files")
//!     .header("content-type", "multipart/form-data; boundary=XyZ")
//!     .body(body)
//!     .send();
//! assert_eq!(res.status.as_u16(), 201);
//! assert_eq!(res.text(), r#"{"filename":"a.txt","size":5}"#);
//! ```

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use futures_lite::Stream;
use serde_json::{json, Value};
use waitless_gateway::{Body, BodyError};

use crate::context::RequestContext;
use crate::extract::{FromRequest, Rejection};
use crate::openapi::Operation;
use crate::response::{IntoResponse, Response, StatusCode};
use crate::validation::{ErrorItem, Loc, ValidationErrors};

/// Body chunks the pump may hold before the handler reads them.
const AHEAD: usize = 2;

#[derive(Default)]
struct Shared {
    chunks: VecDeque<Result<Bytes, std::io::Error>>,
    done: bool,
    too_large: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

/// The queue between the pump (body side) and multer (handler side).
#[derive(Clone, Default)]
pub(crate) struct Queue(Arc<Mutex<Shared>>);

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A poisoned lock only means a handler panicked mid-read; the data is still consistent.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next chunk the pump delivered (`None` at the end of the body).
    pub(crate) fn poll_chunk(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, std::io::Error>>> {
        let mut s = self.lock();
        if let Some(item) = s.chunks.pop_front() {
            if let Some(w) = s.writer.take() {
                w.wake();
            }
            return Poll::Ready(Some(item));
        }
        if s.done {
            return Poll::Ready(None);
        }
        s.reader = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Whether the body failed for growing past the route's limit.
    pub(crate) fn too_large(&self) -> bool {
        self.lock().too_large
    }
}

/// multer's input: the queue, as a stream.
struct Feed(Queue);

impl Stream for Feed {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_chunk(cx)
    }
}

/// Runs the handler's future; if a [`Multipart`] was extracted, pumps the body into its queue
/// meanwhile. The handler finishing ends the pump (an unread rest of the body is left to the
/// gateway, which drains or closes).
pub(crate) async fn run_with_pump<F: Future>(req: &mut RequestContext<'_>, fut: F) -> F::Output {
    match req.body_pump.take() {
        None => fut.await,
        Some(queue) => {
            let body = &mut req.body;
            futures_lite::future::or(fut, async move {
                pump(body, &queue).await;
                std::future::pending().await
            })
            .await
        }
    }
}

async fn pump(body: &mut Body<'_>, queue: &Queue) {
    // Bounded by the body: every turn moves one chunk or ends.
    loop {
        poll_fn(|cx| {
            let mut s = queue.lock();
            if s.chunks.len() < AHEAD {
                Poll::Ready(())
            } else {
                s.writer = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
        let item = match body.chunk().await {
            Ok(Some(chunk)) => Some(Ok(Bytes::copy_from_slice(chunk))),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        };
        let mut s = queue.lock();
        let end = !matches!(item, Some(Ok(_)));
        match item {
            Some(Ok(bytes)) => s.chunks.push_back(Ok(bytes)),
            Some(Err(e)) => {
                s.too_large = matches!(e, BodyError::TooLarge { .. });
                s.chunks
                    .push_back(Err(std::io::Error::other(e.to_string())));
            }
            None => {}
        }
        s.done |= end;
        if let Some(w) = s.reader.take() {
            w.wake();
        }
        if end {
            return;
        }
    }
}

/// Why reading a multipart body failed.
#[derive(Debug)]
pub enum MultipartError {
    /// A required part is absent: 422 with loc `["body", name]` (FastAPI's `missing`).
    Missing(String),
    /// The body grew past the route's limit: 413.
    TooLarge,
    /// The body is not valid multipart: 400.
    Malformed(String),
}

impl std::fmt::Display for MultipartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MultipartError::Missing(name) => write!(f, "part {name:?} is missing"),
            MultipartError::TooLarge => f.write_str("Request body too large"),
            MultipartError::Malformed(e) => write!(f, "invalid multipart body: {e}"),
        }
    }
}

impl std::error::Error for MultipartError {}

impl IntoResponse for MultipartError {
    fn into_response(self) -> Response {
        match self {
            MultipartError::Missing(name) => {
                let mut errors = ValidationErrors::new();
                let mut loc = Loc::new("body");
                loc.push_key(name);
                errors.push(ErrorItem::missing(&loc, Value::Null));
                errors.into_response()
            }
            MultipartError::TooLarge => {
                Response::detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large")
            }
            MultipartError::Malformed(_) => Response::detail(
                StatusCode::BAD_REQUEST,
                "There was an error parsing the body",
            ),
        }
    }
}

impl From<MultipartError> for Rejection {
    fn from(e: MultipartError) -> Self {
        Rejection::Response(e.into_response())
    }
}

/// A `multipart/form-data` body, read part by part while it arrives.
///
/// A request whose content type is not multipart gives a form with no parts (so a required
/// file is a 422, as in FastAPI). Bodies declared larger than the route's limit are refused
/// with 413 before the handler runs; a chunked body that grows past it makes the read fail
/// with [`MultipartError::TooLarge`].
pub struct Multipart {
    inner: Option<multer::Multipart<'static>>,
    queue: Queue,
}

impl FromRequest for Multipart {
    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        let limit = req.body_limit();
        let boundary = req
            .header("content-type")
            .and_then(|ct| multer::parse_boundary(ct).ok());
        let queue = Queue::default();
        let Some(boundary) = boundary.filter(|_| !req.body_used) else {
            return Ok(Multipart { inner: None, queue });
        };
        if req.body.content_length().is_some_and(|n| n > limit) {
            return Err(MultipartError::TooLarge.into());
        }
        req.body.set_limit(limit);
        req.body_used = true;
        req.body_pump = Some(queue.clone());
        let inner = multer::Multipart::new(Feed(queue.clone()), boundary);
        Ok(Multipart {
            inner: Some(inner),
            queue,
        })
    }

    fn openapi(op: &mut Operation<'_>) {
        op.validates();
        if op.request_body.is_none() {
            op.body_schema("multipart/form-data", json!({"type": "object"}));
        }
    }
}

impl Multipart {
    /// The next part, or `None` after the last.
    pub async fn next_part(&mut self) -> Result<Option<Part>, MultipartError> {
        let Some(inner) = &mut self.inner else {
            return Ok(None);
        };
        match inner.next_field().await {
            Ok(field) => Ok(field.map(|f| Part {
                field: f,
                queue: self.queue.clone(),
            })),
            Err(e) => Err(self.error(e)),
        }
    }

    /// The part named `name`, skipping the parts before it; missing → 422 at `["body", name]`.
    pub async fn file(&mut self, name: &str) -> Result<Part, MultipartError> {
        // Bounded by the body: each turn consumes one part.
        while let Some(part) = self.next_part().await? {
            if part.name() == Some(name) {
                return Ok(part);
            }
        }
        Err(MultipartError::Missing(name.to_owned()))
    }

    fn error(&self, e: multer::Error) -> MultipartError {
        to_error(&self.queue, e)
    }
}

fn to_error(queue: &Queue, e: multer::Error) -> MultipartError {
    if queue.lock().too_large {
        MultipartError::TooLarge
    } else {
        MultipartError::Malformed(e.to_string())
    }
}

/// One part of a multipart body: a file (it has a file name) or a plain field.
pub struct Part {
    field: multer::Field<'static>,
    queue: Queue,
}

impl Part {
    /// The form field's name.
    pub fn name(&self) -> Option<&str> {
        self.field.name()
    }

    /// The uploaded file's name as the client sent it (never use it as a path as is).
    pub fn file_name(&self) -> Option<&str> {
        self.field.file_name()
    }

    /// The part's declared content type (`application/octet-stream` when absent, like
    /// Starlette's default for files).
    pub fn content_type(&self) -> String {
        self.field
            .content_type()
            .map_or_else(|| "application/octet-stream".to_owned(), |m| m.to_string())
    }

    /// The next chunk of the part's bytes, as they arrive; `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, MultipartError> {
        match self.field.chunk().await {
            Ok(c) => Ok(c),
            Err(e) => Err(to_error(&self.queue, e)),
        }
    }

    /// The whole part as text (for small plain fields).
    pub async fn text(mut self) -> Result<String, MultipartError> {
        let mut out = Vec::new();
        while let Some(c) = self.chunk().await? {
            out.extend_from_slice(&c);
        }
        String::from_utf8(out).map_err(|e| MultipartError::Malformed(e.to_string()))
    }
}
