//! The `showcase` binary as users run it: real worker processes on a real port.
//!
//! What only processes can show: an item created through one worker is read through another
//! (one SQLite file), one loop serves 20 sleeping requests at once, the default database is
//! removed when the supervisor exits on SIGTERM, and `--db PATH` keeps it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The longest any single step may take before the test fails instead of hanging.
const STEP: Duration = Duration::from_secs(30);

struct Server {
    child: Child,
    addr: SocketAddr,
    db: PathBuf,
}

impl Server {
    /// Starts `showcase --port 0 ARGS` and waits for its database and listening lines.
    fn start(args: &[&str]) -> Server {
        Server::start_with(args, &[])
    }

    fn start_with(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_showcase"))
            .args(["--port", "0", "--log-level", "warning"])
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn showcase");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut addr, mut db) = (None, None);
        while addr.is_none() {
            let line = rx.recv_timeout(STEP).expect("showcase printed its lines");
            if let Some(rest) = line.strip_prefix("showcase: items database ") {
                let path = rest.rsplit_once(" (").map_or(rest, |(p, _)| p);
                db = Some(PathBuf::from(path));
            }
            if let Some(rest) = line.strip_prefix("waitless: listening on http://") {
                let at = rest.split_whitespace().next().unwrap_or("");
                addr = Some(at.parse().expect("address"));
            }
        }
        Server {
            child,
            addr: addr.expect("listening line"),
            db: db.expect("the database line comes before the listening line"),
        }
    }

    /// SIGTERM to the supervisor, then its exit status (bounded by [`STEP`]).
    fn terminate(mut self) -> ExitStatus {
        signal(&self.child, "TERM");
        wait_bounded(&mut self.child)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            signal(&self.child, "KILL");
            let _ = self.child.wait();
        }
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

fn wait_bounded(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + STEP;
    // try_wait in short steps: std offers no wait with a timeout, and a hung server must fail
    // the test, not hang it. Bounded by the deadline.
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "showcase did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One request on a fresh connection (`Connection: close`): status, `x-worker-pid`, body.
fn request(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> Reply {
    let json = "Content-Type: application/json\r\n";
    request_with(addr, method, path, json, body)
}

/// [`request`] with `headers` (complete lines, each ending in CRLF) instead of the JSON type.
fn request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: Option<&str>,
) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(STEP)).expect("timeout");
    let body = body.unwrap_or("");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
         {headers}Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write");
    stream.write_all(body.as_bytes()).expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    Reply::parse(&raw)
}

#[derive(Debug)]
struct Reply {
    status: u16,
    pid: String,
    body: String,
}

