//! Serving a directory (Starlette's `StaticFiles`, which FastAPI mounts with
//! `app.mount("/static", StaticFiles(directory="static"))`).
//!
//! Why so strict about paths: a static mount turns a URL into a file path, the classic way to
//! leak `/etc/passwd`. The gateway hands over the percent-decoded path, so `%2e%2e` and `%2F`
//! arrive as `..` and `/`; every segment must then be a plain name (no `.`/`..`, no empty
//! segment, no backslash, no NUL or control character), and the resolved file — symlinks
//! followed — must still lie under the canonical root. Anything else is a plain 404, so a probe
//! learns nothing. Files are streamed in 64 KiB chunks with a `content-length` (never read
//! whole); reads are plain blocking reads, like any file read on the loop (page cache, small
//! files: the common case for static assets).
//!
//! Caching and ranges: `ETag` (size and modification time, like Starlette) and
//! `Last-Modified`; `If-None-Match` / `If-Modified-Since` → 304; one `Range: bytes=a-b` → 206,
//! an unsatisfiable one → 416; several ranges are answered with the whole file (allowed by
//! RFC 9110). Content types come from `mime_guess`'s table.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path as FsPath, PathBuf};
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::app::App;
use crate::context::RequestContext;
use crate::extract::{FromRequest, Rejection};
use crate::middleware::Endpoint;
use crate::response::{Response, ResponseBody, StatusCode};

const CHUNK: usize = 64 * 1024;

/// A directory to serve under a URL prefix.
///
/// ```
/// use waitless::{static_files::StaticFiles, App, TestClient};
/// let dir = std::env::temp_dir().join(format!("waitless-doc-static-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("app.css"), "body{}").unwrap();
///
/// let app = App::new().mount_static("/static", StaticFiles::new(&dir));
/// let client = TestClient::new(app);
/// let res = client.get("/static/app.css").send();
/// assert_eq!(res.status.as_u16(), 200);
/// assert_eq!(res.header("content-type"), Some("text/css; charset=utf-8"));
/// assert_eq!(client.get("/static/../Cargo.toml").send().status.as_u16(), 404);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct StaticFiles {
    root: PathBuf,
}

impl StaticFiles {
    /// Serves the files under `directory` (Starlette's `StaticFiles(directory=...)`); mount it with
    /// [`App::mount_static`]. The directory is resolved on each request, relative to the worker's
    /// current directory if relative: a missing directory is not an error at startup, every request
    /// then gets `404`. Only files are served: no directory listing and no `index.html` for a
    /// directory (Starlette's `html=True` has no equivalent).
    pub fn new(directory: impl AsRef<FsPath>) -> StaticFiles {
        StaticFiles {
            root: directory.as_ref().to_path_buf(),
        }
    }

    /// The response for `rel` (the path under the mount), given the request's headers.
    fn respond(&self, rel: &str, req: &StaticRequest) -> Response {
        let Some(file) = self.resolve(rel) else {
            return not_found();
        };
        let Ok(meta) = file.metadata() else {
            return not_found();
        };
        let len = meta.len();
        let mtime = meta.modified().unwrap_or(UNIX_EPOCH);
        let etag = etag(len, mtime);
        let last_modified = httpdate::fmt_http_date(mtime);
        if not_modified(req, &etag, mtime) {
            return Response::new(StatusCode::NOT_MODIFIED, ResponseBody::Empty)
                .with_header("etag", etag)
                .with_header("last-modified", last_modified);
        }
        let content_type = content_type(&file);
        let (status, start, end) = match req.range.as_deref().map(|r| parse_range(r, len)) {
            Some(RangeSpec::Unsatisfiable) => {
                return Response::new(StatusCode(416), ResponseBody::Empty)
                    .with_header("content-range", format!("bytes */{len}"));
            }
            Some(RangeSpec::Single(s, e)) => (StatusCode(206), s, e),
            _ => (StatusCode::OK, 0, len),
        };
        let Ok(handle) = open_at(&file, start) else {
            return not_found();
        };
        let mut res = Response::stream(content_type, stream_file(handle, end - start))
            .with_status(status)
            .with_header("content-length", (end - start).to_string())
            .with_header("accept-ranges", "bytes")
            .with_header("etag", etag)
            .with_header("last-modified", last_modified);
        if status.0 == 206 {
            let range = format!("bytes {start}-{}/{len}", end - 1);
            res = res.with_header("content-range", range);
        }
        res
    }

    /// The file for `rel`, or `None` for anything that is not a plain file under the root.
    fn resolve(&self, rel: &str) -> Option<PathBuf> {
        if !safe_relative(rel) {
            return None;
        }
        let root = self.root.canonicalize().ok()?;
        let path = root.join(rel).canonicalize().ok()?;
        (path.starts_with(&root) && path.is_file()).then_some(path)
    }
}

/// Every segment a plain file name.
fn safe_relative(rel: &str) -> bool {
    !rel.is_empty()
        && rel.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && !seg.chars().any(|c| c == '\\' || c.is_control())
        })
}

