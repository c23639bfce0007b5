//! Middleware: code `around` the rest of the app that can read the request and read or change
//! the response before it is written.
//!
//! Why generic `Next<E>` and not boxed closures: each `App::layer` nests a type
//! (`Layered<Cors, Layered<Timing, Routes>>`), so the whole chain is static dispatch — the
//! compiler inlines it, and a request pays for no allocation per layer. Router-level layers
//! (`Router::layer`) wrap only that router's routes: zero cost for every other route.
//!
//! Order: the last layer added is the outermost (it runs first on the request and last on the
//! response), as with Starlette's `add_middleware`.

mod cors;
mod gzip;
mod request_id;
mod timing;
mod trusted_host;

pub use cors::Cors;
pub use gzip::GZip;
pub use request_id::RequestId;
pub use timing::Timing;
pub use trusted_host::TrustedHost;

use crate::context::RequestContext;
use crate::response::Response;

/// Something that turns a request into a response: the router, or a layer around it.
#[allow(async_fn_in_trait)] // no `Send` bound: a worker is one thread
pub trait Endpoint: 'static {
    /// Answers one request: routing and the handler for the router, the middleware's
    /// [`Middleware::around`] for a layer.
    async fn call(&self, req: &mut RequestContext<'_>) -> Response;
}

/// The rest of the chain, handed to a middleware. Call [`Next::run`] at most once.
pub struct Next<'n, E: ?Sized> {
    endpoint: &'n E,
}

impl<'n, E: Endpoint + ?Sized> Next<'n, E> {
    pub(crate) fn new(endpoint: &'n E) -> Self {
        Next { endpoint }
    }

    /// Runs the inner layers and the handler.
    pub async fn run(self, req: &mut RequestContext<'_>) -> Response {
        self.endpoint.call(req).await
    }
}

/// A middleware: `around(request, next)`.
///
/// ```
/// use waitless::middleware::{Endpoint, Middleware, Next};
/// use waitless::{App, RequestContext, Response};
///
/// /// Adds `x-powered-by` to every response.
/// struct PoweredBy;
///
/// impl Middleware for PoweredBy {
///     async fn around<E: Endpoint>(&self, req: &mut RequestContext<'_>, next: Next<'_, E>) -> Response {
///         let mut res = next.run(req).await;
///         res.headers.insert("x-powered-by", "waitless");
///         res
///     }
/// }
///
/// let app = App::new().get("/", || async { "hi" }).layer(PoweredBy);
/// # let _ = app;
/// ```
#[allow(async_fn_in_trait)] // no `Send` bound: a worker is one thread
pub trait Middleware: 'static {
    /// Handles one request: inspect or change `req`, call [`Next::run`] (at most once) to get the
    /// inner response, then inspect or change that, or return a response of your own without
    /// calling `next` (a short-circuit, e.g. `400` from [`TrustedHost`]). Starlette's
    /// `BaseHTTPMiddleware.dispatch(request, call_next)`.
    async fn around<E: Endpoint>(
        &self,
        req: &mut RequestContext<'_>,
        next: Next<'_, E>,
    ) -> Response;
}

/// `middleware` around `inner`.
pub struct Layered<M, E> {
    pub(crate) middleware: M,
    pub(crate) inner: E,
}

impl<M: Middleware, E: Endpoint> Endpoint for Layered<M, E> {
    async fn call(&self, req: &mut RequestContext<'_>) -> Response {
        self.middleware.around(req, Next::new(&self.inner)).await
    }
}
