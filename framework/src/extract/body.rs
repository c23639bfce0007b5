//! Body extractors: `Json<T>`, `Form<T>`, `Bytes`, `Text`.
//!
//! Every one reads through `read_body`, which enforces the route's body limit (413) before
//! buffering anything it can refuse from `Content-Length`.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{params, read_body, FromRequest, Rejection};
use crate::context::RequestContext;
use crate::openapi::Operation;
use crate::response::Json;
use crate::validation::{ErrorItem, Loc, ValidationErrors, Validator};

/// A JSON request body validated against `T`'s schema: every error at once, with FastAPI's
/// `loc` (`["body","price"]`, `["body","tags",2]`).
///
/// ```
/// use schemars::JsonSchema;
/// use serde::{Deserialize, Serialize};
/// use waitless::{App, Json, StatusCode};
///
/// #[derive(Deserialize, Serialize, JsonSchema)]
/// struct Item {
///     #[schemars(length(min = 1, max = 100))]
///     name: String,
///     #[schemars(range(min = 0))]
///     price: f64,
///     #[serde(default)]
///     tags: Vec<String>,
/// }
///
/// async fn create(Json(item): Json<Item>) -> (StatusCode, Json<Item>) {
///     (StatusCode::CREATED, Json(item))
/// }
///
/// let app = App::new().post("/items", create);
/// # let _ = app;
/// ```
impl<T: DeserializeOwned + JsonSchema + 'static> FromRequest for Json<T> {
    fn openapi(op: &mut Operation<'_>) {
        op.body_from::<T>("application/json");
    }

    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        let bytes = read_body(req).await?;
        let validator = Validator::of::<T>();
        let mut errors = ValidationErrors::new();
        let value = if bytes.iter().all(u8::is_ascii_whitespace) {
            // No body: FastAPI reports the body itself as missing.
            errors.push(ErrorItem::missing(&Loc::new("body"), Value::Null));
            return Err(Rejection::Invalid(errors));
        } else {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(v) => v,
                Err(e) => return Err(Rejection::Invalid(json_invalid(&bytes, &e).into())),
            }
        };
        match validator.validate(value, &mut Loc::new("body"), &mut errors, false) {
            Some(v) if errors.is_empty() => Ok(Json(v)),
            _ => Err(Rejection::Invalid(errors)),
        }
    }

    fn prepare() {
        Validator::of::<T>();
    }
}

/// FastAPI's `json_invalid`: the position (in characters) and Python's `json` message.
fn json_invalid(bytes: &[u8], e: &serde_json::Error) -> ErrorItem {
    let text = String::from_utf8_lossy(bytes);
    let position = if e.is_eof() {
        text.chars().count()
    } else {
        char_offset(&text, e.line(), e.column())
    };
    let msg = e.to_string();
    let python = if e.is_eof() || msg.starts_with("expected value") {
        "Expecting value"
    } else if msg.starts_with("trailing characters") {
        "Extra data"
    } else if msg.starts_with("key must be a string") {
        "Expecting property name enclosed in double quotes"
    } else if msg.starts_with("expected `:`") {
        "Expecting ':' delimiter"
    } else if msg.starts_with("expected `,`") {
        "Expecting ',' delimiter"
    } else if msg.starts_with("control character") {
        "Invalid control character at"
    } else if msg.starts_with("invalid escape") {
        "Invalid \\escape"
    } else {
        "Expecting value"
    };
    ErrorItem::json_invalid(position, python)
}

/// The 0-based character offset of serde_json's 1-based (line, column), where the column is the
/// character at which the error was detected.
fn char_offset(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (i, l) in text.split('\n').enumerate() {
        if i + 1 == line {
            return offset + column.saturating_sub(1).min(l.chars().count());
        }
        offset += l.chars().count() + 1;
    }
    offset
}

/// An `application/x-www-form-urlencoded` body, validated like a query string but under
/// `["body", field]` (FastAPI's `Form()` parameters).
///
/// ```
/// use schemars::JsonSchema;
/// use serde::Deserialize;
/// use waitless::{App, Form};
///
/// #[derive(Deserialize, JsonSchema)]
/// struct Login {
///     username: String,
///     password: String,
/// }
///
/// async fn token(Form(login): Form<Login>) -> String {
///     login.username
/// }
/// let app = App::new().post("/token", token);
/// # let _ = app;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Form<T>(pub T);

impl<T: DeserializeOwned + JsonSchema + 'static> FromRequest for Form<T> {
    fn openapi(op: &mut Operation<'_>) {
        op.body_from::<T>("application/x-www-form-urlencoded");
    }

    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        let bytes = read_body(req).await?;
        params::from_pairs(form_urlencoded::parse(&bytes), "body").map(Form)
    }

    fn prepare() {
        Validator::of::<T>();
    }
}

/// The raw body, whole (bounded by the route's limit).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl FromRequest for Bytes {
    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        read_body(req).await.map(Bytes)
    }
}

/// The body as UTF-8 text (invalid UTF-8 → 400).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text(pub String);

impl FromRequest for Text {
    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        let bytes = read_body(req).await?;
        String::from_utf8(bytes)
            .map(Text)
            .map_err(|_| crate::HttpError::new(400, "The body is not valid UTF-8").into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(body: &str) -> serde_json::Value {
        let e = serde_json::from_str::<Value>(body).unwrap_err();
        serde_json::to_value(json_invalid(body.as_bytes(), &e)).unwrap()
    }

    #[test]
    fn json_errors_carry_python_positions_and_messages() {
        // Python: json.loads('{"a":}') -> "Expecting value: line 1 column 6 (char 5)"
        let e = invalid(r#"{"a":}"#);
        assert_eq!(e["loc"], serde_json::json!(["body", 5]));
        assert_eq!(e["ctx"]["error"], "Expecting value");
        assert_eq!(e["msg"], "JSON decode error");
        assert_eq!(e["input"], serde_json::json!({}));
        // json.loads('{"a": 1} x') -> "Extra data: line 1 column 10 (char 9)"
        let e = invalid(r#"{"a": 1} x"#);
        assert_eq!(e["loc"], serde_json::json!(["body", 9]));
        assert_eq!(e["ctx"]["error"], "Extra data");
        // json.loads('{a: 1}') -> "Expecting property name enclosed in double quotes: ... (char 1)"
        let e = invalid("{a: 1}");
        assert_eq!(e["loc"], serde_json::json!(["body", 1]));
        assert_eq!(
            e["ctx"]["error"],
            "Expecting property name enclosed in double quotes"
        );
    }
}
