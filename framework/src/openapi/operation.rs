//! One operation (method + path) of the document, as the route's extractors and return type
//! describe it.
//!
//! Why extractors describe themselves: FastAPI reads a function's signature to learn its
//! parameters; here the handler's argument types are known at compile time, so each extractor
//! type writes its own part (`Query<T>` its query parameters from `T`'s schema, `Json<T>` the
//! request body, `HttpBearer` its security scheme) through [`FromRequest::openapi`]. The
//! schemas are the very ones the validators are compiled from: one declaration of constraints.
//!
//! [`FromRequest::openapi`]: crate::FromRequest::openapi

use schemars::JsonSchema;
use serde_json::{json, Map, Value};

use super::components::Components;
use crate::validation::schema_of;

/// Where a parameter is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamIn {
    /// A path segment (`/items/{item_id}`): always documented as required, as in FastAPI.
    Path,
    /// The query string (`?skip=0&limit=10`).
    Query,
    /// A request header; a field `user_agent` documents the header `user-agent`.
    Header,
    /// A cookie of the `Cookie` header.
    Cookie,
}

impl ParamIn {
    fn as_str(self) -> &'static str {
        match self {
            ParamIn::Path => "path",
            ParamIn::Query => "query",
            ParamIn::Header => "header",
            ParamIn::Cookie => "cookie",
        }
    }
}

/// What one route contributes to the document; extractors write into it.
#[derive(Debug)]
pub struct Operation<'c> {
    pub(crate) path_params: Vec<String>,
    pub(crate) parameters: Vec<Value>,
    pub(crate) request_body: Option<Value>,
    /// `status → response object` declared by the return type or the route.
    pub(crate) responses: Map<String, Value>,
    /// The schema of the success response (a declared response model).
    pub(crate) model: Option<Value>,
    pub(crate) security: Vec<Value>,
    /// Whether the request can fail validation (a 422 is documented).
    pub(crate) validates: bool,
    /// The document's shared tables, for an extractor or response type that declares a named schema
    /// ([`Components::schema_for`]) or a security scheme ([`Components::security_scheme`]). Every
    /// operation of the document writes into the same tables.
    pub components: &'c mut Components,
}

impl<'c> Operation<'c> {
    pub(crate) fn new(path: &str, components: &'c mut Components) -> Operation<'c> {
        Operation {
            path_params: path_params(path),
            parameters: Vec::new(),
            request_body: None,
            responses: Map::new(),
            model: None,
            security: Vec::new(),
            validates: false,
            components,
        }
    }

    /// Marks the operation as validated (FastAPI documents a 422 for it).
    pub fn validates(&mut self) {
        self.validates = true;
    }

    /// One parameter per field of `T` (a struct), read from `location`. Header fields are
    /// named like the header they read (`user_agent` → `user-agent`).
    pub fn params_from<T: JsonSchema>(&mut self, location: ParamIn) {
        self.validates();
        let root = self.components.import(schema_of::<T>(), None);
        let Some(properties) = root.get("properties").and_then(Value::as_object) else {
            return self.scalar_path_params(root, location);
        };
        let required = root.get("required").and_then(Value::as_array);
        for (name, schema) in properties {
            let is_required = required.is_some_and(|r| r.iter().any(|n| n == name.as_str()));
            let name = match location {
                ParamIn::Header => name.replace('_', "-"),
                _ => name.clone(),
            };
            let required = is_required || location == ParamIn::Path;
            self.parameter(&name, location, required, schema.clone());
        }
    }

    /// `Path<u64>` (one parameter) and `Path<(String, u32)>` (a tuple in template order).
    fn scalar_path_params(&mut self, root: Value, location: ParamIn) {
        if location != ParamIn::Path {
            return;
        }
        let names = self.path_params.clone();
        match root.get("prefixItems").and_then(Value::as_array) {
            Some(items) => {
                for (name, schema) in names.iter().zip(items) {
                    self.parameter(name, ParamIn::Path, true, schema.clone());
                }
            }
            None => {
                if let Some(name) = names.first() {
                    self.parameter(name, ParamIn::Path, true, root);
                }
            }
        }
    }

    /// Adds (or replaces) one parameter.
    pub fn parameter(&mut self, name: &str, location: ParamIn, required: bool, schema: Value) {
        let loc = location.as_str();
        self.parameters
            .retain(|p| !(p["name"] == name && p["in"] == loc));
        let mut p = json!({ "name": name, "in": loc, "required": required, "schema": schema });
        if let Some(desc) = schema_description(&p["schema"]) {
            p["description"] = Value::String(desc);
        }
        self.parameters.push(p);
    }

    /// The request body: `T`'s schema under `content_type` (required).
    pub fn body_from<T: JsonSchema>(&mut self, content_type: &str) {
        self.validates();
        let schema = self.components.schema_for::<T>();
        self.body_schema(content_type, schema);
    }

    /// The request body as a schema written by hand.
    pub fn body_schema(&mut self, content_type: &str, schema: Value) {
        self.request_body = Some(json!({
            "content": { content_type: { "schema": schema } },
            "required": true
        }));
    }

    /// A response: `status → {description, content}`; `schema` `None` means no body.
    pub fn response(&mut self, status: &str, description: &str, schema: Option<Value>) {
        let mut r = json!({ "description": description });
        if let Some(schema) = schema {
            r["content"] = json!({ "application/json": { "schema": schema } });
        }
        self.responses.insert(status.to_owned(), r);
    }

    /// The success response's body is `T` (FastAPI's `response_model`).
    pub fn response_model<T: JsonSchema>(&mut self) {
        self.model = Some(self.components.schema_for::<T>());
    }

    /// Requires the named security scheme (declared in `components` as `scheme`).
    pub fn security(&mut self, name: &str, scheme: Value, scopes: &[&str]) {
        self.components.security_scheme(name, scheme);
        let requirement = json!({ name: scopes });
        if !self.security.contains(&requirement) {
            self.security.push(requirement);
        }
    }
}

fn schema_description(schema: &Value) -> Option<String> {
    schema
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// `/items/{item_id}/{rest}` → `["item_id", "rest"]` (matchit's `{*rest}` included).
fn path_params(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = rest[start + 1..start + len].trim_start_matches('*');
        if !name.is_empty() {
            out.push(name.to_owned());
        }
        rest = &rest[start + len + 1..];
    }
    out
}

/// The OpenAPI form of a matchit template: `{*rest}` → `{rest}`.
pub(crate) fn openapi_path(path: &str) -> String {
    path.replace("{*", "{")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parameters_are_read_from_the_template() {
        assert_eq!(path_params("/users/{user}/posts/{post}"), ["user", "post"]);
        assert_eq!(path_params("/static/{*path}"), ["path"]);
        assert!(path_params("/plain").is_empty());
        assert_eq!(openapi_path("/static/{*path}"), "/static/{path}");
    }
}
