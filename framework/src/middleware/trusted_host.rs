//! `TrustedHost`: refuse requests whose `Host` is not one of ours (Starlette's
//! `TrustedHostMiddleware`).
//!
//! Why: a server reachable under an unexpected name can be used for cache poisoning and
//! password-reset link forgery; checking `Host` before any handler runs closes that.

use super::{Endpoint, Middleware, Next};
use crate::context::RequestContext;
use crate::response::{Response, StatusCode};

/// Allowed host names (`"example.com"`, `"*.example.com"`, or `"*"` for any); others get
/// `400 Invalid host header`.
///
/// ```
/// use waitless::{App, middleware::TrustedHost};
/// let app = App::new()
///     .get("/", || async { "hi" })
///     .layer(TrustedHost::new(["example.com", "*.example.com"]));
/// # let _ = app;
/// ```
#[derive(Clone, Debug)]
pub struct TrustedHost {
    allowed: Vec<String>,
}

impl TrustedHost {
    /// Allows exactly these host names (Starlette's `TrustedHostMiddleware(allowed_hosts=...)`),
    /// compared case-insensitively with the `Host` header's port removed. `"*.example.com"` matches
    /// every subdomain but not `example.com` itself (list both); `"*"` allows any request, even
    /// one without `Host` (an HTTP/1.0 request: HTTP/1.1 without it never reaches the app),
    /// which is otherwise refused with `400`.
    ///
    /// ```
    /// use waitless::{middleware::TrustedHost, App, TestClient};
    /// let app = App::new()
    ///     .get("/", || async { "hi" })
    ///     .layer(TrustedHost::new(["example.com", "*.example.com"]));
    /// let client = TestClient::new(app);
    /// let status = |host: &str| client.get("/").header("host", host).send().status.as_u16();
    /// assert_eq!(status("example.com:8000"), 200);
    /// assert_eq!(status("API.Example.com"), 200);
    /// assert_eq!(status("example.com.evil.net"), 400);
    /// let res = client.get("/").header("host", "evil.net").send();
    /// assert_eq!(res.text(), "Invalid host header");
    /// ```
    pub fn new<S: Into<String>>(hosts: impl IntoIterator<Item = S>) -> TrustedHost {
        TrustedHost {
            allowed: hosts
                .into_iter()
                .map(|h| h.into().to_ascii_lowercase())
                .collect(),
        }
    }

    /// Whether `host` (a `Host` value, port and all) matches a pattern. Compared in place,
    /// ASCII case ignored: this runs on every request, so it allocates nothing.
    fn allows(&self, host: &str) -> bool {
        let name = strip_port(host);
        self.allowed
            .iter()
            .any(|pattern| match pattern.strip_prefix('*') {
                Some("") => true,
                // `*.example.com`: a non-empty label, then the domain.
                Some(dot_domain) => {
                    name.len() > dot_domain.len()
                        && name.is_char_boundary(name.len() - dot_domain.len())
                        && name[name.len() - dot_domain.len()..].eq_ignore_ascii_case(dot_domain)
                }
                None => pattern.eq_ignore_ascii_case(name),
            })
    }

    /// `"*"` is among the patterns: every request passes, with or without `Host` (Starlette's
    /// `allow_any`).
    fn allows_any(&self) -> bool {
        self.allowed.iter().any(|p| p == "*")
    }
}

/// `example.com:8000` → `example.com`; `[::1]:8000` → `[::1]`.
fn strip_port(host: &str) -> &str {
    match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => &host[..i],
        _ => host,
    }
}

impl Middleware for TrustedHost {
    async fn around<E: Endpoint>(
        &self,
        req: &mut RequestContext<'_>,
        next: Next<'_, E>,
    ) -> Response {
        match req.header("host") {
            // `allows` already passes any host under `"*"`: the list is scanned again only for a
            // request without `Host`, not on every request.
            Some(host) if self.allows(host) => next.run(req).await,
            None if self.allows_any() => next.run(req).await,
            _ => Response::text("Invalid host header").with_status(StatusCode::BAD_REQUEST),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_exactly_or_by_wildcard_and_ports_are_ignored() {
        let t = TrustedHost::new(["example.com", "*.example.org"]);
        assert!(t.allows("example.com"));
        assert!(t.allows("Example.COM:8000"));
        assert!(t.allows("api.example.org"));
        assert!(!t.allows("example.org"));
        assert!(!t.allows("evil.com"));
        assert!(!t.allows("example.com.evil.com"));
        assert!(!t.allows(".example.org"));
        assert!(t.allows("API.EXAMPLE.ORG:443"));
        assert!(!t.allows("\u{e9}xample.com"));
        assert!(TrustedHost::new(["*"]).allows("anything"));
    }
}
