//! `TestClient`: call an app in process, with no socket, the way FastAPI's `TestClient` does.
//!
//! Why over the gateway's `testing` module and not by calling handlers directly: requests go
//! through the server's real connection code over an in-memory pipe, so what a test sees is
//! what a client sees (status lines, `HEAD`, framing, 413 from the server, `Date`/`Server`).
//! Lifespan hooks run like in a worker: startup when the client is made, shutdown when it is
//! dropped. Each call blocks on the current thread's executor (`waitless_executor::block_on`);
//! like FastAPI's, it returns once the app's background tasks are done too.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

use serde::de::DeserializeOwned;
use serde::Serialize;
use waitless_executor::block_on;
use waitless_gateway::testing::{self, TestRequest, TestServer};
use waitless_gateway::{Config, LifespanError};

use crate::app::App;
use crate::middleware::Endpoint;
use crate::response::StatusCode;

/// Counts app calls still running background tasks, so a test can wait for them.
#[derive(Default)]
pub(crate) struct InFlight {
    running: Cell<usize>,
    waiters: RefCell<Vec<Waker>>,
}

impl InFlight {
    pub(crate) fn begin(&self) {
        self.running.set(self.running.get() + 1);
    }

    pub(crate) fn end(&self) {
        self.running.set(self.running.get().saturating_sub(1));
        if self.running.get() == 0 {
            for w in self.waiters.borrow_mut().drain(..) {
                w.wake();
            }
        }
    }

    async fn idle(&self) {
        poll_fn(|cx| {
            if self.running.get() == 0 {
                Poll::Ready(())
            } else {
                self.waiters.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// An in-process client for an [`App`].
///
/// ```
/// use waitless::{App, Json, Path, TestClient};
///
/// async fn read_item(Path(item_id): Path<u64>) -> Json<serde_json::Value> {
///     Json(serde_json::json!({ "item_id": item_id }))
/// }
///
/// let client = TestClient::new(App::new().get("/items/{item_id}", read_item));
/// let res = client.get("/items/42").send();
/// assert_eq!(res.status.as_u16(), 200);
/// assert_eq!(res.json::<serde_json::Value>()["item_id"], 42);
///
/// let res = client.get("/items/foo").send();
/// assert_eq!(res.status.as_u16(), 422);
/// assert_eq!(res.json::<serde_json::Value>()["detail"][0]["type"], "int_parsing");
/// ```
pub struct TestClient<E: Endpoint> {
    server: TestServer<App<E>>,
    in_flight: Rc<InFlight>,
}

impl<E: Endpoint> TestClient<E> {
    /// Runs the app's startup hooks and returns a client; panics if startup fails (a test
    /// that wants the error uses [`TestClient::try_new`]).
    pub fn new(app: App<E>) -> TestClient<E> {
        match TestClient::try_new(app, Config::default()) {
            Ok(client) => client,
            Err(e) => panic!("TestClient: {e}"),
        }
    }

    /// Like [`new`](Self::new), with a server `config` (limits, timeouts), returning startup's
    /// error (route conflicts, a failed hook).
    pub fn try_new(app: App<E>, config: Config) -> Result<TestClient<E>, LifespanError> {
        let in_flight = app.in_flight();
        let server = block_on(TestServer::start(app, config))?;
        Ok(TestClient { server, in_flight })
    }

    /// A `GET` request to `path` (which may carry a query string: `"/items?limit=3"`).
    pub fn get(&self, path: &str) -> RequestBuilder<'_, E> {
        self.request("GET", path)
    }

    /// A `POST` request to `path`; add a body with [`RequestBuilder::json`], `form` or `body`.
    pub fn post(&self, path: &str) -> RequestBuilder<'_, E> {
        self.request("POST", path)
    }

    /// A `PUT` request to `path`.
    pub fn put(&self, path: &str) -> RequestBuilder<'_, E> {
        self.request("PUT", path)
    }

    /// A `PATCH` request to `path`.
    pub fn patch(&self, path: &str) -> RequestBuilder<'_, E> {
        self.request("PATCH", path)
    }

    /// A `DELETE` request to `path`.
    pub fn delete(&self, path: &str) -> RequestBuilder<'_, E> {
        self.request("DELETE", path)
    }

    /// A `HEAD` request to `path` (answered by the `GET` route unless a `HEAD` route exists); the
    /// response has headers and no body, as a real client sees it.
    pub fn head(&self, path: &str) -> RequestBuilder<'_, E> {
        self.request("HEAD", path)
    }

    /// An `OPTIONS` request to `path` (a CORS preflight when it carries `origin` and
    /// `access-control-request-method`).
    pub fn options(&self, path: &str) -> RequestBuilder<'_, E> {
        self.request("OPTIONS", path)
    }

    /// A request with any method.
    pub fn request(&self, method: &str, path: &str) -> RequestBuilder<'_, E> {
        RequestBuilder {
            client: self,
            method: method.to_owned(),
            path: path.to_owned(),
            query: String::new(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// The gateway's test server underneath (raw connections, pipelining, shutdown).
    pub fn server(&self) -> &TestServer<App<E>> {
        &self.server
    }
}

impl<E: Endpoint> Drop for TestClient<E> {
    /// Runs the app's shutdown hooks, as a worker does after its last request.
    fn drop(&mut self) {
        block_on(self.server.shutdown());
    }
}

/// A request being built; [`send`](Self::send) runs it.
pub struct RequestBuilder<'c, E: Endpoint> {
    client: &'c TestClient<E>,
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Option<Vec<u8>>,
}

