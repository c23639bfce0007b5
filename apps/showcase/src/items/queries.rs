//! The SQL behind `/items`: plain blocking functions of a `Connection`, run on a DB pool thread
//! by `Db::call` (never called from a handler directly).

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::model::{Item, NewItem, Page};
use crate::database::DbError;

pub fn insert(conn: &Connection, new: NewItem) -> Result<Item, DbError> {
    let tags = serde_json::to_string(&new.tags)?;
    conn.prepare_cached("INSERT INTO items (name, price, tags) VALUES (?1, ?2, ?3)")?
        .execute(params![new.name, new.price, tags])?;
    Ok(Item {
        id: row_id_to_u64(conn.last_insert_rowid()),
        name: new.name,
        price: new.price,
        tags: new.tags,
    })
}

pub fn list(conn: &Connection, page: Page) -> Result<Vec<Item>, DbError> {
    // SQLite's OFFSET is an i64; a larger skip is past every row anyway.
    let skip = i64::try_from(page.skip).unwrap_or(i64::MAX);
    let mut stmt = conn
        .prepare_cached("SELECT id, name, price, tags FROM items ORDER BY id LIMIT ?1 OFFSET ?2")?;
    let rows = stmt.query_map(params![page.limit, skip], raw_item)?;
    rows.map(|row| item(row?)).collect()
}

pub fn get(conn: &Connection, id: u64) -> Result<Option<Item>, DbError> {
    // Ids are SQLite rowids (i64): a larger one names no item.
    let Ok(id) = i64::try_from(id) else {
        return Ok(None);
    };
    let raw = conn
        .prepare_cached("SELECT id, name, price, tags FROM items WHERE id = ?1")?
        .query_row(params![id], raw_item)
        .optional()?;
    raw.map(item).transpose()
}

/// Whether a row was deleted.
pub fn delete(conn: &Connection, id: u64) -> Result<bool, DbError> {
    let Ok(id) = i64::try_from(id) else {
        return Ok(false);
    };
    let changed = conn
        .prepare_cached("DELETE FROM items WHERE id = ?1")?
        .execute(params![id])?;
    Ok(changed > 0)
}

/// A row as stored: tags still JSON text.
type RawItem = (i64, String, f64, String);

fn raw_item(row: &Row<'_>) -> rusqlite::Result<RawItem> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn item((id, name, price, tags): RawItem) -> Result<Item, DbError> {
    Ok(Item {
        id: row_id_to_u64(id),
        name,
        price,
        tags: serde_json::from_str(&tags)?,
    })
}

/// AUTOINCREMENT rowids start at 1 and only grow, so they are never negative.
fn row_id_to_u64(id: i64) -> u64 {
    u64::try_from(id).unwrap_or(0)
}
