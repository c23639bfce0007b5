//! The opening handshake (RFC 6455 §4.2): check the client's request, answer `101` with
//! `Sec-WebSocket-Accept`, or refuse with the status the RFC asks for.
//!
//! Why refusals answer the client here instead of returning an error for the app to map: the
//! RFC fixes the answers (`426` with `Sec-WebSocket-Version: 13` for a version the server does
//! not speak, `400` for a bad key), so every app would write the same code. The app only learns
//! *that* it was refused ([`Refused`]) and returns.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::options::Options;
use super::socket::WebSocket;
use crate::interface::{Headers, Request, Responder, ResponseError, Scope, Version};

/// The GUID RFC 6455 appends to the client's key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Why [`accept`] did not open a WebSocket. Except for [`Refused::Io`], the client has
/// already been answered with [`status`](Refused::status); the app just returns.
#[derive(Debug)]
pub enum Refused {
    /// Not an upgrade to WebSocket (no `Upgrade: websocket`, no `upgrade` token in
    /// `Connection`, or HTTP/1.0): `426 Upgrade Required` with `Upgrade: websocket`.
    NotWebSocket,
    /// Not a `GET`: `405` with `Allow: GET`.
    Method,
    /// `Sec-WebSocket-Version` missing or not `13`: `426` with `Sec-WebSocket-Version: 13`.
    Version,
    /// `Sec-WebSocket-Key` missing, repeated, or not 16 bytes in base64: `400`.
    Key,
    /// The response had already started, or writing the `101` failed.
    Io(ResponseError),
}

impl Refused {
    /// The status sent to the client (`None` for [`Refused::Io`]).
    pub fn status(&self) -> Option<u16> {
        match self {
            Refused::NotWebSocket | Refused::Version => Some(426),
            Refused::Method => Some(405),
            Refused::Key => Some(400),
            Refused::Io(_) => None,
        }
    }

    fn detail(&self) -> &'static str {
        match self {
            Refused::NotWebSocket => r#"{"detail":"WebSocket upgrade required"}"#,
            Refused::Method => r#"{"detail":"Method Not Allowed"}"#,
            Refused::Version => r#"{"detail":"Unsupported Sec-WebSocket-Version"}"#,
            Refused::Key => r#"{"detail":"Missing or invalid Sec-WebSocket-Key"}"#,
            Refused::Io(_) => "",
        }
    }

    /// Answers the client (nothing if the response has started).
    fn answer(&self, res: &mut Responder<'_>) {
        let Some(status) = self.status() else { return };
        let extra = match self {
            Refused::NotWebSocket => ("upgrade", "websocket"),
            Refused::Method => ("allow", "GET"),
            _ => ("sec-websocket-version", "13"),
        };
        let headers = [("content-type", "application/json"), extra];
        let _ = res.send(status, &headers, self.detail().as_bytes());
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Io(e) => write!(f, "WebSocket handshake failed: {e}"),
            other => write!(
                f,
                "WebSocket handshake refused with {}",
                other.status().unwrap_or(0)
            ),
        }
    }
}

impl std::error::Error for Refused {}

/// `Sec-WebSocket-Accept` for a client key: base64(SHA-1(key + GUID)).
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key);
    sha.update(GUID.as_bytes());
    STANDARD.encode(sha.digest().bytes())
}

