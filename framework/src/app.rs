//! `App`: the builder users start from, and its implementation of the gateway's `App` trait.
//!
//! Why the framework is only an app: the seed's "FastAPI는 서버가 아니다" (FastAPI is not a
//! server) — FastAPI only supplies request logic and the ASGI server runs it. Here too: the
//! gateway owns sockets, HTTP and the event loop and calls `App::call` once per request; this file
//! turns that call into routing → extractors → handler → middleware → one write to the
//! `Responder`.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use waitless_gateway::{self as gateway, LifespanError, Request, Responder};

use crate::buffers;
use crate::context::RequestContext;
use crate::handler::{Erased, Handler};
use crate::middleware::{Endpoint, Layered, Middleware};
use crate::response::{Response, ResponseBody};
use crate::routing::{RouteDef, RouteError, RouteInfo, RouteTable, Router, Routes};
use crate::testing::InFlight;

type StartupHook = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Result<Inserter, String>>>>>;
type Inserter = Box<dyn FnOnce(&mut gateway::State)>;
type ShutdownHook = Box<dyn Fn(&gateway::State)>;

/// A waitless application: routes, middleware, lifespan hooks, exception handlers.
///
/// Build one per worker (the runner calls your factory in each worker process) and hand it to
/// `waitless_gateway::main`, `serve`, `Server::run` or [`TestClient`](crate::TestClient).
///
/// ```no_run
/// use waitless::{App, Json, Path};
///
/// async fn read_item(Path(item_id): Path<u64>) -> Json<serde_json::Value> {
///     Json(serde_json::json!({ "item_id": item_id }))
/// }
///
/// fn main() -> std::process::ExitCode {
///     waitless_gateway::main("items", || App::new().get("/items/{item_id}", read_item))
/// }
/// ```
pub struct App<E = Routes> {
    table: RouteTable,
    endpoint: E,
    startup: Vec<StartupHook>,
    shutdown: Vec<ShutdownHook>,
    /// Calls still running background tasks (what `TestClient` waits for).
    in_flight: Rc<InFlight>,
}

impl App<Routes> {
    /// An app with no route, no middleware and the defaults: OpenAPI document at `/openapi.json`,
    /// Swagger UI at `/docs`, ReDoc at `/redoc`, trailing-slash redirects on, 1 MiB body limit per
    /// route. FastAPI's `app = FastAPI()`.
    pub fn new() -> App<Routes> {
        App {
            table: RouteTable::default(),
            endpoint: Routes,
            startup: Vec::new(),
            shutdown: Vec::new(),
            in_flight: Rc::default(),
        }
    }
}

impl Default for App<Routes> {
    fn default() -> Self {
        App::new()
    }
}

macro_rules! app_verbs {
    ($($name:ident),* $(,)?) => {
        impl<E: Endpoint> App<E> {
            $(
                #[doc = concat!("Adds a `", stringify!($name), "` route (see [`Router`]).")]
                pub fn $name<H: Handler<A>, A: 'static>(self, path: &str, handler: H) -> Self {
                    self.route(stringify!($name).to_ascii_uppercase(), path, handler)
                }
            )*
        }
    };
}

app_verbs!(get, post, put, patch, delete, head, options, trace);

