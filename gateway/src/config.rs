//! Server configuration: every limit and timeout, with the defaults of `CONTRACT.md`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::h1::header;
use crate::h1::response::HeadDefaults;

/// Which peers may set `X-Forwarded-For` / `X-Forwarded-Proto` (uvicorn's `--forwarded-allow-ips`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustedProxies {
    /// Trust every peer (`*`).
    Any,
    /// Trust only these addresses.
    Only(Vec<IpAddr>),
}

impl TrustedProxies {
    /// Parses a comma-separated list (`"127.0.0.1,10.0.0.1"`) or `"*"`.
    pub fn parse(list: &str) -> Result<TrustedProxies, std::net::AddrParseError> {
        if list.trim() == "*" {
            return Ok(TrustedProxies::Any);
        }
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies::Only)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match self {
            TrustedProxies::Any => true,
            TrustedProxies::Only(list) => list
                .iter()
                .any(|t| *t == ip || t.to_canonical() == ip.to_canonical()),
        }
    }
}

/// Everything the HTTP server can be told. `Config::default()` is what the contract documents.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to bind (`--host`/`--port`). Default `127.0.0.1:8000`.
    pub bind: SocketAddr,
    /// Listen backlog. Default 2048.
    pub backlog: i32,
    /// Largest request head (request line + headers). Beyond it: `431`. Default 16 KiB.
    pub max_head_size: usize,
    /// Most header lines in one request. Beyond it: `431`. Default 100.
    pub max_headers: usize,
    /// Largest request body, unless the app changes it per request (`Body::set_limit`). A body
    /// over it fails the app's read — at once for a declared `Content-Length`, as soon as a
    /// chunked body grows past it — and the server answers `413` if the app does not.
    /// Default 1 MiB.
    pub max_body_size: u64,
    /// Time a client has to send a complete request head once it started one (slowloris guard).
    /// Beyond it: `408` and close. Default 10 s.
    pub head_timeout: Duration,
    /// Longest idle gap while reading a request body (`--timeout-body-read`). Beyond it the
    /// app's read fails, the server answers `408` if nothing was sent yet, and closes.
    /// Default 10 s.
    pub body_read_timeout: Duration,
    /// Longest time a write may make no progress because the client is not reading; then the
    /// connection is closed. Default 30 s.
    pub send_timeout: Duration,
    /// How long an idle keep-alive connection is kept open. Default 5 s.
    pub keep_alive_timeout: Duration,
    /// Most connections open at once (uvicorn's `--limit-concurrency`); beyond it new connections
    /// get `503` and are closed. Default: unlimited.
    pub limit_concurrency: Option<usize>,
    /// Responses buffered for a client that is not reading before the server stops reading its
    /// further (pipelined) requests. Default 64 KiB.
    pub write_high_water: usize,
    /// Honour `X-Forwarded-For`/`X-Forwarded-Proto` from trusted peers (`--proxy-headers`).
    /// Default on, like uvicorn.
    pub proxy_headers: bool,
    /// Peers trusted for proxy headers (`--forwarded-allow-ips`). Default `127.0.0.1`.
    pub forwarded_allow_ips: TrustedProxies,
    /// The `root_path` given to apps (ASGI's mount prefix). Default empty.
    pub root_path: String,
    /// Log one line per request through the `log` facade (target `waitless::access`). Default on.
    pub access_log: bool,
    /// Time in-flight requests get to finish after shutdown begins. Default 30 s.
    pub graceful_timeout: Duration,
    /// Write `Server: waitless` in every response (`--no-server-header` turns it off; then an
    /// app's own `Server` header is sent). Default on.
    pub server_header: bool,
    /// Write `Date` in every response (`--no-date-header`). Default on.
    pub date_header: bool,
    /// Extra headers for every response (`--header NAME:VALUE`, repeatable). Default none.
    pub headers: Vec<(String, String)>,
    /// Serve HTTPS with this certificate chain and key (`--ssl-certfile`, `--ssl-keyfile`, PEM).
    /// Default: plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Stop accepting and shut down gracefully after this many requests (the runner then starts
    /// a replacement worker: uvicorn's `--limit-max-requests`). Default: never.
    pub limit_max_requests: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8000),
            backlog: 2048,
            max_head_size: 16 * 1024,
            max_headers: 100,
            max_body_size: 1024 * 1024,
            head_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(5),
            limit_concurrency: None,
            write_high_water: 64 * 1024,
            proxy_headers: true,
            forwarded_allow_ips: TrustedProxies::Only(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]),
            root_path: String::new(),
            access_log: true,
            graceful_timeout: Duration::from_secs(30),
            limit_max_requests: None,
            server_header: true,
            date_header: true,
            headers: Vec::new(),
            tls: None,
        }
    }
}

/// PEM files for TLS (`--ssl-certfile`, `--ssl-keyfile`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub certfile: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub keyfile: PathBuf,
}

impl Config {
    /// The lines every response head carries, serialized once per worker.
    pub(crate) fn head_defaults(&self) -> HeadDefaults {
        HeadDefaults::new(self.server_header, self.date_header, &self.headers)
    }

    /// Checks an extra response header (`--header`): a token name and a value without control
    /// bytes, so it can be written into every response as it is.
    pub fn valid_header(name: &str, value: &str) -> bool {
        header::is_token(name.as_bytes()) && header::is_field_value(value.as_bytes())
    }
}
