//! FastAPI's tutorial chapters 1-3 (path parameters, query parameters, request body), exactly
//! as `docs/framework.md` shows them; built by `cargo test`, so the guide cannot rot.
//!
//! ```sh
//! cargo run --example tutorial -- --port 8000 --workers 1
//! curl 'http://127.0.0.1:8000/items?limit=0'
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use waitless::{App, HttpError, Json, Path, Query, StatusCode};

// Chapter 1 — path parameters. `GET /items/foo` → 422 int_parsing at ["path","item_id"].
async fn read_item(Path(item_id): Path<u64>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "item_id": item_id }))
}

// Several path parameters: a tuple in template order, or a struct named like them.
async fn read_post(Path((user, post)): Path<(String, u32)>) -> String {
    format!("{user}/{post}")
}

// Chapter 2 — query parameters. Optional = Option<T>; default = #[serde(default)];
// constraints = #[schemars(...)]; a list collects repeated keys (?tag=a&tag=b).
#[derive(Deserialize, JsonSchema)]
struct ListQuery {
    #[serde(default)]
    skip: u32,
    #[serde(default = "ten")]
    #[schemars(range(min = 1, max = 100))]
    limit: u32,
    #[schemars(length(max = 50))]
    q: Option<String>,
    #[serde(default)]
    tag: Vec<String>,
    #[serde(default)]
    short: bool, // "1", "true", "on", "yes" are true, like pydantic
}
fn ten() -> u32 {
    10
}

async fn list_items(Query(q): Query<ListQuery>) -> Json<serde_json::Value> {
    Json(
        serde_json::json!({ "skip": q.skip, "limit": q.limit, "q": q.q, "tag": q.tag, "short": q.short }),
    )
}

// Chapter 3 — request body. Every error of the body comes back at once.
#[derive(Deserialize, Serialize, JsonSchema)]
struct Item {
    #[schemars(length(min = 1, max = 100))]
    name: String,
    description: Option<String>,
    #[schemars(range(min = 0))]
    price: f64,
    #[serde(default)]
    tags: Vec<String>,
}

async fn create_item(Json(item): Json<Item>) -> (StatusCode, Json<Item>) {
    (StatusCode::CREATED, Json(item))
}

// Body + path + query together (FastAPI's "Request Body + Path + Query parameters").
async fn update_item(
    Path(item_id): Path<u64>,
    Query(q): Query<ListQuery>,
    Json(item): Json<Item>,
) -> Result<Json<Item>, HttpError> {
    if item_id == 0 {
        return Err(HttpError::new(404, "Item not found"));
    }
    let _ = q;
    Ok(Json(item))
}

fn app() -> App {
    App::new()
        .get("/items/{item_id}", read_item)
        .get("/users/{user}/posts/{post}", read_post)
        .get("/items", list_items)
        .post("/items", create_item)
        .put("/items/{item_id}", update_item)
}

fn main() -> std::process::ExitCode {
    waitless_gateway::main("items", app) // --host, --port, --workers, --help
}
