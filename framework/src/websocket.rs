//! WebSocket routes: `app.websocket("/ws/echo", echo)` with `async fn echo(ws: WebSocket<'_>, …)`
//! (FastAPI's `@app.websocket`), on the gateway's RFC 6455 socket.
//!
//! Why the handler does not run inside the middleware chain like an HTTP handler: middleware
//! works on response *values*, and a WebSocket needs the gateway's `Responder` and the raw
//! connection, which only `App::call` holds. So a WebSocket route runs in two steps:
//!
//! 1. inside the chain, like any route: routing (404/405 as usual; the route is a `GET`), then
//!    the handler's extractors (`Path`, `Query`, `Header`, `Cookie`, `State`, your `FromRequest`
//!    dependencies). A failed extractor answers the handshake with its HTTP error (422 with
//!    FastAPI's body, 401, ...) and the socket is never opened — FastAPI instead accepts and
//!    closes with 1008; an HTTP status tells a client more and costs it no WebSocket. On success
//!    the route returns a `101` marker response carrying the *session* (the handler and its
//!    extracted arguments); middleware may add headers to it, and they go out with the `101`.
//! 2. back in `App::call` (`serve`): the gateway's `accept` (a plain `GET` without upgrade
//!    headers gets its `426`, a bad key `400`), then the handler with the open socket.
//!
//! How the socket ends (decided here, so no handler has to remember it):
//! * the handler closed it: nothing more;
//! * the handler returned `()` / `Ok(())` without closing: Close 1000;
//! * the handler returned `Err(e)`: `e` is logged, Close 1011;
//! * the handler panicked: logged, Close 1011, and the worker keeps serving;
//! * the worker shuts down: a handler waiting in `recv` gets `Message::Close(1001, ..)` from
//!   the socket (which sent Close 1001) and returns; one that is not reading is cancelled after
//!   the socket's `close_timeout` and the socket is closed with 1001.
//!
//! The handler's [`WebSocket`] wraps the gateway's socket only to get it back when the handler
//! is done (its `Drop` hands the socket to the runner, which then knows the outcome and sends
//! the right code); everything else is the gateway's API through `Deref`.

use std::any::Any;
use std::borrow::Cow;
use std::cell::Cell;
use std::fmt::Display;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;

use futures_lite::FutureExt;
use waitless_gateway::websocket::{self as gw, close};
use waitless_gateway::{Request, Responder, Scope, ShutdownSignal};

pub use waitless_gateway::websocket::{Error, Message, Options, Reader, Writer};

use crate::context::RequestContext;
use crate::extract::FromRequest;
use crate::handler::{catch_panic, extract_one, BoxFuture, ErasedHandler};
use crate::openapi::Operation;
use crate::response::{HeaderMap, IntoResponse, Response, ResponseBody, StatusCode};
use crate::routing::RouteDef;
use crate::validation::ValidationErrors;

/// Where the handler's [`WebSocket`] leaves the gateway's socket when it is dropped.
type Slot<'a> = Rc<Cell<Option<gw::WebSocket<'a>>>>;

/// The open WebSocket a handler receives (FastAPI's `WebSocket`, already accepted).
///
/// Everything is the gateway's [`waitless_gateway::websocket::WebSocket`] through `Deref`:
/// `recv` (text, binary, then `Message::Close` once), `send_text`, `send_binary`, `feed` +
/// `flush`, `ping`, `close(code, reason)`, `split` into a reader and a writer for two futures,
/// `scope`, `protocol`.
///
/// ```
/// use waitless::websocket::{Message, WebSocket};
///
/// async fn echo(mut ws: WebSocket<'_>) -> Result<(), waitless::websocket::Error> {
///     let (mut rx, mut tx) = ws.split();
///     loop {
///         match rx.recv().await? {
///             Message::Close(..) => return Ok(()),
///             msg => tx.send(msg).await?,
///         }
///     }
/// }
/// let app = waitless::App::new().websocket("/ws/echo", echo);
/// # let _ = app;
/// ```
pub struct WebSocket<'a> {
    /// `Some` until `Drop` moves it into `slot`.
    inner: Option<gw::WebSocket<'a>>,
    slot: Slot<'a>,
}

const TAKEN: &str = "the socket is taken only by Drop";

impl<'a> Deref for WebSocket<'a> {
    type Target = gw::WebSocket<'a>;

