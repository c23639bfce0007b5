//! The showcase behind Debian's `nginx`, as `docs/runner.md` configures it: over TCP and over
//! `--uds`, plain and with TLS terminated in nginx.
//!
//! Why a real nginx: the proxy headers (`X-Forwarded-For`, `X-Forwarded-Proto`), the WebSocket
//! upgrade (`Upgrade`/`Connection` are hop-by-hop: nginx drops them unless told) and streaming
//! (nginx buffers responses unless told) are where an app behind a proxy breaks, and only the
//! proxy itself shows what it really sends. Each test starts its own nginx (own config, prefix,
//! pid, logs and temp paths in a temp dir, on a free port, `daemon off`) and kills it at the end.
//!
//! Checked: the client address and scheme reach the app (`GET /client`), a chain of
//! `X-Forwarded-For` is walked past the trusted proxy, `--forwarded-allow-ips` without nginx's
//! address makes the app ignore the headers, a WebSocket echo (`tungstenite` client) and an SSE
//! stream pass through, the stream unbuffered. Without `nginx` (or `openssl`/`curl` for the
//! TLS case) a test prints why it skipped; `WAITLESS_REQUIRE_COMPONENTS=1` makes that a failure.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::Message;

/// The longest any single step may take before the test fails instead of hanging.
const STEP: Duration = Duration::from_secs(30);

fn skip(test: &str, reason: &str) {
    if std::env::var("WAITLESS_REQUIRE_COMPONENTS").is_ok_and(|v| v == "1") {
        panic!("{test}: {reason} (WAITLESS_REQUIRE_COMPONENTS=1)");
    }
    eprintln!("SKIPPED {test}: {reason}");
}

/// `name` on `PATH`, or in `/usr/sbin` (Debian's nginx lives there, often not on a user's PATH).
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A fresh directory under the temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "waitless-nginx-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed (and reaped) on drop, so a failing assertion leaves nothing running.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where the app listens: `host:port` or a Unix socket path.
enum Upstream {
    Tcp(String),
    Unix(PathBuf),
}

/// `showcase --workers 1 ARGS` and where it listens, from the line it prints.
fn start_showcase(args: &[&str]) -> (Killed, Upstream) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_showcase"))
        .args(["--workers", "1", "--log-level", "warning"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn showcase");
    let stdout = child.stdout.take().expect("stdout");
    let child = Killed(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + STEP;
    while Instant::now() < deadline {
        let line = rx.recv_timeout(STEP).expect("showcase's listening line");
        let Some(rest) = line.strip_prefix("waitless: listening on ") else {
            continue;
        };
        let at = rest.split_whitespace().next().unwrap_or("");
        if let Some(addr) = at.strip_prefix("http://") {
            return (child, Upstream::Tcp(addr.to_owned()));
        }
        if let Some(path) = at.strip_prefix("unix:") {
            return (child, Upstream::Unix(PathBuf::from(path)));
        }
    }
    panic!("no listening line within {STEP:?}");
}

/// A port nobody listens on right now (bound, then released for nginx).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// The proxying part of the config: what `docs/runner.md` shows.
fn locations() -> &'static str {
    r#"
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;              # keep-alive to the app
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }
        location /ws/ {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;  # hop-by-hop: passed on only when asked
            proxy_set_header Connection "upgrade";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 1h;               # an idle WebSocket is not a dead upstream
        }
        location /events {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering off;                 # each event goes out as it is written
        }"#
}

/// A running nginx: its plain port and, when TLS was asked for, its HTTPS port. Dropping it
/// stops nginx with `SIGTERM` and waits: a `SIGKILL`ed master leaves its workers running.
struct Nginx {
    child: Killed,
    port: u16,
    tls_port: Option<u16>,
    _dir: TempDir,
}

