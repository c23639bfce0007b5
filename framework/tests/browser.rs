//! `/docs` and `/redoc` in a real browser: headless Chromium (Debian's `chromium`) driven over
//! the Chrome DevTools Protocol with a plain WebSocket (`tungstenite`) and `serde_json`.
//!
//! What a person would check: the page loads with no console error, no request leaves the app
//! (every request the page makes is recorded), every route is listed, and "Try it out" on a
//! POST with a JSON body shows the handler's answer. Without Chromium the test prints why it
//! skipped; with `WAITLESS_REQUIRE_COMPONENTS=1` a missing browser fails it.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::{stream::MaybeTlsStream, Message, WebSocket};
use waitless_gateway::{Config, Server};

use common::{demo_app, skip};

const STEP: Duration = Duration::from_secs(30);

fn chromium() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

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

/// A headless Chromium, killed when dropped.
struct Browser {
    child: Child,
    _profile: TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts Chromium and returns it with its DevTools WebSocket URL (read from its stderr).
fn launch(binary: &PathBuf) -> (Browser, String) {
    let profile = std::env::temp_dir().join(format!("waitless-chromium-{}", std::process::id()));
    std::fs::create_dir_all(&profile).unwrap();
    let mut child = Command::new(binary)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("DevTools listening on ") {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });
    let browser = Browser {
        child,
        _profile: TempDir(profile),
    };
    let url = rx.recv_timeout(STEP).expect("chromium's DevTools URL");
    (browser, url)
}

/// A CDP session on one page target: commands by id, events kept for later checks.
struct Cdp {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    session: Option<String>,
    events: Vec<Value>,
}

impl Cdp {
    fn connect(url: &str) -> Cdp {
        let (ws, _) = tungstenite::connect(url).expect("DevTools WebSocket");
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
        }
        let mut cdp = Cdp {
            ws,
            next_id: 0,
            session: None,
            events: Vec::new(),
        };
        let target = cdp.call("Target.createTarget", json!({"url": "about:blank"}));
        let attached = cdp.call(
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        cdp.session = attached["sessionId"].as_str().map(str::to_owned);
        for domain in ["Page", "Runtime", "Network", "Log"] {
            cdp.call(&format!("{domain}.enable"), json!({}));
        }
        cdp
    }

    /// Sends a command and reads messages until its answer (bounded by `STEP`).
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        self.ws.send(Message::text(msg.to_string())).unwrap();
        let deadline = Instant::now() + STEP;
        while Instant::now() < deadline {
            let text = match self.ws.read() {
                Ok(Message::Text(t)) => t,
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(e) => panic!("DevTools connection: {e}"),
            };
            let value: Value = serde_json::from_str(text.as_str()).unwrap();
            if value["id"] == id {
                assert!(value.get("error").is_none(), "{method}: {value}");
                return value["result"].clone();
            }
            self.events.push(value);
        }
        panic!("{method}: no answer within {STEP:?}");
    }

    /// Evaluates `expr` in the page; a promise is awaited.
    fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "awaitPromise": true, "returnByValue": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    /// Waits (a MutationObserver in the page, no polling) until `check` is truthy; its value.
    fn wait_for(&mut self, check: &str) -> Value {
        let js = format!(
            "new Promise((resolve, reject) => {{
                const f = () => {{ const v = ({check}); if (v) {{ resolve(typeof v === 'object' ? true : v); return true; }} return false; }};
                if (f()) return;
                const obs = new MutationObserver(() => {{ if (f()) obs.disconnect(); }});
                obs.observe(document, {{subtree: true, childList: true, attributes: true, characterData: true}});
                setTimeout(() => {{ obs.disconnect(); reject(new Error('timed out waiting for: ' + {quoted})); }}, 20000);
            }})",
            quoted = json!(check)
        );
        self.eval(&js)
    }

    /// Navigates and waits for the load event.
    fn open(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        self.wait_for("document.readyState === 'complete'");
    }

    /// Every problem a person would see in DevTools: console errors, uncaught exceptions,
    /// failed loads, and requests to anything but the app.
    fn problems(&self, origin: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in &self.events {
            let p = &e["params"];
            match e["method"].as_str().unwrap_or("") {
                "Runtime.consoleAPICalled" if p["type"] == "error" => {
                    out.push(format!("console error: {}", p["args"]))
                }
                "Runtime.exceptionThrown" => {
                    out.push(format!("exception: {}", p["exceptionDetails"]))
                }
                "Log.entryAdded" if p["entry"]["level"] == "error" => {
                    out.push(format!("log error: {}", p["entry"]))
                }
                "Network.loadingFailed" => out.push(format!("failed load: {p}")),
                "Network.requestWillBeSent" => {
                    let url = p["request"]["url"].as_str().unwrap_or("");
                    let blob = url
                        .strip_prefix("blob:")
                        .is_some_and(|u| u.starts_with(origin));
                    if !url.starts_with(origin) && !url.starts_with("data:") && !blob {
                        out.push(format!("request outside the app: {url}"));
                    }
                }
                _ => {}
            }
        }
        out
    }

    fn requests(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .filter_map(|e| e["params"]["request"]["url"].as_str().map(str::to_owned))
            .collect()
    }
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
    let mut cdp = Cdp::connect(&ws_url);

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

    let problems = cdp.problems(&origin);
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
