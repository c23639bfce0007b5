//! Security schemes as FastAPI declares them: HTTP Bearer, HTTP Basic, API keys (header, query,
//! cookie) and OAuth2's password flow, as extractors.
//!
//! Why extractors: in FastAPI a security scheme is a dependency that reads the credential,
//! answers `401 {"detail":"Not authenticated"}` with `WWW-Authenticate` when it is missing, and
//! declares itself in OpenAPI (`components/securitySchemes` and the operation's `security`,
//! which gives `/docs` its "Authorize" button). Here each scheme is a [`FromRequest`] type doing
//! the same three things; checking the credential (is the token valid?) is the app's own
//! dependency built on top, which forwards `openapi` so the route still shows the scheme:
//!
//! ```
//! use waitless::security::{OAuth2Config, OAuth2PasswordBearer};
//! use waitless::{App, FromRequest, HttpError, Json, Rejection, RequestContext, TestClient};
//!
//! struct TokenUrl;
//! impl OAuth2Config for TokenUrl {
//!     const TOKEN_URL: &'static str = "token";
//! }
//!
//! struct CurrentUser(String);
//!
//! impl FromRequest for CurrentUser {
//!     async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
//!         let token = OAuth2PasswordBearer::<TokenUrl>::from_request(req).await?;
//!         match token.token() {
//!             "alice-token" => Ok(CurrentUser("alice".into())),
//!             _ => Err(waitless::security::invalid_credentials().into()),
//!         }
//!     }
//!
//!     fn openapi(op: &mut waitless::openapi::Operation<'_>) {
//!         OAuth2PasswordBearer::<TokenUrl>::openapi(op);
//!     }
//! }
//!
//! async fn me(CurrentUser(name): CurrentUser) -> Json<serde_json::Value> {
//!     Json(serde_json::json!({ "username": name }))
//! }
//!
//! let client = TestClient::new(App::new().get("/users/me", me));
//! let res = client.get("/users/me").send();
//! assert_eq!(res.status.as_u16(), 401);
//! assert_eq!(res.text(), r#"{"detail":"Not authenticated"}"#);
//! assert_eq!(res.header("www-authenticate"), Some("Bearer"));
//! let res = client.get("/users/me").header("authorization", "Bearer nope").send();
//! assert_eq!(res.text(), r#"{"detail":"Could not validate credentials"}"#);
//! let res = client.get("/users/me").header("authorization", "Bearer alice-token").send();
//! assert_eq!(res.text(), r#"{"username":"alice"}"#);
//! ```

use std::marker::PhantomData;

use base64::Engine;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::context::RequestContext;
use crate::error::HttpError;
use crate::extract::{Form, FromRequest, Rejection};
use crate::openapi::Operation;

/// `401 {"detail":"Not authenticated"}` with `WWW-Authenticate: <challenge>`.
pub fn not_authenticated(challenge: &'static str) -> HttpError {
    HttpError::new(401, "Not authenticated").with_header("www-authenticate", challenge)
}

/// `401 {"detail":"Could not validate credentials"}` with `WWW-Authenticate: Bearer`
/// (FastAPI's tutorial answer for a token the app did not issue).
pub fn invalid_credentials() -> HttpError {
    HttpError::new(401, "Could not validate credentials").with_header("www-authenticate", "Bearer")
}

/// The credentials of `Authorization: <scheme> <credentials>` when the scheme matches
/// (case-insensitive, like Starlette's `get_authorization_scheme_param`).
fn authorization<'a>(req: &RequestContext<'a>, scheme: &str) -> Option<&'a str> {
    let value = req.header("authorization")?.trim();
    let (s, credentials) = value.split_once(' ')?;
    let credentials = credentials.trim();
    (s.eq_ignore_ascii_case(scheme) && !credentials.is_empty()).then_some(credentials)
}

/// `Authorization: Bearer <token>` (FastAPI's `HTTPBearer`); the token as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpBearer(pub String);

impl FromRequest for HttpBearer {
    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        match authorization(req, "bearer") {
            Some(token) => Ok(HttpBearer(token.to_owned())),
            None => Err(not_authenticated("Bearer").into()),
        }
    }

    fn openapi(op: &mut Operation<'_>) {
        op.security(
            "HTTPBearer",
            json!({"type": "http", "scheme": "bearer"}),
            &[],
        );
    }
}

