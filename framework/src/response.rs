//! The framework's response value and everything a handler may return ([`IntoResponse`]).
//!
//! Why a value and not direct writes to the gateway's `Responder`: middleware must be able to
//! read and change the status, headers and body (CORS, GZip, timing) before anything reaches the
//! wire, and error handlers must be able to replace it. The value is written to the `Responder`
//! once, at the end (`app.rs`).

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::pin::Pin;

use futures_lite::Stream;
use serde::Serialize;

use crate::buffers;

/// An HTTP status code.
///
/// ```
/// use waitless::StatusCode;
/// assert_eq!(StatusCode::CREATED.as_u16(), 201);
/// assert_eq!(StatusCode::from(404), StatusCode::NOT_FOUND);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StatusCode(pub u16);

impl StatusCode {
    /// `200 OK` (RFC 9110 §15.3.1): the default status of every response.
    pub const OK: StatusCode = StatusCode(200);
    /// `201 Created` (RFC 9110 §15.3.2).
    pub const CREATED: StatusCode = StatusCode(201);
    /// `202 Accepted` (RFC 9110 §15.3.3).
    pub const ACCEPTED: StatusCode = StatusCode(202);
    /// `204 No Content` (RFC 9110 §15.3.5); see also [`NoContent`].
    pub const NO_CONTENT: StatusCode = StatusCode(204);
    /// `301 Moved Permanently` (RFC 9110 §15.4.2).
    pub const MOVED_PERMANENTLY: StatusCode = StatusCode(301);
    /// `302 Found` (RFC 9110 §15.4.3).
    pub const FOUND: StatusCode = StatusCode(302);
    /// `303 See Other` (RFC 9110 §15.4.4); see [`Redirect::see_other`].
    pub const SEE_OTHER: StatusCode = StatusCode(303);
    /// `304 Not Modified` (RFC 9110 §15.4.5).
    pub const NOT_MODIFIED: StatusCode = StatusCode(304);
    /// `307 Temporary Redirect` (RFC 9110 §15.4.8); see [`Redirect::to`].
    pub const TEMPORARY_REDIRECT: StatusCode = StatusCode(307);
    /// `308 Permanent Redirect` (RFC 9110 §15.4.9); see [`Redirect::permanent`].
    pub const PERMANENT_REDIRECT: StatusCode = StatusCode(308);
    /// `400 Bad Request` (RFC 9110 §15.5.1).
    pub const BAD_REQUEST: StatusCode = StatusCode(400);
    /// `401 Unauthorized` (RFC 9110 §15.5.2).
    pub const UNAUTHORIZED: StatusCode = StatusCode(401);
    /// `403 Forbidden` (RFC 9110 §15.5.4).
    pub const FORBIDDEN: StatusCode = StatusCode(403);
    /// `404 Not Found` (RFC 9110 §15.5.5).
    pub const NOT_FOUND: StatusCode = StatusCode(404);
    /// `405 Method Not Allowed` (RFC 9110 §15.5.6).
    pub const METHOD_NOT_ALLOWED: StatusCode = StatusCode(405);
    /// `409 Conflict` (RFC 9110 §15.5.10).
    pub const CONFLICT: StatusCode = StatusCode(409);
    /// `413 Content Too Large` (RFC 9110 §15.5.14; "Payload Too Large" in RFC 7231).
    pub const PAYLOAD_TOO_LARGE: StatusCode = StatusCode(413);
    /// `422 Unprocessable Content` (RFC 9110 §15.5.21): the status of a validation failure
    /// ([`ValidationErrors`](crate::ValidationErrors)), as in FastAPI.
    pub const UNPROCESSABLE_ENTITY: StatusCode = StatusCode(422);
    /// `429 Too Many Requests` (RFC 6585 §4; RFC 9110 does not define it).
    pub const TOO_MANY_REQUESTS: StatusCode = StatusCode(429);
    /// `500 Internal Server Error` (RFC 9110 §15.6.1); see [`Response::internal_error`].
    pub const INTERNAL_SERVER_ERROR: StatusCode = StatusCode(500);
    /// `503 Service Unavailable` (RFC 9110 §15.6.4).
    pub const SERVICE_UNAVAILABLE: StatusCode = StatusCode(503);
    /// `504 Gateway Timeout` (RFC 9110 §15.6.5).
    pub const GATEWAY_TIMEOUT: StatusCode = StatusCode(504);

    /// The numeric code. Any `u16` converts into a `StatusCode` (`StatusCode::from(418)`,
    /// `StatusCode(418)`); only the common ones have a constant.
    pub fn as_u16(self) -> u16 {
        self.0
    }
}

impl From<u16> for StatusCode {
    fn from(code: u16) -> Self {
        StatusCode(code)
    }
}