/// Starts `nginx` in front of `upstream`; `tls`: a (cert, key) pair for a second, HTTPS listener.
fn start_nginx(nginx: &Path, upstream: &Upstream, tls: Option<(&Path, &Path)>) -> Nginx {
    let dir = TempDir::new("conf");
    let port = free_port();
    let tls_port = tls.map(|_| free_port());
    let server = match upstream {
        Upstream::Tcp(addr) => addr.clone(),
        Upstream::Unix(path) => format!("unix:{}", path.display()),
    };
    let tls_server = match (tls, tls_port) {
        (Some((cert, key)), Some(p)) => format!(
            "server {{\n listen 127.0.0.1:{p} ssl;\n ssl_certificate {};\n ssl_certificate_key {};\n{}\n}}",
            cert.display(),
            key.display(),
            locations()
        ),
        _ => String::new(),
    };
    let d = dir.0.display();
    let conf = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n access_log off;\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n\
         upstream app {{ server {server}; keepalive 8; }}\n\
         server {{\n listen 127.0.0.1:{port};\n{}\n}}\n{tls_server}\n}}\n",
        locations()
    );
    let conf_path = dir.0.join("nginx.conf");
    std::fs::write(&conf_path, conf).expect("write nginx.conf");
    let child = Command::new(nginx)
        .arg("-p")
        .arg(&dir.0)
        .arg("-c")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn nginx");
    let mut child = Killed(child);
    // nginx says nothing when it is ready: wait until both ports accept (bounded in time).
    let deadline = Instant::now() + STEP;
    for p in std::iter::once(port).chain(tls_port) {
        while TcpStream::connect(("127.0.0.1", p)).is_err() {
            if let Ok(Some(status)) = child.0.try_wait() {
                let log = std::fs::read_to_string(dir.0.join("error.log")).unwrap_or_default();
                panic!("nginx exited with {status}: {log}");
            }
            assert!(Instant::now() < deadline, "nginx did not listen on {p}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Nginx {
        child,
        port,
        tls_port,
        _dir: dir,
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let master = &mut self.child.0;
        let _ = Command::new("kill")
            .args(["-TERM", &master.id().to_string()])
            .status();
        // Bounded: nginx's fast shutdown takes milliseconds; after 10 s `Killed` SIGKILLs it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(master.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// `GET path` through nginx on a fresh connection, with `extra` header lines; status and body.
fn get(port: u16, path: &str, extra: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to nginx");
    s.set_read_timeout(Some(STEP)).expect("timeout");
    let head = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{extra}\r\n");
    s.write_all(head.as_bytes()).expect("write");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a complete response");
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok());
    (status.expect("status"), body.to_owned())
}

fn client_seen(port: u16, extra: &str) -> Value {
    let (status, body) = get(port, "/client", extra);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("JSON")
}

/// A WebSocket through nginx: the upgrade passes and a message comes back.
fn websocket_echo(port: u16) {
    let (mut ws, res) =
        tungstenite::connect(format!("ws://127.0.0.1:{port}/ws/echo")).expect("handshake");
    assert_eq!(res.status().as_u16(), 101);
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(STEP)).expect("timeout");
    }
    ws.send(Message::text("through nginx")).expect("send");
    let reply = (0..16)
        .map(|_| ws.read().expect("a message"))
        .find(|m| m.is_text())
        .expect("a text message");
    assert_eq!(reply.to_text().expect("text"), "through nginx");
    let _ = ws.close(None);
}

/// An SSE stream through nginx, unbuffered: the first event arrives while the server still
/// waits the interval before the second, so it cannot have been held back until the end.
fn sse_streams(port: u16) {
    let interval = Duration::from_secs(3);
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(STEP)).expect("timeout");
    let ms = interval.as_millis();
    let head = format!(
        "GET /events?n=2&interval_ms={ms} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).expect("write");
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !contains(&seen, b"data: 0") {
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "stream ended before the first event: {seen:?}");
        seen.extend_from_slice(&buf[..n]);
    }
    let first = started.elapsed();
    assert!(
        first < interval,
        "first event after {first:?}: buffered by the proxy"
    );
    assert!(!contains(&seen, b"data: 1"));
    let text = String::from_utf8_lossy(&seen).to_ascii_lowercase();
    assert!(text.contains("content-type: text/event-stream"), "{text}");
    s.read_to_end(&mut seen).expect("the rest of the stream");
    assert!(contains(&seen, b"data: 1"), "second event");
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A self-signed certificate for 127.0.0.1 made with `openssl` (None when it is missing).
fn self_signed(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = Command::new(find_program("openssl")?)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some((cert, key))
}

