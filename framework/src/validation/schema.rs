//! Compiles a JSON Schema (as schemars writes it) into a flat tree of checks, once per type.
//!
//! Why a flat `Vec<Node>` with indices: `$ref`s (named types, recursive types) become plain
//! indices, so a recursive type compiles to a finite tree, and checking never looks anything up
//! by name.

use std::fmt;

use regex::Regex;
use serde_json::{Map, Number, Value};

pub(crate) type NodeId = usize;

/// Why a schema cannot be compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaError(pub String);

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SchemaError {}

/// Numeric bounds as written in the schema (kept as `Number` for `ctx`), plus f64 copies.
#[derive(Debug, Default)]
pub(crate) struct Bounds {
    pub(crate) ge: Option<(f64, Number)>,
    pub(crate) gt: Option<(f64, Number)>,
    pub(crate) le: Option<(f64, Number)>,
    pub(crate) lt: Option<(f64, Number)>,
}

#[derive(Debug)]
pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) node: NodeId,
    pub(crate) required: bool,
}

#[derive(Debug)]
pub(crate) enum Node {
    /// No constraint (`true`, `{}`, or a keyword set the validator does not interpret).
    Any,
    Null,
    Bool,
    /// An integer: the schema's bounds, and the range of the Rust type (`format`).
    Int(Bounds, Option<(i128, i128)>),
    Float(Bounds),
    Str {
        min: Option<u64>,
        max: Option<u64>,
        pattern: Option<(Regex, String)>,
    },
    List {
        items: Option<NodeId>,
        prefix: Vec<NodeId>,
        min: Option<u64>,
        max: Option<u64>,
    },
    Object {
        fields: Vec<Field>,
        /// `None`: extra keys allowed; `Some(None)`: forbidden; `Some(Some(id))`: checked.
        extra: Option<Option<NodeId>>,
        /// A model (named properties) or a plain map (only `additionalProperties`).
        model: bool,
    },
    Enum(Vec<Value>),
    /// `T` or `null` (an `Option<T>`).
    Nullable(NodeId),
    /// The first alternative that accepts the input wins.
    AnyOf(Vec<NodeId>),
    /// A `$ref` to a definition, while compiling.
    Ref(String),
    /// A resolved `$ref`: the definition's node.
    Link(NodeId),
}

struct Compiler<'s> {
    nodes: Vec<Node>,
    defs: Option<&'s Map<String, Value>>,
    def_ids: Vec<(String, NodeId)>,
}

/// Compiles `schema`; returns the nodes and the root's index.
pub(crate) fn compile(schema: &Value) -> Result<(Vec<Node>, NodeId), SchemaError> {
    let mut c = Compiler {
        nodes: Vec::new(),
        defs: schema.get("$defs").and_then(Value::as_object),
        def_ids: Vec::new(),
    };
    let root = c.node(schema)?;
    // `#` is the root itself (a recursive type without a named definition).
    c.def_ids.push(("#".to_owned(), root));
    c.resolve_refs()?;
    Ok((c.nodes, root))
}

