//! Serving one request of a connection: parse its head, build the scope, body and responder,
//! call the app, then settle what the app left (an error response, an unread body, a panic).
//!
//! Why the call is polled in place: the app's future borrows the scope, body and response state
//! that live in this function's frame, so it is pinned where it is built and polled under
//! `catch_unwind` directly — no boxing, no wrapper to move the request state into.

use std::any::Any;
use std::borrow::Cow;
use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::task::Poll;
use std::time::Instant;

use super::buffers::{Buffers, MIN_BODY_ROOM};
use super::conn::Conn;
use super::proxy;
use crate::h1::parse::{parse_head, BodyFraming, Head, Reject};
use crate::h1::response::push_error;
use crate::interface::body::{fully_buffered, BodyState, Exchange, Expect, Framing};
use crate::interface::responder::{Phase, ResponseState};
use crate::interface::scope::{method_str, path_text, Authority, Headers, Scheme, ScopeKind};
use crate::interface::{App, Body, Request, Responder, Scope};

/// What the connection does after one request.
pub(crate) enum Step {
    /// Served; look for the next request in the buffer.
    Continue,
    /// No complete head is buffered.
    NeedMore,
    /// Flush and close.
    Close,
}

impl<A: App> Conn<A> {
    /// Parses and serves the request at `start`, if its head is complete.
    pub(crate) async fn one_request(&mut self) -> Step {
        let head = match self.parse() {
            Ok(head) => head,
            Err(step) => return step,
        };
        let Some(bufs) = self.bufs.as_mut() else {
            return Step::Close;
        };
        if head.expect_continue && !bufs.write.is_empty() {
            // Keep `100 Continue` behind every earlier response of the batch.
            if self.io.write_all(&bufs.write).await.is_err() {
                return Step::Close;
            }
            bufs.write.clear();
        }
        let step = self.call(&head).await;
        self.fresh = false;
        self.worker.request_served();
        let Some(bufs) = self.bufs.as_mut() else {
            return Step::Close;
        };
        let high_water = bufs.write.len() >= self.worker.config.write_high_water;
        if matches!(step, Step::Continue) && high_water {
            // Backpressure: a client that pipelines without reading gets its responses written
            // (waiting for it to read) before any more of its requests are parsed.
            if self.io.write_all(&bufs.write).await.is_err() {
                return Step::Close;
            }
            bufs.write.clear();
        }
        step
    }

    /// Parses the head at `start`; makes room for its body. `Err` is the step to take instead.
    fn parse(&mut self) -> Result<Head, Step> {
        let cfg = &self.worker.config;
        let Some(bufs) = self.bufs.as_mut() else {
            return Err(Step::Close);
        };
        if self.start == self.end {
            return Err(Step::NeedMore);
        }
        let Buffers {
            read, write, spans, ..
        } = &mut **bufs;
        let parsed = parse_head(
            &read[self.start..self.end],
            cfg.max_head_size,
            cfg.max_headers,
            spans,
        );
        let head = match parsed {
            Ok(Some(head)) => head,
            Ok(None) => return Err(Step::NeedMore),
            Err(Reject { status, detail }) => {
                push_error(write, status, detail, false, &self.worker.shared.head);
                return Err(Step::Close);
            }
        };
        let no_room = read.len() - (self.start + head.len) < MIN_BODY_ROOM;
        if head.framing != BodyFraming::None && no_room {
            // A head that (nearly) fills the buffer would leave its body no room: move it to
            // the front and grow (offsets in `head` and `spans` are relative to the head). An
            // upgrade offer does not grow it: after a `101` the protocol's codec asks for more
            // when a frame needs it (`UpgradedReader::reserve`), so an idle WebSocket keeps 8 KiB.
            let max = self.worker.pool.max_read_size;
            (self.start, self.end) = bufs.grow_read(self.start, self.end, max);
        }
        Ok(head)
    }

