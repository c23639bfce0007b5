//! The request as handlers, extractors and middleware see it.
//!
//! Why a context borrowed from the gateway's request and not an owned copy: the scope (method,
//! path, headers) already lives in the connection's read buffer; the context only adds what
//! routing found (path parameters borrowed from the path, the matched route) and the per-request
//! extras (background tasks, extensions), so building it allocates nothing.

use std::any::{Any, TypeId};
use std::collections::HashMap;

use waitless_gateway::{Body, Scope};

use crate::background::BackgroundTasks;
use crate::routing::{RouteInfo, RouteTable};

/// The default body limit of a route: 1 MiB (FastAPI has none; the gateway's default agrees).
pub const DEFAULT_BODY_LIMIT: u64 = 1024 * 1024;

/// One request in the framework: the gateway's scope and body, the route that matched and its
/// path parameters, and per-request extensions.
///
/// Extractors read from it ([`FromRequest`](crate::FromRequest)); middleware gets it mutably
/// before and after the handler.
pub struct RequestContext<'a> {
    pub(crate) scope: &'a Scope<'a>,
    pub(crate) body: Body<'a>,
    pub(crate) body_used: bool,
    pub(crate) params: matchit::Params<'a, 'a>,
    pub(crate) route: Option<&'a RouteInfo>,
    pub(crate) table: &'a RouteTable,
    pub(crate) background: Option<BackgroundTasks>,
    /// Set by the `Multipart` extractor: the body is pumped into it while the handler runs.
    pub(crate) body_pump: Option<crate::multipart::Queue>,
    /// Boxed: one pointer in every request's future instead of a map's inline size (futures are
    /// moved when the gateway starts a request; small futures are cheap moves).
    #[allow(clippy::box_collection)]
    extensions: Option<Box<HashMap<TypeId, Box<dyn Any>>>>,
}

impl<'a> RequestContext<'a> {
    pub(crate) fn new(scope: &'a Scope<'a>, body: Body<'a>, table: &'a RouteTable) -> Self {
        RequestContext {
            scope,
            body,
            body_used: false,
            params: matchit::Params::new(),
            route: None,
            table,
            background: None,
            body_pump: None,
            extensions: None,
        }
    }

    /// The gateway's scope: method, path, query string, headers, client, per-worker state.
    pub fn scope(&self) -> &'a Scope<'a> {
        self.scope
    }

    /// The request method as the client sent it (`"GET"`, `"POST"`, ...).
    pub fn method(&self) -> &'a str {
        self.scope.method
    }

    /// The percent-decoded path.
    pub fn path(&self) -> &'a str {
        &self.scope.path
    }

    /// The raw query string (without `?`).
    pub fn query_string(&self) -> &'a [u8] {
        self.scope.query_string
    }

    /// The first value of request header `name` (case-insensitive), as text.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.scope.headers.get_str(name)
    }

    /// A path parameter by name (`{item_id}` → `param("item_id")`), not decoded further.
    pub fn param(&self, name: &str) -> Option<&'a str> {
        self.params.get(name)
    }

    /// Every path parameter, in the order of the route template.
    pub fn params(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        self.params.iter()
    }

    /// The route that matched (`None` before routing, in app-level middleware, or on 404/405).
    pub fn route(&self) -> Option<&'a RouteInfo> {
        self.route
    }

    /// The largest body the matched route accepts.
    pub fn body_limit(&self) -> u64 {
        self.route.map_or(DEFAULT_BODY_LIMIT, |r| r.body_limit)
    }

    /// The body back, once routing and the handler are done with the context (`App::call`
    /// streams against its disconnect, or hands it to a WebSocket handshake).
    pub(crate) fn into_body(self) -> Body<'a> {
        self.body
    }

    /// The request body stream. Reading it is the job of one extractor; a second reader finds it
    /// consumed.
    pub fn body_mut(&mut self) -> &mut Body<'a> {
        &mut self.body
    }

    /// A value a middleware or an extractor stored for this request (a request id, a user).
    pub fn extension<T: 'static>(&self) -> Option<&T> {
        self.extensions
            .as_ref()?
            .get(&TypeId::of::<T>())?
            .downcast_ref()
    }

    /// Stores a per-request value (allocates the map on first use only).
    pub fn insert_extension<T: 'static>(&mut self, value: T) {
        self.extensions
            .get_or_insert_with(Default::default)
            .insert(TypeId::of::<T>(), Box::new(value));
    }
}

impl std::fmt::Debug for RequestContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestContext")
            .field("method", &self.scope.method)
            .field("path", &self.scope.path)
            .field("route", &self.route.map(|r| &r.path))
            .finish()
    }
}
