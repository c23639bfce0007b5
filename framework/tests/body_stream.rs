//! `BodyStream`: the raw body reaches the handler chunk by chunk while it arrives, within the
//! route's limit.

use waitless::{App, BodyStream, BodyStreamError, TestClient};
use waitless_executor::block_on;
use waitless_gateway::testing::TestRequest;

async fn count(mut body: BodyStream) -> Result<String, BodyStreamError> {
    let mut n = 0usize;
    while let Some(chunk) = body.chunk().await? {
        n += chunk.len();
    }
    Ok(n.to_string())
}

async fn first_only(mut body: BodyStream) -> Result<String, BodyStreamError> {
    let first = body.chunk().await?.unwrap_or_default();
    Ok(String::from_utf8_lossy(&first).into_owned())
}

fn app() -> App {
    App::new()
        .post("/count", count)
        .body_limit(4 << 20)
        .post("/small", count)
        .post("/first", first_only)
}

#[test]
fn a_large_body_streams_within_the_route_limit() {
    let client = TestClient::new(app());
    let big = vec![b'x'; 3 << 20];
    let res = client.post("/count").body(big.clone()).send();
    assert_eq!(
        (res.status.as_u16(), res.text()),
        (200, (3 << 20).to_string())
    );
    // The default limit (1 MiB): refused from the declared length, before the handler runs.
    let res = client.post("/small").body(big).send();
    assert_eq!(res.status.as_u16(), 413);
}

#[test]
fn a_chunked_body_over_the_limit_fails_the_read() {
    let client = TestClient::new(app());
    block_on(async {
        let req =
            TestRequest::post("/small").chunks([vec![b'y'; 700 << 10], vec![b'y'; 700 << 10]]);
        let res = client.server().call(req).await.unwrap();
        assert_eq!(res.status, 413);
        assert_eq!(res.text(), r#"{"detail":"Request body too large"}"#);
    });
}

#[test]
fn the_handler_sees_the_first_chunk_before_the_body_ends() {
    let client = TestClient::new(app());
    block_on(async {
        let mut conn = client.server().connect();
        // Head and first chunk only: a handler that buffered the body would never answer.
        conn.send_raw(
            b"POST /first HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        )
        .await
        .unwrap();
        let res = conn.response(false).await.unwrap();
        assert_eq!((res.status, res.text().as_str()), (200, "hello"));
        // The rest never came: the server closes after answering.
        assert_eq!(res.header("connection"), Some("close"));
    });
}
