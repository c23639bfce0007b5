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
    /// A source or field name (`"query"`, `"limit"`), serialized as a JSON string.
    Key(Cow<'static, str>),
    /// A position in a list (or, for `json_invalid`, the character offset of the JSON error), serialized as a JSON number.
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

    /// Descends into field `key` (pair it with [`Loc::pop`] when leaving the field).
    pub fn push_key(&mut self, key: impl Into<Cow<'static, str>>) {
        self.0.push(LocPart::Key(key.into()));
    }

    /// Descends into list item `index` (pair it with [`Loc::pop`]).
    pub fn push_index(&mut self, index: usize) {
        self.0.push(LocPart::Index(index));
    }

    /// Leaves the innermost field or item; does nothing on an empty location.
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
    /// pydantic's error `type` (`"missing"`, `"int_parsing"`, `"greater_than_equal"`, ...), which
    /// clients match on; serialized as `type`.
    pub kind: &'static str,
    /// Where the error is: the source (`path`, `query`, `header`, `cookie`, `body`) then field
    /// names and list indices.
    pub loc: Loc,
    /// pydantic's human-readable message (`"Field required"`), word for word.
    pub msg: Cow<'static, str>,
    /// The value that failed, as received (a query or header value is the string sent); for
    /// `missing`, the enclosing object of a body, `null` for a parameter.
    pub input: Value,
    /// The constraint that failed (`{"ge": 0}`, `{"min_length": 3}`, `{"pattern": ...}`); left out
    /// of the JSON when `None`, as pydantic does.
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

    /// `int_type`: "Input should be a valid integer": an integer field got something that is
    /// neither a number nor a string (`true`, `null`, a list, an object).
    pub fn int_type(loc: &Loc, input: Value) -> Self {
        Self::new("int_type", loc, "Input should be a valid integer", input)
    }

    /// `int_parsing`: "Input should be a valid integer, unable to parse string as an integer": a
    /// string that is not an integer (`?limit=ten`, a path segment `foo`).
    pub fn int_parsing(loc: &Loc, input: Value) -> Self {
        Self::new(
            "int_parsing",
            loc,
            "Input should be a valid integer, unable to parse string as an integer",
            input,
        )
    }

    /// `int_from_float`: "Input should be a valid integer, got a number with a fractional part": a
    /// JSON number like `2.5` for an integer field (`2.0` is accepted).
    pub fn int_from_float(loc: &Loc, input: Value) -> Self {
        Self::new(
            "int_from_float",
            loc,
            "Input should be a valid integer, got a number with a fractional part",
            input,
        )
    }

    /// `float_type`: "Input should be a valid number": a number field got something that is neither
    /// a number nor a string.
    pub fn float_type(loc: &Loc, input: Value) -> Self {
        Self::new("float_type", loc, "Input should be a valid number", input)
    }

    /// `float_parsing`: "Input should be a valid number, unable to parse string as a number": a
    /// string that is not a finite number.
    pub fn float_parsing(loc: &Loc, input: Value) -> Self {
        Self::new(
            "float_parsing",
            loc,
            "Input should be a valid number, unable to parse string as a number",
            input,
        )
    }

    /// `bool_type`: "Input should be a valid boolean": a boolean field got something that is
    /// neither a boolean, a number nor a string.
    pub fn bool_type(loc: &Loc, input: Value) -> Self {
        Self::new("bool_type", loc, "Input should be a valid boolean", input)
    }

    /// `bool_parsing`: "Input should be a valid boolean, unable to interpret input": a string other
    /// than pydantic's `true`/`false` words (`1`/`0`, `yes`/`no`, `on`/`off`, `t`/`f`, `y`/`n`,
    /// case-insensitive) or a number other than `0` and `1`.
    pub fn bool_parsing(loc: &Loc, input: Value) -> Self {
        Self::new(
            "bool_parsing",
            loc,
            "Input should be a valid boolean, unable to interpret input",
            input,
        )
    }

    /// `string_type`: "Input should be a valid string": a string field got a non-string JSON value
    /// (pydantic's strict default for strings: `123` is not turned into `"123"`).
    pub fn string_type(loc: &Loc, input: Value) -> Self {
        Self::new("string_type", loc, "Input should be a valid string", input)
    }

    /// `string_too_short`: "String should have at least {min} character(s)", `ctx`
    /// `{"min_length"}`; length counts Unicode characters, as Python's `len`.
    pub fn string_too_short(loc: &Loc, input: Value, min: u64) -> Self {
        let msg = format!("String should have at least {min} character{}", plural(min));
        ErrorItem {
            ctx: ctx1("min_length", min.into()),
            ..Self::new("string_too_short", loc, msg, input)
        }
    }

    /// `string_too_long`: "String should have at most {max} character(s)", `ctx` `{"max_length"}`.
    pub fn string_too_long(loc: &Loc, input: Value, max: u64) -> Self {
        let msg = format!("String should have at most {max} character{}", plural(max));
        ErrorItem {
            ctx: ctx1("max_length", max.into()),
            ..Self::new("string_too_long", loc, msg, input)
        }
    }

    /// `string_pattern_mismatch`: "String should match pattern '{pattern}'", `ctx` `{"pattern"}`
    /// with the pattern as written in the schema.
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

    /// `list_type`: "Input should be a valid list": a list field got a non-array value.
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

    /// `model_attributes_type`: "Input should be a valid dictionary or object to extract fields
    /// from": a struct (a pydantic model) got a non-object value, e.g. a JSON body that is a list.
    pub fn model_attributes_type(loc: &Loc, input: Value) -> Self {
        Self::new(
            "model_attributes_type",
            loc,
            "Input should be a valid dictionary or object to extract fields from",
            input,
        )
    }

    /// `dict_type`: "Input should be a valid dictionary": a map field (`HashMap`, `dict[str, T]`)
    /// got a non-object value.
    pub fn dict_type(loc: &Loc, input: Value) -> Self {
        Self::new(
            "dict_type",
            loc,
            "Input should be a valid dictionary",
            input,
        )
    }

    /// `extra_forbidden`: "Extra inputs are not permitted": a key that is not a field of a struct
    /// declared `#[serde(deny_unknown_fields)]` (pydantic's `extra="forbid"`); `input` is that
    /// key's value.
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
    /// No error yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one error at the end.
    pub fn push(&mut self, item: ErrorItem) {
        self.items.push(item);
    }

    /// Adds every error of `other` after these (how a handler collects the errors of all its
    /// arguments into one `422`).
    pub fn append(&mut self, other: ValidationErrors) {
        self.items.extend(other.items);
    }

    /// The number of errors (entries of `detail`).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there is no error at all (validation passed).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The errors in the order they were added; the `422` response sorts them by source first
    /// ([`ValidationErrors::sort_by_source`]).
    ///
    /// ```
    /// use waitless::validation::{ErrorItem, Loc};
    /// use waitless::ValidationErrors;
    /// let mut errors = ValidationErrors::new();
    /// let mut loc = Loc::new("body");
    /// loc.push_key("name");
    /// errors.push(ErrorItem::missing(&loc, serde_json::json!({})));
    /// let mut loc = Loc::new("query");
    /// loc.push_key("limit");
    /// errors.push(ErrorItem::int_parsing(&loc, "ten".into()));
    /// assert_eq!(errors.items()[0].kind, "missing");
    /// errors.sort_by_source();
    /// assert_eq!(errors.items()[0].kind, "int_parsing");
    /// ```
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
