//! Opening blocking connections with bounded waits, and the backoff between failed attempts.
//!
//! Every connection of the tier has a connect, read and write timeout: a broker that stops
//! answering (restarted, partitioned, paused) must turn into an error in bounded time, never a
//! thread stuck in `read` forever.

use std::time::Duration;

use ::redis::{Client, Connection, RedisError, RedisResult};

use super::wire::Keys;
use crate::PoolError;

/// A client for `url`, checked for syntax only (no connection yet).
pub(crate) fn client(url: &str) -> Result<Client, PoolError> {
    Client::open(url).map_err(|e| PoolError::Broker(format!("{url}: {e}")))
}

/// One connection whose reads may block up to `read` (plus the connect timeout as margin).
pub(crate) fn open(client: &Client, connect: Duration, read: Duration) -> RedisResult<Connection> {
    let conn = client.get_connection_with_timeout(connect)?;
    conn.set_read_timeout(Some(read + connect))?;
    conn.set_write_timeout(Some(connect))?;
    Ok(conn)
}

/// Creates the queue's consumer group (and the stream) unless it exists.
///
/// The group starts at `0`, not `$`: jobs submitted before the first worker ever started (or
/// after a broker restart wiped the group) are still delivered.
pub(crate) fn ensure_group(conn: &mut Connection, keys: &Keys) -> RedisResult<()> {
    let created: RedisResult<()> = ::redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&keys.stream)
        .arg(&keys.group)
        .arg("0")
        .arg("MKSTREAM")
        .query(conn);
    match created {
        Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
        other => other,
    }
}

/// Whether `e` says the group (or its stream) is gone, e.g. after the broker restarted empty.
pub(crate) fn is_no_group(e: &RedisError) -> bool {
    e.code() == Some("NOGROUP")
}

/// Delays between reconnection attempts: 50 ms doubling to 1 s.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(50);
    const MAX: Duration = Duration::from_secs(1);

    pub(crate) fn new() -> Backoff {
        Backoff { next: Self::FIRST }
    }

    /// The delay to wait now; the following one doubles.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        now
    }

    pub(crate) fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}
