//! 422 bodies, compared whole against what FastAPI (pydantic v2) answers for the same input.
//!
//! Each expected body below is FastAPI's for the equivalent Python declaration (noted next to
//! each model), so a client written against a FastAPI service sees no difference.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use waitless::{App, Cookie, Form, Header, Json, Path, Query, TestClient};

/// class Item(BaseModel):
///     name: str = Field(min_length=1, max_length=10)
///     price: float = Field(ge=0)
///     tags: list[str] = Field(default=[], max_length=3)
///     count: int = 1
///     owner: Owner | None = None
#[derive(Deserialize, Serialize, JsonSchema)]
struct Item {
    #[schemars(length(min = 1, max = 10))]
    name: String,
    #[schemars(range(min = 0))]
    price: f64,
    #[serde(default)]
    #[schemars(length(max = 3))]
    tags: Vec<String>,
    #[serde(default = "one")]
    count: i64,
    owner: Option<Owner>,
}

/// class Owner(BaseModel): name: str
#[derive(Deserialize, Serialize, JsonSchema)]
struct Owner {
    name: String,
}

fn one() -> i64 {
    1
}

/// limit: int = Query(10, ge=1, le=100), q: str | None = Query(None, max_length=50),
/// flag: bool = False, color: Color | None = None, slug: str | None = Query(None, pattern=..)
#[derive(Deserialize, JsonSchema)]
#[allow(dead_code)] // read through the validator; the handler echoes only some fields
struct Params {
    #[serde(default = "ten")]
    #[schemars(range(min = 1, max = 100))]
    limit: u32,
    #[schemars(length(max = 50))]
    q: Option<String>,
    #[serde(default)]
    flag: bool,
    color: Option<Color>,
    #[schemars(regex(pattern = r"^[a-z]+$"))]
    slug: Option<String>,
    #[serde(default)]
    ids: Vec<u32>,
    ratio: Option<f64>,
}

#[derive(Deserialize, Serialize, JsonSchema)]
enum Color {
    Red,
    Green,
}

fn ten() -> u32 {
    10
}

/// q: str (required)
#[derive(Deserialize, JsonSchema)]
struct Required {
    q: String,
}

#[derive(Deserialize, JsonSchema)]
struct Token {
    x_token: String,
}

#[derive(Deserialize, JsonSchema)]
struct Session {
    session: String,
}

#[derive(Deserialize, JsonSchema)]
struct Login {
    username: String,
    password: String,
}

async fn read_item(Path(item_id): Path<u64>, Query(p): Query<Params>) -> Json<Value> {
    Json(json!({"item_id": item_id, "limit": p.limit, "q": p.q, "flag": p.flag, "ids": p.ids}))
}

async fn create_item(Json(item): Json<Item>) -> Json<Item> {
    Json(item)
}

async fn update_item(
    Path(item_id): Path<u64>,
    Query(q): Query<Required>,
    Json(item): Json<Item>,
) -> Json<Value> {
    Json(json!({"item_id": item_id, "q": q.q, "name": item.name}))
}

fn app() -> App {
    App::new()
        .get("/items/{item_id}", read_item)
        .post("/items", create_item)
        .put("/items/{item_id}", update_item)
        .get(
            "/token",
            |Header(t): Header<Token>| async move { t.x_token },
        )
        .get(
            "/session",
            |Cookie(s): Cookie<Session>| async move { s.session },
        )
        .post("/login", |Form(l): Form<Login>| async move {
            format!("{}:{}", l.username, l.password)
        })
}

fn check(client: &TestClient<waitless::Routes>, res: waitless::TestResponse, expected: Value) {
    let _ = client;
    assert_eq!(res.status.as_u16(), 422, "{}", res.text());
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.json::<Value>(), expected);
}

fn e(kind: &str, loc: Value, msg: &str, input: Value) -> Value {
    json!({"type": kind, "loc": loc, "msg": msg, "input": input})
}

fn ec(kind: &str, loc: Value, msg: &str, input: Value, ctx: Value) -> Value {
    json!({"type": kind, "loc": loc, "msg": msg, "input": input, "ctx": ctx})
}

#[test]
fn valid_requests_are_coerced_and_deserialized() {
    let client = TestClient::new(app());
    let res = client
        .get("/items/5?limit=7&q=abc&flag=yes&ids=1&ids=2")
        .send();
    assert_eq!(res.status.as_u16(), 200, "{}", res.text());
    assert_eq!(
        res.json::<Value>(),
        json!({"item_id": 5, "limit": 7, "q": "abc", "flag": true, "ids": [1, 2]})
    );
    let res = client.get("/items/5").send();
    assert_eq!(res.json::<Value>()["limit"], 10);
    assert_eq!(res.json::<Value>()["q"], Value::Null);
    let res = client
        .post("/items")
        .json(&json!({"name": "a", "price": "2.5", "count": "3"}))
        .send();
    assert_eq!(res.status.as_u16(), 200, "{}", res.text());
    assert_eq!(
        res.json::<Value>(),
        json!({"name": "a", "price": 2.5, "tags": [], "count": 3, "owner": null})
    );
}