/// `Authorization: Basic <base64 user:password>` (FastAPI's `HTTPBasic`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpBasic {
    /// The user name: the decoded credentials up to the first `:`.
    pub username: String,
    /// The password: everything after the first `:` (it may itself contain `:`). Compare it in
    /// constant time (FastAPI's tutorial uses `secrets.compare_digest`).
    pub password: String,
}

impl FromRequest for HttpBasic {
    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        let Some(encoded) = authorization(req, "basic") else {
            return Err(not_authenticated("Basic").into());
        };
        let invalid = || {
            HttpError::new(401, "Invalid authentication credentials")
                .with_header("www-authenticate", "Basic")
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(invalid)?;
        let (username, password) = decoded.split_once(':').ok_or_else(invalid)?;
        Ok(HttpBasic {
            username: username.to_owned(),
            password: password.to_owned(),
        })
    }

    fn openapi(op: &mut Operation<'_>) {
        op.security("HTTPBasic", json!({"type": "http", "scheme": "basic"}), &[]);
    }
}

/// Where an API key is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiKeyIn {
    /// A request header called [`ApiKeyName::NAME`] (matched case-insensitively): `APIKeyHeader`.
    Header,
    /// A query parameter called [`ApiKeyName::NAME`] (percent-decoded): `APIKeyQuery`.
    Query,
    /// A cookie called [`ApiKeyName::NAME`]: `APIKeyCookie`.
    Cookie,
}

/// Names an API key: `X-API-Key` in a header, `api_key` in the query, ...
pub trait ApiKeyName: 'static {
    /// The header, query parameter or cookie name (`"X-API-Key"`); also the `name` of the `apiKey`
    /// security scheme in OpenAPI.
    const NAME: &'static str;
    /// Where the key is read from; also the scheme's `in` and its name in
    /// `components/securitySchemes` (`APIKeyHeader`, `APIKeyQuery` or `APIKeyCookie`).
    const LOCATION: ApiKeyIn;
}

/// An API key (FastAPI's `APIKeyHeader` / `APIKeyQuery` / `APIKeyCookie`).
///
/// ```
/// use waitless::security::{ApiKey, ApiKeyIn, ApiKeyName};
/// struct XApiKey;
/// impl ApiKeyName for XApiKey {
///     const NAME: &'static str = "X-API-Key";
///     const LOCATION: ApiKeyIn = ApiKeyIn::Header;
/// }
/// async fn secret(key: ApiKey<XApiKey>) -> String {
///     key.key().to_owned()
/// }
/// let app = waitless::App::new().get("/secret", secret);
/// # let _ = app;
/// ```
pub struct ApiKey<K> {
    key: String,
    _name: PhantomData<fn() -> K>,
}

impl<K> ApiKey<K> {
    /// The key as sent, never empty: a missing or empty key is refused with
    /// `401 {"detail":"Not authenticated"}` and `WWW-Authenticate: APIKey`. Whether it is a valid
    /// key is for the app to check.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl<K: ApiKeyName> FromRequest for ApiKey<K> {
    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        let found = match K::LOCATION {
            ApiKeyIn::Header => req.header(K::NAME).map(str::to_owned),
            ApiKeyIn::Query => form_urlencoded::parse(req.query_string())
                .find(|(k, _)| k == K::NAME)
                .map(|(_, v)| v.into_owned()),
            ApiKeyIn::Cookie => crate::Cookies::from_request(req)
                .await?
                .get(K::NAME)
                .map(str::to_owned),
        };
        match found.filter(|k| !k.is_empty()) {
            Some(key) => Ok(ApiKey {
                key,
                _name: PhantomData,
            }),
            None => Err(not_authenticated("APIKey").into()),
        }
    }

    fn openapi(op: &mut Operation<'_>) {
        let (scheme, location) = match K::LOCATION {
            ApiKeyIn::Header => ("APIKeyHeader", "header"),
            ApiKeyIn::Query => ("APIKeyQuery", "query"),
            ApiKeyIn::Cookie => ("APIKeyCookie", "cookie"),
        };
        let declared = json!({"type": "apiKey", "in": location, "name": K::NAME});
        op.security(scheme, declared, &[]);
    }
}

