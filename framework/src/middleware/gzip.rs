//! `GZip`: compress responses for clients that accept gzip (Starlette's `GZipMiddleware`).
//!
//! Why only above a size and only for compressible types: gzip costs CPU on the worker's one
//! thread; a 200-byte JSON body or a JPEG gains nothing from it. Streamed bodies are passed
//! through unchanged (compressing them would hold chunks back from the client).

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

use super::{Endpoint, Middleware, Next};
use crate::buffers;
use crate::context::RequestContext;
use crate::response::{Response, ResponseBody};

/// Compresses complete bodies of at least `minimum_size` bytes (default 500, Starlette's)
/// whose content type is text-like, when `Accept-Encoding` allows gzip.
///
/// ```
/// use waitless::{App, middleware::GZip};
/// let app = App::new().get("/", || async { "hi" }).layer(GZip::new().minimum_size(1000));
/// # let _ = app;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct GZip {
    minimum_size: usize,
    level: u32,
}

impl Default for GZip {
    fn default() -> Self {
        GZip::new()
    }
}

impl GZip {
    /// Starlette's `GZipMiddleware()` defaults: minimum size 500 bytes, compression level 9.
    pub fn new() -> GZip {
        GZip {
            minimum_size: 500,
            level: 9,
        }
    }

    /// Bodies shorter than `bytes` are sent uncompressed (Starlette's `minimum_size`; default 500).
    /// Streamed bodies are never compressed, whatever their size.
    ///
    /// ```
    /// use waitless::{middleware::GZip, App, TestClient};
    /// let app = App::new()
    ///     .get("/small", || async { "x".repeat(99) })
    ///     .get("/large", || async { "x".repeat(100) })
    ///     .layer(GZip::new().minimum_size(100));
    /// let client = TestClient::new(app);
    /// let encoding = |path: &str| {
    ///     let res = client.get(path).header("accept-encoding", "gzip").send();
    ///     res.header("content-encoding").map(str::to_owned)
    /// };
    /// assert_eq!(encoding("/small"), None);
    /// assert_eq!(encoding("/large").as_deref(), Some("gzip"));
    /// ```
    pub fn minimum_size(mut self, bytes: usize) -> GZip {
        self.minimum_size = bytes;
        self
    }

    /// Compression level 0..=9 (default 9, Starlette's).
    pub fn level(mut self, level: u32) -> GZip {
        self.level = level.min(9);
        self
    }

    fn compress(&self, body: &[u8]) -> Option<Vec<u8>> {
        let mut enc = GzEncoder::new(buffers::take(), Compression::new(self.level));
        enc.write_all(body).ok()?;
        enc.finish().ok()
    }
}

/// `gzip` listed in `Accept-Encoding` with a non-zero quality.
fn accepts_gzip(header: &str) -> bool {
    header.split(',').any(|part| {
        let mut it = part.split(';');
        let coding = it.next().unwrap_or("").trim();
        let zero_q = it.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !zero_q
    })
}

/// Text, JSON, JavaScript, XML, SVG: worth compressing. Images, archives, video: not.
fn compressible(content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.contains("json")
        || ct.contains("javascript")
        || ct.contains("xml")
        || ct.contains("svg")
}

impl Middleware for GZip {
    async fn around<E: Endpoint>(
        &self,
        req: &mut RequestContext<'_>,
        next: Next<'_, E>,
    ) -> Response {
        let wants = req.header("accept-encoding").is_some_and(accepts_gzip);
        let mut res = next.run(req).await;
        if !wants
            || res.headers.contains("content-encoding")
            || !res.headers.get("content-type").is_some_and(compressible)
        {
            return res;
        }
        let Some(body) = res.body.as_bytes().filter(|b| b.len() >= self.minimum_size) else {
            return res;
        };
        let Some(compressed) = self.compress(body) else {
            return res;
        };
        if let ResponseBody::Bytes(old) =
            std::mem::replace(&mut res.body, ResponseBody::Bytes(compressed))
        {
            buffers::give(old);
        }
        res.headers.insert("content-encoding", "gzip");
        res.headers.add_vary("Accept-Encoding");
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_and_content_types() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, gzip;q=0.8"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("br"));
        assert!(compressible("application/json"));
        assert!(compressible("text/html; charset=utf-8"));
        assert!(!compressible("image/png"));
    }
}
