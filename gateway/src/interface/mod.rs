//! The app interface: the contract between any waitless server and any app.
//!
//! What ASGI is to Python, this module is to waitless. The full specification (guarantees, order
//! of events, error handling) is `docs/gateway.md`; in short:
//!
//! * An app is a value implementing [`App`]. The server builds it once per worker process and
//!   calls [`App::call`] once per request, on the worker's single thread: no `Send` bound, no
//!   boxing — the call is statically dispatched and its future is polled in place.
//! * The app gets a [`Request`]: the [`Scope`] (everything known before the body) and the
//!   [`Body`] (an async stream of decoded chunks), and a [`Responder`] to answer with.
//! * Lifespan: [`App::startup`] runs once per worker before the first request is accepted,
//!   [`App::shutdown`] once after the last one finished.

pub mod body;
pub mod responder;
pub mod scope;
pub(crate) mod shared;
pub mod shutdown;
pub mod upgrade;

use std::fmt;

pub use body::{Body, BodyError};
pub use responder::{Responder, ResponseError, NO_HEADERS};
pub use scope::{Headers, Scheme, Scope, ScopeKind, State, Version};
pub use shutdown::ShutdownSignal;
pub use upgrade::{Upgraded, UpgradedReader, UpgradedWriter};

/// One request as the app sees it.
#[derive(Debug)]
pub struct Request<'a> {
    /// Everything known before the body.
    pub scope: Scope<'a>,
    /// The body, read on demand.
    pub body: Body<'a>,
}

/// A lifespan `startup` hook failed: the worker does not serve and exits with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifespanError(pub String);

impl fmt::Display for LifespanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lifespan startup failed: {}", self.0)
    }
}

impl std::error::Error for LifespanError {}

/// An application: called once per request by the server.
///
/// The server guarantees, per worker: `startup` completes before the first `call`; `call`s run on
/// one thread, concurrently only across connections (requests of one connection are called one
/// after another, in order); `shutdown` runs after the last `call` returned or the graceful
/// timeout expired.
///
/// The app must answer through the [`Responder`]: if `call` returns without starting a response
/// the server sends `500`; if it returns in the middle of a streamed response, or panics, the
/// server closes the connection (after a `500` if nothing was sent). A panic never takes the
/// worker down.
#[allow(async_fn_in_trait)] // deliberately no `Send` bound: every worker runs one thread
pub trait App: 'static {
    /// Handles one HTTP request.
    async fn call(&self, req: Request<'_>, res: Responder<'_>);

    /// Runs once per worker before it accepts connections; may fill the per-worker [`State`].
    async fn startup(&self, state: &mut State) -> Result<(), LifespanError> {
        let _ = state;
        Ok(())
    }

    /// Runs once per worker after the last request.
    async fn shutdown(&self, state: &State) {
        let _ = state;
    }
}