/// The token URL (relative to the document, like FastAPI's `tokenUrl="token"`) and scopes of
/// an OAuth2 password flow.
pub trait OAuth2Config: 'static {
    /// Where clients get a token (`"token"`): the `tokenUrl` of the password flow in OpenAPI, which
    /// Swagger UI's "Authorize" dialog posts the username and password to. The app serves that
    /// route itself (typically taking [`OAuth2PasswordRequestForm`]).
    const TOKEN_URL: &'static str;
    /// `(scope, description)` pairs shown in the "Authorize" dialog.
    const SCOPES: &'static [(&'static str, &'static str)] = &[];
}

/// The bearer token of an OAuth2 password flow (FastAPI's `OAuth2PasswordBearer`).
pub struct OAuth2PasswordBearer<C> {
    token: String,
    _config: PhantomData<fn() -> C>,
}

impl<C> OAuth2PasswordBearer<C> {
    /// The bearer token as sent, never empty (a missing `Authorization: Bearer` header is refused
    /// with `401 {"detail":"Not authenticated"}` and `WWW-Authenticate: Bearer`). Validating it is
    /// the app's job; answer [`invalid_credentials`] when it fails.
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl<C: OAuth2Config> FromRequest for OAuth2PasswordBearer<C> {
    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        match authorization(req, "bearer") {
            Some(token) => Ok(OAuth2PasswordBearer {
                token: token.to_owned(),
                _config: PhantomData,
            }),
            None => Err(not_authenticated("Bearer").into()),
        }
    }

    fn openapi(op: &mut Operation<'_>) {
        let scopes: serde_json::Map<String, serde_json::Value> = C::SCOPES
            .iter()
            .map(|(s, d)| ((*s).to_owned(), json!(d)))
            .collect();
        let scheme = json!({
            "type": "oauth2",
            "flows": { "password": { "scopes": scopes, "tokenUrl": C::TOKEN_URL } }
        });
        op.security("OAuth2PasswordBearer", scheme, &[]);
    }
}

/// The form of an OAuth2 token request (FastAPI's `OAuth2PasswordRequestForm`), read from an
/// `application/x-www-form-urlencoded` body; missing fields are 422s at `["body", field]`.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[schemars(rename = "Body_OAuth2PasswordRequestForm")]
pub struct OAuth2PasswordRequestForm {
    /// OAuth2's `grant_type`: optional, and when sent it must be `password` (pattern `^password$`,
    /// as FastAPI's form declares).
    ///
    /// ```
    /// use waitless::security::OAuth2PasswordRequestForm;
    /// use waitless::{App, TestClient};
    ///
    /// async fn login(form: OAuth2PasswordRequestForm) -> String {
    ///     format!("{} {:?}", form.username, form.scopes().collect::<Vec<_>>())
    /// }
    /// let client = TestClient::new(App::new().post("/token", login));
    /// let res = client
    ///     .post("/token")
    ///     .form(&[("username", "alice"), ("password", "pw"), ("scope", "me items")])
    ///     .send();
    /// assert_eq!(res.text(), r#"alice ["me", "items"]"#);
    ///
    /// let res = client
    ///     .post("/token")
    ///     .form(&[("grant_type", "client_credentials"), ("username", "a"), ("password", "b")])
    ///     .send();
    /// assert_eq!(res.status.as_u16(), 422);
    /// assert_eq!(res.json::<serde_json::Value>()["detail"][0]["type"], "string_pattern_mismatch");
    /// ```
    #[schemars(regex(pattern = r"^password$"))]
    pub grant_type: Option<String>,
    /// The `username` form field (required).
    pub username: String,
    /// The `password` form field (required).
    pub password: String,
    /// Space-separated scopes.
    #[serde(default)]
    pub scope: String,
    /// The optional `client_id` form field (OAuth2 client authentication in the body).
    pub client_id: Option<String>,
    /// The optional `client_secret` form field.
    pub client_secret: Option<String>,
}

impl OAuth2PasswordRequestForm {
    /// The requested scopes.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split_whitespace()
    }
}

impl FromRequest for OAuth2PasswordRequestForm {
    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        Form::<OAuth2PasswordRequestForm>::from_request(req)
            .await
            .map(|Form(f)| f)
    }

    fn prepare() {
        Form::<OAuth2PasswordRequestForm>::prepare();
    }

    fn openapi(op: &mut Operation<'_>) {
        Form::<OAuth2PasswordRequestForm>::openapi(op);
    }
}