fn not_found() -> Response {
    Response::detail(StatusCode::NOT_FOUND, "Not Found")
}

fn etag(len: u64, mtime: SystemTime) -> String {
    let nanos = mtime.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("\"{nanos:x}-{len:x}\"")
}

fn not_modified(req: &StaticRequest, etag: &str, mtime: SystemTime) -> bool {
    if let Some(tags) = &req.if_none_match {
        return tags
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == etag || t == "*");
    }
    let since = req
        .if_modified_since
        .as_deref()
        .and_then(|d| httpdate::parse_http_date(d).ok());
    let whole_seconds = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    since.is_some_and(|s| whole_seconds(mtime) <= whole_seconds(s))
}

fn content_type(path: &FsPath) -> String {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let textual = mime.type_() == "text" || mime.subtype() == "javascript";
    if textual && mime.get_param("charset").is_none() {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    }
}

enum RangeSpec {
    Single(u64, u64),
    /// Several ranges or a malformed header: the whole file.
    Whole,
    Unsatisfiable,
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` → a half-open byte range `[start, end)`.
fn parse_range(header: &str, len: u64) -> RangeSpec {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeSpec::Whole;
    };
    if spec.contains(',') {
        return RangeSpec::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeSpec::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let parsed = match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(s), Ok(e)) if s <= e => Some((s, e.saturating_add(1).min(len))),
        (Ok(s), Err(_)) if b.is_empty() => Some((s, len)),
        (Err(_), Ok(n)) if a.is_empty() && n > 0 => Some((len.saturating_sub(n), len)),
        _ => None,
    };
    match parsed {
        Some((s, e)) if s < len && s < e => RangeSpec::Single(s, e),
        Some(_) => RangeSpec::Unsatisfiable,
        None => RangeSpec::Whole,
    }
}

fn open_at(path: &FsPath, start: u64) -> std::io::Result<File> {
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(start))?;
    Ok(f)
}

/// `remaining` bytes of `file` in chunks; a read error ends the stream (the gateway then
/// closes the connection, the length being unmet).
fn stream_file(file: File, remaining: u64) -> impl futures_lite::Stream<Item = Vec<u8>> {
    futures_lite::stream::unfold((file, remaining), |(mut file, remaining)| async move {
        if remaining == 0 {
            return None;
        }
        let want = remaining.min(CHUNK as u64) as usize;
        let mut buf = vec![0; want];
        match file.read(&mut buf) {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((buf, (file, remaining - n as u64)))
            }
            Err(e) => {
                log::warn!("waitless: reading a static file failed: {e}");
                None
            }
        }
    })
}

/// What a static file answer depends on, read from the request.
struct StaticRequest {
    path: String,
    if_none_match: Option<String>,
    if_modified_since: Option<String>,
    range: Option<String>,
}

impl FromRequest for StaticRequest {
    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        let header = |n: &str| req.header(n).map(str::to_owned);
        Ok(StaticRequest {
            path: req.param("path").unwrap_or("").to_owned(),
            if_none_match: header("if-none-match"),
            if_modified_since: header("if-modified-since"),
            range: header("range"),
        })
    }
}

impl<E: Endpoint> App<E> {
    /// Serves `files` under `prefix` (FastAPI's `app.mount("/static", StaticFiles(..))`): a
    /// `GET` (and so `HEAD`) route `{prefix}/{*path}`, left out of the OpenAPI document.
    pub fn mount_static(self, prefix: &str, files: StaticFiles) -> Self {
        let files = Rc::new(files);
        let template = format!("{}/{{*path}}", prefix.trim_end_matches('/'));
        self.get(&template, move |req: StaticRequest| {
            let files = files.clone();
            async move { files.respond(&req.path, &req) }
        })
        .include_in_schema(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_pass() {
        for ok in ["a.css", "js/app.js", "a..b", ".hidden"] {
            assert!(safe_relative(ok), "{ok}");
        }
        for bad in [
            "",
            "..",
            "../x",
            "a/../../x",
            "./a",
            "a//b",
            "/etc/passwd",
            "a\\..\\b",
            "a\0b",
        ] {
            assert!(!safe_relative(bad), "{bad:?}");
        }
    }

    #[test]
    fn ranges() {
        assert!(matches!(
            parse_range("bytes=0-9", 100),
            RangeSpec::Single(0, 10)
        ));
        assert!(matches!(
            parse_range("bytes=90-", 100),
            RangeSpec::Single(90, 100)
        ));
        assert!(matches!(
            parse_range("bytes=-10", 100),
            RangeSpec::Single(90, 100)
        ));
        assert!(matches!(
            parse_range("bytes=50-500", 100),
            RangeSpec::Single(50, 100)
        ));
        assert!(matches!(
            parse_range("bytes=100-", 100),
            RangeSpec::Unsatisfiable
        ));
        assert!(matches!(
            parse_range("bytes=0-1,5-6", 100),
            RangeSpec::Whole
        ));
        assert!(matches!(parse_range("items=0-1", 100), RangeSpec::Whole));
    }
}
