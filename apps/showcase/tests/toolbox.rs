//! The second round's endpoints in memory through `TestClient`, with the contract's exact
//! bodies: `/events`, `POST /files`, `/static`, the OAuth2 password flow, `/`, `/openapi.json`
//! and `/docs`.

mod common;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use common::{client, Client};

#[test]
fn events_stream_n_ticks() {
    let (c, _db) = client();
    let res = c.get("/events?n=3&interval_ms=10").send();
    assert_eq!(res.status.as_u16(), 200);
    assert_eq!(res.header("content-type"), Some("text/event-stream"));
    assert_eq!(res.text(), "data: 0\n\ndata: 1\n\ndata: 2\n\n");
    let res = c.get("/events?interval_ms=0").send();
    assert_eq!(
        res.text(),
        "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n",
        "n defaults to 5"
    );
    let res = c.get("/events?n=-1").send();
    assert_eq!(res.status.as_u16(), 422);
    assert_eq!(
        res.json::<Value>()["detail"][0]["loc"],
        json!(["query", "n"])
    );
}

#[test]
fn events_are_spaced_by_the_interval() {
    let (c, _db) = client();
    let started = std::time::Instant::now();
    let res = c.get("/events?n=4&interval_ms=50").send();
    assert_eq!(res.text().matches("data: ").count(), 4);
    assert!(
        started.elapsed().as_millis() >= 150,
        "{:?}",
        started.elapsed()
    );
}

fn multipart(field: &str, filename: &str, content_type: &str, content: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n\
         Content-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(b"\r\n--XyZ--\r\n");
    body
}

fn upload(c: &Client, body: Vec<u8>) -> waitless::TestResponse {
    c.post("/files")
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .send()
}

fn sha256_hex(bytes: &[u8]) -> String {
    showcase::files::hex(&Sha256::digest(bytes))
}

