//! The second round of server flags, with real processes of the `probe` example (see
//! `tests/runner.rs`): `--uds`, `--fd`, `--header`, `--no-server-header`, `--no-date-header`,
//! `--env-file`, `--limit-max-requests-jitter`, and HTTPS with `--ssl-certfile`/`--ssl-keyfile`.
//!
//! No sleeps: every wait is for a line from the child or a bounded loop of requests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
#[cfg(feature = "tls")]
use std::path::Path;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);

fn probe_path() -> PathBuf {
    // tests run from target/<profile>/deps; `cargo test` builds examples into ../examples.
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join("examples")
        .join(format!("probe{}", std::env::consts::EXE_SUFFIX))
}

/// A fresh directory for this test's files (sockets, certificates, env files).
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("waitless-flags-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Probe {
    child: Child,
    /// What follows `waitless: listening on ` up to the space: `http://…`, `https://…`, `unix:…`.
    address: String,
    stderr: mpsc::Receiver<String>,
}

impl Probe {
    fn command(args: &[&str]) -> Command {
        let mut cmd = Command::new(probe_path());
        cmd.args(["--log-level", "info"]).args(args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn start(args: &[&str]) -> Probe {
        Probe::spawn(Probe::command(args))
    }

    fn spawn(mut cmd: Command) -> Probe {
        let mut child = cmd.spawn().expect("spawn probe");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (line_tx, line_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = line_tx.send(line);
            }
        });
        let (err_tx, err_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = err_tx.send(line);
            }
        });
        let line = match line_rx.recv_timeout(DEADLINE) {
            Ok(line) => line,
            Err(_) => {
                let log: Vec<String> = err_rx.try_iter().collect();
                panic!("no listening line; stderr: {log:?}");
            }
        };
        let address = line
            .strip_prefix("waitless: listening on ")
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Probe {
            child,
            address,
            stderr: err_rx,
        }
    }

    fn tcp_addr(&self) -> SocketAddr {
        self.address
            .strip_prefix("http://")
            .or_else(|| self.address.strip_prefix("https://"))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("not a TCP address: {}", self.address))
    }

    fn terminate(&mut self) -> ExitStatus {
        // SAFETY: kill takes no pointers.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the probe did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stderr_lines(&self) -> Vec<String> {
        self.stderr.try_iter().collect()
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `Connection: close` request over any stream; the raw response.
fn exchange(mut stream: impl Read + Write, path: &str) -> std::io::Result<String> {
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )?;
    let mut resp = String::new();
    stream.read_to_string(&mut resp)?;
    Ok(resp)
}

fn tcp_get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(DEADLINE))?;
    exchange(s, path)
}