#[test]
fn path_and_query_errors_have_fastapi_bodies() {
    let client = TestClient::new(app());
    let int_parsing = "Input should be a valid integer, unable to parse string as an integer";
    let cases = [
        (
            "/items/foo",
            json!({"detail": [e("int_parsing", json!(["path", "item_id"]), int_parsing, json!("foo"))]}),
        ),
        (
            "/items/1?limit=0",
            json!({"detail": [ec("greater_than_equal", json!(["query", "limit"]),
                "Input should be greater than or equal to 1", json!("0"), json!({"ge": 1}))]}),
        ),
        (
            "/items/1?limit=101",
            json!({"detail": [ec("less_than_equal", json!(["query", "limit"]),
                "Input should be less than or equal to 100", json!("101"), json!({"le": 100}))]}),
        ),
        (
            "/items/1?limit=abc",
            json!({"detail": [e("int_parsing", json!(["query", "limit"]), int_parsing, json!("abc"))]}),
        ),
        (
            &format!("/items/1?q={}", "x".repeat(51)),
            json!({"detail": [ec("string_too_long", json!(["query", "q"]),
                "String should have at most 50 characters", json!("x".repeat(51)), json!({"max_length": 50}))]}),
        ),
        (
            "/items/1?flag=maybe",
            json!({"detail": [e("bool_parsing", json!(["query", "flag"]),
                "Input should be a valid boolean, unable to interpret input", json!("maybe"))]}),
        ),
        (
            "/items/1?color=Blue",
            json!({"detail": [ec("enum", json!(["query", "color"]),
                "Input should be 'Red' or 'Green'", json!("Blue"), json!({"expected": "'Red' or 'Green'"}))]}),
        ),
        (
            "/items/1?slug=ABC",
            json!({"detail": [ec("string_pattern_mismatch", json!(["query", "slug"]),
                "String should match pattern '^[a-z]+$'", json!("ABC"), json!({"pattern": "^[a-z]+$"}))]}),
        ),
        (
            "/items/1?ids=1&ids=x&ids=3",
            json!({"detail": [e("int_parsing", json!(["query", "ids", 1]), int_parsing, json!("x"))]}),
        ),
        (
            "/items/1?ratio=half",
            json!({"detail": [e("float_parsing", json!(["query", "ratio"]),
                "Input should be a valid number, unable to parse string as a number", json!("half"))]}),
        ),
        (
            // Every error at once, path before query.
            "/items/x?limit=0&flag=maybe",
            json!({"detail": [
                e("int_parsing", json!(["path", "item_id"]), int_parsing, json!("x")),
                ec("greater_than_equal", json!(["query", "limit"]),
                    "Input should be greater than or equal to 1", json!("0"), json!({"ge": 1})),
                e("bool_parsing", json!(["query", "flag"]),
                    "Input should be a valid boolean, unable to interpret input", json!("maybe")),
            ]}),
        ),
    ];
    for (path, expected) in cases {
        check(&client, client.get(path).send(), expected);
    }
}

