//! `/items`: create, list, read and delete items stored in SQLite, shared by every worker.
//!
//! Why it is here: the seed's web server is "본질적으로 I/O Bound" (I/O-bound by nature) and its
//! typical wait is a database. Each handler validates its input on the loop (cheap), then awaits
//! the blocking driver call on the DB pool ([`Db::call`]), so the loop keeps serving while the
//! driver waits. The 422s come from the framework's validation of [`NewItem`] and [`Page`].

mod model;
mod queries;

pub use model::{Item, NewItem, Page};

use waitless::{HttpError, Json, NoContent, Path, Query, State, StatusCode};

use crate::database::Db;

/// `POST /items` → 201 with the stored item and its new id.
pub async fn create(
    State(db): State<Db>,
    Json(new): Json<NewItem>,
) -> Result<(StatusCode, Json<Item>), HttpError> {
    let item = db.call(move |conn| queries::insert(conn, new)).await?;
    Ok((StatusCode::CREATED, Json(item)))
}

/// `GET /items?skip=0&limit=10` → the page, in id order.
pub async fn list(
    State(db): State<Db>,
    Query(page): Query<Page>,
) -> Result<Json<Vec<Item>>, HttpError> {
    let items = db.call(move |conn| queries::list(conn, page)).await?;
    Ok(Json(items))
}

/// `GET /items/{item_id}` → the item, or 404 `{"detail":"Item not found"}`.
pub async fn read(State(db): State<Db>, Path(item_id): Path<u64>) -> Result<Json<Item>, HttpError> {
    match db.call(move |conn| queries::get(conn, item_id)).await? {
        Some(item) => Ok(Json(item)),
        None => Err(not_found()),
    }
}

/// `DELETE /items/{item_id}` → 204, or 404.
pub async fn delete(
    State(db): State<Db>,
    Path(item_id): Path<u64>,
) -> Result<NoContent, HttpError> {
    if db.call(move |conn| queries::delete(conn, item_id)).await? {
        Ok(NoContent)
    } else {
        Err(not_found())
    }
}

fn not_found() -> HttpError {
    HttpError::new(StatusCode::NOT_FOUND, "Item not found")
}
