//! Routing: path templates on `matchit`, a method table per path, nested routers with a prefix
//! and tags (FastAPI's `APIRouter` + `include_router`), 404/405 in FastAPI's shape.
//!
//! Why `matchit`: a radix tree matches a path in time proportional to its length, without
//! allocating, and reports conflicting templates when they are inserted — so two routes that
//! would shadow each other fail at startup with both named, not silently at request time.
//!
//! Trailing slashes (decided): templates match exactly; when a path misses and the same path
//! with the trailing slash added or removed matches, the answer is a `307` redirect to it
//! (Starlette's `redirect_slashes`, which FastAPI inherits; 307 keeps the method and body).
//! `App::redirect_slashes(false)` turns that into a plain 404.

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::fmt;
use std::rc::Rc;

use percent_encoding::{percent_encode, utf8_percent_encode, AsciiSet, CONTROLS};

use crate::context::{RequestContext, DEFAULT_BODY_LIMIT};
use crate::handler::{Erased, ErasedHandler, Handler};
use crate::middleware::{Endpoint, Middleware, Next};
use crate::openapi::{Operation, RouteDoc};
use crate::response::{Response, StatusCode};

/// What is known about a registered route (also the input of OpenAPI generation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    /// The method it answers, exactly as registered (`"GET"`, `"POST"`, a custom `"PROPFIND"`);
    /// matched case-sensitively. A `GET` route also answers `HEAD` unless a `HEAD` route exists.
    pub method: Cow<'static, str>,
    /// The full template, prefixes included: `/items/{item_id}`.
    pub path: String,
    /// Bodies larger than this are refused with 413 (default 1 MiB).
    pub body_limit: u64,
    /// Tags from the routers it was included through (FastAPI's `tags=`).
    pub tags: Vec<String>,
    /// A WebSocket route (`App::websocket`): a `GET` that upgrades; not an HTTP operation.
    pub websocket: bool,
}

/// Why the route table is invalid; reported by `App::check` and by the lifespan startup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteError(pub String);

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RouteError {}

pub(crate) struct RouteDef {
    info: RouteInfo,
    handler: Box<dyn ErasedHandler>,
    limit_set: bool,
    doc: RouteDoc,
}

impl RouteDef {
    pub(crate) fn new(
        method: Cow<'static, str>,
        path: &str,
        handler: Box<dyn ErasedHandler>,
    ) -> RouteDef {
        RouteDef {
            info: RouteInfo {
                method,
                path: path.to_owned(),
                body_limit: DEFAULT_BODY_LIMIT,
                tags: Vec::new(),
                websocket: false,
            },
            handler,
            limit_set: false,
            doc: RouteDoc::default(),
        }
    }

    /// Marks a WebSocket route (see `websocket.rs`).
    pub(crate) fn websocket(mut self) -> RouteDef {
        self.info.websocket = true;
        self
    }
}

/// A group of routes with a common prefix, tags and body limit, included into an app or another
/// router (FastAPI's `APIRouter`).
///
/// ```
/// use waitless::{App, Path, Router};
///
/// async fn read_user(Path(id): Path<u64>) -> String {
///     format!("user {id}")
/// }
///
/// let users = Router::new().prefix("/users").tags(["users"]).get("/{user_id}", read_user);
/// let app = App::new().include_router(users);
/// assert!(app.routes().any(|r| r.path == "/users/{user_id}" && r.tags == ["users"]));
/// ```
#[derive(Default)]
pub struct Router {
    prefix: String,
    tags: Vec<String>,
    body_limit: Option<u64>,
    routes: Vec<RouteDef>,
}

impl Router {
    /// An empty router: no prefix, no tags, routes keep the app's default body limit (1 MiB).
    /// FastAPI's `router = APIRouter()`.
    pub fn new() -> Router {
        Router::default()
    }

