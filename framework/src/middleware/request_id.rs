//! `RequestId`: one id per request, echoed in a response header and visible to handlers.
//!
//! Why: tying a client's report, the access log and a handler's logs together needs one id that
//! all of them see. A trusted upstream id (header `x-request-id`) is kept; otherwise one is made.

use std::cell::Cell;

use super::{Endpoint, Middleware, Next};
use crate::context::RequestContext;
use crate::response::Response;

/// The id of the current request, stored as a request extension
/// (`req.extension::<RequestIdValue>()` in an extractor or middleware).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestIdValue(pub String);

/// Sets `x-request-id` on every response: the request's own (if it sent a sane one) or
/// `<pid hex>-<counter hex>`, unique per worker process without a random source.
///
/// ```
/// use waitless::{App, middleware::RequestId};
/// let app = App::new().get("/", || async { "hi" }).layer(RequestId::new());
/// # let _ = app;
/// ```
#[derive(Debug, Default)]
pub struct RequestId {
    counter: Cell<u64>,
}

impl RequestId {
    /// A request-id layer whose counter starts at 1 (ids made by it are `<pid hex>-1`, `-2`, ...).
    /// An incoming `x-request-id` is kept when it is 1 to 128 characters of ASCII letters, digits,
    /// `-`, `_` or `.`; any other value is replaced by a fresh id.
    pub fn new() -> RequestId {
        RequestId::default()
    }

    fn next_id(&self) -> String {
        let n = self.counter.get().wrapping_add(1);
        self.counter.set(n);
        format!("{:x}-{n:x}", std::process::id())
    }
}

/// An incoming id is kept only if it is short and plain (no header injection, no log spam).
fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl Middleware for RequestId {
    async fn around<E: Endpoint>(
        &self,
        req: &mut RequestContext<'_>,
        next: Next<'_, E>,
    ) -> Response {
        let id = match req.header("x-request-id").filter(|id| acceptable(id)) {
            Some(id) => id.to_owned(),
            None => self.next_id(),
        };
        req.insert_extension(RequestIdValue(id.clone()));
        let mut res = next.run(req).await;
        res.headers.insert("x-request-id", id);
        res
    }
}
