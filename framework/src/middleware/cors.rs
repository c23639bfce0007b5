//! `Cors`: cross-origin resource sharing with Starlette's `CORSMiddleware` options and rules.
//!
//! Why in the framework: a browser asks the *server* (preflight `OPTIONS`) before a
//! cross-origin request, and reads `Access-Control-*` on every response; handlers should not
//! each repeat that. The rules follow Starlette's implementation, so a FastAPI app's CORS setup
//! ports option for option.

use super::{Endpoint, Middleware, Next};
use crate::context::RequestContext;
use crate::response::{Response, StatusCode};

const SAFE_METHODS: &str = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT";

/// Starlette's options: `allow_origins`, `allow_origin_regex`, `allow_methods`,
/// `allow_headers`, `allow_credentials`, `expose_headers`, `max_age`.
///
/// ```
/// use waitless::{App, middleware::Cors};
/// let cors = Cors::new()
///     .allow_origins(["https://example.com"])
///     .allow_methods(["GET", "POST"])
///     .allow_headers(["x-token"])
///     .allow_credentials(true)
///     .max_age(600);
/// let app = App::new().get("/", || async { "hi" }).layer(cors);
/// # let _ = app;
/// ```
#[derive(Clone, Debug)]
pub struct Cors {
    origins: Vec<String>,
    origin_regex: Option<regex::Regex>,
    methods: Vec<String>,
    headers: Vec<String>,
    credentials: bool,
    expose: Vec<String>,
    max_age: u64,
}

impl Default for Cors {
    fn default() -> Self {
        Cors::new()
    }
}

impl Cors {
    /// Nothing allowed yet (Starlette's defaults: methods `GET`, max age 600).
    pub fn new() -> Cors {
        Cors {
            origins: Vec::new(),
            origin_regex: None,
            methods: vec!["GET".into()],
            headers: Vec::new(),
            credentials: false,
            expose: Vec::new(),
            max_age: 600,
        }
    }

