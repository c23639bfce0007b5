//! Extractors: typed handler arguments built from the request (FastAPI's parameters and
//! `Depends`).
//!
//! Why a trait with one async method: an extractor may need the body (async) or only the scope;
//! one trait covers both, and a user type that implements it can call other extractors inside —
//! that is FastAPI's `Depends`, with the dependency graph written as plain code and resolved
//! with static dispatch. Extraction failures are values ([`Rejection`]): validation errors of
//! every argument are collected before answering, so a request gets **all** its 422 entries.

mod body;
mod headers;
mod misc;
mod params;

use waitless_gateway::BodyError;

pub use body::{Bytes, Form, Text};
pub use headers::{Cookie, Cookies, Header, RawHeaders};
pub use misc::{RequestHead, State};
pub use params::{Path, Query};

use crate::context::RequestContext;
use crate::error::HttpError;
use crate::openapi::Operation;
use crate::response::{IntoResponse, Response, StatusCode};
use crate::validation::ValidationErrors;

/// Why an extractor produced no value.
#[derive(Debug)]
pub enum Rejection {
    /// Validation errors: collected with those of the other arguments into one 422.
    Invalid(ValidationErrors),
    /// Answer with this response at once (401, 413, ...).
    Response(Response),
}

impl From<ValidationErrors> for Rejection {
    fn from(e: ValidationErrors) -> Self {
        Rejection::Invalid(e)
    }
}

impl From<HttpError> for Rejection {
    fn from(e: HttpError) -> Self {
        Rejection::Response(e.into_response())
    }
}

impl From<Response> for Rejection {
    fn from(r: Response) -> Self {
        Rejection::Response(r)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self {
            Rejection::Invalid(e) => e.into_response(),
            Rejection::Response(r) => r,
        }
    }
}

/// A handler argument built from the request.
///
/// Implement it for your own types to get FastAPI's `Depends`: call other extractors inside,
/// and propagate their rejections with `?`.
///
/// ```
/// use waitless::{FromRequest, Header, HttpError, Rejection, RequestContext};
/// use serde::Deserialize;
/// use schemars::JsonSchema;
///
/// #[derive(Deserialize, JsonSchema)]
/// struct Auth {
///     authorization: Option<String>,
/// }
///
/// /// The current user: depends on the `Authorization` header.
/// struct CurrentUser(String);
///
/// impl FromRequest for CurrentUser {
///     async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
///         let Header(auth) = Header::<Auth>::from_request(req).await?;
///         match auth.authorization.as_deref().and_then(|v| v.strip_prefix("Bearer ")) {
///             Some(token) => Ok(CurrentUser(token.to_owned())),
///             None => Err(HttpError::new(401, "Not authenticated")
///                 .with_header("www-authenticate", "Bearer")
///                 .into()),
///         }
///     }
/// }
///
/// async fn me(user: CurrentUser) -> String {
///     user.0
/// }
/// let app = waitless::App::new().get("/users/me", me);
/// # let _ = app;
/// ```
#[allow(async_fn_in_trait)] // deliberately no `Send` bound: a worker is one thread
pub trait FromRequest: Sized + 'static {
    /// Builds the value from the request, or refuses it, and then the handler does not run:
    /// [`Rejection::Invalid`] errors join those of the other arguments in one `422` with FastAPI's
    /// body, [`Rejection::Response`] is answered as is (`401`, `413` for a body over the route's
    /// limit, ...). Like FastAPI's `Depends(...)`, a handler argument whose type implements this
    /// trait is resolved before the call.
    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection>;

    /// Runs once when a route using this extractor is registered (compiles validators, so a
    /// type that cannot be validated fails at startup rather than on a request).
    fn prepare() {}

    /// Describes this argument in the route's OpenAPI operation (its parameters, body or
    /// security scheme). A dependency that calls other extractors calls their `openapi` here.
    fn openapi(_op: &mut Operation<'_>) {}
}

/// Reads the whole body, refusing it with 413 before buffering when it is declared too large,
/// and as soon as it grows past the route's limit when it is chunked.
pub(crate) async fn read_body(req: &mut RequestContext<'_>) -> Result<Vec<u8>, Rejection> {
    let limit = req.body_limit();
    if req.body_used {
        return Ok(Vec::new());
    }
    req.body_used = true;
    if req.body.content_length().is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    // The gateway then refuses a chunked body as soon as it grows past the route's limit.
    req.body.set_limit(limit);
    let mut out = Vec::with_capacity(req.body.content_length().unwrap_or(0) as usize);
    // Bounded by the limit: every turn adds at least one byte or ends.
    loop {
        match req.body.chunk().await {
            Ok(Some(chunk)) => {
                if (out.len() + chunk.len()) as u64 > limit {
                    return Err(too_large());
                }
                out.extend_from_slice(chunk);
            }
            Ok(None) => return Ok(out),
            Err(BodyError::TooLarge { .. }) => return Err(too_large()),
            Err(e) => {
                log::debug!("waitless: reading the body failed: {e}");
                let status = StatusCode(e.status());
                return Err(Rejection::Response(
                    HttpError::new(status, e.to_string()).into_response(),
                ));
            }
        }
    }
}

fn too_large() -> Rejection {
    Rejection::Response(Response::detail(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Request body too large",
    ))
}
