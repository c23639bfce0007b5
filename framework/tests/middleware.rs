//! Middleware: order, CORS preflight and simple requests, GZip, request id, timing, trusted
//! hosts, and router-level layers that leave other routes alone.

use std::cell::RefCell;
use std::io::Read;
use std::rc::Rc;

use waitless::middleware::{
    Cors, Endpoint, GZip, Middleware, Next, RequestId, Timing, TrustedHost,
};
use waitless::{App, RequestContext, Response, Router, TestClient};

/// Records its name on the way in and out, and tags the response.
struct Mark(&'static str, Rc<RefCell<Vec<String>>>);

impl Middleware for Mark {
    async fn around<E: Endpoint>(
        &self,
        req: &mut RequestContext<'_>,
        next: Next<'_, E>,
    ) -> Response {
        self.1.borrow_mut().push(format!("{} in", self.0));
        let mut res = next.run(req).await;
        self.1.borrow_mut().push(format!("{} out", self.0));
        let trail = res.headers.get("x-trail").unwrap_or("").to_owned();
        res.headers.insert("x-trail", format!("{trail}{}", self.0));
        res
    }
}

#[test]
fn the_last_layer_added_runs_first_and_sees_the_response_last() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let app = App::new()
        .get("/", || async { "hi" })
        .layer(Mark("a", log.clone()))
        .layer(Mark("b", log.clone()));
    let client = TestClient::new(app);
    let res = client.get("/").send();
    assert_eq!(res.header("x-trail"), Some("ab"));
    assert_eq!(*log.borrow(), ["b in", "a in", "a out", "b out"]);
    // Middleware also wraps 404s.
    assert_eq!(client.get("/missing").send().header("x-trail"), Some("ab"));
}

#[test]
fn a_router_layer_wraps_only_its_routes() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let admin = Router::new()
        .prefix("/admin")
        .get("/x", || async { "admin" })
        .layer(Mark("admin", log.clone()));
    let app = App::new()
        .get("/public", || async { "public" })
        .include_router(admin);
    let client = TestClient::new(app);
    assert_eq!(client.get("/public").send().header("x-trail"), None);
    assert_eq!(
        client.get("/admin/x").send().header("x-trail"),
        Some("admin")
    );
}

fn cors_app() -> App<waitless::middleware::Layered<Cors, waitless::Routes>> {
    App::new().get("/data", || async { "data" }).layer(
        Cors::new()
            .allow_origins(["https://a.example"])
            .allow_methods(["GET", "POST"])
            .allow_headers(["x-token"])
            .expose_headers(["x-total"])
            .max_age(60),
    )
}

#[test]
fn cors_preflight_is_answered_by_the_middleware() {
    let client = TestClient::new(cors_app());
    let res = client
        .options("/data")
        .header("origin", "https://a.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "X-Token, content-type")
        .send();
    assert_eq!(res.status.as_u16(), 200);
    assert_eq!(res.text(), "OK");
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("https://a.example")
    );
    assert_eq!(
        res.header("access-control-allow-methods"),
        Some("GET, POST")
    );
    assert_eq!(
        res.header("access-control-allow-headers"),
        Some("accept, accept-language, content-language, content-type, x-token")
    );
    assert_eq!(res.header("access-control-max-age"), Some("60"));
    assert_eq!(res.header("vary"), Some("Origin"));

    let res = client
        .options("/data")
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "DELETE")
        .header("access-control-request-headers", "x-other")
        .send();
    assert_eq!(res.status.as_u16(), 400);
    assert_eq!(res.text(), "Disallowed CORS origin, method, headers");
}

#[test]
fn cors_simple_requests_get_allow_origin_only_for_allowed_origins() {
    let client = TestClient::new(cors_app());
    let res = client
        .get("/data")
        .header("origin", "https://a.example")
        .send();
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("https://a.example")
    );
    assert_eq!(res.header("access-control-expose-headers"), Some("x-total"));
    let res = client
        .get("/data")
        .header("origin", "https://evil.example")
        .send();
    assert_eq!(res.text(), "data");
    assert_eq!(res.header("access-control-allow-origin"), None);
    // Without Origin it is not a CORS request at all; OPTIONS without a preflight header is routed.
    assert_eq!(
        client
            .get("/data")
            .send()
            .header("access-control-allow-origin"),
        None
    );
    assert_eq!(client.options("/data").send().status.as_u16(), 405);

    let any = TestClient::new(
        App::new()
            .get("/", || async { "x" })
            .layer(Cors::new().allow_origins(["*"])),
    );
    let res = any.get("/").header("origin", "https://b.example").send();
    assert_eq!(res.header("access-control-allow-origin"), Some("*"));
}

