//! `State<T>` (per-worker state from the lifespan) and `RequestHead` (the scope, owned).

use std::net::SocketAddr;

use super::{FromRequest, Rejection};
use crate::context::RequestContext;
use crate::response::Response;

/// A clone of the per-worker value of type `T` that a startup hook stored
/// ([`App::on_startup`](crate::App::on_startup)). `T` needs no `Send`: put an `Rc` inside
/// to share one value between requests.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use waitless::{App, State};
///
/// #[derive(Clone, Default)]
/// struct Hits(Rc<Cell<u64>>);
///
/// async fn hit(State(hits): State<Hits>) -> String {
///     hits.0.set(hits.0.get() + 1);
///     hits.0.get().to_string()
/// }
///
/// let app = App::new()
///     .on_startup(|| async { Ok::<_, String>(Hits::default()) })
///     .get("/hit", hit);
/// # let _ = app;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct State<T>(pub T);

impl<T: Clone + 'static> FromRequest for State<T> {
    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        match req.scope().state().get::<T>() {
            Some(v) => Ok(State(v.clone())),
            None => {
                log::error!(
                    "waitless: State<{}> requested but no startup hook stored one",
                    std::any::type_name::<T>()
                );
                Err(Rejection::Response(Response::internal_error()))
            }
        }
    }
}

/// The request's scope, copied out of the connection buffer (FastAPI's `Request` for the parts
/// that are not the body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    /// The method as sent (`GET`, `POST`, ...; Starlette's `request.method`).
    pub method: String,
    /// The path, percent-decoded, without the query string (`request.url.path`).
    pub path: String,
    /// The query string without the `?`, not percent-decoded (invalid UTF-8 replaced with U+FFFD).
    pub query_string: String,
    /// Every request header in the order received, names as sent, values as raw bytes; read one
    /// with [`RequestHead::header`].
    pub headers: Vec<(String, Vec<u8>)>,
    /// The client's address: the peer, or the one a trusted proxy reported (`request.client`);
    /// `None` on a Unix socket unless a trusted proxy reported one (a reported client has port 0).
    pub client: Option<SocketAddr>,
    /// The local address the request came in on (`None` on a Unix socket or in memory).
    pub server: Option<SocketAddr>,
    /// `"https"` over TLS or behind a trusted proxy's `X-Forwarded-Proto: https`, else `"http"`.
    pub scheme: &'static str,
    /// The mount prefix configured for the server (the ASGI `root_path`; empty by default).
    pub root_path: String,
    /// The route template that matched (`/items/{item_id}`), if any.
    pub route: Option<String>,
}

impl RequestHead {
    /// The first value of header `name` (case-insensitive) as text; `None` if the header is absent
    /// or its value is not UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

impl FromRequest for RequestHead {
    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        let s = req.scope();
        Ok(RequestHead {
            method: s.method.to_owned(),
            path: s.path.to_string(),
            query_string: String::from_utf8_lossy(s.query_string).into_owned(),
            headers: s
                .headers
                .iter()
                .map(|(n, v)| (n.to_owned(), v.to_vec()))
                .collect(),
            client: s.client,
            server: s.server(),
            scheme: s.scheme.as_str(),
            root_path: s.root_path().to_owned(),
            route: req.route().map(|r| r.path.clone()),
        })
    }
}
