//! # waitless (the framework)
//!
//! **One job:** turn a request into a call of a typed Rust function and its return value into a
//! response — FastAPI's developer experience (routes, typed parameters, validation with
//! FastAPI's exact 422 body, dependencies, middleware, background tasks, `TestClient`) on the
//! gateway's public app interface, and nothing else.
//!
//! The seed's idea: "FastAPI는 서버가 아니다" (FastAPI is not a server). It only supplies request
//! logic; the ASGI server opens the port, runs the event loop and calls it. Here the gateway
//! (`waitless-gateway`) is the server and [`App`] is only an app: it never touches a socket, and
//! the same `App` runs under the multi-process runner, a bare `Server`, or [`TestClient`].
//!
//! ```text
//!  gateway ──call──► App ─► middleware (Layered<M, …>, static dispatch)
//!                            └─► Routes: matchit lookup ─► 404 / 405 + Allow / 307 slash
//!                                 └─► handler: extractors (Path, Query, Json, …) validated
//!                                      against the type's compiled JSON Schema ─► 422 (all errors)
//!                                      └─► your async fn ─► IntoResponse ─► Response
//!  gateway ◄──one write── Response (status, headers, bytes or stream) ◄─┘
//! ```
//!
//! ## Example: FastAPI's first three tutorial chapters
//!
//! ```
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//! use waitless::{App, HttpError, Json, Path, Query, StatusCode, TestClient};
//!
//! // Path parameters: @app.get("/items/{item_id}") async def read_item(item_id: int)
//! async fn read_item(Path(item_id): Path<u64>) -> Result<Json<serde_json::Value>, HttpError> {
//!     if item_id == 0 {
//!         return Err(HttpError::new(404, "Item not found"));
//!     }
//!     Ok(Json(serde_json::json!({ "item_id": item_id })))
//! }
//!
//! // Query parameters: skip: int = 0, limit: int = Query(10, ge=1, le=100)
//! #[derive(Deserialize, JsonSchema)]
//! struct Page {
//!     #[serde(default)]
//!     skip: u32,
//!     #[serde(default = "ten")]
//!     #[schemars(range(min = 1, max = 100))]
//!     limit: u32,
//! }
//! fn ten() -> u32 { 10 }
//!
//! async fn list_items(Query(page): Query<Page>) -> Json<(u32, u32)> {
//!     Json((page.skip, page.limit))
//! }
//!
//! // Request body: class Item(BaseModel): name: str = Field(min_length=1); price: float = Field(ge=0)
//! #[derive(Deserialize, Serialize, JsonSchema)]
//! struct Item {
//!     #[schemars(length(min = 1, max = 100))]
//!     name: String,
//!     #[schemars(range(min = 0))]
//!     price: f64,
//! }
//!
//! async fn create_item(Json(item): Json<Item>) -> (StatusCode, Json<Item>) {
//!     (StatusCode::CREATED, Json(item))
//! }
//!
//! let app = App::new()
//!     .get("/items/{item_id}", read_item)
//!     .get("/items", list_items)
//!     .post("/items", create_item);
//!
//! let client = TestClient::new(app);
//! assert_eq!(client.get("/items/5").send().text(), r#"{"item_id":5}"#);
//! assert_eq!(client.get("/items?limit=3").send().text(), "[0,3]");
//! let res = client.post("/items").json(&serde_json::json!({"price": -1})).send();
//! assert_eq!(res.status.as_u16(), 422);
//! assert_eq!(
//!     res.text(),
//!     r#"{"detail":[{"type":"missing","loc":["body","name"],"msg":"Field required","input":{"price":-1}},{"type":"greater_than_equal","loc":["body","price"],"msg":"Input should be greater than or equal to 0","input":-1,"ctx":{"ge":0}}]}"#
//! );
//! ```
//!
//! To serve it: `waitless_gateway::main("items", || app())` in `main` gives the uvicorn-style
//! CLI (`--host`, `--port`, `--workers`, ...). The full guide, FastAPI side by side, is
//! `docs/framework.md`.
#![warn(missing_docs)]

pub mod broadcast;
pub mod middleware;
pub mod multipart;
pub mod openapi;
pub mod security;
pub mod sse;
pub mod static_files;
pub mod validation;
pub mod websocket;

mod app;
mod background;
mod body_stream;
mod buffers;
mod context;
mod error;
mod extract;
mod handler;
mod pool;
mod response;
mod response_model;
mod route_doc;
mod routing;
mod stream;
mod testing;

pub use app::App;
pub use background::BackgroundTasks;
pub use body_stream::{BodyStream, BodyStreamError};
pub use context::{RequestContext, DEFAULT_BODY_LIMIT};
pub use error::HttpError;
pub use extract::{
    Bytes, Cookie, Cookies, Form, FromRequest, Header, Path, Query, RawHeaders, Rejection,
    RequestHead, State, Text,
};
pub use handler::Handler;
pub use pool::{pool_error, run_in_process, run_in_threadpool};
pub use response::{
    ChunkStream, HeaderMap, Html, IntoHeaders, IntoResponse, Json, NoContent, Redirect, Response,
    ResponseBody, StatusCode,
};
pub use response_model::{HandlerExt, Returns, WithModel};
pub use routing::{RouteError, RouteInfo, Router, Routes};
pub use sse::{Event, LastEventId, Sse};
pub use testing::{RequestBuilder, StreamingResponse, TestClient, TestResponse};
pub use validation::{ValidationErrors, Validator};
pub use waitless_gateway as gateway;
pub use websocket::WebSocket;
