//! `components/schemas` and `components/securitySchemes`: every named type once, referenced.
//!
//! Why an import step: schemars writes each type's schema as a root with its named sub-types
//! under `$defs` (`#/$defs/Owner`). OpenAPI wants one shared table, so each `$defs` entry moves
//! to `components/schemas`, every `$ref` is rewritten to `#/components/schemas/..`, and a named
//! root becomes a `$ref` too: a model used by ten routes is written once.

use schemars::JsonSchema;
use serde_json::{json, Map, Value};

use crate::validation::schema_of;

const REF_PREFIX: &str = "#/components/schemas/";

/// The shared tables of an OpenAPI document.
#[derive(Debug, Default)]
pub struct Components {
    pub(crate) schemas: Map<String, Value>,
    pub(crate) security_schemes: Map<String, Value>,
}

impl Components {
    /// `T`'s schema for use in an operation: `{"$ref": "#/components/schemas/T"}` for a named
    /// type (its definition stored once), the schema itself for a primitive or a container.
    pub fn schema_for<T: JsonSchema>(&mut self) -> Value {
        let root = schema_of::<T>();
        let name = (!T::inline_schema()).then(|| T::schema_name().into_owned());
        self.import(root, name.as_deref())
    }

    /// Imports a root schema as schemars writes it: `$defs` go to the table, refs are
    /// rewritten; a root given a `name` is stored under it and returned as a `$ref`.
    pub fn import(&mut self, mut root: Value, name: Option<&str>) -> Value {
        let root_ref = name.map(|n| format!("{REF_PREFIX}{n}"));
        if let Some(obj) = root.as_object_mut() {
            obj.remove("$schema");
            if let Some(Value::Object(defs)) = obj.remove("$defs") {
                for (def_name, mut def) in defs {
                    rewrite_refs(&mut def, root_ref.as_deref());
                    self.insert_schema(def_name, def);
                }
            }
        }
        rewrite_refs(&mut root, root_ref.as_deref());
        match (name, root_ref) {
            (Some(name), Some(r)) => {
                self.insert_schema(name.to_owned(), root);
                json!({ "$ref": r })
            }
            _ => {
                if let Some(obj) = root.as_object_mut() {
                    obj.remove("title");
                }
                root
            }
        }
    }

    fn insert_schema(&mut self, name: String, schema: Value) {
        match self.schemas.get(&name) {
            Some(existing) if *existing != schema => log::warn!(
                "waitless: two different types are both named {name:?} in OpenAPI; \
                 the first one is kept (rename one with #[schemars(rename = ..)])"
            ),
            Some(_) => {}
            None => {
                self.schemas.insert(name, schema);
            }
        }
    }

    /// Declares a security scheme (`components/securitySchemes/<name>`).
    pub fn security_scheme(&mut self, name: &str, scheme: Value) {
        self.security_schemes.insert(name.to_owned(), scheme);
    }

    /// The two schemas of FastAPI's 422 body, exactly as FastAPI writes them.
    pub(crate) fn validation_error_schemas(&mut self) {
        self.schemas.insert(
            "HTTPValidationError".into(),
            json!({
                "properties": {
                    "detail": {
                        "items": {"$ref": "#/components/schemas/ValidationError"},
                        "type": "array",
                        "title": "Detail"
                    }
                },
                "type": "object",
                "title": "HTTPValidationError"
            }),
        );
        self.schemas.insert(
            "ValidationError".into(),
            json!({
                "properties": {
                    "loc": {
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                        "type": "array",
                        "title": "Location"
                    },
                    "msg": {"type": "string", "title": "Message"},
                    "type": {"type": "string", "title": "Error Type"}
                },
                "type": "object",
                "required": ["loc", "msg", "type"],
                "title": "ValidationError"
            }),
        );
    }

    pub(crate) fn to_value(&self) -> Value {
        let mut out = Map::new();
        if !self.schemas.is_empty() {
            let mut sorted: Vec<_> = self.schemas.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            let schemas: Map<String, Value> = sorted
                .into_iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            out.insert("schemas".into(), Value::Object(schemas));
        }
        if !self.security_schemes.is_empty() {
            out.insert(
                "securitySchemes".into(),
                Value::Object(self.security_schemes.clone()),
            );
        }
        Value::Object(out)
    }
}

/// `#/$defs/X` → `#/components/schemas/X`; `#` (a recursive root) → the root's own ref.
fn rewrite_refs(value: &mut Value, root_ref: Option<&str>) {
    match value {
        Value::Object(obj) => {
            if let Some(Value::String(r)) = obj.get_mut("$ref") {
                if let Some(name) = r.strip_prefix("#/$defs/") {
                    *r = format!("{REF_PREFIX}{name}");
                } else if r == "#" {
                    if let Some(root) = root_ref {
                        *r = root.to_owned();
                    }
                }
            }
            for v in obj.values_mut() {
                rewrite_refs(v, root_ref);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, root_ref)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Owner {
        name: String,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Pet {
        owner: Owner,
        friends: Vec<Pet>,
    }

    #[test]
    fn named_types_become_components_and_refs() {
        let mut c = Components::default();
        assert_eq!(
            c.schema_for::<Pet>(),
            json!({"$ref": "#/components/schemas/Pet"})
        );
        assert_eq!(
            c.schema_for::<Vec<Pet>>()["items"],
            json!({"$ref": "#/components/schemas/Pet"})
        );
        let pet = &c.schemas["Pet"];
        assert_eq!(
            pet["properties"]["owner"],
            json!({"$ref": "#/components/schemas/Owner"})
        );
        assert_eq!(
            pet["properties"]["friends"]["items"]["$ref"],
            "#/components/schemas/Pet"
        );
        assert!(c.schemas.contains_key("Owner"));
        assert!(!serde_json::to_string(&c.to_value())
            .unwrap()
            .contains("$defs"));
        assert_eq!(c.schema_for::<u32>()["type"], "integer");
    }
}
