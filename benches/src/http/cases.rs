//! The cases: what wrk asks for, with how many connections, over which scheme. Kept apart from
//! the servers because a case says what is measured and a server says who is measured; the
//! harness runs every pair that fits ([`Case::entries`]).
//!
//! A case may carry a **reference**: one server on another path or scheme, run in alternation
//! with the case's own servers, so that a ratio between them (framework `/users` against hello's
//! `/json`, HTTPS against HTTP) comes from trials that shared the same noise.

use super::servers::{Server, WAITLESS};

#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub id: &'static str,
    pub title: &'static str,
    pub path: &'static str,
    pub conns: u32,
    /// Requests per write (wrk Lua script) when > 1.
    pub pipeline: u32,
    /// The idle keep-alive memory case instead of a wrk load.
    pub idle: bool,
    /// Over HTTPS (a self-signed certificate made for the run): only servers that take the
    /// gateway's `--ssl-certfile`/`--ssl-keyfile` run it.
    pub tls: bool,
    /// A yardstick run in alternation with the case's servers, over plain HTTP.
    pub reference: Option<Reference>,
}

/// One server on its own path, measured inside another case; its row is named `label`.
#[derive(Clone, Copy, Debug)]
pub struct Reference {
    pub server: &'static str,
    pub path: &'static str,
    pub label: &'static str,
}

/// One row of a case: which server, on which path, over which scheme, under which name.
#[derive(Clone, Debug)]
pub struct Entry<'a> {
    pub server: &'a Server,
    pub path: &'static str,
    pub tls: bool,
    pub label: String,
}

pub const IDLE_CONNS: usize = 10_000;

/// The path of the users case: a path parameter, two validated query parameters, JSON out.
pub const USERS_PATH: &str = "/users/42?limit=5&q=abc";

/// Row names of the cases with a reference (the report looks them up).
pub const HELLO_JSON: &str = "waitless /json";
pub const HELLO_HTTP: &str = "waitless http";
pub const HELLO_HTTPS: &str = "waitless https";

impl Case {
    /// The rows of this case among `servers`, in their order (a reference just before the
    /// server's own row), so that every repeat runs them in the same order.
    pub fn entries<'a>(&self, servers: &'a [Server]) -> Vec<Entry<'a>> {
        let mut out = Vec::new();
        for s in servers {
            if let Some(r) = self.reference.filter(|r| r.server == s.name) {
                out.push(Entry {
                    server: s,
                    path: r.path,
                    tls: false,
                    label: r.label.to_string(),
                });
            }
            if s.serves(self.path) && (!self.tls || s.tls) {
                let label = if self.tls {
                    format!("{} https", s.name)
                } else {
                    s.name.to_string()
                };
                out.push(Entry {
                    server: s,
                    path: self.path,
                    tls: self.tls,
                    label,
                });
            }
        }
        out
    }
}

pub fn all_cases() -> Vec<Case> {
    let load = |id, title, path, conns, pipeline| Case {
        id,
        title,
        path,
        conns,
        pipeline,
        idle: false,
        tls: false,
        reference: None,
    };
    vec![
        load("plaintext-c64", "plaintext c64", "/plaintext", 64, 1),
        Case {
            tls: true,
            reference: Some(Reference {
                server: WAITLESS,
                path: "/plaintext",
                label: HELLO_HTTP,
            }),
            ..load(
                "plaintext-tls-c64",
                "plaintext c64 over TLS (waitless http: the same over plain HTTP)",
                "/plaintext",
                64,
                1,
            )
        },
        load("plaintext-c256", "plaintext c256", "/plaintext", 256, 1),
        load(
            "pipelined16-c256",
            "plaintext pipelined-16 c256",
            "/plaintext",
            256,
            16,
        ),
        load("json-c256", "json c256", "/json", 256, 1),
        Case {
            reference: Some(Reference {
                server: WAITLESS,
                path: "/json",
                label: HELLO_JSON,
            }),
            ..load(
                "users-c256",
                "users c256: GET /users/42?limit=5&q=abc (waitless /json: hello's GET /json)",
                USERS_PATH,
                256,
                1,
            )
        },
        load(
            "sleep100-c1000",
            "sleep?ms=100 c1000 (ideal 10,000 req/s)",
            "/sleep?ms=100",
            1000,
            1,
        ),
        Case {
            id: "idle10k",
            title: "10,000 idle keep-alive connections",
            path: "/plaintext",
            conns: IDLE_CONNS as u32,
            pipeline: 1,
            idle: true,
            tls: false,
            reference: None,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::servers::{all_servers, FRAMEWORK_HELLO};

    fn labels(id: &str) -> Vec<String> {
        let servers = all_servers();
        let case = all_cases().into_iter().find(|c| c.id == id).unwrap();
        case.entries(&servers)
            .into_iter()
            .map(|e| e.label)
            .collect()
    }

    #[test]
    fn each_case_runs_the_servers_that_serve_it() {
        assert_eq!(
            labels("users-c256"),
            [HELLO_JSON, FRAMEWORK_HELLO, "axum", "uvicorn"]
        );
        assert_eq!(labels("plaintext-tls-c64"), [HELLO_HTTP, HELLO_HTTPS]);
        assert!(!labels("sleep100-c1000").iter().any(|l| l == "floor"));
        assert_eq!(labels("json-c256").len(), all_servers().len());
    }
}