impl Reply {
    fn parse(raw: &str) -> Reply {
        let (head, body) = raw.split_once("\r\n\r\n").expect("a complete response");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        let pid = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("x-worker-pid: ")
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        Reply {
            status,
            pid,
            body: body.to_owned(),
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }
}

fn create_item(addr: SocketAddr, name: &str) -> (u64, String) {
    let body = format!(r#"{{"name":"{name}","price":2.5,"tags":["t"]}}"#);
    let reply = request(addr, "POST", "/items", Some(&body));
    assert_eq!(reply.status, 201, "{reply:?}");
    (reply.json()["id"].as_u64().expect("id"), reply.pid)
}

/// Fresh connections until a worker other than `not` answers `GET path` (at most 500 tries).
fn get_from_another_worker(addr: SocketAddr, path: &str, not: &str) -> Reply {
    for _ in 0..500 {
        let reply = request(addr, "GET", path, None);
        if reply.pid != not {
            return reply;
        }
    }
    panic!("500 fresh connections all reached worker {not}");
}

#[test]
fn an_item_created_through_one_worker_is_read_through_another() {
    let server = Server::start(&["--workers", "2"]);
    let (id, creator) = create_item(server.addr, "shared");
    assert!(!creator.is_empty(), "X-Worker-Pid is set");
    let reply = get_from_another_worker(server.addr, &format!("/items/{id}"), &creator);
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.json(),
        serde_json::json!({"id": id, "name": "shared", "price": 2.5, "tags": ["t"]})
    );
    // And the other way round: created there, deleted here, gone everywhere.
    let (id2, creator2) = create_item(server.addr, "second");
    assert!(id2 > id);
    let deleted = get_from_another_worker_delete(server.addr, id2, &creator2);
    assert_eq!(deleted.status, 204);
    for _ in 0..10 {
        assert_eq!(
            request(server.addr, "GET", &format!("/items/{id2}"), None).status,
            404
        );
    }
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn a_token_issued_by_one_worker_is_accepted_by_another() {
    let server = Server::start(&["--workers", "2"]);
    let form = "Content-Type: application/x-www-form-urlencoded\r\n";
    let login = request_with(
        server.addr,
        "POST",
        "/token",
        form,
        Some("username=alice&password=secret"),
    );
    assert_eq!(login.status, 200, "{login:?}");
    let token = login.json()["access_token"]
        .as_str()
        .map(str::to_owned)
        .expect("token");
    let auth = format!("Authorization: Bearer {token}\r\n");
    for _ in 0..500 {
        let me = request_with(server.addr, "GET", "/users/me", &auth, None);
        assert_eq!(me.status, 200, "{me:?}");
        assert_eq!(me.body, r#"{"username":"alice"}"#);
        if me.pid != login.pid {
            assert_eq!(server.terminate().code(), Some(0));
            return;
        }
    }
    panic!("500 fresh connections all reached worker {}", login.pid);
}

fn get_from_another_worker_delete(addr: SocketAddr, id: u64, not: &str) -> Reply {
    for _ in 0..500 {
        // Probe with a harmless GET first so a DELETE is sent only to the other worker.
        let probe = request(addr, "GET", "/healthz", None);
        if probe.pid != not {
            return request(addr, "DELETE", &format!("/items/{id}"), None);
        }
    }
    panic!("500 fresh connections all reached worker {not}");
}

#[test]
fn one_loop_serves_twenty_sleeping_requests_at_once() {
    let server = Server::start(&["--workers", "1"]);
    let addr = server.addr;
    let start = Instant::now();
    let handles: Vec<_> = (0..20)
        .map(|_| std::thread::spawn(move || request(addr, "GET", "/io/sleep?ms=300", None)))
        .collect();
    for h in handles {
        let reply = h.join().expect("client thread");
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, r#"{"slept_ms":300}"#);
    }
    let elapsed = start.elapsed();
    // Serially it would be 20 × 300 ms = 6 s; concurrently about 300 ms plus overhead.
    assert!(
        elapsed < Duration::from_millis(1500),
        "20 concurrent sleeps took {elapsed:?} on one worker"
    );

    // The anti-pattern, for contrast: 3 blocking waits of 200 ms on one loop run one by one.
    let start = Instant::now();
    let handles: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(move || request(addr, "GET", "/io/blocking?ms=200", None)))
        .collect();
    for h in handles {
        assert_eq!(h.join().expect("client thread").status, 200);
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(600),
        "3 blocking waits overlapped ({elapsed:?}): the loop was not blocked?"
    );
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn fib_in_every_mode_over_the_wire() {
    let server = Server::start(&["--workers", "2", "--cpu-processes", "1"]);
    for mode in ["inline", "thread", "process"] {
        let reply = request(
            server.addr,
            "GET",
            &format!("/cpu/fib/27?mode={mode}"),
            None,
        );
        assert_eq!(reply.status, 200, "{mode}: {reply:?}");
        assert_eq!(
            reply.json(),
            serde_json::json!({"n": 27, "value": 196_418, "mode": mode})
        );
    }
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn the_default_database_is_removed_at_exit() {
    let server = Server::start(&["--workers", "2"]);
    let db = server.db.clone();
    let dir = db.parent().expect("a directory").to_path_buf();
    assert!(db.starts_with(std::env::temp_dir()), "{db:?}");
    assert!(db.exists(), "{db:?}");
    create_item(server.addr, "doomed");
    assert!(dir.join("items.db-wal").exists(), "WAL mode");
    assert_eq!(server.terminate().code(), Some(0));
    assert!(!dir.exists(), "{dir:?} is still there after exit");
}

#[test]
fn a_db_path_is_kept_and_reused() {
    let dir = scratch_dir("keep");
    let path = dir.join("items.db");
    let arg = path.to_str().expect("utf-8 path");
    let server = Server::start(&["--workers", "2", "--db", arg]);
    assert_eq!(server.db, path);
    let (first, _) = create_item(server.addr, "kept");
    assert_eq!(server.terminate().code(), Some(0));
    assert!(path.exists(), "--db file removed");

    // Second start through WAITLESS_DB: the item is still there, and ids keep growing.
    let server = Server::start_with(&["--workers", "1"], &[("WAITLESS_DB", arg)]);
    let reply = request(server.addr, "GET", &format!("/items/{first}"), None);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["name"], "kept");
    let (second, _) = create_item(server.addr, "later");
    assert!(second > first);
    assert_eq!(server.terminate().code(), Some(0));
    assert!(path.exists());
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn help_mentions_the_showcase_flags_and_bad_ones_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_showcase"))
        .arg("--help")
        .output()
        .expect("run");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--port",
        "--workers",
        "--db",
        "--cpu-threads",
        "--cpu-processes",
        "--db-on-loop",
    ] {
        assert!(help.contains(flag), "--help does not mention {flag}");
    }
    for (args, needle) in [
        (vec!["--db"], "--db"),
        (vec!["--cpu-threads", "0"], "--cpu-threads"),
        (vec!["--bogus"], "--bogus"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_showcase"))
            .args(&args)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{args:?}"
        );
    }
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "showcase-test-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}
