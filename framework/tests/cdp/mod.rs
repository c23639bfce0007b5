//! Headless Chromium driven over the Chrome DevTools Protocol, for the browser tests of the
//! framework (`framework/tests/browser.rs`) and of the showcase (`apps/showcase/tests/browser.rs`,
//! which includes this file by path): one CDP client, not two copies.
//!
//! Why a hand-written client: CDP is JSON over a WebSocket; `tungstenite` (blocking) and
//! `serde_json` are all it takes, and nothing is downloaded (driver crates fetch their own
//! browser builds).

#![allow(dead_code)] // each test uses a different subset

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::{stream::MaybeTlsStream, Message, WebSocket};

/// The longest any one step (a start, a command, a page condition) may take.
pub const STEP: Duration = Duration::from_secs(30);

/// Chromium's binary: `$CHROMIUM`, or Debian's.
pub fn chromium() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A child process killed (and reaped) when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn lines_of(out: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Chromium's profile directory, removed when dropped.
pub struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running headless Chromium and its profile directory, both removed when dropped.
pub struct Browser {
    _child: Killed,
    _profile: TempDir,
}

/// Starts headless Chromium; its DevTools WebSocket URL is read from its stderr.
pub fn launch(binary: &PathBuf) -> (Browser, String) {
    let profile = std::env::temp_dir().join(format!(
        "waitless-chromium-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&profile).expect("profile dir");
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
    let lines = lines_of(child.stderr.take().expect("stderr"));
    let browser = Browser {
        _child: Killed(child),
        _profile: TempDir(profile),
    };
    let deadline = Instant::now() + STEP;
    while Instant::now() < deadline {
        let line = lines.recv_timeout(STEP).expect("chromium's DevTools URL");
        if let Some(url) = line.strip_prefix("DevTools listening on ") {
            return (browser, url.trim().to_owned());
        }
    }
    panic!("no DevTools URL within {STEP:?}");
}

/// A CDP session on one page target: commands by id, events kept for later checks.
pub struct Cdp {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    session: Option<String>,
    events: Vec<Value>,
}

impl Cdp {
    /// A new page (tab) in the browser at `url`.
    pub fn new_page(url: &str) -> Cdp {
        let (ws, _) = tungstenite::connect(url).expect("DevTools WebSocket");
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_millis(500)))
                .expect("timeout");
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
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .expect("send to DevTools");
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
            let value: Value = serde_json::from_str(text.as_str()).expect("CDP JSON");
            if value["id"] == id {
                assert!(value.get("error").is_none(), "{method}: {value}");
                return value["result"].clone();
            }
            self.events.push(value);
        }
        panic!("{method}: no answer within {STEP:?}");
    }

    /// Evaluates `expr` in the page; a promise is awaited.
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "awaitPromise": true, "returnByValue": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    /// Waits (a MutationObserver in the page, no polling) until `check` is truthy; its value.
    pub fn wait_for(&mut self, check: &str) -> Value {
        let js = format!(
            "new Promise((resolve, reject) => {{
                const f = () => {{ const v = ({check}); if (v) {{ resolve(typeof v === 'object' ? true : v); return true; }} return false; }};
                if (f()) return;
                const obs = new MutationObserver(() => {{ if (f()) obs.disconnect(); }});
                obs.observe(document, {{subtree: true, childList: true, attributes: true, characterData: true}});
                setTimeout(() => {{ obs.disconnect(); reject(new Error('timed out waiting for: ' + {quoted})); }}, 25000);
            }})",
            quoted = json!(check)
        );
        self.eval(&js)
    }

    /// Navigates and waits for the load event.
    pub fn open(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        self.wait_for("document.readyState === 'complete'");
    }

    /// Console errors, uncaught exceptions, failed loads, and requests to anything but the
    /// app (`allowed` URL prefixes).
    pub fn problems(&self, allowed: &[String]) -> Vec<String> {
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
                "Network.loadingFailed" => {
                    let url = self.url_of(&p["requestId"]);
                    out.push(format!("failed load: {url} {p}"))
                }
                "Network.requestWillBeSent" => {
                    let url = p["request"]["url"].as_str().unwrap_or("");
                    let app = |u: &str| allowed.iter().any(|a| u.starts_with(a.as_str()));
                    let inside = app(url) || url.strip_prefix("blob:").is_some_and(app);
                    if !inside && !url.starts_with("data:") {
                        out.push(format!("request outside the app: {url}"));
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Every URL the page requested, in order.
    pub fn requests(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .filter_map(|e| e["params"]["request"]["url"].as_str().map(str::to_owned))
            .collect()
    }

    /// The URL of the request `id` (from its `requestWillBeSent` event).
    pub fn url_of(&self, id: &Value) -> &str {
        self.events
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .find(|e| &e["params"]["requestId"] == id)
            .and_then(|e| e["params"]["request"]["url"].as_str())
            .unwrap_or("?")
    }

    /// `expr` evaluated as a number (a number or a numeric string).
    pub fn number(&mut self, expr: &str) -> f64 {
        let v = self.eval(expr);
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .unwrap_or_else(|| panic!("{expr} is not a number: {v}"))
    }
}
