//! Headers and cookies: typed (validated like query parameters) and raw.
//!
//! Typed headers follow FastAPI's naming rule: field `user_agent` reads header `user-agent`,
//! and errors say `["header","user-agent"]`. Cookies are parsed by the `cookie` crate.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use super::{params, FromRequest, Rejection};
use crate::context::RequestContext;
use crate::openapi::{Operation, ParamIn};
use crate::validation::{LocPart, Validator};

/// Request headers as a struct: field `x_token` is header `x-token` (case-insensitive);
/// `Vec<String>` fields collect repeated headers.
///
/// ```
/// use schemars::JsonSchema;
/// use serde::Deserialize;
/// use waitless::{App, Header};
///
/// #[derive(Deserialize, JsonSchema)]
/// struct Agent {
///     user_agent: Option<String>,
/// }
///
/// async fn ua(Header(h): Header<Agent>) -> String {
///     h.user_agent.unwrap_or_default()
/// }
/// let app = App::new().get("/ua", ua);
/// # let _ = app;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header<T>(pub T);

impl<T: DeserializeOwned + JsonSchema + 'static> FromRequest for Header<T> {
    fn openapi(op: &mut Operation<'_>) {
        op.params_from::<T>(ParamIn::Header);
    }

    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        let validator = Validator::of::<T>();
        let headers = req.scope().headers;
        let mut pairs = Vec::new();
        for (field, _) in validator.fields() {
            for (name, value) in headers.iter() {
                if same_header(name, field) {
                    pairs.push((Cow::Borrowed(field), String::from_utf8_lossy(value)));
                }
            }
        }
        params::from_pairs::<T>(pairs.into_iter(), "header")
            .map(Header)
            .map_err(|r| match r {
                Rejection::Invalid(mut errors) => {
                    rename_header_locs(&mut errors);
                    Rejection::Invalid(errors)
                }
                other => other,
            })
    }

    fn prepare() {
        Validator::of::<T>();
    }
}

/// `user_agent` names header `User-Agent`.
fn same_header(header: &str, field: &str) -> bool {
    header.len() == field.len()
        && header
            .bytes()
            .zip(field.bytes())
            .all(|(h, f)| h.eq_ignore_ascii_case(&f) || (h == b'-' && f == b'_'))
}

fn rename_header_locs(errors: &mut crate::validation::ValidationErrors) {
    let mut renamed = crate::validation::ValidationErrors::new();
    for mut item in errors.items().iter().cloned() {
        if let Some(LocPart::Key(k)) = item.loc.0.get_mut(1) {
            *k = Cow::Owned(k.replace('_', "-"));
        }
        renamed.push(item);
    }
    *errors = renamed;
}

/// Every request header, copied: `(name, value bytes)` in the order received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawHeaders(pub Vec<(String, Vec<u8>)>);

impl RawHeaders {
    /// The first value of `name` (case-insensitive), as text.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

impl FromRequest for RawHeaders {
    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        Ok(RawHeaders(
            req.scope()
                .headers
                .iter()
                .map(|(n, v)| (n.to_owned(), v.to_vec()))
                .collect(),
        ))
    }
}

/// Every cookie of the request, `name → value` (percent-decoded), in order.
///
/// ```
/// use waitless::{App, Cookies};
/// async fn session(cookies: Cookies) -> String {
///     cookies.get("session").unwrap_or("none").to_owned()
/// }
/// let app = App::new().get("/session", session);
/// # let _ = app;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cookies(pub Vec<(String, String)>);

impl Cookies {
    /// The value of the first cookie called `name` (case-sensitive, as cookie names are).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn parse(req: &RequestContext<'_>) -> Cookies {
        let mut out = Vec::new();
        for header in req.scope().headers.get_all("cookie") {
            let Ok(text) = std::str::from_utf8(header) else {
                continue;
            };
            for cookie in cookie::Cookie::split_parse_encoded(text).flatten() {
                out.push((cookie.name().to_owned(), cookie.value().to_owned()));
            }
        }
        Cookies(out)
    }
}

impl FromRequest for Cookies {
    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        Ok(Cookies::parse(req))
    }
}

/// Cookies as a struct, validated like query parameters under `["cookie", name]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cookie<T>(pub T);

impl<T: DeserializeOwned + JsonSchema + 'static> FromRequest for Cookie<T> {
    fn openapi(op: &mut Operation<'_>) {
        op.params_from::<T>(ParamIn::Cookie);
    }

    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        let cookies = Cookies::parse(req);
        let pairs = cookies
            .0
            .iter()
            .map(|(n, v)| (Cow::Borrowed(n.as_str()), Cow::Borrowed(v.as_str())));
        params::from_pairs(pairs, "cookie").map(Cookie)
    }

    fn prepare() {
        Validator::of::<T>();
    }
}