/// Response headers: names lower-cased by convention, in insertion order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderMap {
    entries: Vec<(Cow<'static, str>, Cow<'static, str>)>,
}

impl HeaderMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name`, replacing every earlier value of it.
    pub fn insert(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) {
        let name = name.into();
        self.remove(&name);
        self.entries.push((name, value.into()));
    }

    /// Adds a value for `name` (for headers that may repeat, like `set-cookie`).
    pub fn append(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) {
        self.entries.push((name.into(), value.into()));
    }

    /// Sets every name of `other` to all of its values there, replacing what this map had for
    /// those names (`http::HeaderMap::extend`): two `set-cookie` in `other` stay two, and an
    /// extra `content-type` replaces the body's own.
    pub fn merge(&mut self, other: &HeaderMap) {
        for (n, _) in &other.entries {
            self.remove(n);
        }
        self.entries.extend(other.entries.iter().cloned());
    }

    /// Adds `token` to `vary` unless it is already listed (case-insensitive): Starlette's
    /// `MutableHeaders.add_vary_header`, used by the CORS and gzip middleware so that a response
    /// passing through both says `Origin, Accept-Encoding` once each.
    pub fn add_vary(&mut self, token: &str) {
        let value = match self.get("vary") {
            Some(v) if v.split(',').any(|p| p.trim().eq_ignore_ascii_case(token)) => return,
            Some(v) => format!("{v}, {token}"),
            None => token.to_owned(),
        };
        self.insert("vary", value);
    }

    /// The first value of `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    /// Whether `name` has at least one value (case-insensitive).
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Removes every value of `name` (case-insensitive); does nothing if there is none.
    pub fn remove(&mut self, name: &str) {
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Every `(name, value)` pair in insertion order, a repeated header once per value.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_ref(), v.as_ref()))
    }

    /// The number of `(name, value)` pairs (a header appended twice counts twice).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map holds no header at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A streamed body: chunks produced while the response is being sent.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Vec<u8>>>>;

/// The body of a [`Response`].
pub enum ResponseBody {
    /// No body (`()`, [`NoContent`], a [`Redirect`], a bare [`StatusCode`]).
    Empty,
    /// A body borrowed for the whole program (a `&'static str` or `&'static [u8]` returned from a
    /// handler): no allocation for the body.
    Static(&'static [u8]),
    /// A buffer (returned to the worker's buffer pool once written).
    Bytes(Vec<u8>),
    /// Sent chunk by chunk (chunked transfer encoding).
    Stream(ChunkStream),
}

impl ResponseBody {
    /// The bytes of a complete body (`None` for a stream).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            ResponseBody::Empty => Some(b""),
            ResponseBody::Static(b) => Some(b),
            ResponseBody::Bytes(b) => Some(b),
            ResponseBody::Stream(_) => None,
        }
    }
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_bytes() {
            Some(b) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            None => f.write_str("<stream>"),
        }
    }
}

/// A response: status, headers and body, built by handlers, changed by middleware, written by
/// the app at the end.
///
/// ```
/// use waitless::{Response, StatusCode};
/// let res = Response::text("hi").with_status(StatusCode::CREATED).with_header("x-a", "1");
/// assert_eq!(res.status, StatusCode::CREATED);
/// assert_eq!(res.headers.get("content-type"), Some("text/plain; charset=utf-8"));
/// assert_eq!(res.body.as_bytes(), Some(&b"hi"[..]));
/// ```
pub struct Response {
    /// The status line's code; `200` unless a handler or middleware changed it.
    pub status: StatusCode,
    /// The response headers; the content type is set by the constructor ([`Response::text`],
    /// [`Response::json`], ...), `content-length` or chunked framing is left to the gateway.
    pub headers: HeaderMap,
    /// The body: complete bytes or a stream of chunks.
    pub body: ResponseBody,
    /// The typed error this response was made from, for the app's exception handlers.
    pub(crate) exception: Option<Box<dyn Any>>,
    /// A WebSocket route's handler, run by `App::call` after the handshake (`websocket.rs`).
    pub(crate) upgrade: Option<crate::websocket::Session>,
    /// A streamed body that ends cleanly when the worker starts shutting down (SSE).
    pub(crate) until_shutdown: bool,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &self.body)
            .finish()
    }
}

impl Default for Response {
    fn default() -> Self {
        Response::new(StatusCode::OK, ResponseBody::Empty)
    }
}

impl Response {
    /// A response with `status`, `body` and no header at all (not even a content type: add it with
    /// [`Response::with_header`]).
    pub fn new(status: StatusCode, body: ResponseBody) -> Response {
        Response {
            status,
            headers: HeaderMap::new(),
            body,
            exception: None,
            upgrade: None,
            until_shutdown: false,
        }
    }

