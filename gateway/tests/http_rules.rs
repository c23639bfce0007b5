//! The HTTP/1.1 rules of CONTRACT.md, through the server's connection code in memory
//! (`waitless_gateway::testing`: the same parser, state machine and writer as a TCP connection;
//! a socket would add nothing here). Real-socket behaviour is covered by `limits.rs`,
//! `protocol_holes.rs`, `third_party_client.rs` and `app_contract.rs`.

mod support;

use support::{TestApp, DEADLINE};
use waitless_executor::block_on;
use waitless_gateway::testing::{TestConn, TestResponse, TestServer};

type Server = TestServer<TestApp>;

fn server() -> Server {
    TestServer::new(TestApp)
}

/// Sends `raw` on a new connection and reads one response.
async fn roundtrip(server: &Server, raw: &[u8]) -> TestResponse {
    let mut c = server.connect();
    c.send_raw(raw).await.unwrap();
    c.response(raw.starts_with(b"HEAD"))
        .await
        .expect("response")
}

async fn closed_by_server(c: &mut TestConn) -> bool {
    c.closed_within(DEADLINE).await.unwrap_or(false)
}

/// The server still serves a good request on a fresh connection.
async fn assert_alive(server: &Server) {
    let r = roundtrip(server, b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!((r.status, r.text().as_str()), (200, "Hello, World!"));
}

/// Every response carries Date and Server.
fn assert_standard_headers(r: &TestResponse) {
    assert_eq!(r.header("server"), Some("waitless"), "{r:?}");
    let date = r.header("date").expect("Date header");
    assert!(
        date.ends_with(" GMT") && date.len() == 29,
        "bad Date {date:?}"
    );
}

#[test]
fn keep_alive_is_the_default_for_http11() {
    block_on(async {
        let server = server();
        let mut s = server.connect();
        for _ in 0..3 {
            s.send_raw(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
                .await
                .unwrap();
            let r = s.response(false).await.unwrap();
            assert_eq!(r.status, 200);
            assert_eq!(r.text(), "Hello, World!");
            assert_eq!(r.header("content-type"), Some("text/plain"));
            assert_eq!(r.header("connection"), None);
            assert_standard_headers(&r);
        }
    });
}

#[test]
fn http10_closes_unless_keep_alive_is_asked_for() {
    block_on(async {
        let server = server();
        let mut s = server.connect();
        s.send_raw(b"GET /plaintext HTTP/1.0\r\n\r\n")
            .await
            .unwrap();
        let r = s.response(false).await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("connection"), Some("close"));
        assert!(closed_by_server(&mut s).await);

        let mut s = server.connect();
        for _ in 0..2 {
            s.send_raw(b"GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                .await
                .unwrap();
            let r = s.response(false).await.unwrap();
            assert_eq!(r.status, 200);
            assert_eq!(r.header("connection"), Some("keep-alive"));
        }
    });
}

#[test]
fn connection_close_is_honoured() {
    block_on(async {
        let server = server();
        let mut s = server.connect();
        s.send_raw(b"GET /plaintext HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let r = s.response(false).await.unwrap();
        assert_eq!(r.header("connection"), Some("close"));
        assert!(closed_by_server(&mut s).await);
    });
}

#[test]
fn strictness_errors_answer_json_with_date_and_server_then_close() {
    block_on(async {
        let server = server();
        let cases: &[(&[u8], u16)] = &[
            (b"GET /plaintext HTTP/1.1\r\n\r\n", 400), // no Host
            (b"GET /plaintext HTTP/1.1\r\nHost : t\r\n\r\n", 400), // space before colon
            (b"GET /plaintext HTTP/2.0\r\nHost: t\r\n\r\n", 505), // version
            (b"GET /plaintext HTTP/1.1 extra\r\nHost: t\r\n\r\n", 400), // bad request line
            (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400), // TLS hello on plain HTTP
            (
                b"GET /x HTTP/1.1\r\nHost: t\r\nBad\x01Header: v\r\n\r\n",
                400,
            ),
        ];
        for (raw, status) in cases {
            let mut s = server.connect();
            s.send_raw(raw).await.unwrap();
            let r = s.response(false).await.unwrap();
            assert_eq!(r.status, *status, "for {:?}", String::from_utf8_lossy(raw));
            assert_standard_headers(&r);
            assert_eq!(r.header("content-type"), Some("application/json"));
            assert!(r.text().starts_with("{\"detail\":\""), "{}", r.text());
            assert!(closed_by_server(&mut s).await);
            assert_alive(&server).await;
        }
    });
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    block_on(async {
        let server = server();
        let mut s = server.connect();
        let mut batch = Vec::new();
        for i in 0..20 {
            batch.extend_from_slice(
                format!("GET /scope?i={i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
            );
            if i % 5 == 0 {
                batch.extend_from_slice(b"GET /slow?ms=5 HTTP/1.1\r\nHost: t\r\n\r\n");
            }
        }
        s.send_raw(&batch).await.unwrap();
        for i in 0..20 {
            let r = s.response(false).await.unwrap();
            assert_eq!(r.text(), format!("GET /scope /scope Http11 i={i}"));
            if i % 5 == 0 {
                assert_eq!(s.response(false).await.unwrap().text(), "slept");
            }
        }
    });
}

#[test]
fn scope_has_decoded_path_raw_path_and_query() {
    block_on(async {
        let server = server();
        let r = roundtrip(
            &server,
            b"GET http://t/scope%20x?a=%20&b HTTP/1.1\r\nHost: t\r\n\r\n",
        )
        .await;
        // An unknown path: the router in TestApp sees the decoded "/scope x".
        assert_eq!(r.status, 404);
        let r = roundtrip(
            &server,
            b"POST /scope?q=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
        )
        .await;
        assert_eq!(r.text(), "POST /scope /scope Http11 q=1");
    });
}

#[test]
fn head_gets_the_headers_of_get_and_no_body() {
    block_on(async {
        let server = server();
        let mut s = server.connect();
        s.send_raw(
        b"HEAD /plaintext HTTP/1.1\r\nHost: t\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n",
    ).await.unwrap();
        let head = s.response(true).await.unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.header("content-length"), Some("13"));
        assert!(head.body.is_empty());
        // The next response starts right after the head: no stray body bytes in between.
        let get = s.response(false).await.unwrap();
        assert_eq!(get.text(), "Hello, World!");
    });
}

#[test]
fn content_length_and_chunked_request_bodies() {
    block_on(async {
        let server = server();
        let r = roundtrip(
            &server,
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world",
        )
        .await;
        assert_eq!(r.text(), "hello world");

        let mut s = server.connect();
        s.send_raw(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await
            .unwrap();
        s.send_raw(b"5\r\nhello\r\n").await.unwrap();
        s.send_raw(b"6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(s.response(false).await.unwrap().text(), "hello world");
        // The connection is reusable after a chunked body.
        s.send_raw(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(s.response(false).await.unwrap().status, 200);
    });
}

#[test]
fn chunked_in_and_chunked_out() {
    block_on(async {
        let server = server();
        let mut s = server.connect();
        s.send_raw(b"POST /echo-stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n").await.unwrap();
        let r = s.response(false).await.unwrap();
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        assert_eq!(r.text(), "abcdefg");

        let r = roundtrip(&server, b"GET /stream?n=3 HTTP/1.1\r\nHost: t\r\n\r\n").await;
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        assert_eq!(r.text(), "part 0\npart 1\npart 2\n");

        // HTTP/1.0 cannot do chunked: the body ends with the connection.
        let r = roundtrip(&server, b"GET /stream?n=2 HTTP/1.0\r\n\r\n").await;
        assert_eq!(r.header("transfer-encoding"), None);
        assert_eq!(r.header("connection"), Some("close"));
        assert_eq!(r.text(), "part 0\npart 1\n");
    });
}

#[test]
fn request_body_the_app_ignores_is_drained() {
    block_on(async {
        let server = server();
        let mut s = server.connect();
        s.send_raw(b"POST /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nxxxxxGET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
        assert_eq!(s.response(false).await.unwrap().status, 200);
        assert_eq!(s.response(false).await.unwrap().text(), "Hello, World!");
    });
}

#[test]
fn invalid_chunk_size_is_400_and_close() {
    block_on(async {
        let server = server();
        let mut s = server.connect();
        s.send_raw(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n").await.unwrap();
        let r = s.response(false).await.unwrap();
        assert_eq!(r.status, 400);
        assert!(closed_by_server(&mut s).await);
        assert_alive(&server).await;
    });
}

#[test]
fn content_length_with_transfer_encoding_is_rejected_as_smuggling() {
    block_on(async {
        let server = server();
        let mut s = server.connect();
        s.send_raw(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n",
    ).await.unwrap();
        let r = s.response(false).await.unwrap();
        assert_eq!(r.status, 400);
        assert_eq!(r.header("connection"), Some("close"));
        // The smuggled second request is never answered.
        assert!(closed_by_server(&mut s).await);
        assert_alive(&server).await;
    });
}

#[test]
fn expect_100_continue_is_answered_before_the_body_is_sent() {
    block_on(async {
        let server = server();
        let mut s = server.connect();
        s.send_raw(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
        )
        .await
        .unwrap();
        // The client waits for 100 Continue before sending its body.
        assert_eq!(
            s.read_raw().await.unwrap(),
            b"HTTP/1.1 100 Continue\r\n\r\n"
        );
        s.send_raw(b"ping").await.unwrap();
        let r = s.response(false).await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "ping");
    });
}

#[test]
fn expect_100_continue_is_not_sent_when_the_app_skips_the_body() {
    block_on(async {
        let server = server();
        let mut s = server.connect();
        s.send_raw(
        b"POST /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    ).await.unwrap();
        let r = s.response(false).await.unwrap();
        assert_eq!(
            r.status, 200,
            "the final response comes without 100 Continue"
        );
        assert!(
            closed_by_server(&mut s).await,
            "the unread body makes the server close"
        );
    });
}
