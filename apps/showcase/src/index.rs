//! `GET /` (the index page) and `GET /static/{path}` (its script and stylesheet).
//!
//! Why a page at all: the seed's claims are about time — 100 waits take one wait's time, a
//! computation on the loop freezes every other request — and a person believes a stopwatch
//! more than a table. The page runs each demo from the browser and draws what it measured; it
//! loads nothing from outside the app (no CDN, no font), so it works offline.
//!
//! The HTML is compiled in; the assets are served from the crate's `static/` directory, found
//! through the path Cargo compiled the binary from (`CARGO_MANIFEST_DIR`), so the server finds
//! them whatever its working directory — as long as the source tree is where it was built
//! (the showcase is run from its checkout; a packaged build would embed them instead).

use waitless::static_files::StaticFiles;
use waitless::Html;

/// The page, as compiled in.
const INDEX_HTML: &str = include_str!("../static/index.html");

/// `GET /`.
pub async fn index() -> Html<&'static str> {
    Html(INDEX_HTML)
}

/// The directory served under `/static/`.
pub fn static_files() -> StaticFiles {
    StaticFiles::new(concat!(env!("CARGO_MANIFEST_DIR"), "/static"))
}
