//! placeholder
pub mod middleware;
pub mod validation;

mod app;
mod background;
mod buffers;
mod context;
mod error;
mod extract;
mod handler;
mod pool;
mod response;
mod routing;
mod testing;

pub use app::App;
pub use background::BackgroundTasks;
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
pub use routing::{RouteError, RouteInfo, Router, Routes};
pub use testing::{RequestBuilder, StreamingResponse, TestClient, TestResponse};
pub use validation::{ValidationErrors, Validator};
pub use waitless_gateway as gateway;