impl<E: Endpoint> App<E> {
    /// A route for any method name.
    pub fn route<H: Handler<A>, A: 'static>(
        mut self,
        method: impl Into<Cow<'static, str>>,
        path: &str,
        handler: H,
    ) -> Self {
        self.table
            .add(RouteDef::new(method.into(), path, Erased::boxed(handler)));
        self
    }

    /// A WebSocket route (FastAPI's `@app.websocket`): `handler` is an `async fn` taking a
    /// [`WebSocket`](crate::websocket::WebSocket) and any extractors; see `websocket.rs` for
    /// how the handshake, errors, panics and shutdown end the socket.
    ///
    /// ```
    /// use waitless::websocket::{Message, WebSocket};
    /// use waitless::{App, Path};
    ///
    /// async fn room(mut ws: WebSocket<'_>, Path(name): Path<String>) -> Result<(), waitless::websocket::Error> {
    ///     ws.send_text(&format!("welcome to {name}")).await?;
    ///     while let Message::Text(t) = ws.recv().await? {
    ///         let reply = t.to_uppercase();
    ///         ws.send_text(&reply).await?;
    ///     }
    ///     Ok(())
    /// }
    /// let app = App::new().websocket("/rooms/{name}", room);
    /// # let _ = app;
    /// ```
    pub fn websocket<H, A>(self, path: &str, handler: H) -> Self
    where
        H: crate::websocket::WebSocketHandler<A>,
        A: 'static,
    {
        self.websocket_with(path, crate::websocket::Options::default(), handler)
    }

    /// A WebSocket route with handshake options: subprotocols (`options.protocols`, the first
    /// the client also offers is chosen), extra `101` headers, message size, pings, timeouts.
    pub fn websocket_with<H, A>(
        mut self,
        path: &str,
        options: crate::websocket::Options,
        handler: H,
    ) -> Self
    where
        H: crate::websocket::WebSocketHandler<A>,
        A: 'static,
    {
        self.table
            .add(crate::websocket::route(path, options, handler));
        self
    }

    /// Sets the body limit of the route added just before (default 1 MiB; larger bodies → 413).
    pub fn body_limit(mut self, bytes: u64) -> Self {
        self.table.set_last_body_limit(bytes);
        self
    }

    /// The OpenAPI details of the route added just before.
    pub(crate) fn last_doc(mut self, f: impl FnOnce(&mut crate::openapi::RouteDoc)) -> Self {
        crate::route_doc::apply(self.table.last_doc_mut(), f);
        self
    }

    /// The document's `info.title` (FastAPI's `title=`; default `waitless`).
    pub fn openapi_title(mut self, title: impl Into<String>) -> Self {
        self.table.openapi.title = title.into();
        self
    }

    /// The document's `info.version` (the API's version; default `0.1.0`).
    pub fn openapi_version(mut self, version: impl Into<String>) -> Self {
        self.table.openapi.version = version.into();
        self
    }

    /// The document's `info.description` (Markdown).
    pub fn openapi_description(mut self, text: impl Into<String>) -> Self {
        self.table.openapi.description = Some(text.into());
        self
    }

    /// Where the document is served (default `/openapi.json`); `None` serves no document and
    /// so no docs pages either (FastAPI's `openapi_url=None`).
    pub fn openapi_url(mut self, url: Option<&str>) -> Self {
        self.table.openapi.openapi_url = url.map(str::to_owned);
        self
    }

    /// Where Swagger UI is served (default `/docs`); `None` disables it.
    pub fn docs_url(mut self, url: Option<&str>) -> Self {
        self.table.openapi.docs_url = url.map(str::to_owned);
        self
    }

    /// Where ReDoc is served (default `/redoc`); `None` disables it.
    pub fn redoc_url(mut self, url: Option<&str>) -> Self {
        self.table.openapi.redoc_url = url.map(str::to_owned);
        self
    }

    /// Edits the generated document before it is served (add or override anything); edits run
    /// in the order added.
    pub fn openapi_mut(mut self, edit: impl Fn(&mut serde_json::Value) + 'static) -> Self {
        self.table.openapi.edits.push(Box::new(edit));
        self
    }

    /// The OpenAPI 3.1 document of the routes registered so far (what `/openapi.json` serves,
    /// without the `servers` a root path adds).
    pub fn openapi(&self) -> serde_json::Value {
        crate::openapi::build(&self.table, &self.table.openapi)
    }

    /// Includes a router's routes (FastAPI's `include_router`).
    pub fn include_router(mut self, router: Router) -> Self {
        for def in router.finish() {
            self.table.add(def);
        }
        self
    }

    /// Answers requests no route matches (instead of `404 {"detail":"Not Found"}`).
    pub fn fallback<H: Handler<A>, A: 'static>(mut self, handler: H) -> Self {
        self.table.set_fallback(Erased::boxed(handler));
        self
    }

    /// Replaces every response made from an error of type `X` (FastAPI's
    /// `@app.exception_handler(X)`): `HttpError`, `ValidationErrors`, or your own type returned
    /// through [`Response::with_exception`].
    ///
    /// ```
    /// use waitless::{App, HttpError, Response, StatusCode};
    /// let app = App::new().exception_handler(|e: &HttpError| {
    ///     Response::text(format!("oops: {}", e.detail)).with_status(e.status)
    /// });
    /// # let _ = app;
    /// ```
    pub fn exception_handler<X: 'static>(
        mut self,
        handler: impl Fn(&X) -> Response + 'static,
    ) -> Self {
        self.table.add_exception_handler(handler);
        self
    }

    /// Whether a path that misses only by a trailing slash is redirected (307, default on).
    pub fn redirect_slashes(mut self, on: bool) -> Self {
        self.table.redirect_slashes = on;
        self
    }

    /// Wraps the whole app in `middleware`; the last one added runs first.
    pub fn layer<M: Middleware>(self, middleware: M) -> App<Layered<M, E>> {
        App {
            table: self.table,
            endpoint: Layered {
                middleware,
                inner: self.endpoint,
            },
            startup: self.startup,
            shutdown: self.shutdown,
            in_flight: self.in_flight,
        }
    }

    /// A startup hook that builds a per-worker value (a pool, a client, a cache; `!Send` is
    /// fine) and stores it for the [`State`](crate::State) extractor. An `Err` stops the worker
    /// before it serves.
    pub fn on_startup<T, Er, Fut, F>(mut self, hook: F) -> Self
    where
        T: 'static,
        Er: std::fmt::Display,
        Fut: Future<Output = Result<T, Er>> + 'static,
        F: Fn() -> Fut + 'static,
    {
        self.startup.push(Box::new(move || {
            let fut = hook();
            Box::pin(async move {
                match fut.await {
                    Ok(value) => Ok(Box::new(move |state: &mut gateway::State| {
                        state.insert(value);
                    }) as Inserter),
                    Err(e) => Err(e.to_string()),
                }
            })
        }));
        self
    }

    /// A shutdown hook: runs once per worker after the last request (and background task).
    pub fn on_shutdown(mut self, hook: impl Fn(&gateway::State) + 'static) -> Self {
        self.shutdown.push(Box::new(hook));
        self
    }

    pub(crate) fn in_flight(&self) -> Rc<InFlight> {
        self.in_flight.clone()
    }

    /// Every registered route (for OpenAPI and for tests).
    pub fn routes(&self) -> impl Iterator<Item = &RouteInfo> {
        self.table.routes()
    }

    /// Every error of the route table (conflicting or duplicate routes). The gateway's startup
    /// fails with the same errors, so a bad table never serves.
    pub fn check(&self) -> Result<(), Vec<RouteError>> {
        if self.table.errors.is_empty() {
            Ok(())
        } else {
            Err(self.table.errors.clone())
        }
    }
}

