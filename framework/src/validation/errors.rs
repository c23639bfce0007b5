//! The error items of a 422 body, serialized exactly as FastAPI does.
//!
//! Why these exact strings: clients (and FastAPI-generated SDKs) read `detail[].type` and `loc`;
//! a port of a FastAPI service must not change them. The messages are pydantic-core's
//! (`src/errors/types.rs`).

use std::borrow::Cow;
use std::fmt;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Number, Value};

/// One step of an error location: a field name or a list index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocPart {
    Key(Cow<'static, str>),
    Index(usize),
}

/// Where an error is: `["query","limit"]`, `["body","tags",2]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Loc(pub Vec<LocPart>);

impl Loc {
    /// A location starting at `source` (`"path"`, `"query"`, `"header"`, `"cookie"`, `"body"`).
    pub fn new(source: &'static str) -> Loc {
        Loc(vec![LocPart::Key(Cow::Borrowed(source))])
    }

    pub fn push_key(&mut self, key: impl Into<Cow<'static, str>>) {
        self.0.push(LocPart::Key(key.into()));
    }

    pub fn push_index(&mut self, index: usize) {
        self.0.push(LocPart::Index(index));
    }

    pub fn pop(&mut self) {
        self.0.pop();
    }

    /// The first part's rank in FastAPI's order: path, query, header, cookie, body.
    fn source_rank(&self) -> u8 {
        match self.0.first() {
            Some(LocPart::Key(k)) => match k.as_ref() {
                "path" => 0,
                "query" => 1,
                "header" => 2,
                "cookie" => 3,
                "body" => 4,
                _ => 5,
            },
            _ => 5,
        }
    }
}

impl Serialize for Loc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for part in &self.0 {
            match part {
                LocPart::Key(k) => seq.serialize_element(k)?,
                LocPart::Index(i) => seq.serialize_element(i)?,
            }
        }
        seq.end()
    }
}

/// One entry of `detail`: pydantic's `{"type","loc","msg","input","ctx"}`.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorItem {
    pub kind: &'static str,
    pub loc: Loc,
    pub msg: Cow<'static, str>,
    pub input: Value,
    pub ctx: Option<Map<String, Value>>,
}

impl Serialize for ErrorItem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(if self.ctx.is_some() { 5 } else { 4 }))?;
        map.serialize_entry("type", self.kind)?;
        map.serialize_entry("loc", &self.loc)?;
        map.serialize_entry("msg", &self.msg)?;
        map.serialize_entry("input", &self.input)?;
        if let Some(ctx) = &self.ctx {
            map.serialize_entry("ctx", ctx)?;
        }
        map.end()
    }
}