#[test]
fn upload_answers_name_type_size_and_sha256() {
    let (c, _db) = client();
    let res = upload(&c, multipart("file", "a.txt", "text/plain", b"hello"));
    assert_eq!(res.status.as_u16(), 201);
    assert_eq!(
        res.json::<Value>(),
        json!({
            "filename": "a.txt",
            "content_type": "text/plain",
            "size": 5,
            "sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        })
    );
}

#[test]
fn upload_of_several_mebibytes_streams_through() {
    let (c, _db) = client();
    let content: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let res = upload(
        &c,
        multipart("file", "big.bin", "application/octet-stream", &content),
    );
    assert_eq!(res.status.as_u16(), 201, "{}", res.text());
    let got = res.json::<Value>();
    assert_eq!(got["size"], content.len());
    assert_eq!(got["sha256"], sha256_hex(&content));
}

#[test]
fn upload_without_file_field_is_422_at_body_file() {
    let (c, _db) = client();
    let res = upload(&c, multipart("other", "a.txt", "text/plain", b"x"));
    assert_eq!(res.status.as_u16(), 422);
    let detail = &res.json::<Value>()["detail"][0];
    assert_eq!(detail["loc"], json!(["body", "file"]));
    assert_eq!(detail["type"], "missing");
}

#[test]
fn upload_over_50_mib_is_413() {
    let (c, _db) = client();
    let content = vec![b'x'; 50 * 1024 * 1024 + 1];
    let res = upload(
        &c,
        multipart("file", "huge.bin", "application/octet-stream", &content),
    );
    assert_eq!(res.status.as_u16(), 413);
}

#[test]
fn static_assets_with_etag_and_304() {
    let (c, _db) = client();
    for (path, ct) in [
        ("/static/app.js", "text/javascript; charset=utf-8"),
        ("/static/app.css", "text/css; charset=utf-8"),
    ] {
        let res = c.get(path).send();
        assert_eq!(res.status.as_u16(), 200, "{path}");
        assert_eq!(res.header("content-type"), Some(ct), "{path}");
        let etag = res.header("etag").expect("etag").to_owned();
        let res = c.get(path).header("if-none-match", &etag).send();
        assert_eq!(res.status.as_u16(), 304, "{path}");
        assert!(res.body.is_empty());
    }
}

#[test]
fn static_traversal_is_404() {
    let (c, _db) = client();
    for path in [
        "/static/../Cargo.toml",
        "/static/%2e%2e/Cargo.toml",
        "/static/..%2fCargo.toml",
        "/static/%2e%2e%2fsrc%2flib.rs",
        "/static/app.js%00",
        "/static/..\\Cargo.toml",
        "/static/%5c..%5cCargo.toml",
        "/static//etc/passwd",
        "/static/nope.js",
    ] {
        let res = c.get(path).send();
        assert_eq!(res.status.as_u16(), 404, "{path}");
        assert_eq!(res.text(), r#"{"detail":"Not Found"}"#, "{path}");
    }
}

fn login(c: &Client, username: &str, password: &str) -> waitless::TestResponse {
    c.post("/token")
        .form(&[("username", username), ("password", password)])
        .send()
}

#[test]
fn password_flow_issues_a_bearer_token_for_alice() {
    let (c, _db) = client();
    let res = login(&c, "alice", "secret");
    assert_eq!(res.status.as_u16(), 200);
    let body = res.json::<Value>();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body.as_object().map(|o| o.len()), Some(2), "{body}");
    let token = body["access_token"].as_str().expect("a string token");
    let again = login(&c, "alice", "secret").json::<Value>();
    assert_ne!(again["access_token"], token, "random per issue");

    let res = c
        .get("/users/me")
        .header("authorization", format!("Bearer {token}"))
        .send();
    assert_eq!(res.status.as_u16(), 200);
    assert_eq!(res.text(), r#"{"username":"alice"}"#);
}

#[test]
fn wrong_credentials_are_400() {
    let (c, _db) = client();
    for (user, password) in [("alice", "wrong"), ("bob", "secret"), ("", "")] {
        let res = login(&c, user, password);
        assert_eq!(res.status.as_u16(), 400, "{user}/{password}");
        assert_eq!(res.text(), r#"{"detail":"Incorrect username or password"}"#);
    }
    let res = c.post("/token").form(&[("username", "alice")]).send();
    assert_eq!(res.status.as_u16(), 422);
    assert_eq!(
        res.json::<Value>()["detail"][0]["loc"],
        json!(["body", "password"])
    );
}

#[test]
fn users_me_without_or_with_a_foreign_token_is_401() {
    let (c, _db) = client();
    let res = c.get("/users/me").send();
    assert_eq!(res.status.as_u16(), 401);
    assert_eq!(res.text(), r#"{"detail":"Not authenticated"}"#);
    assert_eq!(res.header("www-authenticate"), Some("Bearer"));

    // A token signed by another server start (another secret), and junk.
    let (other, _other_db) = client();
    let foreign = login(&other, "alice", "secret").json::<Value>()["access_token"]
        .as_str()
        .map(str::to_owned)
        .expect("token");
    for token in [foreign.as_str(), "nope", "alice.00.00"] {
        let res = c
            .get("/users/me")
            .header("authorization", format!("Bearer {token}"))
            .send();
        assert_eq!(res.status.as_u16(), 401, "{token}");
        assert_eq!(res.text(), r#"{"detail":"Could not validate credentials"}"#);
        assert_eq!(res.header("www-authenticate"), Some("Bearer"));
    }
}

#[test]
fn index_page_uses_only_local_assets() {
    let (c, _db) = client();
    let res = c.get("/").send();
    assert_eq!(res.status.as_u16(), 200);
    assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    let html = res.text();
    for needed in [
        "/static/app.js",
        "/static/app.css",
        "/docs",
        "/ws/chat",
        "/events",
    ] {
        assert!(html.contains(needed), "{needed}");
    }
    for asset in [
        &html,
        &c.get("/static/app.js").send().text(),
        &c.get("/static/app.css").send().text(),
    ] {
        // SVG's namespace name is a URL that is never fetched.
        let asset = asset.replace("\"http://www.w3.org/2000/svg\"", "");
        assert!(!asset.contains("http://") && !asset.contains("https://"));
        assert!(!asset.contains("//cdn") && !asset.contains("@import"));
    }
}

#[test]
fn openapi_documents_the_toolbox_and_the_oauth2_scheme() {
    let (c, _db) = client();
    let doc = c.get("/openapi.json").send().json::<Value>();
    assert_eq!(doc["info"]["title"], "waitless showcase");
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/items",
        "/items/{item_id}",
        "/files",
        "/token",
        "/users/me",
        "/events",
    ] {
        assert!(paths.contains_key(path), "{path}");
    }
    for hidden in ["/", "/ws/echo", "/ws/chat", "/static/{path}"] {
        assert!(!paths.contains_key(hidden), "{hidden}");
    }
    assert_eq!(doc["paths"]["/items"]["post"]["tags"], json!(["items"]));
    assert_eq!(doc["paths"]["/items"]["post"]["summary"], "Create an item");
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("schemes");
    let oauth2: Vec<&Value> = schemes.values().filter(|s| s["type"] == "oauth2").collect();
    assert_eq!(oauth2.len(), 1, "{schemes:?}");
    let token_url = oauth2[0]["flows"]["password"]["tokenUrl"]
        .as_str()
        .unwrap_or("");
    assert!(token_url.ends_with("token"), "{token_url}");
    assert!(doc["paths"]["/users/me"]["get"]["security"].is_array());
    let form = &doc["paths"]["/files"]["post"]["requestBody"]["content"];
    assert!(form.get("multipart/form-data").is_some(), "{form}");

    let res = c.get("/docs").send();
    assert_eq!(res.status.as_u16(), 200);
    assert!(res.text().contains("openapi.json"));
}

#[test]
fn io_sleep_is_readable_from_the_index_pages_other_host_names() {
    let (c, _db) = client();
    let res = c.get("/io/sleep?ms=0").send();
    assert_eq!(res.text(), r#"{"slept_ms":0}"#);
    assert_eq!(res.header("access-control-allow-origin"), Some("*"));
}
