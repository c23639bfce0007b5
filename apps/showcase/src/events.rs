//! `GET /events?n=5&interval_ms=100`: a server-sent event stream, one `data: {i}` per tick.
//!
//! Why: another face of "기다리는 동안 다른 요청 처리" (serve others while waiting). Between two
//! events the stream waits on the reactor's timer, not on a thread: a worker holds thousands of
//! open streams and still answers `/healthz` at once. The index page's ticker reads it with the
//! browser's `EventSource`.

use std::time::Duration;

use futures_lite::{stream, StreamExt};
use schemars::JsonSchema;
use serde::Deserialize;
use waitless::{Event, Query, Sse};

/// `?n=5&interval_ms=100`: how many events, how far apart.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Ticks {
    #[serde(default = "default_n")]
    #[schemars(range(max = 1000))]
    pub n: u32,
    #[serde(default = "default_interval")]
    #[schemars(range(max = 10_000))]
    pub interval_ms: u64,
}

fn default_n() -> u32 {
    5
}

fn default_interval() -> u64 {
    100
}

/// `GET /events`: `n` events `data: 0` … `data: n-1`, `interval_ms` apart (the first at once).
pub async fn events(Query(ticks): Query<Ticks>) -> Sse {
    let interval = Duration::from_millis(ticks.interval_ms);
    let events = stream::iter(0..ticks.n).then(move |i| async move {
        if i > 0 {
            waitless_reactor::sleep(interval).await;
        }
        Event::data(i.to_string())
    });
    Sse::new(events)
}