    fn deref(&self) -> &gw::WebSocket<'a> {
        self.inner.as_ref().expect(TAKEN)
    }
}

impl<'a> DerefMut for WebSocket<'a> {
    fn deref_mut(&mut self) -> &mut gw::WebSocket<'a> {
        self.inner.as_mut().expect(TAKEN)
    }
}

impl Drop for WebSocket<'_> {
    fn drop(&mut self) {
        self.slot.set(self.inner.take());
    }
}

impl std::fmt::Debug for WebSocket<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Some(ws) => ws.fmt(f),
            None => f.write_str("WebSocket(<dropped>)"),
        }
    }
}

/// What a WebSocket handler may return: `()` or `Result<(), E>` with `E: Display` (an `Err`
/// is logged and closes the socket with 1011).
pub trait WebSocketResult {
    /// `Ok(())` for a handler that finished normally (the socket is closed with 1000 unless the
    /// handler closed it already), `Err(message)` for one that failed: the message is logged and
    /// the socket closed with 1011 (internal error).
    fn into_result(self) -> Result<(), String>;
}

impl WebSocketResult for () {
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: Display> WebSocketResult for Result<(), E> {
    fn into_result(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

/// The handler's future, with the socket's lifetime.
pub type SessionFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + 'a>>;

/// A function usable as a WebSocket handler: `async fn(WebSocket<'_>, T1, .., Tn) -> R` with
/// `n <= 8`, every `Ti: FromRequest`, and `R:` [`WebSocketResult`].
pub trait WebSocketHandler<Args>: 'static {
    /// Extracts every argument (collecting all validation errors into one 422).
    #[allow(async_fn_in_trait)]
    async fn extract(req: &mut RequestContext<'_>) -> Result<Args, Response>;

    /// Runs the handler on the open socket.
    fn run<'a>(self: Rc<Self>, ws: WebSocket<'a>, args: Args) -> SessionFuture<'a>;

    /// Prepares every extractor (compiles validators) at registration.
    fn prepare();
}

macro_rules! impl_ws_handler {
    ($($t:ident),*) => {
        #[allow(non_snake_case, unused_variables, unused_mut, irrefutable_let_patterns)]
        impl<F, R, $($t,)*> WebSocketHandler<($($t,)*)> for F
        where
            F: for<'a> AsyncFn(WebSocket<'a>, $($t),*) -> R + 'static,
            R: WebSocketResult,
            $($t: FromRequest,)*
        {
            async fn extract(req: &mut RequestContext<'_>) -> Result<($($t,)*), Response> {
                let mut errors = ValidationErrors::new();
                $( let $t = extract_one::<$t>(req, &mut errors).await?; )*
                let ($(Some($t),)*) = ($($t,)*) else {
                    return Err(errors.into_response());
                };
                if !errors.is_empty() {
                    return Err(errors.into_response());
                }
                Ok(($($t,)*))
            }

            fn run<'a>(self: Rc<Self>, ws: WebSocket<'a>, ($($t,)*): ($($t,)*)) -> SessionFuture<'a> {
                Box::pin(async move { (*self)(ws, $($t),*).await.into_result() })
            }

            fn prepare() {
                $($t::prepare();)*
            }
        }
    };
}

impl_ws_handler!();
impl_ws_handler!(T1);
impl_ws_handler!(T1, T2);
impl_ws_handler!(T1, T2, T3);
impl_ws_handler!(T1, T2, T3, T4);
impl_ws_handler!(T1, T2, T3, T4, T5);
impl_ws_handler!(T1, T2, T3, T4, T5, T6);
impl_ws_handler!(T1, T2, T3, T4, T5, T6, T7);
impl_ws_handler!(T1, T2, T3, T4, T5, T6, T7, T8);

type Run = Box<dyn for<'a> FnOnce(WebSocket<'a>) -> SessionFuture<'a>>;

/// The handler and its extracted arguments, carried from the route to `App::call`.
pub(crate) struct Session {
    options: Rc<Options>,
    run: Run,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("options", &self.options)
            .finish()
    }
}

/// Pins down the closure's higher-ranked signature (inference needs the bound).
fn boxed_run<F>(f: F) -> Run
where
    F: for<'a> FnOnce(WebSocket<'a>) -> SessionFuture<'a> + 'static,
{
    Box::new(f)
}

/// A WebSocket route as the route table stores it.
struct Route<H, Args> {
    handler: Rc<H>,
    options: Rc<Options>,
    _args: PhantomData<fn() -> Args>,
}

