//! The gateway's behaviour through `waitless_gateway::testing` (the server's connection code
//! over an in-memory pipe): everything here needs no socket to be shown.

use std::time::Duration;

use futures_lite::FutureExt;
use waitless_executor::block_on;
use waitless_gateway::testing::{TestRequest, TestServer};
use waitless_gateway::{App, BodyError, Config, Request, Responder, ResponseError, State};

/// Routes exercising the interface.
struct Api;

impl App for Api {
    async fn call(&self, mut req: Request<'_>, mut res: Responder<'_>) {
        let text = [("content-type", "text/plain")];
        let query = String::from_utf8_lossy(req.scope.query_string).into_owned();
        let _ = match req.scope.path.as_ref() {
            "/echo" => match req.body.to_vec().await {
                Ok(body) => res.send(200, &text, &body),
                Err(e) => res.send(e.status(), &text, e.to_string().as_bytes()),
            },
            "/upload" => {
                // A route that accepts more than the server's default body limit.
                req.body.set_limit(query.parse().unwrap_or(0));
                let mut total = 0usize;
                loop {
                    match req.body.chunk().await {
                        Ok(Some(c)) => total += c.len(),
                        Ok(None) => break,
                        Err(BodyError::TooLarge { limit }) => {
                            let _ = res.send(413, &text, format!("over {limit}").as_bytes());
                            return;
                        }
                        Err(e) => {
                            let _ = res.send(e.status(), &text, b"");
                            return;
                        }
                    }
                }
                res.send(200, &text, total.to_string().as_bytes())
            }
            "/read-only" => {
                // Reads but never answers: the server answers for the body error.
                let _ = req.body.to_vec().await;
                Ok(())
            }
            "/host" => res.send(200, &text, req.scope.host().as_bytes()),
            "/bytes-header" => res.send(200, &[("x-raw", &b"caf\xc3\xa9"[..])], b""),
            "/ctl-header" => {
                let bad = res.send(200, &[("x-bad", "a\x01b")], b"");
                let status = match bad {
                    Err(ResponseError::InvalidHeader(_)) => 500,
                    _ => 200,
                };
                res.send(status, &text, b"ctl refused")
            }
            "/interim" => {
                let refused = matches!(
                    res.send(100, &text, b""),
                    Err(ResponseError::InvalidStatus(100))
                ) && matches!(
                    res.send(101, &text, b""),
                    Err(ResponseError::InvalidStatus(101))
                );
                res.send(200, &text, if refused { b"refused" } else { b"sent" })
            }
            "/buffered" => {
                // Three writes, one flush: nothing reaches the client before the flush.
                let _ = res.start(200, &text);
                for part in [&b"a"[..], b"b", b"c"] {
                    let _ = res.write(part).await;
                }
                let _ = res.flush().await;
                // Hold the response open until the client has seen the flushed part.
                waitless_reactor::sleep(Duration::from_millis(query.parse().unwrap_or(0))).await;
                let _ = res.write(b"d").await;
                res.finish().await
            }
            "/until-shutdown" => {
                let _ = res.start(200, &text);
                let _ = res.write(b"open;").await;
                let _ = res.flush().await;
                req.scope.shutdown().wait().await;
                let _ = res.write(b"bye").await;
                res.finish().await
            }
            _ => res.send(404, &text, b"not found"),
        };
    }
}

fn config() -> Config {
    Config {
        access_log: false,
        ..Config::default()
    }
}

#[test]
fn per_route_body_limit_moves_the_413_into_the_read() {
    block_on(async {
        let server = TestServer::with_config(Api, config(), State::new());
        let two_mib = vec![b'x'; 2 << 20];
        // The default 1 MiB would refuse it; this route raised its limit to 3 MiB.
        let r = server
            .call(TestRequest::post(&format!("/upload?{}", 3 << 20)).body(&two_mib))
            .await
            .unwrap();
        assert_eq!((r.status, r.text()), (200, (2 << 20).to_string()));
        // Lowered to 1 KiB: the declared length fails the first read, before 100-continue.
        let r = server
            .call(
                TestRequest::post("/upload?1024")
                    .header("expect", "100-continue")
                    .body(&two_mib[..2048]),
            )
            .await
            .unwrap();
        assert_eq!((r.status, r.text().as_str()), (413, "over 1024"));
        assert!(r.interim.is_empty(), "no 100 Continue for a refused body");
        // A chunked body fails as it grows past the limit; an app that does not answer gets
        // the server's 413.
        let r = server
            .call(
                TestRequest::post("/read-only")
                    .chunks([vec![b'y'; 700 << 10], vec![b'y'; 700 << 10]]),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 413);
        assert_eq!(r.header("connection"), Some("close"));
    });
}