/// The comma-separated tokens of every `name` header line.
fn tokens<'a>(headers: &Headers<'a>, name: &'static str) -> impl Iterator<Item = &'a [u8]> {
    let headers = *headers;
    let lines: Vec<&'a [u8]> = headers.get_all(name).collect();
    lines
        .into_iter()
        .flat_map(|line| line.split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
}

fn has_token(headers: &Headers<'_>, name: &'static str, token: &str) -> bool {
    tokens(headers, name).any(|t| t.eq_ignore_ascii_case(token.as_bytes()))
}

/// Checks the handshake; returns the client's key.
fn check<'a>(scope: &Scope<'a>, res: &Responder<'_>) -> Result<&'a [u8], Refused> {
    if scope.method != "GET" {
        return Err(Refused::Method);
    }
    let h = &scope.headers;
    if scope.version != Version::Http11
        || !res.can_upgrade()
        || !has_token(h, "upgrade", "websocket")
        || !has_token(h, "connection", "upgrade")
    {
        return Err(Refused::NotWebSocket);
    }
    let mut versions = h.get_all("sec-websocket-version");
    if versions.next().map(<[u8]>::trim_ascii) != Some(b"13") || versions.next().is_some() {
        return Err(Refused::Version);
    }
    let mut keys = h.get_all("sec-websocket-key");
    let key = keys.next().map(<[u8]>::trim_ascii).ok_or(Refused::Key)?;
    let decoded = STANDARD.decode(key).map_err(|_| Refused::Key)?;
    if decoded.len() != 16 || keys.next().is_some() {
        return Err(Refused::Key);
    }
    Ok(key)
}

/// The first of the server's `protocols` the client offered, as the client spelled it.
fn choose_protocol<'a>(headers: &Headers<'a>, protocols: &[String]) -> Option<&'a str> {
    let offered: Vec<&'a [u8]> = tokens(headers, "sec-websocket-protocol").collect();
    protocols.iter().find_map(|p| {
        offered
            .iter()
            .find(|o| **o == p.as_bytes())
            .and_then(|o| std::str::from_utf8(o).ok())
    })
}

/// Whether an app-supplied header would clash with the handshake's own.
fn reserved(name: &str) -> bool {
    ["upgrade", "connection"]
        .iter()
        .any(|r| name.eq_ignore_ascii_case(r))
        || name
            .get(..14)
            .is_some_and(|p| p.eq_ignore_ascii_case("sec-websocket-"))
}

/// Completes the WebSocket opening handshake for `req`, or refuses it.
///
/// On success the client got `101 Switching Protocols` with `Sec-WebSocket-Accept`, the chosen
/// subprotocol (see [`Options::protocols`]) and [`Options::headers`], and the returned
/// [`WebSocket`] owns the connection for the rest of `call`. On refusal the client got the
/// status in [`Refused::status`] (except [`Refused::Io`]).
///
/// ```
/// use waitless_gateway::websocket::{self, Message, Options};
/// use waitless_gateway::{App, Request, Responder};
///
/// struct Echo(Options);
///
/// impl App for Echo {
///     async fn call(&self, req: Request<'_>, res: Responder<'_>) {
///         let Ok(mut ws) = websocket::accept(req, res, &self.0).await else {
///             return; // refused: the client has its 400/426 already
///         };
///         let (mut rx, mut tx) = ws.split();
///         while let Ok(msg) = rx.recv().await {
///             let sent = match msg {
///                 Message::Close(..) => break,
///                 msg => tx.send(msg).await,
///             };
///             if sent.is_err() {
///                 break;
///             }
///         }
///     } // dropping the socket without `close` sends Close 1000
/// }
/// ```
pub async fn accept<'a>(
    req: Request<'a>,
    mut res: Responder<'a>,
    options: &Options,
) -> Result<WebSocket<'a>, Refused> {
    let Request { scope, body } = req;
    let key = match check(&scope, &res) {
        Ok(key) => key,
        Err(refused) => {
            refused.answer(&mut res);
            return Err(refused);
        }
    };
    let accept = accept_key(key);
    let protocol = choose_protocol(&scope.headers, &options.protocols);
    let mut headers: Vec<(&str, &str)> = Vec::with_capacity(3 + options.headers.len());
    headers.push(("upgrade", "websocket"));
    headers.push(("sec-websocket-accept", &accept));
    if let Some(p) = protocol {
        headers.push(("sec-websocket-protocol", p));
    }
    headers.extend(
        options
            .headers
            .iter()
            .filter(|(n, _)| !reserved(n))
            .map(|(n, v)| (n.as_str(), v.as_str())),
    );
    let upgraded = res.upgrade(body, &headers).await.map_err(Refused::Io)?;
    Ok(WebSocket::new(upgraded, scope, protocol, options))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_example_key() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn reserved_header_names() {
        assert!(reserved("Sec-WebSocket-Accept"));
        assert!(reserved("connection"));
        assert!(!reserved("set-cookie"));
        assert!(!reserved("sec"));
    }
}
