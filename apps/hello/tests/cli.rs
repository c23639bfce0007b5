//! The `hello` binary as users run it: flags, environment variables, the listening line, and
//! the TechEmpower endpoints over a real socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

fn hello() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hello"))
}

#[test]
fn bad_flags_exit_2_naming_the_flag() {
    for (args, needle) in [
        (vec!["--bogus"], "--bogus"),
        (vec!["--port", "http"], "--port"),
        (vec!["--workers", "0"], "--workers"),
        (vec!["--timeout-keep-alive"], "--timeout-keep-alive"),
        (vec!["--log-level", "loud"], "--log-level"),
        (vec!["--header", "no colon"], "--header"),
        (vec!["--header", "Content-Length: 3"], "--header"),
        (vec!["--fd", "-3"], "--fd"),
        (
            vec!["--limit-max-requests-jitter", "x"],
            "--limit-max-requests-jitter",
        ),
        (vec!["--timeout-body-read", "never"], "--timeout-body-read"),
        (vec!["--root-path", "api"], "--root-path"),
        (vec!["--ssl-certfile", "c.pem"], "--ssl-keyfile"),
        (vec!["--ssl-keyfile", "k.pem"], "--ssl-certfile"),
        (vec!["--uds", "/tmp/x.sock", "--fd", "3"], "--uds"),
        (vec!["--env-file", "/nonexistent/.env"], "--env-file"),
    ] {
        let out = hello().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one-line error expected: {err}");
    }
    let out = hello().env("WAITLESS_WORKERS", "lots").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("WAITLESS_WORKERS"));
}

#[test]
fn help_and_version() {
    let out = hello().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--host",
        "--port",
        "--workers",
        "--backlog",
        "--timeout-keep-alive",
        "--timeout-graceful-shutdown",
        "--limit-concurrency",
        "--limit-max-requests",
        "--proxy-headers",
        "--forwarded-allow-ips",
        "--log-level",
        "--no-access-log",
        "--uds",
        "--fd",
        "--root-path",
        "--header",
        "--no-server-header",
        "--no-date-header",
        "--env-file",
        "--limit-max-requests-jitter",
        "--ssl-certfile",
        "--ssl-keyfile",
        "--timeout-body-read",
        "--timeout-send",
        "--version",
    ] {
        assert!(help.contains(flag), "--help does not mention {flag}");
    }
    let out = hello().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("hello (waitless "));
}

/// Starts hello, returns the child and the address from its listening line.
fn start(cmd: &mut Command) -> (std::process::Child, SocketAddr, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("waitless: listening on http://")
        .and_then(|r| r.split(' ').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    (child, addr, line)
}

#[test]
fn environment_variables_set_defaults_and_flags_win() {
    let (mut child, addr, line) = start(
        hello()
            .env("WAITLESS_PORT", "0")
            .env("WAITLESS_WORKERS", "2"),
    );
    assert_ne!(addr.port(), 8000);
    assert!(line.trim().ends_with("(workers: 2)"), "{line}");
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, _, line) =
        start(
            hello()
                .env("WAITLESS_WORKERS", "2")
                .args(["--workers", "1", "--port", "0"]),
        );
    assert!(line.trim().ends_with("(workers: 1)"), "{line}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn plaintext_and_json_over_a_real_socket() {
    let (mut child, addr, _) = start(hello().args(["--port", "0", "--workers", "1"]));
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\nGET /json HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    let mut parts = all.split("HTTP/1.1 ").filter(|p| !p.is_empty());
    let plain = parts.next().unwrap();
    let json = parts.next().unwrap();
    for r in [plain, json] {
        assert!(r.starts_with("200 OK\r\n"), "{r}");
        assert!(r.contains("\r\nServer: waitless\r\n"), "{r}");
        assert!(r.contains("\r\nDate: "), "{r}");
    }
    assert!(plain.contains("content-type: text/plain") && plain.ends_with("\r\n\r\nHello, World!"));
    assert!(json.contains("content-type: application/json"));
    assert!(json.ends_with(r#"{"message":"Hello, World!"}"#), "{json}");
    child.kill().unwrap();
    child.wait().unwrap();
}