fn ctx1(key: &str, value: Value) -> Option<Map<String, Value>> {
    let mut m = Map::new();
    m.insert(key.to_owned(), value);
    Some(m)
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

impl ErrorItem {
    fn new(kind: &'static str, loc: &Loc, msg: impl Into<Cow<'static, str>>, input: Value) -> Self {
        ErrorItem {
            kind,
            loc: loc.clone(),
            msg: msg.into(),
            input,
            ctx: None,
        }
    }

    /// `missing`: "Field required". `input` is the enclosing object (null for parameters).
    pub fn missing(loc: &Loc, input: Value) -> Self {
        Self::new("missing", loc, "Field required", input)
    }

    pub fn int_type(loc: &Loc, input: Value) -> Self {
        Self::new("int_type", loc, "Input should be a valid integer", input)
    }

    pub fn int_parsing(loc: &Loc, input: Value) -> Self {
        Self::new(
            "int_parsing",
            loc,
            "Input should be a valid integer, unable to parse string as an integer",
            input,
        )
    }

    pub fn int_from_float(loc: &Loc, input: Value) -> Self {
        Self::new(
            "int_from_float",
            loc,
            "Input should be a valid integer, got a number with a fractional part",
            input,
        )
    }

    pub fn float_type(loc: &Loc, input: Value) -> Self {
        Self::new("float_type", loc, "Input should be a valid number", input)
    }

    pub fn float_parsing(loc: &Loc, input: Value) -> Self {
        Self::new(
            "float_parsing",
            loc,
            "Input should be a valid number, unable to parse string as a number",
            input,
        )
    }

    pub fn bool_type(loc: &Loc, input: Value) -> Self {
        Self::new("bool_type", loc, "Input should be a valid boolean", input)
    }

    pub fn bool_parsing(loc: &Loc, input: Value) -> Self {
        Self::new(
            "bool_parsing",
            loc,
            "Input should be a valid boolean, unable to interpret input",
            input,
        )
    }

    pub fn string_type(loc: &Loc, input: Value) -> Self {
        Self::new("string_type", loc, "Input should be a valid string", input)
    }

    pub fn string_too_short(loc: &Loc, input: Value, min: u64) -> Self {
        let msg = format!("String should have at least {min} character{}", plural(min));
        ErrorItem {
            ctx: ctx1("min_length", min.into()),
            ..Self::new("string_too_short", loc, msg, input)
        }
    }

    pub fn string_too_long(loc: &Loc, input: Value, max: u64) -> Self {
        let msg = format!("String should have at most {max} character{}", plural(max));
        ErrorItem {
            ctx: ctx1("max_length", max.into()),
            ..Self::new("string_too_long", loc, msg, input)
        }
    }

    pub fn string_pattern_mismatch(loc: &Loc, input: Value, pattern: &str) -> Self {
        let msg = format!("String should match pattern '{pattern}'");
        ErrorItem {
            ctx: ctx1("pattern", pattern.into()),
            ..Self::new("string_pattern_mismatch", loc, msg, input)
        }
    }

    /// `greater_than_equal` and its three siblings; `bound` is the schema's number as written.
    pub fn bound(loc: &Loc, input: Value, bound: Bound, limit: &Number) -> Self {
        let (kind, key, words) = match bound {
            Bound::Ge => ("greater_than_equal", "ge", "greater than or equal to"),
            Bound::Gt => ("greater_than", "gt", "greater than"),
            Bound::Le => ("less_than_equal", "le", "less than or equal to"),
            Bound::Lt => ("less_than", "lt", "less than"),
        };
        let msg = format!("Input should be {words} {limit}");
        ErrorItem {
            ctx: ctx1(key, Value::Number(limit.clone())),
            ..Self::new(kind, loc, msg, input)
        }
    }

    pub fn list_type(loc: &Loc, input: Value) -> Self {
        Self::new("list_type", loc, "Input should be a valid list", input)
    }

    /// `too_short` / `too_long` for lists.
    pub fn list_length(loc: &Loc, input: Value, limit: u64, actual: usize, short: bool) -> Self {
        let (kind, key, words) = if short {
            ("too_short", "min_length", "at least")
        } else {
            ("too_long", "max_length", "at most")
        };
        let msg = format!(
            "List should have {words} {limit} item{} after validation, not {actual}",
            plural(limit)
        );
        let mut ctx = Map::new();
        ctx.insert("field_type".into(), "List".into());
        ctx.insert(key.into(), limit.into());
        ctx.insert("actual_length".into(), actual.into());
        ErrorItem {
            ctx: Some(ctx),
            ..Self::new(kind, loc, msg, input)
        }
    }

    pub fn model_attributes_type(loc: &Loc, input: Value) -> Self {
        Self::new(
            "model_attributes_type",
            loc,
            "Input should be a valid dictionary or object to extract fields from",
            input,
        )
    }

    pub fn dict_type(loc: &Loc, input: Value) -> Self {
        Self::new(
            "dict_type",
            loc,
            "Input should be a valid dictionary",
            input,
        )
    }

    pub fn extra_forbidden(loc: &Loc, input: Value) -> Self {
        Self::new(
            "extra_forbidden",
            loc,
            "Extra inputs are not permitted",
            input,
        )
    }

    /// `enum`: "Input should be 'a', 'b' or 'c'".
    pub fn enumeration(loc: &Loc, input: Value, allowed: &[Value]) -> Self {
        let expected = expected_list(allowed);
        ErrorItem {
            ctx: ctx1("expected", expected.clone().into()),
            ..Self::new("enum", loc, format!("Input should be {expected}"), input)
        }
    }

    /// FastAPI's own error for a body that is not JSON (`loc` `["body", position]`, input `{}`).
    pub fn json_invalid(position: usize, error: &str) -> Self {
        let mut loc = Loc::new("body");
        loc.push_index(position);
        ErrorItem {
            ctx: ctx1("error", error.into()),
            ..Self::new(
                "json_invalid",
                &loc,
                "JSON decode error",
                Value::Object(Map::new()),
            )
        }
    }

    /// `value_error`: a check the schema does not express failed while deserializing.
    pub fn value_error(loc: Loc, input: Value, error: String) -> Self {
        ErrorItem {
            ctx: ctx1("error", error.clone().into()),
            kind: "value_error",
            loc,
            msg: format!("Value error, {error}").into(),
            input,
        }
    }
}

/// Which of the four numeric bounds failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    Ge,
    Gt,
    Le,
    Lt,
}

/// pydantic's "'a', 'b' or 'c'" (Python reprs: strings in single quotes).
fn expected_list(allowed: &[Value]) -> String {
    let repr = |v: &Value| match v {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    };
    let mut out = String::new();
    for (i, v) in allowed.iter().enumerate() {
        if i > 0 {
            out.push_str(if i + 1 == allowed.len() { " or " } else { ", " });
        }
        out.push_str(&repr(v));
    }
    out
}

/// Every error of one request, in FastAPI's order (path, query, header, cookie, body).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ValidationErrors {
    items: Vec<ErrorItem>,
}

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, item: ErrorItem) {
        self.items.push(item);
    }

    pub fn append(&mut self, other: ValidationErrors) {
        self.items.extend(other.items);
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn items(&self) -> &[ErrorItem] {
        &self.items
    }

    /// Sorts by source (stable: within a source, the order the checks ran).
    pub fn sort_by_source(&mut self) {
        self.items.sort_by_key(|e| e.loc.source_rank());
    }
}

impl From<ErrorItem> for ValidationErrors {
    fn from(item: ErrorItem) -> Self {
        ValidationErrors { items: vec![item] }
    }
}

impl Serialize for ValidationErrors {
    /// `{"detail":[...]}`, the whole 422 body.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry("detail", &self.items)?;
        map.end()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} validation error(s)", self.items.len())?;
        for e in &self.items {
            write!(
                f,
                "; {}: {}",
                serde_json::to_string(&e.loc).unwrap_or_default(),
                e.msg
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}
