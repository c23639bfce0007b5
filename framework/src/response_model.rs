//! Response models (FastAPI's `response_model=`), checked against the handler at compile time.
//!
//! FastAPI trusts the declaration and filters the returned object through it at run time. Rust
//! knows the handler's return type, so the declaration is checked instead: a handler wrapped
//! with [`HandlerExt::response_model`] must return the model (`Json<T>`, maybe inside
//! `Result<_, E>`, `(StatusCode, _)` or with headers), or the route does not compile.
//!
//! ```compile_fail
//! use schemars::JsonSchema;
//! use serde::Serialize;
//! use waitless::{App, HandlerExt, Json};
//!
//! #[derive(Serialize, JsonSchema)]
//! struct Item { name: String }
//! #[derive(Serialize, JsonSchema)]
//! struct User { name: String }
//!
//! async fn read_item() -> Json<Item> {
//!     Json(Item { name: "x".into() })
//! }
//!
//! // Declares `User` but the handler returns `Json<Item>`: rejected by the compiler.
//! let app = App::new().get("/item", read_item.response_model::<User>());
//! ```
//!
//! Why not automatic for every `Json<T>` return: `Json<T>`'s `IntoResponse` only needs
//! `T: Serialize`, and existing code returns types that do not derive `JsonSchema`; Rust has
//! no specialization to document `T` only when it can. The declaration is one call, and the
//! compiler keeps it true.

use std::marker::PhantomData;

use schemars::JsonSchema;

use crate::context::RequestContext;
use crate::handler::Handler;
use crate::openapi::Operation;
use crate::response::{IntoHeaders, Json, Response, StatusCode};

/// Implemented by return types that produce a `T` body on success.
pub trait Returns<T> {}

impl<T> Returns<T> for Json<T> {}
impl<T, R: Returns<T>, E> Returns<T> for Result<R, E> {}
impl<T, R: Returns<T>> Returns<T> for (StatusCode, R) {}
impl<T, H: IntoHeaders, R: Returns<T>> Returns<T> for (H, R) {}
impl<T, H: IntoHeaders, R: Returns<T>> Returns<T> for (StatusCode, H, R) {}

/// A handler with a declared response model (made by [`HandlerExt::response_model`]).
pub struct WithModel<H, T> {
    handler: H,
    _model: PhantomData<fn() -> T>,
}

impl<A, H, T> Handler<A> for WithModel<H, T>
where
    H: Handler<A>,
    H::Output: Returns<T>,
    T: JsonSchema + 'static,
{
    type Output = H::Output;

    fn call<'c>(
        &'c self,
        req: &'c mut RequestContext<'_>,
    ) -> impl std::future::Future<Output = Response> + 'c {
        self.handler.call(req)
    }

    fn prepare(&self) {
        self.handler.prepare();
    }

    fn describe(&self, op: &mut Operation<'_>) {
        self.handler.describe(op);
        op.response_model::<T>();
    }

    fn name(&self) -> &'static str {
        self.handler.name()
    }
}

/// Builder methods on handlers.
pub trait HandlerExt<A>: Handler<A> + Sized {
    /// Declares the success body's type for OpenAPI; the handler must return it.
    ///
    /// ```
    /// use schemars::JsonSchema;
    /// use serde::Serialize;
    /// use waitless::{App, HandlerExt, HttpError, Json, StatusCode};
    ///
    /// #[derive(Serialize, JsonSchema)]
    /// struct Item { name: String }
    ///
    /// async fn create() -> Result<(StatusCode, Json<Item>), HttpError> {
    ///     Ok((StatusCode::CREATED, Json(Item { name: "x".into() })))
    /// }
    /// let app = App::new().post("/items", create.response_model::<Item>()).status_code(201);
    /// # let _ = app;
    /// ```
    fn response_model<T>(self) -> WithModel<Self, T>
    where
        T: JsonSchema + 'static,
        Self::Output: Returns<T>,
    {
        WithModel {
            handler: self,
            _model: PhantomData,
        }
    }
}

impl<A, H: Handler<A>> HandlerExt<A> for H {}