impl<H: WebSocketHandler<Args>, Args: 'static> ErasedHandler for Route<H, Args> {
    fn call<'c>(&'c self, req: &'c mut RequestContext<'_>) -> BoxFuture<'c> {
        Box::pin(catch_panic(async move {
            match H::extract(req).await {
                Err(refusal) => refusal,
                Ok(args) => {
                    let handler = self.handler.clone();
                    let run = boxed_run(move |ws| handler.run(ws, args));
                    upgrade_response(Session {
                        options: self.options.clone(),
                        run,
                    })
                }
            }
        }))
    }

    /// WebSocket routes are not HTTP operations: OpenAPI leaves them out (as FastAPI does).
    fn describe(&self, _op: &mut Operation<'_>) {}

    fn name(&self) -> &'static str {
        std::any::type_name::<H>()
    }
}

/// The `101` marker: `App::call` finds the session in it and runs the handshake.
fn upgrade_response(session: Session) -> Response {
    let mut res = Response::new(StatusCode(101), ResponseBody::Empty);
    res.upgrade = Some(session);
    res
}

/// The route definition for `App::websocket` / `Router::websocket`.
pub(crate) fn route<H, Args>(path: &str, options: Options, handler: H) -> RouteDef
where
    H: WebSocketHandler<Args>,
    Args: 'static,
{
    H::prepare();
    let route = Route {
        handler: Rc::new(handler),
        options: Rc::new(options),
        _args: PhantomData,
    };
    RouteDef::new(Cow::Borrowed("GET"), path, Box::new(route)).websocket()
}

/// The route's options plus the headers middleware put on the marker response.
fn with_headers<'o>(options: &'o Options, headers: &HeaderMap) -> Cow<'o, Options> {
    if headers.is_empty() {
        return Cow::Borrowed(options);
    }
    let mut owned = options.clone();
    owned
        .headers
        .extend(headers.iter().map(|(n, v)| (n.to_owned(), v.to_owned())));
    Cow::Owned(owned)
}

/// A copy of the request's scope for the handshake: the context borrowed the original, and
/// the gateway's `Request` wants one by value with the body's lifetime.
pub(crate) fn copy_scope<'a>(scope: &Scope<'a>) -> Scope<'a> {
    scope.clone()
}

/// Step 2 (see the module doc): the handshake, the handler, and the closing code.
pub(crate) async fn serve(
    session: Session,
    headers: &HeaderMap,
    req: Request<'_>,
    res: Responder<'_>,
) {
    let options = with_headers(&session.options, headers);
    let socket = match gw::accept(req, res, &options).await {
        Ok(socket) => socket,
        Err(refused) => return log::debug!("waitless: {refused}"),
    };
    let shutdown = socket.scope().shutdown();
    let slot: Slot<'_> = Rc::default();
    let ws = WebSocket {
        inner: Some(socket),
        slot: slot.clone(),
    };
    let code = run_handler((session.run)(ws), shutdown, &options).await;
    // The handler's future is gone, so its `WebSocket` dropped and left the socket here.
    if let Some(mut socket) = slot.take() {
        if !socket.is_closed() {
            if let Err(e) = socket.close(code, "").await {
                log::debug!("waitless: closing the WebSocket with {code} failed: {e}");
            }
        }
    }
}

/// Runs the handler; returns the close code its ending calls for.
async fn run_handler(
    handler: SessionFuture<'_>,
    shutdown: ShutdownSignal<'_>,
    options: &Options,
) -> u16 {
    let finished = async {
        match AssertUnwindSafe(handler).catch_unwind().await {
            Ok(Ok(())) => close::NORMAL,
            Ok(Err(e)) => {
                log::error!("waitless: WebSocket handler failed: {e}");
                close::INTERNAL_ERROR
            }
            Err(payload) => {
                log::error!(
                    "waitless: WebSocket handler panicked: {}",
                    message(&*payload)
                );
                close::INTERNAL_ERROR
            }
        }
    };
    let grace = options.close_timeout;
    let shut_down = async {
        shutdown.wait().await;
        waitless_reactor::sleep(grace).await;
        log::debug!("waitless: WebSocket handler cancelled by the shutdown");
        close::GOING_AWAY
    };
    finished.or(shut_down).await
}

fn message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("<non-string panic payload>")
}