    /// Prepended to every route of this router (`"/items"`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Router {
        self.prefix = prefix.into().trim_end_matches('/').to_owned();
        self
    }

    /// Added to every route of this router.
    pub fn tags<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> Router {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// The body limit of every route of this router that sets none itself.
    pub fn default_body_limit(mut self, bytes: u64) -> Router {
        self.body_limit = Some(bytes);
        self
    }

    /// A route for any method name (`"PROPFIND"`); the verbs have their own methods.
    pub fn route<H: Handler<A>, A: 'static>(
        mut self,
        method: impl Into<Cow<'static, str>>,
        path: &str,
        handler: H,
    ) -> Router {
        let def = RouteDef::new(method.into(), path, Erased::boxed(handler));
        self.routes.push(def);
        self
    }

    /// A WebSocket route (see [`App::websocket`](crate::App::websocket)).
    pub fn websocket<H, A>(self, path: &str, handler: H) -> Router
    where
        H: crate::websocket::WebSocketHandler<A>,
        A: 'static,
    {
        self.websocket_with(path, crate::websocket::Options::default(), handler)
    }

    /// A WebSocket route with handshake options (subprotocols, headers, limits).
    pub fn websocket_with<H, A>(
        mut self,
        path: &str,
        options: crate::websocket::Options,
        handler: H,
    ) -> Router
    where
        H: crate::websocket::WebSocketHandler<A>,
        A: 'static,
    {
        self.routes
            .push(crate::websocket::route(path, options, handler));
        self
    }

    /// Sets the body limit of the route added just before (413 above it).
    pub fn body_limit(mut self, bytes: u64) -> Router {
        if let Some(last) = self.routes.last_mut() {
            last.info.body_limit = bytes;
            last.limit_set = true;
        }
        self
    }

    /// The OpenAPI details of the route added just before.
    pub(crate) fn last_doc(mut self, f: impl FnOnce(&mut RouteDoc)) -> Router {
        crate::route_doc::apply(self.routes.last_mut().map(|r| &mut r.doc), f);
        self
    }

    /// Includes `other`'s routes under this router's prefix and tags.
    pub fn include_router(mut self, other: Router) -> Router {
        self.routes.extend(other.finish());
        self
    }

    /// Wraps every route added so far in `middleware` (routes added later are not wrapped: a
    /// middleware costs nothing on routes it does not wrap).
    pub fn layer<M: Middleware>(mut self, middleware: M) -> Router {
        let middleware = Rc::new(middleware);
        for route in &mut self.routes {
            let inner = std::mem::replace(&mut route.handler, Box::new(Unreachable));
            route.handler = Box::new(LayeredHandler {
                middleware: middleware.clone(),
                inner: BoxedHandler(inner),
            });
        }
        self
    }

    /// The routes with this router's prefix, tags and default limit applied.
    pub(crate) fn finish(self) -> Vec<RouteDef> {
        let Router {
            prefix,
            tags,
            body_limit,
            routes,
        } = self;
        routes
            .into_iter()
            .map(|mut r| {
                r.info.path = format!("{prefix}{}", r.info.path);
                let mut all = tags.clone();
                all.append(&mut r.info.tags);
                r.info.tags = all;
                if let (Some(limit), false) = (body_limit, r.limit_set) {
                    r.info.body_limit = limit;
                    r.limit_set = true;
                }
                r
            })
            .collect()
    }
}

macro_rules! verbs {
    ($($name:ident => $method:literal),* $(,)?) => {
        impl Router {
            $(
                #[doc = concat!("A `", $method, "` route.")]
                pub fn $name<H: Handler<A>, A: 'static>(self, path: &str, handler: H) -> Router {
                    self.route($method, path, handler)
                }
            )*
        }
    };
}

verbs! {
    get => "GET", post => "POST", put => "PUT", patch => "PATCH", delete => "DELETE",
    head => "HEAD", options => "OPTIONS", trace => "TRACE",
}

/// A placeholder while a handler is moved into a layer (never called).
struct Unreachable;

impl ErasedHandler for Unreachable {
    fn call<'c>(&'c self, _: &'c mut RequestContext<'_>) -> crate::handler::BoxFuture<'c> {
        Box::pin(async { Response::internal_error() })
    }

    fn describe(&self, _: &mut Operation<'_>) {}

    fn name(&self) -> &'static str {
        ""
    }
}

struct BoxedHandler(Box<dyn ErasedHandler>);

impl Endpoint for BoxedHandler {
    async fn call(&self, req: &mut RequestContext<'_>) -> Response {
        self.0.call(req).await
    }
}

struct LayeredHandler<M> {
    middleware: Rc<M>,
    inner: BoxedHandler,
}

impl<M: Middleware> ErasedHandler for LayeredHandler<M> {
    fn call<'c>(&'c self, req: &'c mut RequestContext<'_>) -> crate::handler::BoxFuture<'c> {
        Box::pin(self.middleware.around(req, Next::new(&self.inner)))
    }

    fn describe(&self, op: &mut Operation<'_>) {
        self.inner.0.describe(op);
    }

    fn name(&self) -> &'static str {
        self.inner.0.name()
    }
}

pub(crate) struct MethodRoute {
    pub(crate) info: RouteInfo,
    pub(crate) handler: Box<dyn ErasedHandler>,
    pub(crate) doc: RouteDoc,
}

