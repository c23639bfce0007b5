//! Validation with FastAPI's (pydantic v2's) error body, driven by the type's JSON Schema.
//!
//! Why a schema and not serde alone: serde stops at the first error and knows nothing of
//! constraints, while FastAPI reports **every** error of a request at once, each with pydantic's
//! `type`, `loc`, `msg`, `input` and `ctx`. A type declares its constraints once, with
//! `#[derive(Deserialize, JsonSchema)]` and schemars attributes (`#[schemars(range(min = 1))]`,
//! `length(max = 50)`, `regex(pattern = ..)`): the same declaration yields the JSON Schema that
//! OpenAPI publishes and, compiled **once per type and worker** ([`Validator::of`]), the checks
//! run on every request. Per request only the compiled tree is walked: no schema lookups.
//!
//! The flow per extractor: input (a JSON value for bodies; raw strings for path, query, headers,
//! cookies and forms) → [`Validator::check`] coerces it the way pydantic's lax mode does (`"5"`
//! → `5`, `"true"` → `true`) and records every error → `serde_json::from_value` builds the Rust
//! value from the coerced input.

mod check;
mod errors;
mod schema;

use std::any::TypeId;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use errors::{ErrorItem, Loc, LocPart, ValidationErrors};
pub use schema::SchemaError;

use schema::{Node, NodeId};

/// A type's JSON Schema compiled into a tree of checks.
#[derive(Debug)]
pub struct Validator {
    nodes: Vec<Node>,
    root: NodeId,
    schema: Value,
}

thread_local! {
    /// One compiled validator per type and worker thread (`Rc`: never shared across threads).
    static CACHE: RefCell<HashMap<TypeId, Rc<Validator>>> = RefCell::new(HashMap::new());
}

impl Validator {
    /// The validator of `T`, compiled on first use in this thread and cached.
    ///
    /// Panics when the schema uses a construct the validator cannot check; routes call this
    /// when they are registered, so such a type fails at startup, never on a request.
    pub fn of<T: JsonSchema + 'static>() -> Rc<Validator> {
        let id = TypeId::of::<T>();
        if let Some(v) = CACHE.with(|c| c.borrow().get(&id).cloned()) {
            return v;
        }
        let compiled = match Validator::compile(schema_of::<T>()) {
            Ok(v) => Rc::new(v),
            Err(e) => panic!(
                "waitless: cannot validate type {}: {e}",
                std::any::type_name::<T>()
            ),
        };
        CACHE.with(|c| c.borrow_mut().insert(id, compiled.clone()));
        compiled
    }

    /// Compiles a JSON Schema (draft 2020-12, as schemars writes it).
    pub fn compile(schema: Value) -> Result<Validator, SchemaError> {
        let (nodes, root) = schema::compile(&schema)?;
        Ok(Validator {
            nodes,
            root,
            schema,
        })
    }

    /// The JSON Schema this validator was compiled from (what OpenAPI publishes).
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// The names of the top-level object's fields, in declaration order (for query and path
    /// structs), with whether each is a list (a query key may repeat).
    pub fn fields(&self) -> impl Iterator<Item = (&str, bool)> {
        self.object_fields()
            .into_iter()
            .flatten()
            .map(|f| (f.name.as_str(), self.is_list(f.node)))
    }

    fn object_fields(&self) -> Option<&[schema::Field]> {
        match schema::deref(&self.nodes, self.root) {
            Node::Object { fields, .. } => Some(fields),
            _ => None,
        }
    }

    fn is_list(&self, id: NodeId) -> bool {
        match schema::deref(&self.nodes, id) {
            Node::List { .. } => true,
            Node::Nullable(inner) => self.is_list(*inner),
            _ => false,
        }
    }

    /// Whether the root is an object with named fields (a struct).
    pub fn is_struct(&self) -> bool {
        self.object_fields().is_some()
    }

    /// Checks and coerces `value` in place; every error is appended to `errors` under `loc`.
    ///
    /// `params`: the value's fields are separate parameters (query, path, header, cookie, form
    /// fields), so a missing one reports `"input": null` as FastAPI does; for a body model the
    /// input of `missing` is the object sent.
    pub fn check(
        &self,
        value: &mut Value,
        loc: &mut Loc,
        errors: &mut ValidationErrors,
        params: bool,
    ) {
        check::Checker {
            nodes: &self.nodes,
            errors,
            params,
        }
        .check(self.root, value, loc);
    }

    /// Checks `value` and, if it is valid, deserializes it into `T`.
    pub fn validate<T: DeserializeOwned>(
        &self,
        mut value: Value,
        loc: &mut Loc,
        errors: &mut ValidationErrors,
        params: bool,
    ) -> Option<T> {
        let before = errors.len();
        self.check(&mut value, loc, errors, params);
        if errors.len() > before {
            return None;
        }
        deserialize(value, loc, errors)
    }
}

/// `serde_json::from_value`, turning a failure the schema did not foresee into a `value_error`.
pub(crate) fn deserialize<T: DeserializeOwned>(
    value: Value,
    loc: &Loc,
    errors: &mut ValidationErrors,
) -> Option<T> {
    // `from_value` consumes the value; keep a copy only for the (rare) error report.
    match T::deserialize(&value) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(ErrorItem::value_error(loc.clone(), value, e.to_string()));
            None
        }
    }
}

/// `T`'s JSON Schema, draft 2020-12 (OpenAPI 3.1's dialect).
pub fn schema_of<T: JsonSchema>() -> Value {
    schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

#[cfg(test)]
mod tests;
