//! `framework-hello`: hello's endpoints plus a validated route, written with the `waitless`
//! framework (routing, extractors, schema validation, `Json`), to measure what the framework
//! costs on top of the raw gateway interface (`apps/hello`).
//!
//! * `GET /plaintext` → `Hello, World!` (text/plain)
//! * `GET /json` → `{"message":"Hello, World!"}`
//! * `GET /users/{user_id}?limit=L&q=Q` → `{"user_id":…,"limit":…,"q":…}`; `limit` defaults
//!   to 10 and must be in 1..=100, `q` is optional and at most 50 characters; otherwise 422 in
//!   FastAPI's shape.
//!
//! Same CLI as every app: `cargo run --release -p waitless-benches --bin framework-hello --
//! --port 8000 --workers 1`.

use std::process::ExitCode;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use waitless::{App, Json, Path, Query};

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

#[derive(Deserialize, JsonSchema)]
struct UserQuery {
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 100))]
    limit: u32,
    #[schemars(length(max = 50))]
    q: Option<String>,
}

fn default_limit() -> u32 {
    10
}

#[derive(Serialize)]
struct User {
    user_id: u64,
    limit: u32,
    q: Option<String>,
}

async fn plaintext() -> ([(&'static str, &'static str); 1], &'static str) {
    ([("content-type", "text/plain")], "Hello, World!")
}

async fn json() -> Json<Message> {
    Json(Message {
        message: "Hello, World!",
    })
}

async fn user(Path(user_id): Path<u64>, Query(query): Query<UserQuery>) -> Json<User> {
    Json(User {
        user_id,
        limit: query.limit,
        q: query.q,
    })
}

fn app() -> App {
    App::new()
        .get("/plaintext", plaintext)
        .get("/json", json)
        .get("/users/{user_id}", user)
}

fn main() -> ExitCode {
    waitless_gateway::main("framework-hello", app)
}

#[cfg(test)]
mod tests {
    use waitless::TestClient;

    #[test]
    fn the_contract_routes() {
        let client = TestClient::new(super::app());
        assert_eq!(client.get("/plaintext").send().text(), "Hello, World!");
        assert_eq!(
            client.get("/json").send().text(),
            r#"{"message":"Hello, World!"}"#
        );
        assert_eq!(
            client.get("/users/42?limit=5&q=abc").send().text(),
            r#"{"user_id":42,"limit":5,"q":"abc"}"#
        );
        assert_eq!(
            client.get("/users/42").send().text(),
            r#"{"user_id":42,"limit":10,"q":null}"#
        );
        assert_eq!(
            client.get("/users/1?limit=0").send().text(),
            r#"{"detail":[{"type":"greater_than_equal","loc":["query","limit"],"msg":"Input should be greater than or equal to 1","input":"0","ctx":{"ge":1}}]}"#
        );
        let long = "x".repeat(51);
        let res = client.get(&format!("/users/1?q={long}")).send();
        assert_eq!(res.status.as_u16(), 422);
        assert!(res.text().contains(r#""type":"string_too_long""#));
    }
}
