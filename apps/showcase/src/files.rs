//! `POST /files`: a `multipart/form-data` upload, hashed while it streams in.
//!
//! Why: an upload is the I/O-bound request at its longest — the bytes arrive over seconds, and
//! a loop that waited for all of them per request would serve one upload at a time. The
//! framework's [`Multipart`] hands the handler each chunk as it arrives (never the whole body
//! in memory), so a 50 MiB upload costs one SHA-256 state and a couple of chunks, and the loop
//! serves other requests between chunks. Hashing a chunk is short CPU work, fine on the loop.

use schemars::JsonSchema;
use serde::Serialize;
use sha2::{Digest, Sha256};
use waitless::multipart::Multipart;
use waitless::{Json, Rejection, StatusCode};

/// The largest upload (the route's body limit; larger → 413).
pub const UPLOAD_LIMIT: u64 = 50 * 1024 * 1024;

/// What `POST /files` answers: the file as received.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Uploaded {
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
}

/// `POST /files` with a file field `file` → 201; no `file` → 422 at `["body","file"]`.
pub async fn upload(mut form: Multipart) -> Result<(StatusCode, Json<Uploaded>), Rejection> {
    let mut file = form.file("file").await?;
    let filename = file.file_name().unwrap_or_default().to_owned();
    let content_type = file.content_type();
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = file.chunk().await? {
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    let sha256 = hex(&hasher.finalize());
    let uploaded = Uploaded {
        filename,
        content_type,
        size,
        sha256,
    };
    Ok((StatusCode::CREATED, Json(uploaded)))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}
