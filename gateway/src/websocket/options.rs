//! The knobs of one WebSocket endpoint, with the defaults the contract names.

use std::time::Duration;

/// Settings for [`accept`](super::accept): handshake choices and the socket's limits.
///
/// Built once per route (it owns its strings), borrowed per handshake.
#[derive(Clone, Debug)]
pub struct Options {
    /// Subprotocols the server speaks, most preferred first. The first one the client also
    /// offered in `Sec-WebSocket-Protocol` is chosen and echoed; none in common (or none
    /// offered) means no subprotocol header (RFC 6455 §4.2.2). Default: none.
    pub protocols: Vec<String>,
    /// Extra headers for the `101` response (cookies, say). `Upgrade`, `Connection` and
    /// `Sec-WebSocket-*` are the socket's.
    pub headers: Vec<(String, String)>,
    /// The largest message (and so the largest frame) accepted, in bytes; beyond it the socket
    /// sends Close 1009 and fails with `TooBig`. Default 16 MiB.
    pub max_message_size: usize,
    /// Sends a Ping when nothing arrived for this long (keep-alive, and to find dead peers).
    /// Default `None`: no pings.
    pub ping_interval: Option<Duration>,
    /// With `ping_interval`: the connection is closed (1011) when no Pong arrives this long after
    /// a Ping. Default 20 s.
    pub ping_timeout: Duration,
    /// Closes (1000, "idle timeout") when no frame arrives for this long. Default `None`.
    pub idle_timeout: Option<Duration>,
    /// How long to wait for the client's Close after sending one, before dropping the
    /// connection. Default 5 s.
    pub close_timeout: Duration,
    /// Frames queued with `feed` are written once this many bytes wait. Default 64 KiB.
    pub write_high_water: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            protocols: Vec::new(),
            headers: Vec::new(),
            max_message_size: 16 * 1024 * 1024,
            ping_interval: None,
            ping_timeout: Duration::from_secs(20),
            idle_timeout: None,
            close_timeout: Duration::from_secs(5),
            write_high_water: 64 * 1024,
        }
    }
}

/// The part of [`Options`] a socket keeps after the handshake.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_message_size: usize,
    pub(crate) ping_interval: Option<Duration>,
    pub(crate) ping_timeout: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) close_timeout: Duration,
    pub(crate) write_high_water: usize,
}

impl From<&Options> for Limits {
    fn from(o: &Options) -> Limits {
        Limits {
            max_message_size: o.max_message_size,
            ping_interval: o.ping_interval,
            ping_timeout: o.ping_timeout,
            idle_timeout: o.idle_timeout,
            close_timeout: o.close_timeout,
            write_high_water: o.write_high_water.max(1),
        }
    }
}