    /// Calls the app for `head` and settles the outcome.
    async fn call(&mut self, head: &Head) -> Step {
        let worker = &*self.worker;
        let cfg = &worker.config;
        let Some(bufs) = self.bufs.as_mut() else {
            return Step::Close;
        };
        let Buffers {
            read,
            write,
            scratch,
            spans,
        } = &mut **bufs;
        let log_access =
            cfg.access_log && log::log_enabled!(target: "waitless::access", log::Level::Info);
        let started = log_access.then(Instant::now);
        let head_end = self.start + head.len;
        let framing = match head.framing {
            BodyFraming::None => Framing::Empty,
            BodyFraming::Length(n) => Framing::Length(n),
            BodyFraming::Chunked => Framing::Chunked(Default::default()),
        };
        let exchange = Exchange {
            expect: Cell::new(if head.expect_continue {
                Expect::Pending
            } else {
                Expect::None
            }),
            body_done: Cell::new(matches!(framing, Framing::Empty)),
            body_buffered: fully_buffered(&framing, &read[head_end..self.end]),
        };
        let mut body_state = BodyState::new(
            framing,
            self.end - head_end,
            cfg.max_body_size,
            cfg.body_read_timeout,
        );
        let (head_part, rest) = read.split_at_mut(head_end);
        let head_bytes = &head_part[self.start..];
        let method = slice(head_bytes, head.method);
        let head_only = method == b"HEAD";
        let close = head.close || worker.shared.shutdown.is_started();
        let mut resp_state = ResponseState::new(
            head.version,
            head_only,
            close,
            head.keep_alive_10,
            head.upgrade,
        );
        let headers = Headers {
            head: head_bytes,
            spans,
        };
        let (client, mut scheme) = if head.forwarded && self.proxy_trusted {
            proxy::resolve(self.peer, headers, &cfg.forwarded_allow_ips)
        } else {
            (self.peer, Scheme::Http)
        };
        if self.secure {
            scheme = Scheme::Https;
        }
        let raw_path = match slice(head_bytes, head.path) {
            b"" => b"/", // absolute-form with an empty path
            path => path,
        };
        let scope = Scope {
            kind: if head.websocket && method == b"GET" {
                ScopeKind::WebSocket
            } else {
                ScopeKind::Http
            },
            version: head.version,
            method: method_str(method),
            scheme,
            path: path_text(raw_path, head.escaped),
            raw_path,
            query_string: slice(head_bytes, head.query),
            authority: Authority(slice(head_bytes, head.host)),
            headers,
            client,
            shared: &worker.shared,
        };
        let request = Request {
            scope,
            body: Body {
                state: &mut body_state,
                buf: &mut *rest,
                io: &self.io,
                exchange: &exchange,
            },
        };
        let responder = Responder {
            out: &mut *write,
            scratch: &mut *scratch,
            io: &self.io,
            state: &mut resp_state,
            shared: &worker.shared,
            exchange: &exchange,
        };
        let outcome = {
            let mut call = pin!(worker.app.call(request, responder));
            poll_fn(|cx| {
                match std::panic::catch_unwind(AssertUnwindSafe(|| call.as_mut().poll(cx))) {
                    Ok(Poll::Pending) => Poll::Pending,
                    Ok(Poll::Ready(())) => Poll::Ready(Ok(())),
                    Err(panic) => Poll::Ready(Err(panic)),
                }
            })
            .await
        };

        let what = || {
            (
                String::from_utf8_lossy(method),
                String::from_utf8_lossy(slice(head_bytes, head.path)),
            )
        };
        let settled = Settle {
            resp: &mut resp_state,
            body: &body_state,
            write,
            worker,
            head_only,
        };
        let mut step = settled.outcome(outcome, what);
        if matches!(step, Step::Continue) && !body_state.done {
            // The response said keep-alive only if the rest of the body is already buffered
            // (see `Responder::decide_close`): skip it without waiting.
            if exchange.expect.get() != Expect::None || !body_state.skip_buffered(rest) {
                step = Step::Close;
            }
        }
        if let Some(t0) = started {
            let (m, p) = what();
            log::info!(
                target: "waitless::access",
                "{} - \"{m} {p} HTTP/{}\" {} {:.1}ms",
                ClientDisplay(client),
                head.version.as_str(),
                resp_state.status,
                t0.elapsed().as_secs_f64() * 1000.0
            );
        }
        self.start = head_end + body_state.pos;
        self.end = head_end + body_state.filled;
        step
    }
}

/// What the server does with the state the app left behind.
struct Settle<'s, A> {
    resp: &'s mut ResponseState,
    body: &'s BodyState,
    write: &'s mut Vec<u8>,
    worker: &'s super::worker::Worker<A>,
    head_only: bool,
}

impl<A> Settle<'_, A> {
    fn outcome<'m>(
        self,
        outcome: Result<(), Box<dyn Any + Send>>,
        what: impl Fn() -> (Cow<'m, str>, Cow<'m, str>),
    ) -> Step {
        let head = &self.worker.shared.head;
        if let Err(panic) = outcome {
            let msg = panic
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("<non-string panic>");
            let (m, p) = what();
            log::error!("waitless: exception in app for {m} {p}: {msg}");
            if self.resp.phase == Phase::NotStarted {
                push_error(
                    self.write,
                    500,
                    "Internal Server Error",
                    self.head_only,
                    head,
                );
                self.resp.status = 500;
            }
            return Step::Close;
        }
        match self.resp.phase {
            Phase::Done if self.resp.close => Step::Close,
            Phase::Done => Step::Continue,
            Phase::NotStarted => {
                let (status, detail) = match self.body.error {
                    Some(e) => (e.status(), e.detail()),
                    None => (500, "Internal Server Error"),
                };
                if status == 500 {
                    let (_, p) = what();
                    log::error!("waitless: app returned without a response for {p}");
                }
                push_error(self.write, status, detail, self.head_only, head);
                self.resp.status = status;
                Step::Close
            }
            // Returned in the middle of a streamed response: the framing cannot be completed.
            // After an upgrade the connection was the app's: it ends with `call`.
            Phase::Streaming { .. } | Phase::Upgraded => Step::Close,
        }
    }
}

/// The client part of an access-log line.
struct ClientDisplay(Option<std::net::SocketAddr>);

impl std::fmt::Display for ClientDisplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(addr) => addr.fmt(f),
            None => f.write_str("-"),
        }
    }
}

fn slice(buf: &[u8], (a, b): (u32, u32)) -> &[u8] {
    &buf[a as usize..b as usize]
}