    /// `text/plain; charset=utf-8`.
    pub fn text(body: impl Into<Cow<'static, str>>) -> Response {
        let body = match body.into() {
            Cow::Borrowed(s) => ResponseBody::Static(s.as_bytes()),
            Cow::Owned(s) => ResponseBody::Bytes(s.into_bytes()),
        };
        Response::new(StatusCode::OK, body).with_header("content-type", "text/plain; charset=utf-8")
    }

    /// `application/json`, serialized into a reused buffer. A value that cannot be serialized
    /// (a map with non-string keys) gives `500`.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Response {
        let mut buf = buffers::take();
        match serde_json::to_writer(&mut buf, value) {
            Ok(()) => Response::new(StatusCode::OK, ResponseBody::Bytes(buf))
                .with_header("content-type", "application/json"),
            Err(e) => {
                log::error!("waitless: response serialization failed: {e}");
                buffers::give(buf);
                Response::internal_error()
            }
        }
    }

    /// A streamed body with the given content type.
    pub fn stream(
        content_type: impl Into<Cow<'static, str>>,
        chunks: impl Stream<Item = Vec<u8>> + 'static,
    ) -> Response {
        Response::new(StatusCode::OK, ResponseBody::Stream(Box::pin(chunks)))
            .with_header("content-type", content_type)
    }

    /// `500 {"detail":"Internal Server Error"}`.
    pub fn internal_error() -> Response {
        Response::detail(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    }

    /// `{"detail": detail}` with `status`, FastAPI's error shape.
    pub fn detail(status: StatusCode, detail: &'static str) -> Response {
        let body = match detail {
            "Not Found" => ResponseBody::Static(br#"{"detail":"Not Found"}"#),
            "Method Not Allowed" => ResponseBody::Static(br#"{"detail":"Method Not Allowed"}"#),
            "Internal Server Error" => {
                ResponseBody::Static(br#"{"detail":"Internal Server Error"}"#)
            }
            other => return Response::json(&Detail { detail: other }).with_status(status),
        };
        Response::new(status, body).with_header("content-type", "application/json")
    }

    /// Marks this response as made from `error`, so an exception handler registered for `E`
    /// (`App::exception_handler`) can replace it.
    ///
    /// ```
    /// use waitless::{IntoResponse, Response, StatusCode};
    /// struct Teapot;
    /// impl IntoResponse for Teapot {
    ///     fn into_response(self) -> Response {
    ///         Response::text("short and stout").with_status(StatusCode(418)).with_exception(self)
    ///     }
    /// }
    /// ```
    pub fn with_exception<E: Any>(mut self, error: E) -> Response {
        self.exception = Some(Box::new(error));
        self
    }

    /// The same response with another status (a `StatusCode` or a bare `u16`).
    pub fn with_status(mut self, status: impl Into<StatusCode>) -> Response {
        self.status = status.into();
        self
    }

    /// The same response with header `name` set to `value`, replacing any earlier value of it (use
    /// [`HeaderMap::append`] on [`Response::headers`] for a header that repeats, like
    /// `set-cookie`).
    pub fn with_header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Response {
        self.headers.insert(name, value);
        self
    }
}

#[derive(Serialize)]
struct Detail<'a> {
    detail: &'a str,
}

/// Anything a handler may return.
///
/// Implement it for your own types; return [`Response::with_exception`] from it to let
/// `App::exception_handler` replace the response for that type.
pub trait IntoResponse {
    /// Turns the value into the response that is sent (or handed to the middleware first).
    fn into_response(self) -> Response;

    /// Describes the responses of this type in the route's OpenAPI operation.
    fn openapi(_op: &mut crate::openapi::Operation<'_>)
    where
        Self: Sized,
    {
    }
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for () {
    fn into_response(self) -> Response {
        Response::default()
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response {
        Response::new(self, ResponseBody::Empty)
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Response {
        Response::new(StatusCode::OK, ResponseBody::Bytes(self))
            .with_header("content-type", "application/octet-stream")
    }
}

impl IntoResponse for &'static [u8] {
    fn into_response(self) -> Response {
        Response::new(StatusCode::OK, ResponseBody::Static(self))
            .with_header("content-type", "application/octet-stream")
    }
}

impl IntoResponse for serde_json::Value {
    fn into_response(self) -> Response {
        Response::json(&self)
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(v) => v.into_response(),
            Err(e) => e.into_response(),
        }
    }

    fn openapi(op: &mut crate::openapi::Operation<'_>) {
        T::openapi(op);
        E::openapi(op);
    }
}

impl<T: IntoResponse> IntoResponse for (StatusCode, T) {
    fn into_response(self) -> Response {
        self.1.into_response().with_status(self.0)
    }

    fn openapi(op: &mut crate::openapi::Operation<'_>) {
        T::openapi(op);
    }
}

/// Extra headers for a tuple response: `(StatusCode::CREATED, [("location", "/items/1")], body)`.
pub trait IntoHeaders {
    /// Sets these headers on `headers`, each replacing any value the body's own response already
    /// had for that name (so a tuple can override the body's `content-type`).
    fn apply(self, headers: &mut HeaderMap);
}

impl<N, V, const K: usize> IntoHeaders for [(N, V); K]
where
    N: Into<Cow<'static, str>>,
    V: Into<Cow<'static, str>>,
{
    fn apply(self, headers: &mut HeaderMap) {
        for (n, v) in self {
            headers.insert(n, v);
        }
    }
}

impl IntoHeaders for HeaderMap {
    fn apply(self, headers: &mut HeaderMap) {
        headers.merge(&self);
    }
}

impl<H: IntoHeaders, T: IntoResponse> IntoResponse for (StatusCode, H, T) {
    fn into_response(self) -> Response {
        let mut res = self.2.into_response().with_status(self.0);
        self.1.apply(&mut res.headers);
        res
    }

    fn openapi(op: &mut crate::openapi::Operation<'_>) {
        T::openapi(op);
    }
}

impl<H: IntoHeaders, T: IntoResponse> IntoResponse for (H, T) {
    fn into_response(self) -> Response {
        let mut res = self.1.into_response();
        self.0.apply(&mut res.headers);
        res
    }

    fn openapi(op: &mut crate::openapi::Operation<'_>) {
        T::openapi(op);
    }
}

/// A JSON response body (and, as an extractor, a JSON request body: see `extract`).
///
/// ```
/// use waitless::{IntoResponse, Json};
/// let res = Json(serde_json::json!({"message": "Hello, World!"})).into_response();
/// assert_eq!(res.body.as_bytes(), Some(&br#"{"message":"Hello, World!"}"#[..]));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        Response::json(&self.0)
    }
}

/// An HTML response (`text/html; charset=utf-8`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Html<T>(pub T);

impl<T: Into<Cow<'static, str>>> IntoResponse for Html<T> {
    fn into_response(self) -> Response {
        Response::text(self.0).with_header("content-type", "text/html; charset=utf-8")
    }
}

/// `204 No Content`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoContent;

impl IntoResponse for NoContent {
    fn into_response(self) -> Response {
        StatusCode::NO_CONTENT.into_response()
    }
}

/// A redirect: `307` by default (Starlette's `RedirectResponse`), keeping method and body.
///
/// ```
/// use waitless::{IntoResponse, Redirect};
/// let res = Redirect::to("/docs").into_response();
/// assert_eq!(res.status.as_u16(), 307);
/// assert_eq!(res.headers.get("location"), Some("/docs"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    status: StatusCode,
    location: Cow<'static, str>,
}