impl<'s> Compiler<'s> {
    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn node(&mut self, schema: &'s Value) -> Result<NodeId, SchemaError> {
        let obj = match schema {
            Value::Bool(_) => return Ok(self.push(Node::Any)),
            Value::Object(o) => o,
            other => return Err(SchemaError(format!("not a schema: {other}"))),
        };
        if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
            return Ok(self.push(Node::Ref(r.to_owned())));
        }
        if let Some(values) = obj.get("enum").and_then(Value::as_array) {
            return Ok(self.push(Node::Enum(values.clone())));
        }
        if let Some(value) = obj.get("const") {
            return Ok(self.push(Node::Enum(vec![value.clone()])));
        }
        if let Some(alts) = obj
            .get("anyOf")
            .or_else(|| obj.get("oneOf"))
            .and_then(Value::as_array)
        {
            return self.alternatives(alts);
        }
        match obj.get("type") {
            Some(Value::String(t)) => self.typed(t, obj),
            Some(Value::Array(types)) => self.multi_typed(types, obj),
            _ => Ok(self.push(Node::Any)),
        }
    }

    /// `anyOf: [X, {type: null}]` is an `Option<X>`; anything else is a union.
    fn alternatives(&mut self, alts: &'s [Value]) -> Result<NodeId, SchemaError> {
        let is_null = |v: &Value| v.get("type").and_then(Value::as_str) == Some("null");
        let non_null: Vec<&Value> = alts.iter().filter(|v| !is_null(v)).collect();
        let nullable = non_null.len() < alts.len();
        let inner = match non_null.as_slice() {
            [one] => self.node(one)?,
            many => {
                let mut ids = Vec::with_capacity(many.len());
                for alt in many {
                    ids.push(self.node(alt)?);
                }
                self.push(Node::AnyOf(ids))
            }
        };
        Ok(if nullable {
            self.push(Node::Nullable(inner))
        } else {
            inner
        })
    }

    /// `type: ["string", "null"]`.
    fn multi_typed(
        &mut self,
        types: &'s [Value],
        obj: &'s Map<String, Value>,
    ) -> Result<NodeId, SchemaError> {
        let names: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
        let non_null: Vec<&str> = names.iter().copied().filter(|t| *t != "null").collect();
        let inner = match non_null.as_slice() {
            [one] => self.typed(one, obj)?,
            many => {
                let mut ids = Vec::with_capacity(many.len());
                for t in many {
                    ids.push(self.typed(t, obj)?);
                }
                self.push(Node::AnyOf(ids))
            }
        };
        Ok(if non_null.len() < names.len() {
            self.push(Node::Nullable(inner))
        } else {
            inner
        })
    }

    fn typed(&mut self, t: &str, obj: &'s Map<String, Value>) -> Result<NodeId, SchemaError> {
        let node = match t {
            "null" => Node::Null,
            "boolean" => Node::Bool,
            "integer" => Node::Int(bounds(obj), int_range(obj)),
            "number" => Node::Float(bounds(obj)),
            "string" => string(obj)?,
            "array" => return self.list(obj),
            "object" => return self.object(obj),
            other => return Err(SchemaError(format!("unknown type {other:?}"))),
        };
        Ok(self.push(node))
    }

    fn list(&mut self, obj: &'s Map<String, Value>) -> Result<NodeId, SchemaError> {
        let items = match obj.get("items") {
            Some(schema) => Some(self.node(schema)?),
            None => None,
        };
        let mut prefix = Vec::new();
        for schema in obj
            .get("prefixItems")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            prefix.push(self.node(schema)?);
        }
        let (min, max) = (u64_of(obj, "minItems"), u64_of(obj, "maxItems"));
        Ok(self.push(Node::List {
            items,
            prefix,
            min,
            max,
        }))
    }

    fn object(&mut self, obj: &'s Map<String, Value>) -> Result<NodeId, SchemaError> {
        let required: Vec<&str> = obj
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let props = obj.get("properties").and_then(Value::as_object);
        let mut fields = Vec::new();
        for (name, schema) in props.into_iter().flatten() {
            fields.push(Field {
                name: name.clone(),
                node: self.node(schema)?,
                required: required.contains(&name.as_str()),
            });
        }
        let extra = match obj.get("additionalProperties") {
            None | Some(Value::Bool(true)) => None,
            Some(Value::Bool(false)) => Some(None),
            Some(schema) => Some(Some(self.node(schema)?)),
        };
        Ok(self.push(Node::Object {
            fields,
            extra,
            model: props.is_some(),
        }))
    }

    /// Compiles every referenced definition once and turns `Ref(name)` into the definition.
    fn resolve_refs(&mut self) -> Result<(), SchemaError> {
        // Bounded: each pass compiles at least one new definition or stops.
        for _ in 0..=self.defs.map_or(0, Map::len) {
            let pending: Vec<String> = self
                .nodes
                .iter()
                .filter_map(|n| match n {
                    Node::Ref(r) if !self.def_ids.iter().any(|(name, _)| name == r) => {
                        Some(r.clone())
                    }
                    _ => None,
                })
                .collect();
            if pending.is_empty() {
                break;
            }
            for r in pending {
                if self.def_ids.iter().any(|(name, _)| *name == r) {
                    continue;
                }
                let def = r
                    .strip_prefix("#/$defs/")
                    .and_then(|name| self.defs?.get(name))
                    .ok_or_else(|| SchemaError(format!("unresolvable $ref {r:?}")))?;
                let id = self.node(def)?;
                self.def_ids.push((r, id));
            }
        }
        for node in &mut self.nodes {
            if let Node::Ref(r) = node {
                let target = self.def_ids.iter().find(|(name, _)| name == r);
                *node = match target {
                    Some((_, id)) => Node::Link(*id),
                    None => return Err(SchemaError(format!("unresolvable $ref {r:?}"))),
                };
            }
        }
        Ok(())
    }
}

/// Follows `Link` nodes to the definition they name (bounded: a cycle of links is `Any`).
pub(crate) fn deref(nodes: &[Node], mut id: NodeId) -> &Node {
    for _ in 0..16 {
        match &nodes[id] {
            Node::Link(target) => id = *target,
            node => return node,
        }
    }
    &Node::Any
}

fn bounds(obj: &Map<String, Value>) -> Bounds {
    let get = |k: &str| {
        obj.get(k)
            .and_then(Value::as_number)
            .and_then(|n| Some((n.as_f64()?, n.clone())))
    };
    Bounds {
        ge: get("minimum"),
        gt: get("exclusiveMinimum"),
        le: get("maximum"),
        lt: get("exclusiveMaximum"),
    }
}

/// The range of the Rust integer type schemars names in `format`.
fn int_range(obj: &Map<String, Value>) -> Option<(i128, i128)> {
    Some(match obj.get("format")?.as_str()? {
        "uint8" => (0, u8::MAX.into()),
        "uint16" => (0, u16::MAX.into()),
        "uint32" => (0, u32::MAX.into()),
        "uint64" | "uint" => (0, u64::MAX.into()),
        "int8" => (i8::MIN.into(), i8::MAX.into()),
        "int16" => (i16::MIN.into(), i16::MAX.into()),
        "int32" => (i32::MIN.into(), i32::MAX.into()),
        "int64" | "int" => (i64::MIN.into(), i64::MAX.into()),
        _ => return None,
    })
}

fn string(obj: &Map<String, Value>) -> Result<Node, SchemaError> {
    let pattern = match obj.get("pattern").and_then(Value::as_str) {
        Some(p) => Some((
            Regex::new(p).map_err(|e| SchemaError(format!("bad pattern {p:?}: {e}")))?,
            p.to_owned(),
        )),
        None => None,
    };
    Ok(Node::Str {
        min: u64_of(obj, "minLength"),
        max: u64_of(obj, "maxLength"),
        pattern,
    })
}

fn u64_of(obj: &Map<String, Value>, key: &str) -> Option<u64> {
    obj.get(key).and_then(Value::as_u64)
}