#[test]
fn gzip_compresses_large_text_for_clients_that_accept_it() {
    let big = "hello world ".repeat(100);
    let body = big.clone();
    let app = App::new()
        .get("/big", move || {
            let b = body.clone();
            async move { b }
        })
        .get("/small", || async { "tiny" })
        .get("/png", || async {
            ([("content-type", "image/png")], vec![0u8; 2000])
        })
        .layer(GZip::new());
    let client = TestClient::new(app);
    let res = client
        .get("/big")
        .header("accept-encoding", "gzip, br")
        .send();
    assert_eq!(res.header("content-encoding"), Some("gzip"));
    assert_eq!(res.header("vary"), Some("Accept-Encoding"));
    assert!(res.body.len() < big.len() / 4, "{} bytes", res.body.len());
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&res.body[..])
        .read_to_string(&mut plain)
        .unwrap();
    assert_eq!(plain, big);
    // Not accepted, too small, or not compressible: untouched.
    assert_eq!(client.get("/big").send().text(), big);
    let res = client
        .get("/small")
        .header("accept-encoding", "gzip")
        .send();
    assert_eq!(
        (res.header("content-encoding"), res.text().as_str()),
        (None, "tiny")
    );
    let res = client.get("/png").header("accept-encoding", "gzip").send();
    assert_eq!(res.header("content-encoding"), None);
}

#[test]
fn request_id_timing_and_trusted_hosts() {
    let app = App::new()
        .get("/", |req: waitless::RequestHead| async move { req.path })
        .layer(RequestId::new())
        .layer(Timing::process_time())
        .layer(TrustedHost::new(["testserver", "*.example.com"]));
    let client = TestClient::new(app);
    let res = client.get("/").send();
    assert_eq!(res.status.as_u16(), 200);
    let id = res.header("x-request-id").unwrap().to_owned();
    assert!(!id.is_empty());
    assert_ne!(client.get("/").send().header("x-request-id").unwrap(), id);
    let t: f64 = res.header("x-process-time").unwrap().parse().unwrap();
    assert!((0.0..10.0).contains(&t));
    let res = client.get("/").header("x-request-id", "abc-123").send();
    assert_eq!(res.header("x-request-id"), Some("abc-123"));
    let res = client.get("/").header("host", "api.example.com").send();
    assert_eq!(res.status.as_u16(), 200);
    let res = client.get("/").header("host", "evil.com").send();
    assert_eq!(res.status.as_u16(), 400);
    assert_eq!(res.text(), "Invalid host header");
}

/// `TrustedHost(["*"])` lets everything through, even an HTTP/1.0 request without `Host`
/// (Starlette's `allow_any`; it was refused with 400 before); a list still refuses it.
#[test]
fn trusted_host_star_allows_a_request_without_host() {
    let status = |hosts: &[&str]| {
        let app = App::new()
            .get("/", || async { "hi" })
            .layer(TrustedHost::new(hosts.iter().copied()));
        let client = TestClient::new(app);
        waitless_executor::block_on(async {
            let mut conn = client.server().connect();
            conn.send_raw(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
            conn.response(false).await.unwrap().status
        })
    };
    assert_eq!(status(&["*"]), 200);
    assert_eq!(status(&["example.com"]), 400);
}

/// `vary` lists each token once: the app's own `Accept-Encoding` is not repeated by GZip, and a
/// response through both CORS and GZip says `Origin, Accept-Encoding` (GZip appended blindly
/// before `HeaderMap::add_vary`).
#[test]
fn vary_lists_each_token_once_through_cors_and_gzip() {
    let big = "hello world ".repeat(100);
    let (a, b) = (big.clone(), big.clone());
    let app = App::new()
        .get("/own", move || {
            let b = a.clone();
            async move { ([("vary", "accept-encoding")], b) }
        })
        .get("/plain", move || {
            let b = b.clone();
            async move { b }
        })
        .layer(GZip::new())
        .layer(Cors::new().allow_origins(["https://a.example"]));
    let client = TestClient::new(app);
    let gzip = |path: &str| {
        let req = client.get(path).header("accept-encoding", "gzip");
        req.header("origin", "https://a.example").send()
    };
    let res = gzip("/own");
    assert_eq!(res.header("content-encoding"), Some("gzip"));
    assert_eq!(res.header("vary"), Some("accept-encoding, Origin"));
    let res = gzip("/plain");
    assert_eq!(res.header("vary"), Some("Accept-Encoding, Origin"));
}
