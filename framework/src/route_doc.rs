//! Per-route OpenAPI details (FastAPI's `summary=`, `description=`, `tags=`, `deprecated=`,
//! `status_code=`, `responses=`, `operation_id=`, `include_in_schema=`), as builder methods
//! that apply to the route added just before, on both `App` and `Router`.

use schemars::JsonSchema;

use crate::app::App;
use crate::middleware::Endpoint;
use crate::openapi::{Components, RouteDoc, SchemaFn};
use crate::routing::Router;

macro_rules! route_doc_methods {
    ($ty:ty $(, $gen:ident : $bound:path)?) => {
        impl$(<$gen: $bound>)? $ty {
            /// The operation's summary (default: the function's name, `read_item` → `Read Item`).
            pub fn summary(self, text: impl Into<String>) -> Self {
                let text = text.into();
                self.last_doc(|d| d.summary = Some(text))
            }

            /// The operation's description (Markdown).
            pub fn description(self, text: impl Into<String>) -> Self {
                let text = text.into();
                self.last_doc(|d| d.description = Some(text))
            }

            /// Replaces the generated operation id (`read_item_items__item_id__get`).
            pub fn operation_id(self, id: impl Into<String>) -> Self {
                let id = id.into();
                self.last_doc(|d| d.operation_id = Some(id))
            }

            /// Adds a tag to the route (routers add theirs to all their routes).
            pub fn tag(self, tag: impl Into<String>) -> Self {
                let tag = tag.into();
                self.last_doc(|d| d.tags.push(tag))
            }

            /// Marks the operation deprecated.
            pub fn deprecated(self) -> Self {
                self.last_doc(|d| d.deprecated = true)
            }

            /// The documented success status (FastAPI's `status_code=`; the handler still
            /// chooses the status it sends, e.g. `(StatusCode::CREATED, Json(v))`).
            pub fn status_code(self, status: u16) -> Self {
                self.last_doc(|d| d.status = Some(status))
            }

            /// Documents another response whose body is `T` (FastAPI's `responses={404: ..}`).
            pub fn response<T: JsonSchema>(self, status: u16, description: &str) -> Self {
                let f: SchemaFn = |c: &mut Components| c.schema_for::<T>();
                let description = description.to_owned();
                self.last_doc(|d| d.responses.push((status, description, Some(f))))
            }

            /// Documents another response without a body schema.
            pub fn response_description(self, status: u16, description: &str) -> Self {
                let description = description.to_owned();
                self.last_doc(|d| d.responses.push((status, description, None)))
            }

            /// Documents a `multipart/form-data` body with these required file parts
            /// (FastAPI's `file: UploadFile`); read them with [`Multipart`](crate::multipart::Multipart).
            pub fn multipart_files(self, names: &[&str]) -> Self {
                let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
                self.last_doc(|d| d.files = names)
            }

            /// Leaves the route out of the OpenAPI document (FastAPI's `include_in_schema`).
            pub fn include_in_schema(self, include: bool) -> Self {
                self.last_doc(|d| d.hidden = !include)
            }
        }
    };
}

route_doc_methods!(App<E>, E: Endpoint);
route_doc_methods!(Router);

/// A route's doc, reachable from the builders (App: the table's last route).
pub(crate) fn apply(doc: Option<&mut RouteDoc>, f: impl FnOnce(&mut RouteDoc)) {
    if let Some(d) = doc {
        f(d);
    }
}
