//! The OpenAPI 3.1 document of an app, built from its route table.
//!
//! Why built from the table and not declared: the routes, their extractor types and schemas
//! already say everything FastAPI would publish; a second declaration would drift. What code
//! cannot know (summaries, descriptions, extra responses) is added per route with builder
//! methods (`App::summary`, `App::response::<T>(404, ..)`), and anything else by editing the
//! finished document (`App::openapi_mut`).

use std::collections::HashSet;

use serde_json::{json, Map, Value};

use super::components::Components;
use super::operation::{openapi_path, Operation};
use crate::routing::{MethodRoute, RouteTable};

/// A schema written into the components when the document is built.
pub(crate) type SchemaFn = fn(&mut Components) -> Value;

/// What a route adds to its operation besides what its types say.
#[derive(Default)]
pub(crate) struct RouteDoc {
    pub(crate) summary: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) operation_id: Option<String>,
    pub(crate) deprecated: bool,
    pub(crate) hidden: bool,
    pub(crate) status: Option<u16>,
    pub(crate) tags: Vec<String>,
    pub(crate) responses: Vec<(u16, String, Option<SchemaFn>)>,
    /// Required file parts of a `multipart/form-data` body.
    pub(crate) files: Vec<String>,
}

/// A hand edit of the finished document (`App::openapi_mut`).
pub(crate) type DocEdit = Box<dyn Fn(&mut Value)>;

/// The document's settings and the hand edits applied to it.
pub(crate) struct OpenApiConfig {
    pub(crate) title: String,
    pub(crate) version: String,
    pub(crate) description: Option<String>,
    pub(crate) openapi_url: Option<String>,
    pub(crate) docs_url: Option<String>,
    pub(crate) redoc_url: Option<String>,
    pub(crate) edits: Vec<DocEdit>,
}

impl Default for OpenApiConfig {
    fn default() -> Self {
        OpenApiConfig {
            title: "waitless".into(),
            version: "0.1.0".into(),
            description: None,
            openapi_url: Some("/openapi.json".into()),
            docs_url: Some("/docs".into()),
            redoc_url: Some("/redoc".into()),
            edits: Vec::new(),
        }
    }
}

/// The methods an OpenAPI path item can hold; other methods (`PROPFIND`) are left out.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Builds the document (without `servers`: those depend on the request's root path).
pub(crate) fn build(table: &RouteTable, config: &OpenApiConfig) -> Value {
    let mut components = Components::default();
    let mut paths = Map::new();
    let mut ids = HashSet::new();
    let mut validates = false;
    for (template, route) in table.method_routes() {
        let method = route.info.method.to_ascii_lowercase();
        if route.doc.hidden || route.info.websocket || !METHODS.contains(&method.as_str()) {
            continue;
        }
        let (op, v) = operation(template, &method, route, &mut components, &mut ids);
        validates |= v;
        let item = paths
            .entry(openapi_path(template))
            .or_insert_with(|| Value::Object(Map::new()));
        item[method.as_str()] = op;
    }
    if validates {
        components.validation_error_schemas();
    }
    let mut info = json!({ "title": config.title, "version": config.version });
    if let Some(d) = &config.description {
        info["description"] = Value::String(d.clone());
    }
    let mut doc = json!({ "openapi": "3.1.0", "info": info, "paths": paths });
    let components = components.to_value();
    if components.as_object().is_some_and(|c| !c.is_empty()) {
        doc["components"] = components;
    }
    for edit in &config.edits {
        edit(&mut doc);
    }
    doc
}

/// One operation object; also whether it documents a 422.
fn operation(
    template: &str,
    method: &str,
    route: &MethodRoute,
    components: &mut Components,
    ids: &mut HashSet<String>,
) -> (Value, bool) {
    let doc = &route.doc;
    let name = handler_name(route.handler.name());
    let mut op = Operation::new(template, components);
    route.handler.describe(&mut op);
    add_missing_path_params(&mut op);

    let mut out = Map::new();
    let mut tags = route.info.tags.clone();
    tags.extend(doc.tags.iter().cloned());
    if !tags.is_empty() {
        out.insert("tags".into(), json!(tags));
    }
    let summary = doc.summary.clone().or_else(|| name.map(title_case));
    if let Some(s) = summary {
        out.insert("summary".into(), Value::String(s));
    }
    if let Some(d) = &doc.description {
        out.insert("description".into(), Value::String(d.clone()));
    }
    let id = doc
        .operation_id
        .clone()
        .unwrap_or_else(|| operation_id(name, template, method));
    out.insert("operationId".into(), Value::String(unique(id, ids)));
    if !op.parameters.is_empty() {
        out.insert("parameters".into(), Value::Array(op.parameters.clone()));
    }
    if !doc.files.is_empty() {
        op.body_schema("multipart/form-data", files_schema(&doc.files));
    }
    if let Some(body) = op.request_body.take() {
        out.insert("requestBody".into(), body);
    }
    out.insert("responses".into(), responses(doc, &mut op));
    if doc.deprecated {
        out.insert("deprecated".into(), Value::Bool(true));
    }
    if !op.security.is_empty() {
        out.insert("security".into(), Value::Array(op.security.clone()));
    }
    (Value::Object(out), op.validates)
}