    /// Allowed origins (`"*"` for any).
    pub fn allow_origins<S: Into<String>>(mut self, origins: impl IntoIterator<Item = S>) -> Cors {
        self.origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// Origins matching this regex are allowed too (full match); an invalid regex allows none.
    pub fn allow_origin_regex(mut self, pattern: &str) -> Cors {
        self.origin_regex = regex::Regex::new(&format!("^(?:{pattern})$")).ok();
        self
    }

    /// Allowed methods (`"*"` for any).
    pub fn allow_methods<S: Into<String>>(mut self, methods: impl IntoIterator<Item = S>) -> Cors {
        self.methods = methods.into_iter().map(Into::into).collect();
        self
    }

    /// Allowed request headers (`"*"` for any); the CORS-safelisted ones are always allowed.
    pub fn allow_headers<S: Into<String>>(mut self, headers: impl IntoIterator<Item = S>) -> Cors {
        self.headers = headers
            .into_iter()
            .map(|h| h.into().to_ascii_lowercase())
            .collect();
        self
    }

    /// Whether cross-origin requests may carry credentials (cookies, `Authorization`): adds
    /// `access-control-allow-credentials: true` to preflights and allowed responses (default off,
    /// as in Starlette). With it on, an `allow_origins(["*"])` setup answers with the request's own
    /// origin instead of `*` (browsers refuse `*` with credentials), plus `vary: Origin`.
    pub fn allow_credentials(mut self, on: bool) -> Cors {
        self.credentials = on;
        self
    }

    /// Response headers the browser may expose to scripts.
    pub fn expose_headers<S: Into<String>>(mut self, headers: impl IntoIterator<Item = S>) -> Cors {
        self.expose = headers.into_iter().map(Into::into).collect();
        self
    }

    /// How long (seconds) a browser may cache a preflight answer.
    pub fn max_age(mut self, seconds: u64) -> Cors {
        self.max_age = seconds;
        self
    }

    fn any_origin(&self) -> bool {
        self.origins.iter().any(|o| o == "*")
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        self.any_origin()
            || self.origins.iter().any(|o| o == origin)
            || self
                .origin_regex
                .as_ref()
                .is_some_and(|r| r.is_match(origin))
    }

    /// `*` only when any origin is allowed without credentials; otherwise the origin itself.
    fn allow_origin_value(&self, origin: &str) -> String {
        if self.any_origin() && !self.credentials {
            "*".to_owned()
        } else {
            origin.to_owned()
        }
    }

    fn methods_value(&self) -> String {
        if self.methods.iter().any(|m| m == "*") {
            SAFE_METHODS.to_owned()
        } else {
            self.methods.join(", ")
        }
    }

    /// Answers a preflight: 200 with the allowances, or 400 naming what is disallowed.
    fn preflight(&self, req: &RequestContext<'_>, origin: &str) -> Response {
        let mut failures = Vec::new();
        if !self.origin_allowed(origin) {
            failures.push("origin");
        }
        let method = req.header("access-control-request-method").unwrap_or("");
        if !self.methods.iter().any(|m| m == "*" || m == method) {
            failures.push("method");
        }
        let any_header = self.headers.iter().any(|h| h == "*");
        if let Some(requested) = req.header("access-control-request-headers") {
            let disallowed = requested
                .split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .any(|h| !any_header && !safelisted(&h) && !self.headers.contains(&h));
            if disallowed {
                failures.push("headers");
            }
        }
        let mut res = if failures.is_empty() {
            Response::text("OK")
        } else {
            Response::text(format!("Disallowed CORS {}", failures.join(", ")))
                .with_status(StatusCode::BAD_REQUEST)
        };
        let h = &mut res.headers;
        h.insert(
            "access-control-allow-origin",
            self.allow_origin_value(origin),
        );
        if !self.any_origin() || self.credentials {
            h.insert("vary", "Origin");
        }
        h.insert("access-control-allow-methods", self.methods_value());
        h.insert("access-control-max-age", self.max_age.to_string());
        let allow_headers = match (any_header, req.header("access-control-request-headers")) {
            (true, Some(requested)) => Some(requested.to_owned()),
            _ if !self.headers.is_empty() && !any_header => Some(self.allowed_headers_value()),
            _ => None,
        };
        if let Some(v) = allow_headers {
            h.insert("access-control-allow-headers", v);
        }
        if self.credentials {
            h.insert("access-control-allow-credentials", "true");
        }
        res
    }

    fn allowed_headers_value(&self) -> String {
        let mut all: Vec<&str> = vec![
            "accept",
            "accept-language",
            "content-language",
            "content-type",
        ];
        for h in &self.headers {
            if !all.contains(&h.as_str()) {
                all.push(h);
            }
        }
        all.sort_unstable();
        all.join(", ")
    }

    /// Adds the simple-request headers to an ordinary response.
    fn decorate(&self, res: &mut Response, origin: &str, has_cookie: bool) {
        let h = &mut res.headers;
        if self.any_origin() && has_cookie && self.credentials {
            // Starlette: echo the origin when credentials travel with a wildcard config.
            h.insert("access-control-allow-origin", origin.to_owned());
            h.add_vary("Origin");
        } else if self.any_origin() && !self.credentials {
            h.insert("access-control-allow-origin", "*");
        } else if self.origin_allowed(origin) {
            h.insert("access-control-allow-origin", origin.to_owned());
            h.add_vary("Origin");
        } else {
            return;
        }
        if self.credentials {
            h.insert("access-control-allow-credentials", "true");
        }
        if !self.expose.is_empty() {
            h.insert("access-control-expose-headers", self.expose.join(", "));
        }
    }
}

/// Headers a browser may always send cross-origin without asking.
fn safelisted(h: &str) -> bool {
    matches!(
        h,
        "accept" | "accept-language" | "content-language" | "content-type"
    )
}

impl Middleware for Cors {
    async fn around<E: Endpoint>(
        &self,
        req: &mut RequestContext<'_>,
        next: Next<'_, E>,
    ) -> Response {
        let Some(origin) = req.header("origin") else {
            return next.run(req).await;
        };
        if req.method() == "OPTIONS" && req.header("access-control-request-method").is_some() {
            return self.preflight(req, origin);
        }
        let has_cookie = req.header("cookie").is_some();
        let mut res = next.run(req).await;
        self.decorate(&mut res, origin, has_cookie);
        res
    }
}
