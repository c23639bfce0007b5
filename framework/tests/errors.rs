//! Errors: `HttpError`, exception handlers, panics → 500 with the worker still serving, 413
//! before the body is buffered, and the response types handlers may return.

use futures_lite::stream;
use serde_json::{json, Value};
use waitless::{
    App, Bytes, Html, HttpError, IntoResponse, Json, NoContent, Path, Redirect, Response,
    StatusCode, TestClient, ValidationErrors,
};

async fn find(Path(id): Path<u64>) -> Result<Json<Value>, HttpError> {
    if id == 1 {
        Ok(Json(json!({"id": 1})))
    } else {
        Err(HttpError::new(404, "Item not found").with_header("x-error", "missing"))
    }
}

async fn boom() -> &'static str {
    panic!("handler bug")
}

async fn upload(Bytes(body): Bytes) -> String {
    body.len().to_string()
}

fn app() -> App {
    App::new()
        .get("/items/{id}", find)
        .get("/boom", boom)
        .get("/ok", || async { "ok" })
        .get("/two-cookies", || async {
            let mut h = waitless::HeaderMap::new();
            h.append("set-cookie", "a=1");
            h.append("set-cookie", "b=2");
            (h, "ok")
        })
        .get("/cookies", || async {
            let mut err = HttpError::new(401, "Not authenticated");
            err.headers.append("set-cookie", "a=1");
            err.headers.append("set-cookie", "b=2");
            err.headers
                .insert("content-type", "application/problem+json");
            Err::<String, _>(err)
        })
        .post("/upload", upload)
        .post("/small", upload)
        .body_limit(10)
        .post("/large", upload)
        .body_limit(3 << 20)
}

#[test]
fn a_route_limit_may_exceed_the_servers_default() {
    // The server's default (`Config::max_body_size`) is 1 MiB; this route allows 3 MiB.
    let client = TestClient::new(app());
    let body = vec![b'x'; 2 << 20];
    let res = client.post("/large").body(body.clone()).send();
    assert_eq!(
        (res.status.as_u16(), res.text()),
        (200, (2 << 20).to_string())
    );
    let res = client.post("/upload").body(body).send();
    assert_eq!(res.status.as_u16(), 413);
}

#[test]
fn http_errors_answer_with_detail_and_headers() {
    let client = TestClient::new(app());
    assert_eq!(
        client.get("/items/1").send().json::<Value>(),
        json!({"id": 1})
    );
    let res = client.get("/items/2").send();
    assert_eq!(res.status.as_u16(), 404);
    assert_eq!(res.text(), r#"{"detail":"Item not found"}"#);
    assert_eq!(res.header("x-error"), Some("missing"));
}

/// Every value of an error's header is sent (two `set-cookie` stayed one before), and a name the
/// error sets replaces the response's own.
#[test]
fn an_http_error_sends_every_value_of_a_repeated_header() {
    let res = TestClient::new(app()).get("/cookies").send();
    assert_eq!(res.status.as_u16(), 401);
    let values = |name: &str| -> Vec<String> {
        let all = res
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name));
        all.map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    };
    assert_eq!(values("set-cookie"), ["a=1", "b=2"]);
    assert_eq!(values("content-type"), ["application/problem+json"]);
    // A `HeaderMap` in a tuple response keeps both too.
    let res = TestClient::new(app()).get("/two-cookies").send();
    let cookies: Vec<&[u8]> = res
        .headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| &v[..])
        .collect();
    assert_eq!(cookies, [&b"a=1"[..], &b"b=2"[..]]);
}

/// The TestClient refuses a body it cannot serialise instead of sending an empty one.
#[test]
#[should_panic(expected = "does not serialize to JSON")]
fn a_json_body_that_cannot_be_serialized_panics_in_the_test_client() {
    let not_json = std::collections::BTreeMap::from([(vec![1u8], 1)]);
    TestClient::new(app()).post("/upload").json(&not_json);
}

#[test]
#[should_panic(expected = "does not serialize to a form")]
fn a_form_body_that_cannot_be_serialized_panics_in_the_test_client() {
    TestClient::new(app())
        .post("/upload")
        .form(&[("a", [1, 2])]);
}