fn body(resp: &str) -> &str {
    resp.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// The value of header `name` (case-insensitive) in a raw response head.
fn header<'a>(resp: &'a str, name: &str) -> Option<&'a str> {
    let head = resp.split_once("\r\n\r\n").map_or(resp, |(h, _)| h);
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn uds_serves_http_on_a_unix_socket_and_removes_it_at_exit() {
    let dir = temp_dir("uds");
    let path = dir.join("probe.sock");
    // A stale socket file, as a server killed with SIGKILL leaves behind.
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let path_str = path.to_str().unwrap();
    let mut probe = Probe::start(&["--uds", path_str, "--workers", "2"]);
    assert_eq!(probe.address, format!("unix:{path_str}"));

    let stream = UnixStream::connect(&path).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let resp = exchange(stream, "/pid").unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let pid: i32 = body(&resp).parse().unwrap();
    assert_ne!(pid, probe.child.id() as i32, "the supervisor served");

    // A client we did not write.
    match Command::new("curl")
        .args(["-sS", "--max-time", "10", "--unix-socket", path_str])
        .arg("http://localhost/scheme")
        .output()
    {
        Ok(out) if out.status.success() => {
            assert_eq!(String::from_utf8_lossy(&out.stdout), "http");
        }
        Ok(out) => panic!("curl failed: {}", String::from_utf8_lossy(&out.stderr)),
        Err(e) => eprintln!("skipping the curl check: cannot run curl ({e})"),
    }

    // A second server on the same live path is refused, and does not remove the file.
    let out = Probe::command(&["--uds", path_str, "--workers", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another server is listening"), "{err}");
    assert!(path.exists());

    let status = probe.terminate();
    assert!(status.success(), "{status:?}");
    assert!(!path.exists(), "the socket file was left behind");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn uds_refuses_to_replace_a_regular_file() {
    let dir = temp_dir("uds-file");
    let path = dir.join("not-a-socket");
    std::fs::write(&path, "keep me").unwrap();
    let out = Probe::command(&["--uds", path.to_str().unwrap(), "--workers", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--uds") && err.contains("not a socket"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The probe with `fd` inherited (close-on-exec cleared in the child only) and `--fd fd`.
fn probe_with_fd(fd: RawFd, extra: &[&str]) -> Command {
    let fd_arg = fd.to_string();
    let mut args = vec!["--fd", fd_arg.as_str()];
    args.extend_from_slice(extra);
    let mut cmd = Probe::command(&args);
    // SAFETY: between fork and exec the closure only calls fcntl, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

#[test]
fn fd_serves_on_an_inherited_tcp_listener() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let probe = Probe::spawn(probe_with_fd(listener.as_raw_fd(), &["--workers", "2"]));
    assert_eq!(probe.address, format!("http://{addr}"));
    let resp = tcp_get(addr, "/pid").unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    // Our copy is not needed for the child to serve.
    drop(listener);
    let resp = tcp_get(addr, "/scheme").unwrap();
    assert_eq!(body(&resp), "http");
}

#[test]
fn fd_serves_on_an_inherited_unix_listener() {
    let dir = temp_dir("fd-unix");
    let path = dir.join("inherited.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let probe = Probe::spawn(probe_with_fd(listener.as_raw_fd(), &["--workers", "1"]));
    assert_eq!(probe.address, format!("unix:{}", path.display()));
    let stream = UnixStream::connect(&path).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let resp = exchange(stream, "/pid").unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    drop(probe);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fd_that_is_not_a_listening_socket_is_refused() {
    // stdin is /dev/null: not a socket.
    let out = Probe::command(&["--fd", "0", "--workers", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--fd 0: not a socket"), "{err}");
    assert!(out.stdout.is_empty(), "printed a listening line");
}

#[test]
fn extra_headers_and_default_headers() {
    let probe = Probe::start(&[
        "--port",
        "0",
        "--workers",
        "1",
        "--header",
        "X-Frame-Options: DENY",
        "--header",
        "x-served-by:probe",
    ]);
    let resp = tcp_get(probe.tcp_addr(), "/pid").unwrap();
    assert_eq!(header(&resp, "x-frame-options"), Some("DENY"), "{resp}");
    assert_eq!(header(&resp, "x-served-by"), Some("probe"), "{resp}");
    assert_eq!(header(&resp, "server"), Some("waitless"), "{resp}");
    assert!(header(&resp, "date").is_some(), "{resp}");
    drop(probe);

    let probe = Probe::start(&[
        "--port",
        "0",
        "--workers",
        "1",
        "--no-server-header",
        "--no-date-header",
    ]);
    let resp = tcp_get(probe.tcp_addr(), "/pid").unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert_eq!(header(&resp, "server"), None, "{resp}");
    assert_eq!(header(&resp, "date"), None, "{resp}");
}

#[test]
fn env_file_sets_variables_below_the_real_environment() {
    let dir = temp_dir("env-file");
    let file = dir.join(".env");
    std::fs::write(
        &file,
        "# settings for the probe\n\
         export WAITLESS_ROOT_PATH=/from-file\n\
         WAITLESS_HEADER=\"X-From-File: yes\"\n\
         PROBE_GREETING='hello from the file'\n",
    )
    .unwrap();
    let file_str = file.to_str().unwrap();

    let probe = Probe::start(&["--port", "0", "--workers", "1", "--env-file", file_str]);
    let addr = probe.tcp_addr();
    assert_eq!(body(&tcp_get(addr, "/root-path").unwrap()), "/from-file");
    let resp = tcp_get(addr, "/env?PROBE_GREETING").unwrap();
    assert_eq!(body(&resp), "hello from the file", "the app sees the file");
    assert_eq!(header(&resp, "x-from-file"), Some("yes"), "{resp}");
    drop(probe);

    // A real environment variable wins over the file (WAITLESS_ENV_FILE names it, too).
    let mut cmd = Probe::command(&["--port", "0", "--workers", "1"]);
    cmd.env("WAITLESS_ENV_FILE", file_str)
        .env("WAITLESS_ROOT_PATH", "/from-env")
        .env("PROBE_GREETING", "hello from the environment");
    let probe = Probe::spawn(cmd);
    let addr = probe.tcp_addr();
    assert_eq!(body(&tcp_get(addr, "/root-path").unwrap()), "/from-env");
    let resp = tcp_get(addr, "/env?PROBE_GREETING").unwrap();
    assert_eq!(body(&resp), "hello from the environment");
    drop(probe);

    let out = Probe::command(&["--env-file", "/nonexistent/.env"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--env-file /nonexistent/.env"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn max_requests_jitter_recycles_between_n_and_n_plus_j() {
    const N: u64 = 3;
    const J: u64 = 6;
    let probe = Probe::start(&[
        "--port",
        "0",
        "--workers",
        "2",
        "--limit-max-requests",
        &N.to_string(),
        "--limit-max-requests-jitter",
        &J.to_string(),
    ]);
    let addr = probe.tcp_addr();
    // Requests on new connections, one at a time: each worker's count is exactly what it served.
    let mut served: Vec<(i32, u64)> = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    for _ in 0..150 {
        if Instant::now() > deadline {
            break;
        }
        let resp = tcp_get(addr, "/pid").expect("a request failed during recycling");
        let pid: i32 = body(&resp).parse().unwrap();
        match served.iter_mut().find(|(p, _)| *p == pid) {
            Some((_, n)) => *n += 1,
            None => served.push((pid, 1)),
        }
    }
    let log = probe.stderr_lines();
    // "Worker [PID] recycles after LIMIT requests", one per worker started.
    let limits: Vec<(i32, u64)> = log
        .iter()
        .filter_map(|l| {
            let rest = l.split("Worker [").nth(1)?;
            let (pid, rest) = rest.split_once("] recycles after ")?;
            let limit = rest.strip_suffix(" requests")?;
            Some((pid.parse().ok()?, limit.parse().ok()?))
        })
        .collect();
    assert!(limits.len() >= 6, "too few workers started: {log:?}");
    for (pid, limit) in &limits {
        assert!((N..=N + J).contains(limit), "worker {pid}: limit {limit}");
    }
    let mut distinct: Vec<u64> = limits.iter().map(|(_, l)| *l).collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(
        distinct.len() >= 2,
        "no jitter: every limit was {distinct:?}"
    );
    // Every recycled worker served exactly its own limit.
    let recycled: Vec<i32> = log
        .iter()
        .filter_map(|l| {
            let rest = l.split("Worker [").nth(1)?;
            let (pid, rest) = rest.split_once(']')?;
            rest.contains("recycled").then(|| pid.parse().ok())?
        })
        .collect();
    assert!(recycled.len() >= 4, "too few recycles: {log:?}");
    for pid in recycled {
        let count = served
            .iter()
            .find(|(p, _)| *p == pid)
            .map_or(0, |(_, n)| *n);
        let limit = limits.iter().find(|(p, _)| *p == pid).map(|(_, l)| *l);
        assert_eq!(Some(count), limit, "worker {pid} served {count}");
    }
}

#[cfg(feature = "tls")]
/// A self-signed certificate for `localhost`/127.0.0.1 written as PEM files into `dir`; the
/// certificate's PEM, for the client to trust.
fn self_signed(dir: &Path) -> (PathBuf, PathBuf, String) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert_pem = ck.cert.pem();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (cert, key, cert_pem)
}

#[cfg(feature = "tls")]
#[test]
fn https_with_a_self_signed_certificate() {
    let dir = temp_dir("tls");
    let (cert, key, cert_pem) = self_signed(&dir);
    let probe = Probe::start(&[
        "--port",
        "0",
        "--workers",
        "2",
        "--ssl-certfile",
        cert.to_str().unwrap(),
        "--ssl-keyfile",
        key.to_str().unwrap(),
    ]);
    assert!(probe.address.starts_with("https://"), "{}", probe.address);
    let port = probe.tcp_addr().port();

    let trusted = ureq::tls::Certificate::from_pem(cert_pem.as_bytes()).unwrap();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&[trusted]))
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder().tls_config(tls).build().into();
    let url = format!("https://localhost:{port}");
    let mut resp = agent.get(format!("{url}/scheme")).call().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body_mut().read_to_string().unwrap(), "https");
    // Keep-alive over TLS: a second request on the agent's pooled connection.
    let mut resp = agent.get(format!("{url}/pid")).call().unwrap();
    let pid: i32 = resp.body_mut().read_to_string().unwrap().parse().unwrap();
    assert!(pid > 0);

    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = tcp_get(probe.tcp_addr(), "/pid").unwrap_or_default();
    assert!(!plain.starts_with("HTTP/1.1 200"), "{plain}");

    // A renewed certificate is picked up by SIGHUP's new workers; a broken one is refused
    // before any worker is replaced.
    std::fs::write(&cert, "not a certificate\n").unwrap();
    // SAFETY: kill takes no pointers.
    unsafe { libc::kill(probe.child.id() as i32, libc::SIGHUP) };
    let deadline = Instant::now() + DEADLINE;
    let mut refused = false;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match probe.stderr.recv_timeout(left) {
            Ok(line) if line.contains("not restarting") => {
                assert!(line.contains("cert.pem"), "{line}");
                refused = true;
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert!(refused, "SIGHUP with a broken certificate was not refused");
    let mut resp = agent.get(format!("{url}/scheme")).call().unwrap();
    assert_eq!(resp.body_mut().read_to_string().unwrap(), "https");
    drop(probe);
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "tls")]
#[test]
fn bad_tls_files_fail_before_forking_naming_the_file() {
    let dir = temp_dir("tls-bad");
    let (cert, key, _) = self_signed(&dir);
    let missing = dir.join("missing-cert.pem");
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "this is not PEM\n").unwrap();
    for (certfile, keyfile, needle) in [
        (&missing, &key, missing.to_str().unwrap()),
        (&garbage, &key, garbage.to_str().unwrap()),
        (&cert, &garbage, garbage.to_str().unwrap()),
    ] {
        let out = Probe::command(&[
            "--port",
            "0",
            "--workers",
            "2",
            "--ssl-certfile",
            certfile.to_str().unwrap(),
            "--ssl-keyfile",
            keyfile.to_str().unwrap(),
        ])
        .output()
        .unwrap();
        assert!(!out.status.success());
        assert!(out.stdout.is_empty(), "it started listening");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{needle}: {err}");
        assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
