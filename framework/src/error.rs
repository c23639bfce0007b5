//! `HttpError`, FastAPI's `HTTPException`: an error a handler returns to answer with a status
//! and `{"detail": ...}`.
//!
//! Why a value and not a panic or an exception: Rust handlers return `Result<T, HttpError>` and
//! use `?`; the response carries the typed error so an exception handler registered for
//! `HttpError` can reshape every error response in one place.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::response::{HeaderMap, IntoResponse, Response, StatusCode};

/// An HTTP error answered as `{"detail": detail}` with `status` and extra `headers`.
///
/// ```
/// use waitless::{HttpError, IntoResponse};
/// let res = HttpError::new(404, "Item not found").into_response();
/// assert_eq!(res.status.as_u16(), 404);
/// assert_eq!(res.body.as_bytes(), Some(&br#"{"detail":"Item not found"}"#[..]));
///
/// let res = HttpError::new(401, "Not authenticated")
///     .with_header("www-authenticate", "Bearer")
///     .into_response();
/// assert_eq!(res.headers.get("www-authenticate"), Some("Bearer"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct HttpError {
    /// The response status (FastAPI's `status_code`).
    pub status: StatusCode,
    /// Any JSON value; FastAPI's `detail` is usually a string.
    pub detail: Value,
    /// Extra response headers (FastAPI's `headers=`), e.g. `www-authenticate` on a `401`. Every
    /// value is sent: a name appended twice (two `set-cookie`) is sent twice.
    pub headers: HeaderMap,
}

impl HttpError {
    /// An error with `status` (a [`StatusCode`] or a bare `u16`) and `detail` (a string or any JSON
    /// value), no extra header: `raise HTTPException(status_code=404, detail="Item not found")`.
    pub fn new(status: impl Into<StatusCode>, detail: impl Into<Value>) -> HttpError {
        HttpError {
            status: status.into(),
            detail: detail.into(),
            headers: HeaderMap::new(),
        }
    }

    /// `404 {"detail":"Not Found"}`.
    pub fn not_found() -> HttpError {
        HttpError::new(StatusCode::NOT_FOUND, "Not Found")
    }

    /// Adds a response header, replacing an earlier value of the same name.
    pub fn with_header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> HttpError {
        self.headers.insert(name, value);
        self
    }
}

#[derive(Serialize)]
struct DetailBody<'a> {
    detail: &'a Value,
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut res = Response::json(&DetailBody {
            detail: &self.detail,
        })
        .with_status(self.status);
        res.headers.merge(&self.headers);
        res.with_exception(self)
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}: {}", self.status.0, self.detail)
    }
}

impl std::error::Error for HttpError {}