impl Redirect {
    /// `307 Temporary Redirect` to `location`: the client repeats the same method and body there.
    /// This is Starlette's `RedirectResponse(url)` default.
    pub fn to(location: impl Into<Cow<'static, str>>) -> Redirect {
        Redirect {
            status: StatusCode::TEMPORARY_REDIRECT,
            location: location.into(),
        }
    }

    /// `308 Permanent Redirect` to `location`: like [`Redirect::to`], but clients and caches may
    /// remember it.
    pub fn permanent(location: impl Into<Cow<'static, str>>) -> Redirect {
        Redirect {
            status: StatusCode::PERMANENT_REDIRECT,
            ..Redirect::to(location)
        }
    }

    /// `303 See Other` to `location`: the client follows it with a `GET` (the usual answer to a
    /// form `POST`, `RedirectResponse(url, status_code=303)` in FastAPI).
    ///
    /// ```
    /// use waitless::{App, Redirect, TestClient};
    /// let app = App::new().post("/items", || async { Redirect::see_other("/items/1") });
    /// let res = TestClient::new(app).post("/items").send();
    /// assert_eq!(res.status.as_u16(), 303);
    /// assert_eq!(res.header("location"), Some("/items/1"));
    /// ```
    pub fn see_other(location: impl Into<Cow<'static, str>>) -> Redirect {
        Redirect {
            status: StatusCode::SEE_OTHER,
            ..Redirect::to(location)
        }
    }
}

impl IntoResponse for Redirect {
    fn into_response(self) -> Response {
        Response::new(self.status, ResponseBody::Empty).with_header("location", self.location)
    }
}

impl IntoResponse for crate::validation::ValidationErrors {
    fn into_response(self) -> Response {
        let mut errors = self;
        errors.sort_by_source();
        Response::json(&errors)
            .with_status(StatusCode::UNPROCESSABLE_ENTITY)
            .with_exception(errors)
    }
}
