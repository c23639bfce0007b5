//! The HTTP/1.1 rules of CONTRACT.md, over real sockets.

mod support;

use std::io::Write;

use support::*;

#[test]
fn keep_alive_is_the_default_for_http11() {
    let addr = start_default();
    let mut s = connect(addr);
    for _ in 0..3 {
        s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let r = read_response(&mut s, false).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "Hello, World!");
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert_eq!(r.header("connection"), None);
        assert_standard_headers(&r);
    }
}

#[test]
fn http10_closes_unless_keep_alive_is_asked_for() {
    let addr = start_default();
    let mut s = connect(addr);
    s.write_all(b"GET /plaintext HTTP/1.0\r\n\r\n").unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(closed_by_server(&mut s));

    let mut s = connect(addr);
    for _ in 0..2 {
        s.write_all(b"GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap();
        let r = read_response(&mut s, false).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("connection"), Some("keep-alive"));
    }
}

#[test]
fn connection_close_is_honoured() {
    let addr = start_default();
    let mut s = connect(addr);
    s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.header("connection"), Some("close"));
    assert!(closed_by_server(&mut s));
}

#[test]
fn strictness_errors_answer_json_with_date_and_server_then_close() {
    let addr = start_default();
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
        let mut s = connect(addr);
        s.write_all(raw).unwrap();
        let r = read_response(&mut s, false).unwrap();
        assert_eq!(r.status, *status, "for {:?}", String::from_utf8_lossy(raw));
        assert_standard_headers(&r);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(r.text().starts_with("{\"detail\":\""), "{}", r.text());
        assert!(closed_by_server(&mut s));
        assert_alive(addr);
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let addr = start_default();
    let mut s = connect(addr);
    let mut batch = Vec::new();
    for i in 0..20 {
        batch.extend_from_slice(format!("GET /scope?i={i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        if i % 5 == 0 {
            batch.extend_from_slice(b"GET /slow?ms=5 HTTP/1.1\r\nHost: t\r\n\r\n");
        }
    }
    s.write_all(&batch).unwrap();
    for i in 0..20 {
        let r = read_response(&mut s, false).unwrap();
        assert_eq!(r.text(), format!("GET /scope /scope Http11 i={i}"));
        if i % 5 == 0 {
            assert_eq!(read_response(&mut s, false).unwrap().text(), "slept");
        }
    }
}

#[test]
fn scope_has_decoded_path_raw_path_and_query() {
    let addr = start_default();
    let r = roundtrip(
        addr,
        b"GET http://t/scope%20x?a=%20&b HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    // An unknown path: the router in TestApp sees the decoded "/scope x".
    assert_eq!(r.status, 404);
    let r = roundtrip(
        addr,
        b"POST /scope?q=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(r.text(), "POST /scope /scope Http11 q=1");
}

#[test]
fn head_gets_the_headers_of_get_and_no_body() {
    let addr = start_default();
    let mut s = connect(addr);
    s.write_all(
        b"HEAD /plaintext HTTP/1.1\r\nHost: t\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let head = read_response(&mut s, true).unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("13"));
    assert!(head.body.is_empty());
    // The next response starts right after the head: no stray body bytes in between.
    let get = read_response(&mut s, false).unwrap();
    assert_eq!(get.text(), "Hello, World!");
}

#[test]
fn content_length_and_chunked_request_bodies() {
    let addr = start_default();
    let r = roundtrip(
        addr,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world",
    );
    assert_eq!(r.text(), "hello world");

    let mut s = connect(addr);
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    s.write_all(b"5\r\nhello\r\n").unwrap();
    s.write_all(b"6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, false).unwrap().text(), "hello world");
    // The connection is reusable after a chunked body.
    s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, false).unwrap().status, 200);
}

#[test]
fn chunked_in_and_chunked_out() {
    let addr = start_default();
    let mut s = connect(addr);
    s.write_all(b"POST /echo-stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.text(), "abcdefg");

    let r = roundtrip(addr, b"GET /stream?n=3 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.text(), "part 0\npart 1\npart 2\n");

    // HTTP/1.0 cannot do chunked: the body ends with the connection.
    let r = roundtrip(addr, b"GET /stream?n=2 HTTP/1.0\r\n\r\n");
    assert_eq!(r.header("transfer-encoding"), None);
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(r.text(), "part 0\npart 1\n");
}

#[test]
fn request_body_the_app_ignores_is_drained() {
    let addr = start_default();
    let mut s = connect(addr);
    s.write_all(b"POST /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nxxxxxGET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, false).unwrap().status, 200);
    assert_eq!(
        read_response(&mut s, false).unwrap().text(),
        "Hello, World!"
    );
}

#[test]
fn invalid_chunk_size_is_400_and_close() {
    let addr = start_default();
    let mut s = connect(addr);
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n").unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.status, 400);
    assert!(closed_by_server(&mut s));
    assert_alive(addr);
}

#[test]
fn content_length_with_transfer_encoding_is_rejected_as_smuggling() {
    let addr = start_default();
    let mut s = connect(addr);
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.header("connection"), Some("close"));
    // The smuggled second request is never answered.
    assert!(closed_by_server(&mut s));
    assert_alive(addr);
}

#[test]
fn expect_100_continue_is_answered_before_the_body_is_sent() {
    let addr = start_default();
    let mut s = connect(addr);
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    // The client waits for 100 Continue before sending its body.
    let interim = read_response(&mut s, false).unwrap();
    assert_eq!(interim.status, 100);
    s.write_all(b"ping").unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "ping");
}

#[test]
fn expect_100_continue_is_not_sent_when_the_app_skips_the_body() {
    let addr = start_default();
    let mut s = connect(addr);
    s.write_all(
        b"POST /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(
        r.status, 200,
        "the final response comes without 100 Continue"
    );
    assert!(
        closed_by_server(&mut s),
        "the unread body makes the server close"
    );
}