#[test]
fn a_panicking_handler_gives_500_and_the_connection_keeps_serving() {
    let client = TestClient::new(app());
    for _ in 0..3 {
        let res = client.get("/boom").send();
        assert_eq!(res.status.as_u16(), 500);
        assert_eq!(res.text(), r#"{"detail":"Internal Server Error"}"#);
    }
    // The same connection answers the next request (the framework caught the panic itself).
    waitless_executor::block_on(async {
        let mut conn = client.server().connect();
        let get = |p: &str| waitless_gateway::testing::TestRequest::get(p);
        assert_eq!(conn.request(&get("/boom")).await.unwrap().status, 500);
        assert_eq!(conn.request(&get("/ok")).await.unwrap().text(), "ok");
    });
}

#[test]
fn bodies_over_the_route_limit_are_413() {
    let client = TestClient::new(app());
    assert_eq!(client.post("/small").body("0123456789").send().text(), "10");
    let res = client.post("/small").body("0123456789x").send();
    assert_eq!(res.status.as_u16(), 413);
    assert_eq!(res.text(), r#"{"detail":"Request body too large"}"#);
    // Chunked: no declared length, refused while streaming.
    // (Sent in one write: the server answers 413 and closes without reading the rest.)
    let res = waitless_executor::block_on(async {
        let mut conn = client.server().connect();
        let raw = "POST /small HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
                   5\r\n01234\r\n5\r\n56789\r\n1\r\nx\r\n0\r\n\r\n";
        conn.send_raw(raw.as_bytes()).await.unwrap();
        conn.response(false).await.unwrap()
    });
    assert_eq!(res.status, 413);
    // The default limit is 1 MiB.
    let big = vec![b'a'; 1024 * 1024 + 1];
    assert_eq!(
        client.post("/upload").body(&big).send().status.as_u16(),
        413
    );
    let fits = vec![b'a'; 1024 * 1024];
    assert_eq!(client.post("/upload").body(&fits).send().text(), "1048576");
}

#[derive(Debug)]
struct Teapot;

impl IntoResponse for Teapot {
    fn into_response(self) -> Response {
        Response::text("teapot")
            .with_status(418)
            .with_exception(self)
    }
}

#[test]
fn exception_handlers_replace_responses_by_error_type() {
    let app = App::new()
        .get("/items/{id}", find)
        .get("/tea", || async { Err::<&str, _>(Teapot) })
        .exception_handler(|e: &HttpError| {
            Response::json(&json!({"error": e.detail})).with_status(e.status)
        })
        .exception_handler(|_: &Teapot| Response::text("custom teapot").with_status(418))
        .exception_handler(|e: &ValidationErrors| {
            Response::json(&json!({"errors": e.len()})).with_status(400)
        });
    let client = TestClient::new(app);
    assert_eq!(
        client.get("/items/2").send().text(),
        r#"{"error":"Item not found"}"#
    );
    assert_eq!(client.get("/tea").send().text(), "custom teapot");
    let res = client.get("/items/x").send();
    assert_eq!(res.status.as_u16(), 400);
    assert_eq!(res.text(), r#"{"errors":1}"#);
}

#[test]
fn handlers_return_every_response_kind() {
    let app = App::new()
        .get("/text", || async { "plain" })
        .get("/string", || async { String::from("owned") })
        .get("/html", || async { Html("<h1>hi</h1>") })
        .get("/bytes", || async { vec![1u8, 2, 3] })
        .get("/created", || async {
            (StatusCode::CREATED, Json(json!({"ok": true})))
        })
        .get("/headers", || async {
            (
                StatusCode::ACCEPTED,
                [("x-a", "1"), ("x-b", "2")],
                "with headers",
            )
        })
        .get("/empty", || async { NoContent })
        .get("/redirect", || async { Redirect::to("/text") })
        .get("/see-other", || async { Redirect::see_other("/text") })
        .get("/stream", || async {
            Response::stream(
                "text/plain",
                stream::iter(["a", "b", "c"].map(|s| s.as_bytes().to_vec())),
            )
        });
    let client = TestClient::new(app);
    // (path, status, content-type, body)
    let table: &[(&str, u16, Option<&str>, &str)] = &[
        ("/text", 200, Some("text/plain; charset=utf-8"), "plain"),
        ("/string", 200, Some("text/plain; charset=utf-8"), "owned"),
        (
            "/html",
            200,
            Some("text/html; charset=utf-8"),
            "<h1>hi</h1>",
        ),
        (
            "/bytes",
            200,
            Some("application/octet-stream"),
            "\u{1}\u{2}\u{3}",
        ),
        ("/created", 201, Some("application/json"), r#"{"ok":true}"#),
        (
            "/headers",
            202,
            Some("text/plain; charset=utf-8"),
            "with headers",
        ),
        ("/empty", 204, None, ""),
        ("/redirect", 307, None, ""),
        ("/see-other", 303, None, ""),
        ("/stream", 200, Some("text/plain"), "abc"),
    ];
    for &(path, status, ct, body) in table {
        let res = client.get(path).send();
        assert_eq!(res.status.as_u16(), status, "{path}");
        assert_eq!(res.header("content-type"), ct, "{path}");
        assert_eq!(res.text(), body, "{path}");
    }
    let res = client.get("/headers").send();
    assert_eq!(
        (res.header("x-a"), res.header("x-b")),
        (Some("1"), Some("2"))
    );
    assert_eq!(
        client.get("/redirect").send().header("location"),
        Some("/text")
    );
    let mut s = client.get("/stream").stream();
    assert_eq!(s.header("transfer-encoding"), Some("chunked"));
    assert_eq!(s.rest(), b"abc");
}
