//! Walks the compiled tree over an input value: coerces it in place the way pydantic's lax mode
//! does and records every error.
//!
//! Why in place: a query string's `"5"` must become the number `5` before serde builds a `u32`,
//! and the coerced value is the one deserialized — one pass, no second copy of the input.

use serde_json::{Map, Number, Value};

use super::errors::{Bound, ErrorItem, Loc, ValidationErrors};
use super::schema::{deref, Bounds, Field, Node, NodeId};

pub(crate) struct Checker<'a> {
    pub(crate) nodes: &'a [Node],
    pub(crate) errors: &'a mut ValidationErrors,
    /// Fields are separate parameters: a missing one has input `null`.
    pub(crate) params: bool,
}

impl Checker<'_> {
    /// Checks `value` against node `id`; returns whether it is valid.
    pub(crate) fn check(&mut self, id: NodeId, value: &mut Value, loc: &mut Loc) -> bool {
        let before = self.errors.len();
        match deref(self.nodes, id) {
            Node::Any | Node::Link(_) | Node::Ref(_) => {}
            Node::Null => {
                if !value.is_null() {
                    self.errors.push(ErrorItem {
                        kind: "none_required",
                        msg: "Input should be None".into(),
                        ..ErrorItem::missing(loc, value.clone())
                    });
                }
            }
            Node::Bool => self.boolean(value, loc),
            Node::Int(bounds, range) => self.int(value, loc, bounds, *range),
            Node::Float(bounds) => self.float(value, loc, bounds),
            Node::Str { min, max, pattern } => self.string(
                value,
                loc,
                *min,
                *max,
                pattern.as_ref().map(|(r, p)| (r, &**p)),
            ),
            Node::List {
                items,
                prefix,
                min,
                max,
            } => self.list(value, loc, *items, prefix, *min, *max),
            Node::Object {
                fields,
                extra,
                model,
            } => self.object(value, loc, fields, *extra, *model),
            Node::Enum(allowed) => self.enumeration(value, loc, allowed),
            Node::Nullable(inner) => {
                if !value.is_null() {
                    self.check(*inner, value, loc);
                }
            }
            Node::AnyOf(alternatives) => self.any_of(value, loc, alternatives),
        }
        self.errors.len() == before
    }

    fn boolean(&mut self, value: &mut Value, loc: &Loc) {
        let parsed = match &*value {
            Value::Bool(_) => return,
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "0" | "off" | "f" | "false" | "n" | "no" => Some(false),
                "1" | "on" | "t" | "true" | "y" | "yes" => Some(true),
                _ => None,
            },
            Value::Number(n) => match n.as_f64() {
                Some(0.0) => Some(false),
                Some(1.0) => Some(true),
                _ => None,
            },
            _ => {
                return self.errors.push(ErrorItem::bool_type(loc, value.clone()));
            }
        };
        match parsed {
            Some(b) => *value = Value::Bool(b),
            None => self
                .errors
                .push(ErrorItem::bool_parsing(loc, value.clone())),
        }
    }

    fn int(&mut self, value: &mut Value, loc: &Loc, bounds: &Bounds, range: Option<(i128, i128)>) {
        let parsed = match &*value {
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => Ok(i128::from(i)),
                (_, Some(u), _) => Ok(i128::from(u)),
                (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e38 => Ok(f as i128),
                _ => Err(ErrorItem::int_from_float(loc, value.clone())),
            },
            Value::String(s) => {
                parse_int(s).ok_or_else(|| ErrorItem::int_parsing(loc, value.clone()))
            }
            _ => Err(ErrorItem::int_type(loc, value.clone())),
        };
        let n = match parsed {
            Ok(n) => n,
            Err(e) => return self.errors.push(e),
        };
        if !self.bounds(n as f64, value, loc, bounds) {
            return;
        }
        if let Some((min, max)) = range {
            if n < min || n > max {
                let (bound, limit) = if n < min {
                    (Bound::Ge, min)
                } else {
                    (Bound::Le, max)
                };
                let limit = int_number(limit).unwrap_or_else(|| Number::from(0));
                return self
                    .errors
                    .push(ErrorItem::bound(loc, value.clone(), bound, &limit));
            }
        }
        if let Some(number) = int_number(n) {
            *value = Value::Number(number);
        }
    }

    fn float(&mut self, value: &mut Value, loc: &Loc, bounds: &Bounds) {
        let f = match &*value {
            Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
            Value::String(s) => match s.trim().parse::<f64>().ok().and_then(Number::from_f64) {
                Some(n) => n.as_f64().unwrap_or(f64::NAN),
                None => {
                    return self
                        .errors
                        .push(ErrorItem::float_parsing(loc, value.clone()))
                }
            },
            _ => return self.errors.push(ErrorItem::float_type(loc, value.clone())),
        };
        if self.bounds(f, value, loc, bounds) && value.is_string() {
            if let Some(n) = Number::from_f64(f) {
                *value = Value::Number(n);
            }
        }
    }

    /// pydantic checks `gt`, `ge`, `lt`, `le` in that order and reports the first failure.
    fn bounds(&mut self, x: f64, input: &Value, loc: &Loc, b: &Bounds) -> bool {
        let failed = [
            (Bound::Gt, &b.gt, (|x, l| x > l) as fn(f64, f64) -> bool),
            (Bound::Ge, &b.ge, |x, l| x >= l),
            (Bound::Lt, &b.lt, |x, l| x < l),
            (Bound::Le, &b.le, |x, l| x <= l),
        ]
        .into_iter()
        .find_map(|(bound, limit, ok)| match limit {
            Some((l, number)) if !ok(x, *l) => Some((bound, number)),
            _ => None,
        });
        match failed {
            Some((bound, number)) => {
                self.errors
                    .push(ErrorItem::bound(loc, input.clone(), bound, number));
                false
            }
            None => true,
        }
    }

    fn string(
        &mut self,
        value: &Value,
        loc: &Loc,
        min: Option<u64>,
        max: Option<u64>,
        pattern: Option<(&regex::Regex, &str)>,
    ) {
        let Value::String(s) = value else {
            return self.errors.push(ErrorItem::string_type(loc, value.clone()));
        };
        if min.is_some() || max.is_some() {
            let len = s.chars().count() as u64;
            if let Some(min) = min.filter(|m| len < *m) {
                return self
                    .errors
                    .push(ErrorItem::string_too_short(loc, value.clone(), min));
            }
            if let Some(max) = max.filter(|m| len > *m) {
                return self
                    .errors
                    .push(ErrorItem::string_too_long(loc, value.clone(), max));
            }
        }
        if let Some((re, source)) = pattern {
            if !re.is_match(s) {
                self.errors.push(ErrorItem::string_pattern_mismatch(
                    loc,
                    value.clone(),
                    source,
                ));
            }
        }
    }

    fn list(
        &mut self,
        value: &mut Value,
        loc: &mut Loc,
        items: Option<NodeId>,
        prefix: &[NodeId],
        min: Option<u64>,
        max: Option<u64>,
    ) {
        let Value::Array(list) = value else {
            return self.errors.push(ErrorItem::list_type(loc, value.clone()));
        };
        for (i, item) in list.iter_mut().enumerate() {
            let node = prefix.get(i).copied().or(items);
            if let Some(node) = node {
                loc.push_index(i);
                self.check(node, item, loc);
                loc.pop();
            }
        }
        let len = list.len();
        if let Some(min) = min.filter(|m| (len as u64) < *m) {
            let input = value.clone();
            self.errors
                .push(ErrorItem::list_length(loc, input, min, len, true));
        } else if let Some(max) = max.filter(|m| (len as u64) > *m) {
            let input = value.clone();
            self.errors
                .push(ErrorItem::list_length(loc, input, max, len, false));
        }
    }

    fn object(
        &mut self,
        value: &mut Value,
        loc: &mut Loc,
        fields: &[Field],
        extra: Option<Option<NodeId>>,
        model: bool,
    ) {
        let Value::Object(map) = value else {
            let input = value.clone();
            return self.errors.push(if model {
                ErrorItem::model_attributes_type(loc, input)
            } else {
                ErrorItem::dict_type(loc, input)
            });
        };
        // `missing` reports the object as it was sent: copy it only when a field is missing.
        let missing = fields
            .iter()
            .any(|f| f.required && !map.contains_key(&f.name));
        let original = (missing && !self.params).then(|| Value::Object(map.clone()));
        for field in fields {
            loc.push_key(field.name.clone());
            match map.get_mut(&field.name) {
                Some(v) => {
                    self.check(field.node, v, loc);
                }
                None if field.required => {
                    let input = original.clone().unwrap_or(Value::Null);
                    self.errors.push(ErrorItem::missing(loc, input));
                }
                None => {}
            }
            loc.pop();
        }
        if let Some(extra) = extra {
            self.extra(map, loc, fields, extra);
        }
    }

    /// Keys that are not fields: forbidden, or checked against `additionalProperties`.
    fn extra(
        &mut self,
        map: &mut Map<String, Value>,
        loc: &mut Loc,
        fields: &[Field],
        extra: Option<NodeId>,
    ) {
        for (key, v) in map.iter_mut() {
            if fields.iter().any(|f| f.name == *key) {
                continue;
            }
            loc.push_key(key.clone());
            match extra {
                None => self.errors.push(ErrorItem::extra_forbidden(loc, v.clone())),
                Some(node) => {
                    self.check(node, v, loc);
                }
            }
            loc.pop();
        }
    }

    fn enumeration(&mut self, value: &mut Value, loc: &Loc, allowed: &[Value]) {
        if allowed.contains(value) {
            return;
        }
        // A query string's "2" matches the number 2.
        if let Value::String(s) = &*value {
            if let Some(hit) = allowed
                .iter()
                .find(|a| a.as_number().is_some_and(|n| n.to_string() == s.trim()))
            {
                *value = hit.clone();
                return;
            }
        }
        self.errors
            .push(ErrorItem::enumeration(loc, value.clone(), allowed));
    }

    /// The first alternative that accepts the input wins; if none does, the first one's errors
    /// are reported.
    fn any_of(&mut self, value: &mut Value, loc: &mut Loc, alternatives: &[NodeId]) {
        let mut first_errors = None;
        for &alt in alternatives {
            let mut candidate = value.clone();
            let mut errors = ValidationErrors::new();
            let ok = Checker {
                nodes: self.nodes,
                errors: &mut errors,
                params: self.params,
            }
            .check(alt, &mut candidate, loc);
            if ok {
                *value = candidate;
                return;
            }
            first_errors.get_or_insert(errors);
        }
        if let Some(errors) = first_errors {
            self.errors.append(errors);
        }
    }
}

/// pydantic's lax str → int: surrounding whitespace, a sign, `_` between digits, and a
/// fraction of zeros (`"5.0"`) are accepted.
fn parse_int(s: &str) -> Option<i128> {
    let s = s.trim();
    let s = match s.split_once('.') {
        Some((int, frac)) if !frac.is_empty() && frac.bytes().all(|b| b == b'0') => int,
        Some(_) => return None,
        None => s,
    };
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return None;
    }
    if digits.contains('_') {
        s.replace('_', "").parse().ok()
    } else {
        s.parse().ok()
    }
}

fn int_number(n: i128) -> Option<Number> {
    i64::try_from(n)
        .map(Number::from)
        .or_else(|_| u64::try_from(n).map(Number::from))
        .ok()
}
