//! `Path<T>` and `Query<T>`: parameters from the URL, validated like FastAPI's.
//!
//! Both turn raw strings into a JSON object keyed by field name and hand it to the type's
//! compiled validator, which coerces `"42"` to `42` the way pydantic's lax mode does and reports
//! the raw string as `input` when it cannot.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{FromRequest, Rejection};
use crate::context::RequestContext;
use crate::openapi::{Operation, ParamIn};
use crate::validation::{Loc, LocPart, ValidationErrors, Validator};

/// Path parameters: one value (`Path<u64>` for `/items/{item_id}`), a tuple in template order
/// (`Path<(String, u32)>`), or a struct whose fields are named like the parameters.
///
/// ```
/// use waitless::{App, Path, Json};
///
/// async fn read_item(Path(item_id): Path<u64>) -> Json<serde_json::Value> {
///     Json(serde_json::json!({ "item_id": item_id }))
/// }
///
/// let app = App::new().get("/items/{item_id}", read_item);
/// # let _ = app;
/// ```
///
/// `GET /items/foo` answers FastAPI's 422:
/// `{"detail":[{"type":"int_parsing","loc":["path","item_id"],"msg":"Input should be a valid
/// integer, unable to parse string as an integer","input":"foo"}]}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + JsonSchema + 'static> FromRequest for Path<T> {
    fn openapi(op: &mut Operation<'_>) {
        op.params_from::<T>(ParamIn::Path);
    }

    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        let validator = Validator::of::<T>();
        let mut errors = ValidationErrors::new();
        let mut loc = Loc::new("path");
        let value = if validator.is_struct() {
            let mut map = Map::new();
            for (k, v) in req.params() {
                map.insert(k.to_owned(), Value::String(v.to_owned()));
            }
            validator.validate(Value::Object(map), &mut loc, &mut errors, true)
        } else {
            path_tuple_or_scalar(req, &validator, &mut loc, &mut errors)
        };
        match value {
            Some(v) if errors.is_empty() => Ok(Path(v)),
            _ => Err(Rejection::Invalid(errors)),
        }
    }

    fn prepare() {
        Validator::of::<T>();
    }
}

/// A single parameter is checked as itself, under its name; several as a tuple whose indices
/// are then renamed to the parameters' names.
fn path_tuple_or_scalar<T: DeserializeOwned>(
    req: &RequestContext<'_>,
    validator: &Validator,
    loc: &mut Loc,
    errors: &mut ValidationErrors,
) -> Option<T> {
    let mut iter = req.params();
    if let (Some((name, value)), None) = (iter.next(), iter.next()) {
        loc.push_key(name.to_owned());
        return validator.validate(Value::String(value.to_owned()), loc, errors, true);
    }
    let params: Vec<(&str, &str)> = req.params().collect();
    let list = params
        .iter()
        .map(|(_, v)| Value::String(v.to_string()))
        .collect();
    let before = errors.len();
    let out = validator.validate(Value::Array(list), loc, errors, true);
    let mut renamed = ValidationErrors::new();
    for (i, mut item) in errors.items().iter().cloned().enumerate() {
        if i >= before {
            if let Some(LocPart::Index(n)) = item.loc.0.get(1) {
                if let Some((name, _)) = params.get(*n) {
                    item.loc.0[1] = LocPart::Key(Cow::Owned(name.to_string()));
                }
            }
        }
        renamed.push(item);
    }
    *errors = renamed;
    out
}

/// Query parameters as a struct: fields are parameters, `Option<T>` or `#[serde(default)]` make
/// them optional, `Vec<T>` collects a repeated key; constraints come from schemars attributes.
///
/// ```
/// use schemars::JsonSchema;
/// use serde::Deserialize;
/// use waitless::{App, Json, Query};
///
/// #[derive(Deserialize, JsonSchema)]
/// struct Page {
///     #[serde(default)]
///     skip: u32,
///     #[serde(default = "ten")]
///     #[schemars(range(min = 1, max = 100))]
///     limit: u32,
///     #[schemars(length(max = 50))]
///     q: Option<String>,
/// }
/// fn ten() -> u32 { 10 }
///
/// async fn list(Query(page): Query<Page>) -> Json<(u32, u32, Option<String>)> {
///     Json((page.skip, page.limit, page.q))
/// }
///
/// let app = App::new().get("/items", list);
/// # let _ = app;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + JsonSchema + 'static> FromRequest for Query<T> {
    fn openapi(op: &mut Operation<'_>) {
        op.params_from::<T>(ParamIn::Query);
    }

    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        let pairs = form_urlencoded::parse(req.query_string());
        from_pairs(pairs, "query").map(Query)
    }

    fn prepare() {
        Validator::of::<T>();
    }
}

/// Builds `T` from `key=value` pairs (query string or urlencoded form) under loc `source`.
pub(crate) fn from_pairs<'p, T: DeserializeOwned + JsonSchema + 'static>(
    pairs: impl Iterator<Item = (Cow<'p, str>, Cow<'p, str>)>,
    source: &'static str,
) -> Result<T, Rejection> {
    let validator = Validator::of::<T>();
    let object = pairs_object(&validator, pairs);
    let mut errors = ValidationErrors::new();
    match validator.validate(object, &mut Loc::new(source), &mut errors, true) {
        Some(v) if errors.is_empty() => Ok(v),
        _ => Err(Rejection::Invalid(errors)),
    }
}

/// The pairs whose key is a field of `T`, as a JSON object of strings: the last value of a
/// repeated key wins (Starlette's rule), except for list fields, which collect every value.
pub(crate) fn pairs_object<'p>(
    validator: &Validator,
    pairs: impl Iterator<Item = (Cow<'p, str>, Cow<'p, str>)>,
) -> Value {
    let mut map = Map::new();
    for (key, value) in pairs {
        let Some((name, list)) = validator.fields().find(|(name, _)| *name == key) else {
            continue;
        };
        let value = Value::String(value.into_owned());
        if list {
            match map.entry(name).or_insert_with(|| Value::Array(Vec::new())) {
                Value::Array(items) => items.push(value),
                other => *other = value,
            }
        } else {
            map.insert(name.to_owned(), value);
        }
    }
    Value::Object(map)
}
