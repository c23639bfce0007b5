//! `/cpu/fib/{n}?mode=queue` on the worker tier: a private `redis-server`, `showcase worker`
//! processes (the same binary in worker mode), and the app (in memory) started with the broker.
//! Shows the answers, a 503 (not a hang) while the broker is down, recovery after it is back,
//! and a worker that exits 0 on SIGTERM.

mod common;
#[path = "../../../worker-pool/tests/redis_server/mod.rs"]
mod redis_server;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use redis_server::RedisServer;

/// A `showcase worker` process, killed on drop.
struct WorkerProcess(Child);

impl WorkerProcess {
    fn start(url: &str) -> WorkerProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_showcase"));
        redis_server::die_with_parent(&mut command);
        let child = command
            .args(["worker", "--broker", url, "--concurrency", "1"])
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn showcase worker");
        WorkerProcess(child)
    }

    /// SIGTERM, then the exit status (bounded wait).
    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = libc_pid(self.0.id());
        // SAFETY: kill only sends a signal to our own child process.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < end, "the worker did not exit on SIGTERM");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn libc_pid(pid: u32) -> libc::pid_t {
    libc::pid_t::try_from(pid).expect("pid fits")
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn fib_on_the_worker_tier() {
    let Some(mut server) = RedisServer::start("fib_on_the_worker_tier") else {
        return;
    };
    let url = server.url();
    let mut worker = WorkerProcess::start(&url);
    let (c, _db) = common::client_with(|s| s.broker = Some(url.clone()));
    for (n, value) in [(0u32, 0u64), (25, 75_025), (92, 7_540_113_804_746_346_429)] {
        let res = c.get(&format!("/cpu/fib/{n}?mode=queue")).send();
        assert_eq!(res.status.as_u16(), 200, "{n}: {}", res.text());
        let body: Value = res.json();
        assert_eq!(body, json!({"n": n, "value": value, "mode": "queue"}));
    }

    // The broker dies: an error at once, not a hang (the job timeout is 30 s).
    server.kill();
    let t0 = Instant::now();
    let res = c.get("/cpu/fib/5?mode=queue").send();
    assert_eq!(res.status.as_u16(), 503, "{}", res.text());
    assert_eq!(res.header("retry-after"), Some("1"));
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert_eq!(c.get("/healthz").send().status.as_u16(), 200);

    // It comes back (empty): the server and the worker reconnect on their own.
    server.restart();
    let recovered = (0..100).find_map(|_| {
        let res = c.get("/cpu/fib/20?mode=queue").send();
        if res.status.as_u16() == 200 {
            return Some(res.json::<Value>());
        }
        std::thread::sleep(Duration::from_millis(100));
        None
    });
    assert_eq!(
        recovered,
        Some(json!({"n": 20, "value": 6765, "mode": "queue"}))
    );

    let status = worker.terminate();
    assert!(status.success(), "{status:?}");
}
