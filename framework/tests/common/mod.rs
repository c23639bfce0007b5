//! The demo app the OpenAPI and browser tests share: one route per feature the document shows.
#![allow(dead_code)]

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use waitless::security::{
    invalid_credentials, ApiKey, ApiKeyIn, ApiKeyName, HttpBasic, OAuth2Config,
    OAuth2PasswordBearer, OAuth2PasswordRequestForm,
};
use waitless::{
    App, Cookie, Form, FromRequest, HandlerExt, Header, HttpError, Json, NoContent, Path, Query,
    Rejection, RequestContext, Router, StatusCode,
};

/// An item for sale.
#[derive(Deserialize, Serialize, JsonSchema)]
pub struct Item {
    /// The item's name.
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    #[schemars(range(min = 0))]
    pub price: f64,
    #[serde(default)]
    pub tags: Vec<String>,
    pub owner: Option<Owner>,
}

#[derive(Deserialize, Serialize, JsonSchema)]
pub struct Owner {
    #[schemars(regex(pattern = r"^[a-z]+$"))]
    pub login: String,
}

#[derive(Serialize, JsonSchema)]
pub struct Created {
    pub id: u64,
    pub name: String,
    pub total: f64,
}

#[derive(Deserialize, JsonSchema)]
pub struct Page {
    #[serde(default)]
    pub skip: u32,
    #[serde(default = "ten")]
    #[schemars(range(min = 1, max = 100))]
    pub limit: u32,
    #[schemars(length(max = 50))]
    pub q: Option<String>,
}

fn ten() -> u32 {
    10
}

#[derive(Deserialize, JsonSchema)]
pub struct Agent {
    pub user_agent: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
pub struct Session {
    pub session: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct Message {
    pub detail: String,
}

async fn create_item(Json(item): Json<Item>) -> (StatusCode, Json<Created>) {
    let total = item.price * 2.0;
    (
        StatusCode::CREATED,
        Json(Created {
            id: 7,
            name: format!("created {}", item.name),
            total,
        }),
    )
}

async fn read_item(Path(item_id): Path<u64>) -> Result<Json<Item>, HttpError> {
    if item_id == 0 {
        return Err(HttpError::new(404, "Item not found"));
    }
    Ok(Json(Item {
        name: format!("item {item_id}"),
        price: 1.0,
        tags: Vec::new(),
        owner: None,
    }))
}

async fn list_items(Query(page): Query<Page>, Header(agent): Header<Agent>) -> Json<Value> {
    Json(json!({"skip": page.skip, "limit": page.limit, "q": page.q, "ua": agent.user_agent}))
}

async fn delete_item(Path(_item_id): Path<u64>) -> NoContent {
    NoContent
}

async fn post_comment(
    Path((user, post)): Path<(String, u32)>,
    Cookie(s): Cookie<Session>,
) -> String {
    format!("{user}/{post}/{}", s.session.unwrap_or_default())
}

#[derive(Deserialize, JsonSchema)]
pub struct Login {
    pub username: String,
    pub password: String,
}

async fn legacy_login(Form(login): Form<Login>) -> String {
    login.username
}

pub struct TokenUrl;
impl OAuth2Config for TokenUrl {
    const TOKEN_URL: &'static str = "token";
}

async fn token(form: OAuth2PasswordRequestForm) -> Result<Json<Value>, HttpError> {
    if form.username == "alice" && form.password == "secret" {
        Ok(Json(
            json!({"access_token": "alice-token", "token_type": "bearer"}),
        ))
    } else {
        Err(HttpError::new(400, "Incorrect username or password"))
    }
}

pub struct CurrentUser(pub String);

impl FromRequest for CurrentUser {
    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        let bearer = OAuth2PasswordBearer::<TokenUrl>::from_request(req).await?;
        match bearer.token() {
            "alice-token" => Ok(CurrentUser("alice".into())),
            _ => Err(invalid_credentials().into()),
        }
    }

    fn openapi(op: &mut waitless::openapi::Operation<'_>) {
        OAuth2PasswordBearer::<TokenUrl>::openapi(op);
    }
}

async fn me(CurrentUser(name): CurrentUser) -> Json<Value> {
    Json(json!({ "username": name }))
}

pub struct XApiKey;
impl ApiKeyName for XApiKey {
    const NAME: &'static str = "X-API-Key";
    const LOCATION: ApiKeyIn = ApiKeyIn::Header;
}

async fn admin(key: ApiKey<XApiKey>, basic: HttpBasic) -> String {
    format!("{} {}", key.key(), basic.username)
}

async fn old() -> &'static str {
    "old"
}

/// Every route the OpenAPI and browser tests look at.
pub fn demo_app() -> App {
    let users = Router::new()
        .prefix("/users")
        .tags(["users"])
        .get("/me", me)
        .post("/{user}/posts/{post}", post_comment);
    App::new()
        .openapi_title("Demo")
        .openapi_version("1.2.3")
        .post("/items", create_item.response_model::<Created>())
        .status_code(201)
        .summary("Create an item")
        .description("Creates an item and answers with its **total**.")
        .tag("items")
        .get("/items/{item_id}", read_item.response_model::<Item>())
        .response::<Message>(404, "Item not found")
        .tag("items")
        .get("/items", list_items)
        .tag("items")
        .delete("/items/{item_id}", delete_item)
        .status_code(204)
        .tag("items")
        .post("/login", legacy_login)
        .post("/token", token)
        .get("/admin", admin)
        .get("/old", old)
        .deprecated()
        .get("/hidden", old)
        .include_in_schema(false)
        .include_router(users)
}

/// Whether a component the caller cannot do without must be present
/// (`WAITLESS_REQUIRE_COMPONENTS=1`): then a skip is a failure.
pub fn require_components() -> bool {
    std::env::var("WAITLESS_REQUIRE_COMPONENTS").is_ok_and(|v| v == "1")
}

/// Skips a test with a printed reason, or fails it when components are required.
pub fn skip(test: &str, reason: &str) {
    if require_components() {
        panic!("{test}: {reason} (WAITLESS_REQUIRE_COMPONENTS=1)");
    }
    eprintln!("SKIPPED {test}: {reason}");
}
