//! Server-Sent Events: [`Sse`] turns a stream of [`Event`]s into a `text/event-stream`
//! response (sse-starlette's `EventSourceResponse`), and [`LastEventId`] gives a handler the
//! `Last-Event-ID` a reconnecting `EventSource` sends.
//!
//! Why a helper and not `Response::stream` by hand: the framing has traps — a `data` value
//! with line breaks must become several `data:` lines (any of `\r\n`, `\r`, `\n` ends a line
//! for the browser), a line break in `event`/`id` would forge a field, proxies buffer unless
//! told not to (`X-Accel-Buffering: no`), and an idle stream needs comments to stay open
//! through proxies and to find a vanished client. Each event is flushed when produced
//! (`stream.rs` flushes whenever the next chunk is not ready), the stream ends as soon as the
//! client hangs up (`Body::disconnected`; at the latest at the next keep-alive write), and it
//! ends cleanly when the worker starts shutting down (a browser's `EventSource` reconnects).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_lite::Stream;
use waitless_reactor::Sleep;

use crate::context::RequestContext;
use crate::extract::{FromRequest, Rejection};
use crate::response::{IntoResponse, Response};

/// The default keep-alive interval (sse-starlette's `ping=15`).
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The keep-alive comment.
pub const PING: &[u8] = b": ping\n\n";

/// One server-sent event. Fields are written in sse-starlette's order: comment, `id`, `event`,
/// `data` (one line per line of the value), `retry`, then the blank line.
///
/// ```
/// use waitless::Event;
/// let e = Event::data("line 1\nline 2").event("update").id("7");
/// assert_eq!(e.to_bytes(), b"id: 7\nevent: update\ndata: line 1\ndata: line 2\n\n");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event {
    comment: Option<String>,
    id: Option<String>,
    event: Option<String>,
    data: Option<String>,
    retry: Option<Duration>,
}

impl Event {
    /// An event with `data` (`data: …` lines).
    pub fn data(data: impl Into<String>) -> Event {
        Event::default().with_data(data)
    }

    /// A comment only (`: …` lines), ignored by `EventSource`.
    pub fn comment(text: impl Into<String>) -> Event {
        Event {
            comment: Some(text.into()),
            ..Event::default()
        }
    }

    /// Sets the data.
    pub fn with_data(mut self, data: impl Into<String>) -> Event {
        self.data = Some(data.into());
        self
    }

    /// Sets the event type (`event: …`); line breaks are removed.
    pub fn event(mut self, name: impl Into<String>) -> Event {
        self.event = Some(one_line(name.into()));
        self
    }

    /// Sets the id (`id: …`), what the browser sends back as `Last-Event-ID`; line breaks are
    /// removed.
    pub fn id(mut self, id: impl Into<String>) -> Event {
        self.id = Some(one_line(id.into()));
        self
    }

    /// Sets the client's reconnection delay (`retry: <ms>`).
    pub fn retry(mut self, after: Duration) -> Event {
        self.retry = Some(after);
        self
    }

    /// The event on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::new();
        if let Some(c) = &self.comment {
            lines(&mut out, ": ", c);
        }
        if let Some(id) = &self.id {
            field(&mut out, "id: ", id);
        }
        if let Some(e) = &self.event {
            field(&mut out, "event: ", e);
        }
        if let Some(d) = &self.data {
            lines(&mut out, "data: ", d);
        }
        if let Some(r) = self.retry {
            field(&mut out, "retry: ", &r.as_millis().to_string());
        }
        out.push('\n');
        out.into_bytes()
    }
}

fn one_line(mut s: String) -> String {
    s.retain(|c| c != '\r' && c != '\n');
    s
}

fn field(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str(value);
    out.push('\n');
}

/// One `prefix` line per line of `value` (`\r\n`, `\r` and `\n` all end a line).
fn lines(out: &mut String, prefix: &str, value: &str) {
    let normalized = value.replace("\r\n", "\n").replace('\r', "\n");
    for line in normalized.split('\n') {
        field(out, prefix, line);
    }
}

/// A `text/event-stream` response from a stream of [`Event`]s (sse-starlette's
/// `EventSourceResponse`), with `Cache-Control: no-cache` and `X-Accel-Buffering: no`, and a
/// `: ping` comment after every [`keep_alive`](Self::keep_alive) interval without an event.
///
/// ```
/// use std::time::Duration;
/// use futures_lite::{stream, StreamExt};
/// use waitless::{App, Event, LastEventId, Sse, TestClient};
///
/// async fn events(LastEventId(last): LastEventId) -> Sse {
///     let start: u32 = last.and_then(|id| id.parse().ok()).map_or(0, |n: u32| n + 1);
///     let events = stream::iter(start..start + 2).map(|i| Event::data(i.to_string()).id(i.to_string()));
///     Sse::new(events).keep_alive(Duration::from_secs(5))
/// }
///
/// let client = TestClient::new(App::new().get("/events", events));
/// let res = client.get("/events").header("last-event-id", "4").send();
/// assert_eq!(res.header("content-type"), Some("text/event-stream"));
/// assert_eq!(res.text(), "id: 5\ndata: 5\n\nid: 6\ndata: 6\n\n");
/// ```
pub struct Sse {
    events: Pin<Box<dyn Stream<Item = Event>>>,
    keep_alive: Option<Duration>,
}

impl Sse {
    /// Events from `events`; keep-alive every [`DEFAULT_KEEP_ALIVE`].
    pub fn new(events: impl Stream<Item = Event> + 'static) -> Sse {
        Sse {
            events: Box::pin(events),
            keep_alive: Some(DEFAULT_KEEP_ALIVE),
        }
    }

    /// Sends a `: ping` comment after `every` without an event.
    pub fn keep_alive(mut self, every: Duration) -> Sse {
        self.keep_alive = Some(every);
        self
    }

    /// Sends no keep-alive comments.
    pub fn no_keep_alive(mut self) -> Sse {
        self.keep_alive = None;
        self
    }
}

impl IntoResponse for Sse {
    fn into_response(self) -> Response {
        let ping = self
            .keep_alive
            .map(|every| (waitless_reactor::sleep(every), every));
        let body = Framed {
            events: self.events,
            ping,
        };
        let mut res = Response::stream("text/event-stream", body)
            .with_header("cache-control", "no-cache")
            .with_header("x-accel-buffering", "no");
        res.until_shutdown = true;
        res
    }
}

/// The events as bytes, with a ping whenever the timer fires first.
struct Framed {
    events: Pin<Box<dyn Stream<Item = Event>>>,
    ping: Option<(Sleep, Duration)>,
}

impl Stream for Framed {
    type Item = Vec<u8>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Vec<u8>>> {
        let this = &mut *self;
        match this.events.as_mut().poll_next(cx) {
            Poll::Ready(Some(event)) => {
                if let Some((timer, every)) = &mut this.ping {
                    timer.reset(Instant::now() + *every);
                }
                Poll::Ready(Some(event.to_bytes()))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let Some((timer, every)) = &mut this.ping else {
                    return Poll::Pending;
                };
                if Pin::new(&mut *timer).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                timer.reset(Instant::now() + *every);
                Poll::Ready(Some(PING.to_vec()))
            }
        }
    }
}

/// The `Last-Event-ID` request header (`None` on a first connection): where a reconnecting
/// `EventSource` wants the stream to resume.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LastEventId(pub Option<String>);

impl FromRequest for LastEventId {
    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        Ok(LastEventId(req.header("last-event-id").map(str::to_owned)))
    }
}
