//! Shared pieces of the fuzz targets: the two HTTP/1 servers of the differential targets, each
//! reduced to what it made of a byte stream.
//!
//! Why a differential target at all: a crash fuzzer only finds inputs that make the parser fall
//! over; a request smuggling bug is an input both sides parse *happily but differently* (one
//! server sees one request where the proxy in front saw two). So the same bytes go to waitless's
//! real connection code (`waitless_gateway::testing`, no socket) and to hyper's HTTP/1 server
//! (in process, over `tokio::io::duplex`), each with an app that records every request it is
//! handed, and the two records must agree.

pub mod differential;
pub mod hyper_side;
pub mod waitless_side;

/// One request as an app saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The request target as sent, where the server tells it (hyper); only used to classify a
    /// refusal, not compared.
    pub target: Option<Vec<u8>>,
    /// The method, as sent.
    pub method: String,
    /// The path of the target (`/` for an absolute-form target with an empty path).
    pub path: Vec<u8>,
    /// The query string without its `?`.
    pub query: Vec<u8>,
    /// HTTP/1.x minor version.
    pub minor: u8,
    /// Header fields in order, names lowercased.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The decoded body, or, if reading it failed (malformed framing, cut short), what was
    /// decoded before the failure and the error's text.
    pub body: Result<Vec<u8>, (Vec<u8>, String)>,
}

impl PartialEq for Seen {
    fn eq(&self, other: &Seen) -> bool {
        (
            &self.method,
            &self.path,
            &self.query,
            self.minor,
            self.fields(),
            self.body.as_ref().ok(),
            self.body.is_ok(),
        ) == (
            &other.method,
            &other.path,
            &other.query,
            other.minor,
            other.fields(),
            other.body.as_ref().ok(),
            other.body.is_ok(),
        )
    }
}

impl Seen {
    /// The header fields as compared: grouped by name (hyper's `HeaderMap` iterates all lines
    /// of one name together; the order among lines of the same name is kept), and a repeated
    /// `Content-Length` line (same value, or the request would have been refused) counted once,
    /// since hyper keeps only the first.
    pub fn fields(&self) -> Vec<(&str, &[u8])> {
        let mut seen_length = false;
        let mut out: Vec<(&str, &[u8])> = self
            .headers
            .iter()
            .filter(|(n, _)| {
                let repeat = n == "content-length" && seen_length;
                seen_length |= n == "content-length";
                !repeat
            })
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(b.0));
        out
    }

    /// The values of header `name` (lowercase).
    pub fn all(&self, name: &str) -> impl Iterator<Item = &[u8]> + '_ {
        let name = name.to_owned();
        self.headers
            .iter()
            .filter(move |(n, _)| *n == name)
            .map(|(_, v)| v.as_slice())
    }
}
