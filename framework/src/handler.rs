//! Handlers: `async fn`s whose arguments are extractors and whose return value is
//! [`IntoResponse`].
//!
//! Why a trait implemented for functions of 0..=12 arguments: the extraction code is generated
//! per handler at compile time (static dispatch, no reflection), like FastAPI reading a
//! function's signature — but once, by the compiler. One box per route erases the handler's type
//! so routes of different types share a table; the request's future is boxed once per request.

use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;

use futures_lite::FutureExt;

use crate::context::RequestContext;
use crate::extract::{FromRequest, Rejection};
use crate::openapi::Operation;
use crate::response::{IntoResponse, Response};
use crate::validation::ValidationErrors;

/// A function usable as a route handler; `Args` is the tuple of its extractor types.
///
/// Implemented for every `Fn(T1, .., Tn) -> impl Future<Output = impl IntoResponse>` with
/// `n <= 12` and every `Ti: FromRequest`. All arguments are extracted (validation errors of
/// all of them are collected) before the function runs.
pub trait Handler<Args>: 'static {
    /// What the function returns (checked against a declared response model).
    type Output;

    /// Extracts every argument in order, calls the function and turns its result into the response.
    /// An extractor that answers at once ([`Rejection::Response`], e.g. `401`, `413`) ends the call
    /// with that response; validation errors of all arguments are collected and answered as one
    /// `422`. The route that stores the handler turns a panic into `500`.
    fn call<'c>(&'c self, req: &'c mut RequestContext<'_>) -> impl Future<Output = Response> + 'c;

    /// Prepares every extractor (compiles validators) at registration.
    fn prepare(&self);

    /// Writes what the arguments and the return type say into the route's OpenAPI operation.
    fn describe(&self, op: &mut Operation<'_>);

    /// The function's path (`my_app::read_item`): FastAPI's operation id and summary come
    /// from the function's name.
    fn name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }
}

/// What a route stores: the handler with its type erased.
pub(crate) trait ErasedHandler {
    fn call<'c>(&'c self, req: &'c mut RequestContext<'_>) -> BoxFuture<'c>;
    fn describe(&self, op: &mut Operation<'_>);
    fn name(&self) -> &'static str;
}

pub(crate) type BoxFuture<'c> = Pin<Box<dyn Future<Output = Response> + 'c>>;

pub(crate) struct Erased<H, Args> {
    handler: H,
    _args: PhantomData<fn() -> Args>,
}

impl<H: Handler<Args>, Args: 'static> Erased<H, Args> {
    pub(crate) fn boxed(handler: H) -> Box<dyn ErasedHandler> {
        handler.prepare();
        Box::new(Erased {
            handler,
            _args: PhantomData,
        })
    }
}

impl<H: Handler<Args>, Args: 'static> ErasedHandler for Erased<H, Args> {
    fn call<'c>(&'c self, req: &'c mut RequestContext<'_>) -> BoxFuture<'c> {
        Box::pin(catch_panic(self.handler.call(req)))
    }

    fn describe(&self, op: &mut Operation<'_>) {
        self.handler.describe(op);
    }

    fn name(&self) -> &'static str {
        self.handler.name()
    }
}

/// Polls `fut` under `catch_unwind`: a panicking handler becomes `500 {"detail":"Internal
/// Server Error"}`, logged, and the connection (and worker) keep serving.
pub(crate) async fn catch_panic(fut: impl Future<Output = Response>) -> Response {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(res) => res,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("<non-string panic payload>");
            log::error!("waitless: handler panicked: {msg}");
            Response::internal_error()
        }
    }
}

/// Extracts one argument, collecting validation errors instead of stopping at them.
#[doc(hidden)]
pub async fn extract_one<T: FromRequest>(
    req: &mut RequestContext<'_>,
    errors: &mut ValidationErrors,
) -> Result<Option<T>, Response> {
    match T::from_request(req).await {
        Ok(v) => Ok(Some(v)),
        Err(Rejection::Invalid(e)) => {
            errors.append(e);
            Ok(None)
        }
        Err(Rejection::Response(r)) => Err(r),
    }
}

macro_rules! impl_handler {
    ($($t:ident),*) => {
        #[allow(non_snake_case, unused_variables, unused_mut, irrefutable_let_patterns)]
        impl<F, Fut, R, $($t,)*> Handler<($($t,)*)> for F
        where
            F: Fn($($t),*) -> Fut + 'static,
            Fut: Future<Output = R> + 'static,
            R: IntoResponse + 'static,
            $($t: FromRequest,)*
        {
            type Output = R;

            async fn call<'c>(&'c self, req: &'c mut RequestContext<'_>) -> Response {
                let mut errors = ValidationErrors::new();
                $(
                    let $t = match extract_one::<$t>(req, &mut errors).await {
                        Ok(v) => v,
                        Err(response) => return response,
                    };
                )*
                let ($(Some($t),)*) = ($($t,)*) else {
                    return errors.into_response();
                };
                if !errors.is_empty() {
                    return errors.into_response();
                }
                crate::multipart::run_with_pump(req, (self)($($t),*)).await.into_response()
            }

            fn prepare(&self) {
                $($t::prepare();)*
            }

            fn describe(&self, op: &mut Operation<'_>) {
                $($t::openapi(op);)*
                R::openapi(op);
            }
        }
    };
}

impl_handler!();
impl_handler!(T1);
impl_handler!(T1, T2);
impl_handler!(T1, T2, T3);
impl_handler!(T1, T2, T3, T4);
impl_handler!(T1, T2, T3, T4, T5);
impl_handler!(T1, T2, T3, T4, T5, T6);
impl_handler!(T1, T2, T3, T4, T5, T6, T7);
impl_handler!(T1, T2, T3, T4, T5, T6, T7, T8);
impl_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9);
impl_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10);
impl_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11);
impl_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12);