fn responses(doc: &RouteDoc, op: &mut Operation<'_>) -> Value {
    let status = doc.status.unwrap_or(200);
    let mut responses = Map::new();
    let model = op.model.take().unwrap_or_else(|| json!({}));
    let main = if status == 204 || status == 304 || status < 200 {
        json!({ "description": "Successful Response" })
    } else {
        json!({
            "description": "Successful Response",
            "content": { "application/json": { "schema": model } }
        })
    };
    responses.insert(status.to_string(), main);
    for (code, r) in std::mem::take(&mut op.responses) {
        responses.insert(code, r);
    }
    for (code, description, schema) in &doc.responses {
        let schema = schema.map(|f| f(op.components));
        let mut r = json!({ "description": description });
        if let Some(schema) = schema {
            r["content"] = json!({ "application/json": { "schema": schema } });
        }
        responses.insert(code.to_string(), r);
    }
    if op.validates && !responses.contains_key("422") {
        responses.insert(
            "422".into(),
            json!({
                "description": "Validation Error",
                "content": { "application/json": {
                    "schema": { "$ref": "#/components/schemas/HTTPValidationError" }
                } }
            }),
        );
    }
    Value::Object(responses)
}

/// FastAPI's schema of `File()` parameters: binary strings, all required.
fn files_schema(files: &[String]) -> Value {
    let properties: Map<String, Value> = files
        .iter()
        .map(|f| (f.clone(), json!({"type": "string", "format": "binary"})))
        .collect();
    json!({"type": "object", "properties": properties, "required": files})
}

/// A path parameter no extractor described is still declared (OpenAPI requires it).
fn add_missing_path_params(op: &mut Operation<'_>) {
    for name in op.path_params.clone() {
        let known = op
            .parameters
            .iter()
            .any(|p| p["in"] == "path" && p["name"] == name.as_str());
        if !known {
            let schema = json!({ "type": "string" });
            op.parameter(&name, super::ParamIn::Path, true, schema);
        }
    }
}

/// `my_app::items::read_item` → `read_item`; closures have no usable name.
fn handler_name(type_name: &'static str) -> Option<&'static str> {
    let base = type_name.split('<').next().unwrap_or(type_name);
    let last = base.rsplit("::").next().unwrap_or(base);
    let valid = !last.is_empty()
        && last.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !last.starts_with(|c: char| c.is_ascii_digit());
    valid.then_some(last)
}

/// FastAPI's `generate_unique_id`: `read_item` + `/items/{item_id}` + `get` →
/// `read_item_items__item_id__get`; without a function name, the path and method alone.
fn operation_id(name: Option<&str>, template: &str, method: &str) -> String {
    let raw = format!("{}{}", name.unwrap_or(""), openapi_path(template));
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = if name.is_none() {
        cleaned.trim_start_matches('_').to_owned()
    } else {
        cleaned
    };
    format!("{cleaned}_{method}")
}

/// Operation ids must be unique in a document: a repeat gets `_2`, `_3`, ...
fn unique(id: String, ids: &mut HashSet<String>) -> String {
    if ids.insert(id.clone()) {
        return id;
    }
    for n in 2.. {
        let candidate = format!("{id}_{n}");
        if ids.insert(candidate.clone()) {
            return candidate;
        }
    }
    id
}

/// FastAPI's default summary: `read_item` → `Read Item`.
fn title_case(name: &str) -> String {
    name.split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_follow_fastapi() {
        assert_eq!(handler_name("app::items::read_item"), Some("read_item"));
        assert_eq!(handler_name("app::main::{{closure}}"), None);
        assert_eq!(
            operation_id(Some("read_item"), "/items/{item_id}", "get"),
            "read_item_items__item_id__get"
        );
        assert_eq!(
            operation_id(None, "/items/{item_id}", "get"),
            "items__item_id__get"
        );
        assert_eq!(title_case("read_item"), "Read Item");
        let mut ids = HashSet::new();
        assert_eq!(unique("a".into(), &mut ids), "a");
        assert_eq!(unique("a".into(), &mut ids), "a_2");
    }
}