impl<E: Endpoint> RequestBuilder<'_, E> {
    /// Adds query parameters (`&[("limit", "5")]`, or any serializable struct).
    pub fn query<Q: Serialize + ?Sized>(mut self, params: &Q) -> Self {
        if let Ok(encoded) = serde_urlencoded::to_string(params) {
            if !encoded.is_empty() {
                if !self.query.is_empty() {
                    self.query.push('&');
                }
                self.query.push_str(&encoded);
            }
        }
        self
    }

    /// Adds a request header; calling it twice with one name sends two header lines (nothing is
    /// replaced, including the `content-type` that [`json`](Self::json) and [`form`](Self::form)
    /// add).
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_owned(), value.as_ref().to_vec()));
        self
    }

    /// Adds a cookie to the `Cookie` header.
    pub fn cookie(self, name: &str, value: &str) -> Self {
        self.header("cookie", format!("{name}={value}"))
    }

    /// A JSON body (`content-type: application/json`).
    ///
    /// # Panics
    /// If `value` does not serialize to JSON (a map with non-string keys): the test is wrong, and
    /// an empty body would fail it somewhere less clear (httpx raises too).
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Self {
        let body = serde_json::to_vec(value)
            .unwrap_or_else(|e| panic!("TestClient: the value does not serialize to JSON: {e}"));
        self.header("content-type", "application/json").body(body)
    }

    /// An urlencoded form body.
    ///
    /// # Panics
    /// If `value` does not serialize to a flat form (a nested sequence or struct).
    pub fn form<T: Serialize + ?Sized>(self, value: &T) -> Self {
        let body = serde_urlencoded::to_string(value)
            .unwrap_or_else(|e| panic!("TestClient: the value does not serialize to a form: {e}"));
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }

    /// A raw body.
    pub fn body(mut self, body: impl AsRef<[u8]>) -> Self {
        self.body = Some(body.as_ref().to_vec());
        self
    }

    fn build(&self) -> TestRequest {
        let mut target = self.path.clone();
        if !self.query.is_empty() {
            target.push(if target.contains('?') { '&' } else { '?' });
            target.push_str(&self.query);
        }
        let mut req = TestRequest::new(&self.method, &target);
        for (n, v) in &self.headers {
            req = req.header(n, v);
        }
        if let Some(body) = &self.body {
            req = req.body(body);
        }
        req
    }

    /// Sends the request and reads the whole response; returns after the app's background
    /// tasks finished. Panics if the in-memory connection fails (a server bug, not a status).
    pub fn send(self) -> TestResponse {
        let req = self.build();
        let client = self.client;
        let res = block_on(async {
            let mut conn = client.server.connect();
            // A server that refuses a body (413) answers and stops reading: the rest of the
            // upload then fails to send, but the answer is there to read, as for a real client.
            if let Err(e) = conn.send(&req).await {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return Err(e);
                }
            }
            let res = conn.response(req.method() == "HEAD").await;
            client.in_flight.idle().await;
            res
        });
        match res {
            Ok(r) => TestResponse::from(r),
            Err(e) => panic!("TestClient: the in-memory connection failed: {e}"),
        }
    }

    /// Sends the request and returns once the response head arrived; read the body with
    /// [`StreamingResponse::chunk`] as the app produces it.
    pub fn stream(self) -> StreamingResponse {
        let req = self.build();
        match block_on(self.client.server.call_streaming(req)) {
            Ok(inner) => StreamingResponse {
                status: StatusCode(inner.status),
                inner,
            },
            Err(e) => panic!("TestClient: the in-memory connection failed: {e}"),
        }
    }
}

/// A complete response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestResponse {
    /// The response status.
    pub status: StatusCode,
    /// Every response header in the order received, including those the server adds (`date`,
    /// `server`, `content-length` or `transfer-encoding`); read one with [`TestResponse::header`].
    pub headers: Vec<(String, Vec<u8>)>,
    /// The whole body, de-chunked (empty for `HEAD`, `204` and `304`).
    pub body: Vec<u8>,
}

impl From<testing::TestResponse> for TestResponse {
    fn from(r: testing::TestResponse) -> Self {
        TestResponse {
            status: StatusCode(r.status),
            headers: r.headers,
            body: r.body,
        }
    }
}

impl TestResponse {
    /// The first value of header `name` (case-insensitive), as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// The body as text (invalid UTF-8 replaced with U+FFFD, never a panic).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body in the message if it is not (test code).
    pub fn json<T: DeserializeOwned>(&self) -> T {
        match serde_json::from_slice(&self.body) {
            Ok(v) => v,
            Err(e) => panic!(
                "response body is not the expected JSON ({e}): {}",
                self.text()
            ),
        }
    }
}

/// A response whose body is read as it arrives.
pub struct StreamingResponse {
    /// The response status, known once the head arrived.
    pub status: StatusCode,
    inner: testing::StreamingResponse,
}

impl StreamingResponse {
    /// The first value of response header `name` (case-insensitive), as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.inner.header(name)
    }

    /// The next piece of the body (`None` at its end); blocks until it arrives.
    pub fn chunk(&mut self) -> Option<Vec<u8>> {
        block_on(self.inner.chunk()).ok().flatten()
    }

    /// The rest of the body.
    pub fn rest(&mut self) -> Vec<u8> {
        block_on(self.inner.rest()).unwrap_or_default()
    }
}