/// `GET /client` over HTTPS with curl (`-k`: the certificate is self-signed).
fn client_seen_over_https(curl: &Path, port: u16) -> Value {
    let out = Command::new(curl)
        .args(["-sS", "-k", "--max-time", "30"])
        .arg(format!("https://127.0.0.1:{port}/client"))
        .output()
        .expect("run curl");
    assert!(out.status.success(), "curl: {out:?}");
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn over_tcp_client_scheme_websocket_and_sse_pass_through() {
    let test = "over_tcp_client_scheme_websocket_and_sse_pass_through";
    let Some(nginx) = find_program("nginx") else {
        return skip(
            test,
            "no `nginx` on PATH or in /usr/sbin (Debian package `nginx`)",
        );
    };
    let (_app, upstream) = start_showcase(&["--port", "0"]);
    let certs = TempDir::new("certs");
    let tls = self_signed(&certs.0);
    let tls_ref = tls.as_ref().map(|(c, k)| (c.as_path(), k.as_path()));
    let proxy = start_nginx(&nginx, &upstream, tls_ref);

    // nginx's own address is trusted (the default 127.0.0.1): the client is what it forwards,
    // with port 0 (a proxy does not pass the client's port) — not nginx's ephemeral port.
    assert_eq!(
        client_seen(proxy.port, ""),
        json!({"client": "127.0.0.1:0", "scheme": "http"})
    );
    // A chain: nginx appends its client to what came in; the walk stops at the first address
    // that is not a trusted proxy, counted from the right.
    assert_eq!(
        client_seen(proxy.port, "X-Forwarded-For: 203.0.113.7\r\n"),
        json!({"client": "203.0.113.7:0", "scheme": "http"})
    );
    websocket_echo(proxy.port);
    sse_streams(proxy.port);

    match (tls_port_and_curl(&proxy), tls.is_some()) {
        (Some((port, curl)), true) => assert_eq!(
            client_seen_over_https(&curl, port),
            json!({"client": "127.0.0.1:0", "scheme": "https"}),
            "TLS ends in nginx; X-Forwarded-Proto carries the scheme"
        ),
        _ => skip(
            &format!("{test} (HTTPS part)"),
            "needs `openssl` (to make a certificate) and `curl`",
        ),
    }
}

fn tls_port_and_curl(proxy: &Nginx) -> Option<(u16, PathBuf)> {
    Some((proxy.tls_port?, find_program("curl")?))
}

#[test]
fn over_a_unix_socket_client_scheme_websocket_and_sse_pass_through() {
    let test = "over_a_unix_socket_client_scheme_websocket_and_sse_pass_through";
    let Some(nginx) = find_program("nginx") else {
        return skip(
            test,
            "no `nginx` on PATH or in /usr/sbin (Debian package `nginx`)",
        );
    };
    let dir = TempDir::new("uds");
    let sock = dir.0.join("app.sock");
    let sock_arg = sock.to_str().expect("a UTF-8 temp path");
    let (_app, upstream) = start_showcase(&["--uds", sock_arg]);
    let proxy = start_nginx(&nginx, &upstream, None);
    // A Unix socket peer is the local proxy: its headers are believed.
    assert_eq!(
        client_seen(proxy.port, ""),
        json!({"client": "127.0.0.1:0", "scheme": "http"})
    );
    assert_eq!(
        client_seen(proxy.port, "X-Forwarded-For: 198.51.100.9\r\n"),
        json!({"client": "198.51.100.9:0", "scheme": "http"})
    );
    websocket_echo(proxy.port);
    sse_streams(proxy.port);
}

#[test]
fn a_proxy_outside_forwarded_allow_ips_is_not_believed() {
    let test = "a_proxy_outside_forwarded_allow_ips_is_not_believed";
    let Some(nginx) = find_program("nginx") else {
        return skip(
            test,
            "no `nginx` on PATH or in /usr/sbin (Debian package `nginx`)",
        );
    };
    // nginx connects from 127.0.0.1; only 127.0.0.2 is trusted.
    let (_app, upstream) = start_showcase(&["--port", "0", "--forwarded-allow-ips", "127.0.0.2"]);
    let proxy = start_nginx(&nginx, &upstream, None);
    let seen = client_seen(
        proxy.port,
        "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n",
    );
    assert_eq!(seen["scheme"], "http", "{seen}");
    let client = seen["client"].as_str().expect("a client");
    let (ip, port) = client.rsplit_once(':').expect("ip:port");
    assert_eq!(
        ip, "127.0.0.1",
        "the peer itself, not a forwarded address: {seen}"
    );
    assert_ne!(port, "0", "nginx's real ephemeral port: {seen}");
}
