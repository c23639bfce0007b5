//! OpenAPI 3.1 from the routes, and the pages that show it (`/docs`, `/redoc`).
//!
//! FastAPI's best trick is that the documentation is the code: the parameters, bodies,
//! constraints and responses of `/openapi.json` come from the same declarations that validate
//! requests. Here too: every extractor type describes itself ([`FromRequest::openapi`]) with the
//! JSON Schema its validator is compiled from (schemars, draft 2020-12, which is OpenAPI 3.1's
//! own dialect, so no conversion is needed), named types go once into `components/schemas`, and
//! the route adds what only a person knows (summary, description, extra responses).
//!
//! ```
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//! use waitless::{App, HandlerExt, Json, Path, TestClient};
//!
//! #[derive(Deserialize, Serialize, JsonSchema)]
//! struct Item {
//!     #[schemars(length(min = 1, max = 100))]
//!     name: String,
//! }
//!
//! async fn read_item(Path(item_id): Path<u64>) -> Json<Item> {
//!     Json(Item { name: format!("item {item_id}") })
//! }
//!
//! let app = App::new()
//!     .openapi_title("Items")
//!     .get("/items/{item_id}", read_item.response_model::<Item>())
//!     .summary("Read one item")
//!     .tag("items")
//!     .openapi_mut(|doc| doc["info"]["x-logo"] = "none".into());
//! let doc = app.openapi();
//! let op = &doc["paths"]["/items/{item_id}"]["get"];
//! assert_eq!(op["operationId"], "read_item_items__item_id__get");
//! assert_eq!(op["parameters"][0]["schema"]["minimum"], 0);
//! assert_eq!(op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
//!            "#/components/schemas/Item");
//! assert_eq!(doc["components"]["schemas"]["Item"]["properties"]["name"]["maxLength"], 100);
//!
//! let client = TestClient::new(app);
//! assert_eq!(client.get("/openapi.json").send().json::<serde_json::Value>()["info"]["title"], "Items");
//! assert!(client.get("/docs").send().text().contains("SwaggerUIBundle"));
//! ```
//!
//! [`FromRequest::openapi`]: crate::FromRequest::openapi

mod components;
mod document;
mod operation;
mod ui;

pub use components::Components;
pub use operation::{Operation, ParamIn};

pub(crate) use document::{build, OpenApiConfig, RouteDoc, SchemaFn};
pub(crate) use ui::serve;