impl<E: Endpoint> gateway::App for App<E> {
    async fn call(&self, req: Request<'_>, mut res: Responder<'_>) {
        let Request { scope, body } = req;
        let mut ctx = RequestContext::new(&scope, body, &self.table);
        // Handlers run under `catch_unwind` (handler.rs); a panic in a middleware itself is left
        // to the gateway (500 and close), which keeps this future, copied per request, small.
        let mut response = self.endpoint.call(&mut ctx).await;
        let background = ctx.background.take();
        let mut body = ctx.into_body();
        if let Some(session) = response.upgrade.take() {
            // A WebSocket route: handshake and handler now, on this connection (boxed: only
            // WebSocket calls pay for that future's size).
            let req = Request {
                scope: crate::websocket::copy_scope(&scope),
                body,
            };
            let headers = &response.headers;
            return Box::pin(crate::websocket::serve(session, headers, req, res)).await;
        }
        write_response(response, &mut res, &mut body, scope.shutdown()).await;
        if let Some(tasks) = background.filter(|t| !t.is_empty()) {
            self.in_flight.begin();
            if let Err(e) = res.flush().await {
                log::debug!("waitless: flushing before background tasks failed: {e}");
            }
            tasks.run().await;
            self.in_flight.end();
        }
    }

    async fn startup(&self, state: &mut gateway::State) -> Result<(), LifespanError> {
        if let Err(errors) = self.check() {
            let msgs: Vec<String> = errors.iter().map(|e| e.0.clone()).collect();
            return Err(LifespanError(msgs.join("; ")));
        }
        for hook in &self.startup {
            let insert = hook().await.map_err(LifespanError)?;
            insert(state);
        }
        Ok(())
    }

    async fn shutdown(&self, state: &gateway::State) {
        for hook in &self.shutdown {
            hook(state);
        }
    }
}

/// Headers passed to the gateway from a stack array (no allocation for up to 32 headers).
const STACK_HEADERS: usize = 32;

/// Writes the response value to the gateway's responder: once, at the end.
///
/// Only the streamed case is async (and boxed: `stream.rs`). The complete case stays a plain
/// function so its stack array of headers is not part of `call`'s future (a large future is
/// copied on every request).
async fn write_response(
    response: Response,
    res: &mut Responder<'_>,
    body: &mut gateway::Body<'_>,
    shutdown: gateway::ShutdownSignal<'_>,
) {
    let Response {
        status,
        headers,
        body: content,
        until_shutdown,
        ..
    } = response;
    let result = match content {
        ResponseBody::Stream(mut chunks) => {
            let pairs: Vec<(&str, &str)> = headers.iter().collect();
            let spec = crate::stream::StreamSpec {
                status: status.0,
                headers: &pairs,
                until_shutdown,
            };
            Box::pin(crate::stream::send(res, body, shutdown, spec, &mut chunks)).await
        }
        complete => send_complete(res, status.0, &headers, complete),
    };
    if let Err(e) = result {
        log::debug!("waitless: writing the response failed: {e}");
    }
}

fn send_complete(
    res: &mut Responder<'_>,
    status: u16,
    headers: &crate::response::HeaderMap,
    body: ResponseBody,
) -> Result<(), gateway::ResponseError> {
    let mut stack = [("", ""); STACK_HEADERS];
    let heap: Vec<(&str, &str)>;
    let pairs: &[(&str, &str)] = if headers.len() <= STACK_HEADERS {
        for (slot, pair) in stack.iter_mut().zip(headers.iter()) {
            *slot = pair;
        }
        &stack[..headers.len()]
    } else {
        heap = headers.iter().collect();
        &heap
    };
    match body {
        ResponseBody::Bytes(bytes) => {
            let sent = res.send(status, pairs, &bytes);
            buffers::give(bytes);
            sent
        }
        other => res.send(status, pairs, other.as_bytes().unwrap_or_default()),
    }
}