/// Every method registered for one path template.
struct PathEntry {
    template: String,
    methods: Vec<MethodRoute>,
    /// `Allow` of a 405, kept up to date on insertion.
    allow: String,
}

impl PathEntry {
    /// The route for `method`; `HEAD` falls back to `GET`.
    fn find(&self, method: &str) -> Option<&MethodRoute> {
        self.methods
            .iter()
            .find(|r| r.info.method == method)
            .or_else(|| {
                (method == "HEAD")
                    .then(|| self.methods.iter().find(|r| r.info.method == "GET"))
                    .flatten()
            })
    }

    fn update_allow(&mut self) {
        let mut allow: Vec<&str> = Vec::new();
        for r in &self.methods {
            allow.push(&r.info.method);
            if r.info.method == "GET" && !self.methods.iter().any(|m| m.info.method == "HEAD") {
                allow.push("HEAD");
            }
        }
        self.allow = allow.join(", ");
    }
}

type ExceptionHandler = Box<dyn Fn(&dyn Any) -> Option<Response>>;

/// The compiled table every request is routed through.
pub(crate) struct RouteTable {
    matcher: matchit::Router<usize>,
    paths: Vec<PathEntry>,
    pub(crate) errors: Vec<RouteError>,
    /// The route added last: `(path entry, method)`, for `App::body_limit`.
    last: Option<(usize, usize)>,
    fallback: Option<Box<dyn ErasedHandler>>,
    exception_handlers: Vec<(TypeId, ExceptionHandler)>,
    pub(crate) redirect_slashes: bool,
    pub(crate) openapi: crate::openapi::OpenApiConfig,
    /// The document, built on its first request (per worker).
    openapi_doc: std::cell::OnceCell<serde_json::Value>,
}

impl Default for RouteTable {
    fn default() -> Self {
        RouteTable {
            matcher: matchit::Router::new(),
            paths: Vec::new(),
            errors: Vec::new(),
            last: None,
            fallback: None,
            exception_handlers: Vec::new(),
            redirect_slashes: true,
            openapi: Default::default(),
            openapi_doc: std::cell::OnceCell::new(),
        }
    }
}

impl RouteTable {
    pub(crate) fn add(&mut self, def: RouteDef) {
        let RouteDef {
            info, handler, doc, ..
        } = def;
        if !info.path.starts_with('/') {
            let msg = format!("route {} {:?} must start with '/'", info.method, info.path);
            return self.errors.push(RouteError(msg));
        }
        let index = match self.paths.iter().position(|p| p.template == info.path) {
            Some(i) => i,
            None => match self.matcher.insert(info.path.clone(), self.paths.len()) {
                Ok(()) => {
                    self.paths.push(PathEntry {
                        template: info.path.clone(),
                        methods: Vec::new(),
                        allow: String::new(),
                    });
                    self.paths.len() - 1
                }
                Err(e) => return self.errors.push(conflict(&info, e)),
            },
        };
        let entry = &mut self.paths[index];
        if entry.methods.iter().any(|r| r.info.method == info.method) {
            let msg = format!("route {} {} is registered twice", info.method, info.path);
            return self.errors.push(RouteError(msg));
        }
        entry.methods.push(MethodRoute { info, handler, doc });
        entry.update_allow();
        self.last = Some((index, entry.methods.len() - 1));
    }

    pub(crate) fn set_last_body_limit(&mut self, bytes: u64) {
        if let Some((p, m)) = self.last {
            self.paths[p].methods[m].info.body_limit = bytes;
        }
    }

    /// The OpenAPI details of the route added last.
    pub(crate) fn last_doc_mut(&mut self) -> Option<&mut RouteDoc> {
        let (p, m) = self.last?;
        Some(&mut self.paths[p].methods[m].doc)
    }

    /// Every route with its path template, in registration order of the paths.
    pub(crate) fn method_routes(&self) -> impl Iterator<Item = (&str, &MethodRoute)> {
        self.paths
            .iter()
            .flat_map(|p| p.methods.iter().map(move |m| (p.template.as_str(), m)))
    }

    /// The OpenAPI document (built once, then shared by every request of this worker).
    pub(crate) fn openapi_document(&self) -> &serde_json::Value {
        self.openapi_doc
            .get_or_init(|| crate::openapi::build(self, &self.openapi))
    }

    pub(crate) fn set_fallback(&mut self, handler: Box<dyn ErasedHandler>) {
        self.fallback = Some(handler);
    }

