//! Serving `/openapi.json`, `/docs` (Swagger UI) and `/redoc` (ReDoc) from inside the binary.
//!
//! Why shipped assets: the pages must work with no internet and make no request outside the
//! app (FastAPI links a CDN and Google Fonts by default). The assets are the published npm
//! packages' files, fetched by `scripts/fetch-web-assets.sh` at pinned versions (see
//! `framework/assets/VERSIONS`, with their LICENSE files beside them) and included with
//! `include_bytes!`. The pages are FastAPI's, with every URL made relative to the app's root
//! path. These answers are served only when no route of the app matched the path, so an app
//! can replace any of them with its own route.

use serde_json::{json, Value};

use crate::context::RequestContext;
use crate::response::{Response, ResponseBody, StatusCode};
use crate::routing::RouteTable;

const SWAGGER_JS: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js");
const SWAGGER_CSS: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui.css");
const OAUTH2_REDIRECT_JS: &[u8] = include_bytes!("../../assets/swagger-ui/oauth2-redirect.js");
const REDOC_JS: &[u8] = include_bytes!("../../assets/redoc/redoc.standalone.js");

/// The answer for a docs URL, or `None` when `req`'s path is not one.
pub(crate) fn serve(req: &RequestContext<'_>, table: &RouteTable) -> Option<Response> {
    if !matches!(req.method(), "GET" | "HEAD") {
        return None;
    }
    let config = &table.openapi;
    let path = req.path();
    let root = req.scope().root_path();
    let openapi_url = config.openapi_url.as_deref()?;
    if path == openapi_url {
        return Some(document(table, root));
    }
    if let Some(docs) = config.docs_url.as_deref() {
        if let Some(rest) = path.strip_prefix(docs) {
            return swagger(rest, req, root, docs, openapi_url);
        }
    }
    let redoc = config.redoc_url.as_deref()?;
    match path.strip_prefix(redoc)? {
        "" => Some(page(redoc_html(
            &config.title,
            &format!("{root}{openapi_url}"),
            root,
            redoc,
        ))),
        "/redoc.standalone.js" => Some(asset(req, REDOC_JS, "text/javascript; charset=utf-8")),
        _ => None,
    }
}

fn swagger(
    rest: &str,
    req: &RequestContext<'_>,
    root: &str,
    docs: &str,
    openapi_url: &str,
) -> Option<Response> {
    let table = req.table;
    match rest {
        "" => Some(page(swagger_html(
            &table.openapi.title,
            &format!("{root}{openapi_url}"),
            root,
            docs,
        ))),
        "/swagger-ui-bundle.js" => Some(asset(req, SWAGGER_JS, "text/javascript; charset=utf-8")),
        "/swagger-ui.css" => Some(asset(req, SWAGGER_CSS, "text/css; charset=utf-8")),
        "/oauth2-redirect.js" => Some(asset(
            req,
            OAUTH2_REDIRECT_JS,
            "text/javascript; charset=utf-8",
        )),
        "/oauth2-redirect" => Some(page(
            OAUTH2_REDIRECT_HTML.replace("{base}", &html_text(&format!("{root}{docs}"))),
        )),
        _ => None,
    }
}

/// `/openapi.json`: built once per worker, with `servers` naming the root path when the app
/// is mounted under one (FastAPI's `root_path_in_servers`).
fn document(table: &RouteTable, root_path: &str) -> Response {
    let doc = table.openapi_document();
    if root_path.is_empty() || doc.get("servers").is_some() {
        return Response::json(doc);
    }
    let mut doc = doc.clone();
    doc["servers"] = json!([{ "url": root_path }]);
    Response::json(&doc)
}

fn page(html: String) -> Response {
    Response::new(StatusCode::OK, ResponseBody::Bytes(html.into_bytes()))
        .with_header("content-type", "text/html; charset=utf-8")
}

/// A shipped file with a validator: the same bytes for a given crate version.
fn asset(req: &RequestContext<'_>, bytes: &'static [u8], content_type: &'static str) -> Response {
    let etag = format!("\"waitless-{}-{}\"", env!("CARGO_PKG_VERSION"), bytes.len());
    let headers = [
        ("etag", etag.clone()),
        ("cache-control", "public, max-age=3600".to_owned()),
    ];
    if req
        .header("if-none-match")
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        let mut res = Response::new(StatusCode::NOT_MODIFIED, ResponseBody::Empty);
        for (n, v) in headers {
            res = res.with_header(n, v);
        }
        return res;
    }
    let mut res = Response::new(StatusCode::OK, ResponseBody::Static(bytes))
        .with_header("content-type", content_type);
    for (n, v) in headers {
        res = res.with_header(n, v);
    }
    res
}

/// Text for an HTML attribute or a JavaScript string literal in the pages.
fn escape(text: &str) -> String {
    let json = Value::String(text.to_owned()).to_string();
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\'', "\\u0027")
}

fn html_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// FastAPI's `get_swagger_ui_html`, with local assets, no favicon request and no validator.
fn swagger_html(title: &str, openapi_url: &str, root: &str, docs: &str) -> String {
    let base = format!("{root}{docs}");
    format!(
        r##"<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<link type="text/css" rel="stylesheet" href="{css}">
<link rel="icon" href="data:,">
<title>{title} - Swagger UI</title>
</head>
<body>
<div id="swagger-ui">
</div>
<script src="{js}"></script>
<script>
const ui = SwaggerUIBundle({{
    url: {url},
    "dom_id": "#swagger-ui",
    "layout": "BaseLayout",
    "deepLinking": true,
    "showExtensions": true,
    "showCommonExtensions": true,
    "validatorUrl": null,
    oauth2RedirectUrl: window.location.origin + {redirect},
    presets: [
        SwaggerUIBundle.presets.apis,
        SwaggerUIBundle.SwaggerUIStandalonePreset
    ],
}})
</script>
</body>
</html>
"##,
        css = html_text(&format!("{base}/swagger-ui.css")),
        js = html_text(&format!("{base}/swagger-ui-bundle.js")),
        title = html_text(title),
        url = escape(openapi_url),
        redirect = escape(&format!("{base}/oauth2-redirect")),
    )
}

/// FastAPI's `get_redoc_html` without Google Fonts (ReDoc falls back to system fonts).
fn redoc_html(title: &str, openapi_url: &str, root: &str, redoc: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html>
<head>
<title>{title} - ReDoc</title>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<style>
  body {{
    margin: 0;
    padding: 0;
  }}
</style>
</head>
<body>
<noscript>
    ReDoc requires Javascript to function. Please enable it to browse the documentation.
</noscript>
<redoc spec-url="{url}"></redoc>
<script src="{js}"> </script>
</body>
</html>
"#,
        title = html_text(title),
        url = html_text(openapi_url),
        js = html_text(&format!("{root}{redoc}/redoc.standalone.js")),
    )
}

/// Swagger UI's OAuth2 redirect page (for the authorization-code and implicit flows).
const OAUTH2_REDIRECT_HTML: &str = r#"<!doctype html>
<html lang="en-US">
<head><title>Swagger UI: OAuth2 Redirect</title></head>
<body>
<script src="{base}/oauth2-redirect.js"></script>
</body>
</html>
"#;
