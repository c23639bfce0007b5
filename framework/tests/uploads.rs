//! `multipart/form-data` uploads: streamed to the handler, FastAPI's 422 for a missing file,
//! 413 over the route's limit (declared or chunked), and the OpenAPI body.

use serde_json::{json, Value};
use waitless::multipart::Multipart;
use waitless::{App, Json, Rejection, StatusCode, TestClient};
use waitless_gateway::testing::TestRequest;

const LIMIT: u64 = 4 * 1024 * 1024;

/// The showcase's `POST /files`, with a checksum instead of sha256 (no extra dependency).
async fn upload(mut form: Multipart) -> Result<(StatusCode, Json<Value>), Rejection> {
    let mut file = form.file("file").await?;
    let (mut size, mut sum) = (0usize, 0u64);
    while let Some(chunk) = file.chunk().await? {
        size += chunk.len();
        sum = chunk
            .iter()
            .fold(sum, |s, b| s.wrapping_mul(31).wrapping_add(u64::from(*b)));
    }
    let body = json!({
        "filename": file.file_name(),
        "content_type": file.content_type(),
        "size": size,
        "sum": sum,
    });
    Ok((StatusCode::CREATED, Json(body)))
}

/// Answers as soon as the file's first chunk is there, without reading the rest.
async fn first_chunk(mut form: Multipart) -> Result<Json<Value>, Rejection> {
    let mut file = form.file("file").await?;
    let first = file.chunk().await?.map_or(0, |c| c.len());
    Ok(Json(json!({ "first": first })))
}

fn app() -> App {
    App::new()
        .post("/files", upload)
        .body_limit(LIMIT)
        .multipart_files(&["file"])
        .post("/first", first_chunk)
        .body_limit(64 * 1024 * 1024)
}

fn part_head(name: &str, filename: &str, ct: &str) -> String {
    format!(
        "--BOUND\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
         Content-Type: {ct}\r\n\r\n"
    )
}

fn multipart(parts: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, filename, data) in parts {
        out.extend_from_slice(part_head(name, filename, "application/octet-stream").as_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"--BOUND--\r\n");
    out
}

fn checksum(data: &[u8]) -> u64 {
    data.iter()
        .fold(0u64, |s, b| s.wrapping_mul(31).wrapping_add(u64::from(*b)))
}

#[test]
fn a_file_arrives_whole_and_other_parts_are_skipped() {
    let client = TestClient::new(app());
    // 3 MiB: twelve times the in-memory pipe, so it only passes if the handler reads while the
    // client writes.
    let data: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let body = multipart(&[("note", "n.txt", b"hi"), ("file", "big.bin", &data)]);
    let res = client
        .post("/files")
        .header("content-type", "multipart/form-data; boundary=BOUND")
        .body(&body)
        .send();
    assert_eq!(res.status.as_u16(), 201, "{}", res.text());
    let v: Value = res.json();
    assert_eq!(v["filename"], "big.bin");
    assert_eq!(v["content_type"], "application/octet-stream");
    assert_eq!(v["size"], data.len());
    assert_eq!(v["sum"], checksum(&data));
}

#[test]
fn a_missing_file_is_fastapis_422() {
    let client = TestClient::new(app());
    let res = client
        .post("/files")
        .header("content-type", "multipart/form-data; boundary=BOUND")
        .body(multipart(&[("other", "x", b"1")]))
        .send();
    assert_eq!(res.status.as_u16(), 422);
    assert_eq!(
        res.text(),
        r#"{"detail":[{"type":"missing","loc":["body","file"],"msg":"Field required","input":null}]}"#
    );
    // Not multipart at all: no parts, so the same 422.
    let res = client.post("/files").json(&json!({"file": 1})).send();
    assert_eq!(res.status.as_u16(), 422);
}

#[test]
fn over_the_limit_is_413_declared_or_chunked() {
    let client = TestClient::new(app());
    let big = vec![b'a'; LIMIT as usize + 1];
    let body = multipart(&[("file", "big.bin", &big)]);
    let res = client
        .post("/files")
        .header("content-type", "multipart/form-data; boundary=BOUND")
        .body(&body)
        .send();
    assert_eq!(res.status.as_u16(), 413);
    assert_eq!(res.text(), r#"{"detail":"Request body too large"}"#);

    let chunks: Vec<&[u8]> = body.chunks(256 * 1024).collect();
    let req = TestRequest::post("/files")
        .header("content-type", "multipart/form-data; boundary=BOUND")
        .chunks(chunks);
    let res = waitless_executor::block_on(client.server().call(req)).unwrap();
    assert_eq!(res.status, 413);
}

#[test]
fn the_handler_runs_before_the_upload_ends() {
    let client = TestClient::new(app());
    let head = part_head("file", "f.bin", "application/octet-stream");
    let declared = 32 * 1024 * 1024;
    let first = [head.as_bytes(), &[7u8; 1000]].concat();
    let request_head = format!(
        "POST /first HTTP/1.1\r\nhost: t\r\ncontent-type: multipart/form-data; boundary=BOUND\r\n\
         content-length: {declared}\r\n\r\n"
    );
    let res = waitless_executor::block_on(async {
        let mut conn = client.server().connect();
        conn.send_raw(request_head.as_bytes()).await.unwrap();
        conn.send_raw(&first).await.unwrap();
        // 32 MiB were announced and about 1 KB sent: only a streaming reader can answer now.
        conn.response(false).await.unwrap()
    });
    assert_eq!(res.status, 200);
    let v: Value = serde_json::from_slice(&res.body).unwrap();
    assert!(v["first"].as_u64().unwrap() > 0, "{v}");
}

#[test]
fn openapi_shows_the_multipart_body() {
    let doc = app().openapi();
    let body = &doc["paths"]["/files"]["post"]["requestBody"];
    assert_eq!(
        body["content"]["multipart/form-data"]["schema"],
        json!({"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}, "required": ["file"]})
    );
    assert_eq!(body["required"], true);
    assert!(doc["paths"]["/files"]["post"]["responses"]["422"].is_object());
}
