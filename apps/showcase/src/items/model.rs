//! The item as clients send it ([`NewItem`], validated), as they get it back ([`Item`]), and the
//! list's page parameters ([`Page`]).
//!
//! Why the constraints live on the types: the framework compiles the `JsonSchema` derive into
//! its validator (FastAPI's pydantic `Field(min_length=1, ge=0)`), and the same schema will be
//! published by `/openapi.json`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `POST /items` body: `{"name": str 1..=100 chars, "price": number >= 0, "tags": [str]}`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewItem {
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    #[schemars(range(min = 0))]
    pub price: f64,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A stored item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Item {
    pub id: u64,
    pub name: String,
    pub price: f64,
    pub tags: Vec<String>,
}

/// `GET /items` query: `skip` (default 0), `limit` (default 10, 1..=100).
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
pub struct Page {
    #[serde(default)]
    pub skip: u64,
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 100))]
    pub limit: u32,
}

fn default_limit() -> u32 {
    10
}
