#![no_main]
//! The framework's extractors on any input, through the server's real connection code and the
//! router: a path segment (`Path<u64>`, `Path<(String, i32)>`, a catch-all), a query string
//! (`Query` of a struct with optional, numeric, boolean and repeated fields), a urlencoded form
//! (`Form`) and a multipart body with any boundary (`Multipart`, every part read to its end).
//! Whatever the bytes, the answer is a well-formed response that is not a 500: a bad input is
//! a 400/404/405/413/422, never a panic (the fuzzer aborts on any panic, caught or not).

use libfuzzer_sys::fuzz_target;
use schemars::JsonSchema;
use serde::Deserialize;
use waitless::multipart::Multipart;
use waitless::{App, Form, Json, Path, Query, Rejection};
use waitless_gateway::testing::TestServer;

#[derive(Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Params {
    q: Option<String>,
    n: Option<i64>,
    u: Option<u8>,
    f: Option<f64>,
    b: Option<bool>,
    #[serde(default)]
    tag: Vec<String>,
}

#[derive(Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Login {
    username: String,
    #[schemars(length(min = 1, max = 64))]
    password: String,
    remember: Option<bool>,
}

async fn item(Path(id): Path<u64>, Query(p): Query<Params>) -> Json<(u64, usize)> {
    Json((id, p.tag.len()))
}

async fn pair(Path((a, b)): Path<(String, i32)>) -> Json<(usize, i32)> {
    Json((a.len(), b))
}

async fn rest(Path(rest): Path<String>) -> Json<usize> {
    Json(rest.len())
}

async fn login(Form(f): Form<Login>) -> Json<usize> {
    Json(f.username.len() + f.password.len())
}

async fn upload(mut form: Multipart) -> Result<Json<(usize, usize)>, Rejection> {
    let (mut parts, mut bytes) = (0, 0);
    // Bounded by the body: each turn consumes a part, each inner turn a chunk of it.
    while let Some(mut part) = form.next_part().await? {
        parts += 1;
        let _ = (part.name(), part.file_name(), part.content_type());
        while let Some(chunk) = part.chunk().await? {
            bytes += chunk.len();
        }
    }
    Ok(Json((parts, bytes)))
}

fn app() -> App {
    App::new()
        .get("/items/{id}", item)
        .get("/pair/{a}/{b}", pair)
        .get("/files/{*rest}", rest)
        .post("/login", login)
        .post("/upload", upload)
        .body_limit(64 * 1024)
}

// The input: one byte picks the route, then the target's tail, the multipart boundary and the
// body, separated by NUL bytes (so seeds are readable files).
fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let mut fields = rest.splitn(3, |&b| b == 0);
    let target = fields.next().unwrap_or(b"");
    let extra = fields.next().unwrap_or(b"");
    let body = fields.next().unwrap_or(b"");
    let mut req = Vec::new();
    let (method, prefix, content_type): (&str, &str, Vec<u8>) = match which % 5 {
        0 => ("GET", "/items/", Vec::new()),
        1 => ("GET", "/pair/", Vec::new()),
        2 => ("GET", "/files/", Vec::new()),
        3 => (
            "POST",
            "/login",
            b"application/x-www-form-urlencoded".to_vec(),
        ),
        _ => {
            let mut ct = b"multipart/form-data; boundary=".to_vec();
            ct.extend_from_slice(extra);
            ("POST", "/upload", ct)
        }
    };
    req.extend_from_slice(format!("{method} {prefix}").as_bytes());
    req.extend_from_slice(target);
    req.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    if !content_type.is_empty() {
        req.extend_from_slice(b"Content-Type: ");
        req.extend_from_slice(&content_type);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    req.extend_from_slice(body);
    let status = waitless_executor::block_on(async move {
        let server = TestServer::new(app());
        let mut conn = server.connect();
        let _ = conn.send_raw(&req).await;
        conn.response(method == "HEAD").await.map(|r| r.status)
    });
    let status = status.expect("the server always answers with a well-formed response");
    assert_ne!(status, 500, "an extractor failed inside the app");
});
