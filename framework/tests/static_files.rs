//! `StaticFiles`: caching validators, ranges, content types, and every path-traversal form we
//! could think of answered 404.

use std::path::PathBuf;

use waitless::static_files::StaticFiles;
use waitless::{App, TestClient};

/// `base/secret.txt` outside the root; `base/public` served, with a symlink pointing out.
struct Tree(PathBuf);

impl Tree {
    fn new(name: &str) -> Tree {
        let base =
            std::env::temp_dir().join(format!("waitless-static-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("public/js")).unwrap();
        std::fs::write(base.join("secret.txt"), "top secret").unwrap();
        std::fs::write(base.join("public/app.css"), "body { color: red }").unwrap();
        let js: String = (0..10_000)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        std::fs::write(base.join("public/js/app.js"), js).unwrap();
        std::fs::write(base.join("public/logo.png"), [0x89, b'P', b'N', b'G']).unwrap();
        std::os::unix::fs::symlink(base.join("secret.txt"), base.join("public/escape.txt"))
            .unwrap();
        std::os::unix::fs::symlink(base.join("public/app.css"), base.join("public/inside.css"))
            .unwrap();
        Tree(base)
    }

    fn client(&self) -> TestClient<waitless::Routes> {
        TestClient::new(App::new().mount_static("/static", StaticFiles::new(self.0.join("public"))))
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn serves_files_with_types_and_validators() {
    let tree = Tree::new("serve");
    let client = tree.client();
    let res = client.get("/static/app.css").send();
    assert_eq!(res.status.as_u16(), 200);
    assert_eq!(res.text(), "body { color: red }");
    assert_eq!(res.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(res.header("content-length"), Some("19"));
    let etag = res.header("etag").unwrap().to_owned();
    let last_modified = res.header("last-modified").unwrap().to_owned();

    let res = client
        .get("/static/app.css")
        .header("if-none-match", &etag)
        .send();
    assert_eq!(res.status.as_u16(), 304);
    assert!(res.body.is_empty());
    let res = client
        .get("/static/app.css")
        .header("if-none-match", "\"other\"")
        .send();
    assert_eq!(res.status.as_u16(), 200);
    let res = client
        .get("/static/app.css")
        .header("if-modified-since", &last_modified)
        .send();
    assert_eq!(res.status.as_u16(), 304);
    let res = client
        .get("/static/app.css")
        .header("if-modified-since", "Mon, 01 Jan 2001 00:00:00 GMT")
        .send();
    assert_eq!(res.status.as_u16(), 200);

    let res = client.get("/static/js/app.js").send();
    assert_eq!(
        res.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(res.body.len(), 10_000);
    assert_eq!(
        client.get("/static/logo.png").send().header("content-type"),
        Some("image/png")
    );
    let res = client.head("/static/js/app.js").send();
    assert_eq!(res.status.as_u16(), 200);
    assert!(res.body.is_empty());
    assert_eq!(client.get("/static/inside.css").send().status.as_u16(), 200);
    assert_eq!(client.get("/static/nope.css").send().status.as_u16(), 404);
    assert_eq!(client.get("/static/js").send().status.as_u16(), 404);
}

#[test]
fn single_ranges_are_206_and_unsatisfiable_416() {
    let tree = Tree::new("range");
    let client = tree.client();
    let res = client
        .get("/static/js/app.js")
        .header("range", "bytes=0-3")
        .send();
    assert_eq!(res.status.as_u16(), 206);
    assert_eq!(res.text(), "abcd");
    assert_eq!(res.header("content-range"), Some("bytes 0-3/10000"));
    let res = client
        .get("/static/js/app.js")
        .header("range", "bytes=-2")
        .send();
    assert_eq!(res.status.as_u16(), 206);
    assert_eq!(res.header("content-range"), Some("bytes 9998-9999/10000"));
    assert_eq!(res.body.len(), 2);
    let res = client
        .get("/static/js/app.js")
        .header("range", "bytes=20000-")
        .send();
    assert_eq!(res.status.as_u16(), 416);
    assert_eq!(res.header("content-range"), Some("bytes */10000"));
    let res = client
        .get("/static/js/app.js")
        .header("range", "bytes=0-1,4-5")
        .send();
    assert_eq!(res.status.as_u16(), 200);
    assert_eq!(res.body.len(), 10_000);
}

#[test]
fn every_traversal_form_is_404() {
    let tree = Tree::new("traversal");
    let client = tree.client();
    let attempts = [
        "/static/../secret.txt",
        "/static/js/../../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E/secret.txt",
        "/static/.%2e/secret.txt",
        "/static/..%2fsecret.txt",
        "/static/..%2Fsecret.txt",
        "/static/%2e%2e%2fsecret.txt",
        "/static/js%2f..%2f..%2fsecret.txt",
        "/static/..%5csecret.txt",
        "/static/..\\secret.txt",
        "/static/js\\..\\..\\secret.txt",
        "/static/%00",
        "/static/app.css%00.png",
        "/static/app.css%00",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/%252e%252e/secret.txt",
        "/static/./app.css",
        "/static/escape.txt",
        "/static/",
    ];
    for path in attempts {
        let res = client.get(path).send();
        assert!(
            res.status.as_u16() == 404 || res.status.as_u16() == 400,
            "{path}: {} {}",
            res.status.as_u16(),
            res.text()
        );
        assert!(!res.text().contains("top secret"), "{path} leaked the file");
        assert_eq!(res.status.as_u16(), 404, "{path}: {}", res.text());
    }
}