#[test]
fn expect_continue_is_answered_on_the_first_read() {
    block_on(async {
        let server = TestServer::new(Api);
        let mut conn = server.connect();
        conn.send_raw(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
        )
        .await
        .unwrap();
        // The client waits for the invitation before sending the body.
        assert_eq!(
            conn.read_raw().await.unwrap(),
            b"HTTP/1.1 100 Continue\r\n\r\n"
        );
        conn.send_raw(b"ping").await.unwrap();
        let r = conn.response(false).await.unwrap();
        assert_eq!((r.status, r.text().as_str()), (200, "ping"));
        // A body sent along with the head is simply read: no 100 Continue is due.
        let r = server
            .call(
                TestRequest::post("/echo")
                    .header("expect", "100-continue")
                    .body("pong"),
            )
            .await
            .unwrap();
        assert_eq!((r.interim.len(), r.text().as_str()), (0, "pong"));
    });
}

#[test]
fn expect_continue_without_a_body_keeps_the_connection() {
    // RFC 9110 §10.1.1: a client must not send the expectation without content; hyper ignores
    // it there, and so do we (found by the differential fuzz target: we closed the connection).
    block_on(async {
        let server = TestServer::new(Api);
        let mut conn = server.connect();
        conn.send_raw(
            b"GET /host HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n\r\nGET /host HTTP/1.1\r\nHost: u\r\n\r\n",
        )
        .await
        .unwrap();
        let first = conn.response(false).await.unwrap();
        assert_eq!((first.status, first.text().as_str()), (200, "t"));
        assert_eq!(first.header("connection"), None);
        let second = conn.response(false).await.unwrap();
        assert_eq!((second.status, second.text().as_str()), (200, "u"));
    });
}

#[test]
fn response_header_values_are_bytes_without_control_characters() {
    block_on(async {
        let server = TestServer::new(Api);
        let r = server
            .call(TestRequest::get("/bytes-header"))
            .await
            .unwrap();
        assert_eq!(r.header_all("x-raw"), vec![&b"caf\xc3\xa9"[..]]);
        let r = server.call(TestRequest::get("/ctl-header")).await.unwrap();
        assert_eq!(r.status, 500, "a value with \\x01 must be refused");
    });
}

#[test]
fn interim_statuses_are_refused_as_final() {
    block_on(async {
        let r = TestServer::new(Api)
            .call(TestRequest::get("/interim"))
            .await
            .unwrap();
        assert_eq!(
            (r.status, r.text().as_str(), r.interim.len()),
            (200, "refused", 0)
        );
    });
}

#[test]
fn the_uri_authority_wins_over_host() {
    block_on(async {
        let server = TestServer::new(Api);
        let r = server
            .call(TestRequest::get("http://api.example:8080/host").header("host", "other"))
            .await
            .unwrap();
        assert_eq!(r.text(), "api.example:8080");
        let r = server
            .call(TestRequest::get("/host").header("host", "h.example"))
            .await
            .unwrap();
        assert_eq!(r.text(), "h.example");
    });
}

#[test]
fn streamed_writes_are_buffered_until_flush() {
    block_on(async {
        let server = TestServer::new(Api);
        let mut conn = server.connect();
        conn.send(&TestRequest::get("/buffered?50")).await.unwrap();
        let mut s = conn.streaming_response(false).await.unwrap();
        let mut seen = Vec::new();
        while seen.len() < 3 {
            seen.extend(s.chunk().await.unwrap().unwrap());
        }
        assert_eq!(seen, b"abc");
        let conn = s.into_conn();
        // The head and three chunks went out in one write: the explicit flush.
        assert_eq!(conn.server_writes(), 1);
    });
}

#[test]
fn long_handlers_hear_the_shutdown_signal_and_lifespan_runs() {
    struct Life;
    struct Started;
    impl App for Life {
        async fn call(&self, req: Request<'_>, res: Responder<'_>) {
            assert!(req.scope.state().get::<Started>().is_some());
            Api.call(req, res).await
        }
        async fn startup(&self, state: &mut State) -> Result<(), waitless_gateway::LifespanError> {
            state.insert(Started);
            Ok(())
        }
    }
    block_on(async {
        let server = TestServer::start(Life, config()).await.unwrap();
        let mut s = server
            .call_streaming(TestRequest::get("/until-shutdown"))
            .await
            .unwrap();
        assert_eq!(s.chunk().await.unwrap().unwrap(), b"open;");
        assert_eq!(server.open_connections(), 1);
        let done = async {
            assert!(server.shutdown().await, "every connection closed in time");
        };
        let read = async {
            let rest = s.rest().await.unwrap();
            assert_eq!(rest, b"bye");
        };
        futures_lite::future::zip(done, read).await;
        assert_eq!(server.open_connections(), 0);
    });
}