#[test]
fn body_errors_have_fastapi_bodies() {
    let client = TestClient::new(app());
    let cases = [
        (
            // Missing name AND negative price: two entries; missing's input is the body sent.
            json!({"price": -1}),
            json!({"detail": [
                e("missing", json!(["body", "name"]), "Field required", json!({"price": -1})),
                ec("greater_than_equal", json!(["body", "price"]),
                    "Input should be greater than or equal to 0", json!(-1), json!({"ge": 0})),
            ]}),
        ),
        (
            json!({"name": "", "price": 1}),
            json!({"detail": [ec("string_too_short", json!(["body", "name"]),
                "String should have at least 1 character", json!(""), json!({"min_length": 1}))]}),
        ),
        (
            json!({"name": "abcdefghijk", "price": 1}),
            json!({"detail": [ec("string_too_long", json!(["body", "name"]),
                "String should have at most 10 characters", json!("abcdefghijk"), json!({"max_length": 10}))]}),
        ),
        (
            json!({"name": 5, "price": "abc"}),
            json!({"detail": [
                e("string_type", json!(["body", "name"]), "Input should be a valid string", json!(5)),
                e("float_parsing", json!(["body", "price"]),
                    "Input should be a valid number, unable to parse string as a number", json!("abc")),
            ]}),
        ),
        (
            json!({"name": "a", "price": 1, "tags": ["x", "y", 3]}),
            json!({"detail": [e("string_type", json!(["body", "tags", 2]),
                "Input should be a valid string", json!(3))]}),
        ),
        (
            json!({"name": "a", "price": 1, "tags": "x"}),
            json!({"detail": [e("list_type", json!(["body", "tags"]), "Input should be a valid list", json!("x"))]}),
        ),
        (
            json!({"name": "a", "price": 1, "tags": ["a", "b", "c", "d"]}),
            json!({"detail": [ec("too_long", json!(["body", "tags"]),
                "List should have at most 3 items after validation, not 4", json!(["a", "b", "c", "d"]),
                json!({"field_type": "List", "max_length": 3, "actual_length": 4}))]}),
        ),
        (
            json!({"name": "a", "price": 1, "count": 1.5}),
            json!({"detail": [e("int_from_float", json!(["body", "count"]),
                "Input should be a valid integer, got a number with a fractional part", json!(1.5))]}),
        ),
        (
            json!({"name": "a", "price": 1, "owner": {}}),
            json!({"detail": [e("missing", json!(["body", "owner", "name"]), "Field required", json!({}))]}),
        ),
        (
            json!([1]),
            json!({"detail": [e("model_attributes_type", json!(["body"]),
                "Input should be a valid dictionary or object to extract fields from", json!([1]))]}),
        ),
    ];
    for (body, expected) in cases {
        check(&client, client.post("/items").json(&body).send(), expected);
    }
}

#[test]
fn malformed_or_missing_json_bodies() {
    let client = TestClient::new(app());
    let res = client
        .post("/items")
        .header("content-type", "application/json")
        .body(r#"{"name": "#)
        .send();
    check(
        &client,
        res,
        json!({"detail": [ec("json_invalid", json!(["body", 9]), "JSON decode error", json!({}),
            json!({"error": "Expecting value"}))]}),
    );
    let res = client.post("/items").send();
    check(
        &client,
        res,
        json!({"detail": [e("missing", json!(["body"]), "Field required", Value::Null)]}),
    );
}

#[test]
fn errors_of_path_query_and_body_come_together_in_fastapi_order() {
    let client = TestClient::new(app());
    let res = client.put("/items/x").json(&json!({"price": 1})).send();
    check(
        &client,
        res,
        json!({"detail": [
            e("int_parsing", json!(["path", "item_id"]),
                "Input should be a valid integer, unable to parse string as an integer", json!("x")),
            e("missing", json!(["query", "q"]), "Field required", Value::Null),
            e("missing", json!(["body", "name"]), "Field required", json!({"price": 1})),
        ]}),
    );
}

#[test]
fn header_cookie_and_form_errors() {
    let client = TestClient::new(app());
    check(
        &client,
        client.get("/token").send(),
        json!({"detail": [e("missing", json!(["header", "x-token"]), "Field required", Value::Null)]}),
    );
    assert_eq!(
        client.get("/token").header("X-Token", "t1").send().text(),
        "t1"
    );
    check(
        &client,
        client.get("/session").send(),
        json!({"detail": [e("missing", json!(["cookie", "session"]), "Field required", Value::Null)]}),
    );
    assert_eq!(
        client
            .get("/session")
            .cookie("session", "abc")
            .send()
            .text(),
        "abc"
    );
    check(
        &client,
        client.post("/login").form(&[("username", "alice")]).send(),
        json!({"detail": [e("missing", json!(["body", "password"]), "Field required", Value::Null)]}),
    );
    let res = client
        .post("/login")
        .form(&[("username", "alice"), ("password", "s e+cret")])
        .send();
    assert_eq!(res.text(), "alice:s e+cret");
}

#[test]
fn the_contract_example_for_users() {
    #[derive(Deserialize, JsonSchema)]
    struct UserQuery {
        #[serde(default = "ten")]
        #[schemars(range(min = 1, max = 100))]
        limit: u32,
    }
    let app = App::new().get(
        "/users/{user_id}",
        |Path(id): Path<u64>, Query(q): Query<UserQuery>| async move { format!("{id} {}", q.limit) },
    );
    let client = TestClient::new(app);
    assert_eq!(
        client.get("/users/1?limit=0").send().text(),
        r#"{"detail":[{"type":"greater_than_equal","loc":["query","limit"],"msg":"Input should be greater than or equal to 1","input":"0","ctx":{"ge":1}}]}"#
    );
}