    pub(crate) fn add_exception_handler<X: 'static>(
        &mut self,
        f: impl Fn(&X) -> Response + 'static,
    ) {
        let erased: ExceptionHandler = Box::new(move |e: &dyn Any| e.downcast_ref::<X>().map(&f));
        self.exception_handlers.push((TypeId::of::<X>(), erased));
    }

    pub(crate) fn routes(&self) -> impl Iterator<Item = &RouteInfo> {
        self.paths
            .iter()
            .flat_map(|p| p.methods.iter().map(|m| &m.info))
    }

    /// Replaces a response made from a typed error when a handler for that type is registered.
    fn handle_exception(&self, mut res: Response) -> Response {
        if self.exception_handlers.is_empty() {
            return res;
        }
        let Some(exception) = res.exception.take() else {
            return res;
        };
        let id = (*exception).type_id();
        self.exception_handlers
            .iter()
            .filter(|(t, _)| *t == id)
            .find_map(|(_, f)| f(&*exception))
            .unwrap_or(res)
    }
}

fn conflict(info: &RouteInfo, e: matchit::InsertError) -> RouteError {
    match e {
        matchit::InsertError::Conflict { with } => RouteError(format!(
            "route {} {} conflicts with the route {with}",
            info.method, info.path
        )),
        other => RouteError(format!("route {} {}: {other}", info.method, info.path)),
    }
}

/// The innermost endpoint: routes the request and calls its handler.
#[derive(Clone, Copy, Debug, Default)]
pub struct Routes;

impl Endpoint for Routes {
    async fn call(&self, req: &mut RequestContext<'_>) -> Response {
        dispatch(req).await
    }
}

async fn dispatch<'a>(req: &mut RequestContext<'a>) -> Response {
    let table: &'a RouteTable = req.table;
    let path: &'a str = req.path();
    let Ok(found) = table.matcher.at(path) else {
        return not_found(req, table).await;
    };
    let entry = &table.paths[*found.value];
    req.params = found.params;
    let Some(route) = entry.find(req.method()) else {
        return Response::detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
            .with_header("allow", entry.allow.clone());
    };
    req.route = Some(&route.info);
    let res = route.handler.call(req).await;
    table.handle_exception(res)
}

async fn not_found(req: &mut RequestContext<'_>, table: &RouteTable) -> Response {
    if let Some(res) = crate::openapi::serve(req, table) {
        return res;
    }
    if table.redirect_slashes {
        if let Some(location) = slash_redirect(req, table) {
            return crate::response::IntoResponse::into_response(crate::Redirect::to(location));
        }
    }
    let res = match &table.fallback {
        Some(handler) => handler.call(req).await,
        None => Response::detail(StatusCode::NOT_FOUND, "Not Found"),
    };
    table.handle_exception(res)
}

/// The same path with its trailing slash toggled, if that one exists (with the query kept).
///
/// The route is looked up with the decoded path, but the `Location` is built from the path as
/// the client sent it: decoding first would turn `%2F` into a different path and `%11` or `%0A`
/// into bytes no header may hold (which once made this redirect a 500, found by the
/// `framework_extract` fuzz target). Bytes the head parser lets through but a URL must not hold
/// raw (a space is never there; `"`, `<`, `>`, a backtick, non-ASCII can be) are escaped.
fn slash_redirect(req: &RequestContext<'_>, table: &RouteTable) -> Option<String> {
    let path = req.path();
    let other = match path.strip_suffix('/') {
        Some("") => return None,
        Some(trimmed) => trimmed.to_owned(),
        None => format!("{path}/"),
    };
    table.matcher.at(&other).ok()?;
    let scope = req.scope();
    let raw = scope.raw_path;
    let raw_other: Cow<'_, [u8]> = if path.ends_with('/') {
        // The decoded slash was sent as `/` or as `%2F`.
        let cut = if raw.ends_with(b"/") { 1 } else { 3 };
        Cow::Borrowed(&raw[..raw.len().saturating_sub(cut)])
    } else {
        Cow::Owned([raw, b"/"].concat())
    };
    let mut location: String = utf8_percent_encode(scope.root_path(), LOCATION_ESCAPES).collect();
    location.extend(percent_encode(&raw_other, LOCATION_ESCAPES));
    let query = req.query_string();
    if !query.is_empty() {
        location.push('?');
        location.extend(percent_encode(query, LOCATION_ESCAPES));
    }
    Some(location)
}

/// What a redirect escapes of the request's own path and query: controls (and every
/// non-ASCII byte, which `percent-encoding` always escapes) and the visible bytes RFC 3986 has
/// no place for. `%` stays: the raw path is already percent-encoded.
const LOCATION_ESCAPES: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^');