#[test]
fn body_read_timeout_answers_408_and_closes() {
    block_on(async {
        let cfg = Config {
            body_read_timeout: Duration::from_millis(100),
            ..config()
        };
        let server = TestServer::with_config(Api, cfg, State::new());
        let mut conn = server.connect();
        // A declared megabyte, then silence.
        conn.send_raw(
            b"POST /read-only HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n\r\nsome",
        )
        .await
        .unwrap();
        let r = conn.response(false).await.unwrap();
        assert_eq!(r.status, 408);
        assert_eq!(r.header("connection"), Some("close"));
        assert!(conn.closed_within(Duration::from_secs(5)).await.unwrap());
    });
}

#[test]
fn a_client_that_stops_reading_is_closed_after_the_send_timeout() {
    block_on(async {
        let cfg = Config {
            send_timeout: Duration::from_millis(100),
            ..config()
        };
        let server = TestServer::with_config(Api, cfg, State::new()).pipe_capacity(16 * 1024);
        let mut conn = server.connect();
        // Pipelined requests whose responses are never read: the pipe back fills up.
        let one = b"GET /host HTTP/1.1\r\nHost: a-long-enough-host-name.example\r\n\r\n";
        let many: Vec<u8> = one.iter().copied().cycle().take(one.len() * 2000).collect();
        let send = async {
            // Blocks once the server stops reading (it is stuck writing); ends when it closes.
            let _ = conn.send_raw(&many).await;
        };
        let closed = async {
            waitless_reactor::sleep(Duration::from_secs(5)).await;
            panic!("the connection was not closed");
        };
        send.or(closed).await;
        // What the server wrote before giving up is still readable, then the end of stream.
        let written = conn.read_to_end().await.unwrap();
        assert!(written.starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert_eq!(server.open_connections(), 0);
    });
}

#[test]
fn disconnected_notices_a_hang_up_even_with_a_full_read_buffer() {
    use std::cell::RefCell;
    use waitless_executor::channel::oneshot;

    struct Watch(RefCell<Option<oneshot::Sender<()>>>);
    impl App for Watch {
        async fn call(&self, mut req: Request<'_>, mut res: Responder<'_>) {
            let _ = res.start(200, &[("content-type", "text/plain")]);
            let _ = res.write(b"watching").await;
            let _ = res.flush().await;
            req.body.disconnected().await;
            if let Some(tx) = self.0.borrow_mut().take() {
                let _ = tx.send(());
            }
        }
    }
    block_on(async {
        let (tx, gone) = oneshot::channel();
        let server = TestServer::new(Watch(RefCell::new(Some(tx))));
        let mut conn = server.connect();
        conn.send(&TestRequest::get("/watch")).await.unwrap();
        let mut s = conn.streaming_response(false).await.unwrap();
        assert_eq!(s.chunk().await.unwrap().unwrap(), b"watching");
        let mut conn = s.into_conn();
        // More than the read buffer holds (a client pipelining while the stream runs), then
        // the hang-up: it sits behind bytes the server cannot read yet.
        conn.send_raw(&vec![b'x'; 64 * 1024]).await.unwrap();
        conn.close_write();
        let noticed = async { gone.await.is_ok() };
        let timeout = async {
            waitless_reactor::sleep(Duration::from_secs(5)).await;
            false
        };
        assert!(noticed.or(timeout).await, "the hang-up went unnoticed");
    });
}

#[test]
fn a_body_behind_a_nearly_full_head_is_not_read_a_few_bytes_at_a_time() {
    block_on(async {
        let cfg = Config {
            max_body_size: 2 << 20,
            ..config()
        };
        let server = TestServer::with_config(Api, cfg, State::new());
        // An 8,191-byte head leaves one byte of an 8 KiB buffer for a 1 MiB body: the first
        // round read that body one byte per syscall.
        let start = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\nX-Pad: ";
        let head = format!("{start}{}\r\n\r\n", "p".repeat(8191 - start.len() - 4));
        assert_eq!(head.len(), 8191);
        let mut conn = server.connect();
        let body = vec![b'b'; 1 << 20];
        let send = async {
            conn.send_raw(head.as_bytes()).await.unwrap();
            conn.send_raw(&body).await.unwrap();
        };
        send.await;
        let r = conn.response(false).await.unwrap();
        assert_eq!((r.status, r.body.len()), (200, 1 << 20));
        // 1 MiB through a buffer of at least 4 KiB is at most 256 reads (plus the head's).
        assert!(conn.server_reads() < 300, "{} reads", conn.server_reads());
    });
}
