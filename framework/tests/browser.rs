//! `/docs` and `/redoc` in a real browser: headless Chromium (Debian's `chromium`) driven over
//! the Chrome DevTools Protocol with a plain WebSocket (`tungstenite`) and `serde_json`.
//!
//! What a person would check: the page loads with no console error, no request leaves the app
//! (every request the page makes is recorded), every route is listed, and "Try it out" on a
//! POST with a JSON body shows the handler's answer. Without Chromium the test prints why it
//! skipped; with `WAITLESS_REQUIRE_COMPONENTS=1` a missing browser fails it.

mod cdp;
mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::mpsc;

use serde_json::{json, Value};
use waitless_gateway::{Config, Server};

use cdp::{chromium, launch, Cdp, STEP};
use common::{demo_app, skip};

/// The demo app on 127.0.0.1 (a worker thread, as the gateway would run it).
fn serve_demo() -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        waitless_executor::block_on(async move {
            let config = Config {
                bind: "127.0.0.1:0".parse().unwrap(),
                ..Config::default()
            };
            let server = Server::bind(config).expect("bind");
            tx.send(server.local_addr().expect("a TCP address"))
                .unwrap();
            let _ = server.run(demo_app()).await;
        })
    });
    rx.recv_timeout(STEP).expect("server start")
}

/// `(METHOD, /path)` of every operation in the app's document.
fn documented_operations() -> BTreeSet<(String, String)> {
    let doc = demo_app().openapi();
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

#[test]
fn swagger_ui_and_redoc_work_offline_in_chromium() {
    let Some(binary) = chromium() else {
        return skip(
            "swagger_ui_and_redoc_work_offline_in_chromium",
            "no chromium at /usr/bin/chromium (apt-get install chromium, or set CHROMIUM)",
        );
    };
    let addr = serve_demo();
    let origin = format!("http://{addr}/");
    let (_browser, ws_url) = launch(&binary);
    let mut cdp = Cdp::new_page(&ws_url);

    // Swagger UI: every route listed.
    cdp.open(&format!("{origin}docs"));
    let expected = documented_operations();
    let count = expected.len();
    cdp.wait_for(&format!(
        "document.querySelectorAll('.opblock').length >= {count}"
    ));
    let listed = cdp.eval(
        "Array.from(document.querySelectorAll('.opblock')).map(b => [
            b.querySelector('.opblock-summary-method').textContent.trim(),
            b.querySelector('[data-path]').getAttribute('data-path')])",
    );
    let listed: BTreeSet<(String, String)> = serde_json::from_value(listed).unwrap();
    assert_eq!(listed, expected);
    let authorize = cdp.eval("!!document.querySelector('.btn.authorize')");
    assert_eq!(
        authorize,
        json!(true),
        "the Authorize button (security schemes)"
    );

    // "Try it out" on POST /items with Swagger UI's example body → the handler's answer.
    let op = "#operations-items-create_item_items_post";
    cdp.eval(&format!(
        "document.querySelector('{op} .opblock-summary-control').click()"
    ));
    cdp.wait_for(&format!("document.querySelector('{op} .try-out__btn')"));
    cdp.eval(&format!(
        "document.querySelector('{op} .try-out__btn').click()"
    ));
    cdp.wait_for(&format!("document.querySelector('{op} .execute')"));
    cdp.eval(&format!("document.querySelector('{op} .execute').click()"));
    let status = cdp.wait_for(&format!(
        "(document.querySelector('{op} .live-responses-table .response .response-col_status') || {{}}).textContent"
    ));
    assert_eq!(status.as_str().map(str::trim), Some("201"), "{status}");
    let body = cdp.wait_for(&format!(
        "(document.querySelector('{op} .live-responses-table .response-col_description .highlight-code pre') || {{}}).textContent"
    ));
    let answer: Value = serde_json::from_str(body.as_str().unwrap()).unwrap();
    // Swagger UI's example is {"name": "string", "price": 0.1, ...}; the handler doubles it.
    assert_eq!(answer["id"], 7, "{answer}");
    assert_eq!(answer["name"], "created string");
    assert!(answer["total"].is_number());
    assert!(cdp
        .requests()
        .iter()
        .any(|u| u == &format!("{origin}items")));

    // ReDoc: renders every operation, no fonts from outside.
    cdp.open(&format!("{origin}redoc"));
    cdp.wait_for(&format!(
        "document.querySelectorAll('[data-section-id^=\"operation/\"], [data-section-id*=\"/operation/\"]').length >= {count}"
    ));

    let problems = cdp.problems(std::slice::from_ref(&origin));
    assert!(problems.is_empty(), "{problems:#?}");
    let requests = cdp.requests();
    assert!(
        requests
            .iter()
            .any(|u| u.ends_with("/docs/swagger-ui-bundle.js")),
        "{requests:?}"
    );
    assert!(requests
        .iter()
        .any(|u| u.ends_with("/redoc/redoc.standalone.js")));
}
