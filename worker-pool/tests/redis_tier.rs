//! The worker tier against a real `redis-server` (its own, on a free port) and real worker
//! processes: this binary re-executed with `WAITLESS_TEST_WORKER=<url>` is a worker.
//!
//! What each test shows is the list: results come back to the submitter; a malformed or
//! unknown job is dead-lettered and the worker keeps serving; an expired job is not started;
//! retries back off, then dead-letter; a worker killed with SIGKILL mid-job has its job finished
//! by another worker; a job delivered too often is dead-lettered; SIGTERM finishes the job in
//! hand; a broker restart under load gives errors, not hangs, and the tier recovers.
//! Synchronisation is by events (a job's line on the worker's stdout, a reply, a process exit);
//! every wait is bounded.

mod common;
mod redis_server;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use redis_server::RedisServer;
use waitless_executor::{block_on, spawn};
use waitless_pool::redis::{JobOptions, RedisPool, Worker, WorkerHandle};
use waitless_pool::{Job, PoolError, Registry};

// ---- the jobs --------------------------------------------------------------------------------

fn fib(n: u32) -> u64 {
    if n < 2 {
        u64::from(n)
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

fn panics(msg: String) -> u32 {
    panic!("{msg}")
}

/// Says on stdout that it started (the tests wait for that line), then holds for `ms`.
fn hold(ms: u64) -> u32 {
    println!("JOB STARTED {}", std::process::id());
    let _ = std::io::stdout().flush();
    std::thread::sleep(Duration::from_millis(ms));
    std::process::id()
}

/// Kills its own worker process: a job that takes its worker down every time.
fn die(_: ()) {
    println!("DYING {}", std::process::id());
    let _ = std::io::stdout().flush();
    // SAFETY: raise only sends a signal to this process; that is the point of the job.
    unsafe {
        libc::raise(libc::SIGKILL);
    }
}

/// Sleeps `ms` quietly (load for the restart test).
fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

static FLAKY_CALLS: AtomicU32 = AtomicU32::new(0);

/// Panics on its first two calls, then answers how many calls it took.
fn flaky(_: ()) -> u32 {
    let n = FLAKY_CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    assert!(n >= 3, "flaky call {n}");
    n
}

static STARTED: AtomicU32 = AtomicU32::new(0);

fn counted(x: u32) -> u32 {
    STARTED.fetch_add(1, Ordering::SeqCst);
    x
}

const FIB: Job<u32, u64> = Job::new("fib", fib);
const PANICS: Job<String, u32> = Job::new("panics", panics);
const HOLD: Job<u64, u32> = Job::new("hold", hold);
const NAP: Job<u64, u64> = Job::new("nap", nap);
const DIE: Job<(), ()> = Job::new("die", die);
const FLAKY: Job<(), u32> = Job::new("flaky", flaky);
const COUNTED: Job<u32, u32> = Job::new("counted", counted);
/// Never registered: the worker does not know it.
const NOPE: Job<u32, u32> = Job::new("nope", counted);

fn registry() -> Registry {
    Registry::new()
        .register(FIB)
        .register(PANICS)
        .register(HOLD)
        .register(DIE)
        .register(NAP)
        .register(FLAKY)
        .register(COUNTED)
}

// ---- helpers ---------------------------------------------------------------------------------

/// An in-process worker (threads of this test process).
fn local_worker(url: &str, concurrency: usize) -> WorkerHandle {
    Worker::builder(url)
        .registry(registry())
        .concurrency(concurrency)
        .visibility_timeout(Duration::from_secs(5))
        .poll_interval(Duration::from_millis(100))
        .spawn()
        .expect("worker")
}

/// A worker process (this binary in worker mode) and its stdout lines.
struct WorkerProcess {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl WorkerProcess {
    fn start(url: &str, visibility_ms: u64, max_deliveries: u64) -> WorkerProcess {
        let mut command = Command::new(std::env::current_exe().expect("own binary"));
        redis_server::die_with_parent(&mut command);
        let mut child = command
            .env("WAITLESS_TEST_WORKER", url)
            .env("WAITLESS_TEST_VISIBILITY_MS", visibility_ms.to_string())
            .env("WAITLESS_TEST_MAX_DELIVERIES", max_deliveries.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn worker process");
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        WorkerProcess { child, lines }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (bounded) for a stdout line starting with `prefix`.
    fn wait_line(&self, prefix: &str, within: Duration) -> String {
        let end = Instant::now() + within;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(_) => panic!(
                    "no {prefix:?} line from worker {} in {within:?}",
                    self.pid()
                ),
            }
        }
    }

    /// Waits (bounded) for the process to exit; its status.
    fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let end = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < end, "worker {} still running", self.pid());
            // The exit is an event we cannot await from here without a pidfd; poll briefly.
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn signal(&self, sig: libc::c_int) {
        let pid = libc::pid_t::try_from(self.pid()).expect("pid");
        // SAFETY: kill only sends a signal to our own child process.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The dead-letter stream's entries as field maps.
fn dead_letters(server: &RedisServer) -> Vec<Vec<(String, String)>> {
    let mut conn = server.connection();
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg("waitless:dead")
        .arg("-")
        .arg("+")
        .query(&mut conn)
        .expect("XRANGE");
    entries.into_iter().map(|(_, fields)| fields).collect()
}

/// The dead letters once there are at least `n`: waits for new entries with `XREAD BLOCK`
/// (bounded: 10 waits of at most 1 s).
fn wait_dead_letters(server: &RedisServer, n: usize) -> Vec<Vec<(String, String)>> {
    let mut conn = server.connection();
    for _ in 0..10 {
        let dead = dead_letters(server);
        if dead.len() >= n {
            return dead;
        }
        let last: Vec<(String, Vec<(String, String)>)> = redis::cmd("XREVRANGE")
            .arg("waitless:dead")
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query(&mut conn)
            .expect("XREVRANGE");
        let after = last.first().map_or("0-0".to_owned(), |(id, _)| id.clone());
        let _: redis::Value = redis::cmd("XREAD")
            .arg("BLOCK")
            .arg(1000)
            .arg("STREAMS")
            .arg("waitless:dead")
            .arg(after)
            .query(&mut conn)
            .expect("XREAD");
    }
    dead_letters(server)
}

fn field<'a>(entry: &'a [(String, String)], name: &str) -> &'a str {
    entry
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

fn pool(url: &str) -> RedisPool {
    RedisPool::builder(url)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("pool")
}

// ---- the tests -------------------------------------------------------------------------------

fn round_trip_errors_and_dead_letters() {
    let Some(server) = RedisServer::start("round_trip_errors_and_dead_letters") else {
        return;
    };
    let url = server.url();
    let _worker = local_worker(&url, 2);
    let pool = pool(&url);
    block_on(async {
        // The loop keeps ticking while it awaits the tier.
        let ticker = spawn(async {
            let mut ticks = 0u32;
            for _ in 0..5 {
                waitless_reactor::sleep(Duration::from_millis(2)).await;
                ticks += 1;
            }
            ticks
        });
        assert_eq!(pool.run(FIB, 20).await.unwrap(), 6765);
        assert_eq!(ticker.await.unwrap(), 5);

        // Many at once, all answered to the right caller.
        let handles: Vec<_> = (0..200u32)
            .map(|i| {
                let f = pool.run(COUNTED, i);
                spawn(async move { (i, f.await) })
            })
            .collect();
        for h in handles {
            let (i, r) = h.await.unwrap();
            assert_eq!(r.unwrap(), i);
        }

        let err = pool.run(PANICS, "boom".into()).await.unwrap_err();
        assert!(
            matches!(&err, PoolError::Panicked(m) if m == "boom"),
            "{err:?}"
        );
        let err = pool.run(NOPE, 1).await.unwrap_err();
        assert!(
            matches!(&err, PoolError::UnknownJob(n) if n == "nope"),
            "{err:?}"
        );
    });
    // A malformed entry and arguments of the wrong type, written by hand.
    let mut conn = server.connection();
    let _: String = redis::cmd("XADD")
        .arg("waitless")
        .arg("*")
        .arg("garbage")
        .arg("yes")
        .query(&mut conn)
        .unwrap();
    // A well-formed entry whose reply key is outside the queue's: dead-lettered, nothing pushed.
    let _: String = redis::cmd("XADD")
        .arg("waitless")
        .arg("*")
        .arg("id")
        .arg("x:1")
        .arg("job")
        .arg("fib")
        .arg("args")
        .arg("3")
        .arg("reply")
        .arg("not-a-reply-list")
        .arg("deadline")
        .arg(u64::MAX.to_string())
        .arg("retries")
        .arg("0")
        .arg("attempt")
        .arg("0")
        .arg("backoff")
        .arg("0")
        .query(&mut conn)
        .unwrap();
    let wrong = Job::<&str, u64>::new("fib", |_| 0);
    block_on(async {
        let err = pool.run(wrong, "not a number").await.unwrap_err();
        assert!(matches!(err, PoolError::Codec(_)), "{err:?}");
        // The worker keeps serving.
        assert_eq!(pool.run(FIB, 10).await.unwrap(), 55);
    });
    // Two consumers: the hand-written entries may settle after the awaited jobs answered.
    let dead = wait_dead_letters(&server, 4);
    let errors: Vec<&str> = dead.iter().map(|e| field(e, "error")).collect();
    assert_eq!(dead.len(), 4, "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains("not one of this queue's")),
        "{errors:?}"
    );
    let pushed: bool = redis::cmd("EXISTS")
        .arg("not-a-reply-list")
        .query(&mut conn)
        .unwrap();
    assert!(!pushed, "a foreign key was written");
    assert!(
        errors.iter().any(|e| e.contains("unknown job \"nope\"")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("malformed job")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("arguments do not decode")),
        "{errors:?}"
    );
    assert!(dead.iter().any(|e| field(e, "garbage") == "yes"));
}

fn expired_jobs_are_not_started() {
    let Some(server) = RedisServer::start("expired_jobs_are_not_started") else {
        return;
    };
    let url = server.url();
    let pool = pool(&url);
    let before = STARTED.load(Ordering::SeqCst);
    block_on(async {
        // No worker yet: the caller gives up after its timeout, which is also the deadline.
        let opts = JobOptions::new().timeout(Duration::from_millis(50));
        let err = pool.run_with(COUNTED, 7, opts).await.unwrap_err();
        assert!(matches!(err, PoolError::Timeout), "{err:?}");
    });
    // A worker with one consumer takes the jobs in order: the expired one first.
    let worker = local_worker(&url, 1);
    block_on(async {
        assert_eq!(pool.run(COUNTED, 8).await.unwrap(), 8);
    });
    assert_eq!(
        STARTED.load(Ordering::SeqCst) - before,
        1,
        "the expired job ran"
    );
    // Both settled: the expired one acknowledged and deleted before the second (one consumer, in
    // order), the second in the same transaction as its reply.
    let left: u64 = redis::cmd("XLEN")
        .arg("waitless")
        .query(&mut server.connection())
        .unwrap();
    assert_eq!(left, 0, "{worker:?}");
}

fn retries_back_off_then_dead_letter() {
    let Some(server) = RedisServer::start("retries_back_off_then_dead_letter") else {
        return;
    };
    let url = server.url();
    let _worker = local_worker(&url, 1);
    let pool = pool(&url);
    FLAKY_CALLS.store(0, Ordering::SeqCst);
    let t0 = Instant::now();
    block_on(async {
        let opts = JobOptions::new()
            .retries(3)
            .backoff(Duration::from_millis(40));
        assert_eq!(pool.run_with(FLAKY, (), opts).await.unwrap(), 3);
    });
    // Two retries: 40 ms, then 80 ms.
    assert!(
        t0.elapsed() >= Duration::from_millis(120),
        "{:?}",
        t0.elapsed()
    );
    block_on(async {
        let opts = JobOptions::new()
            .retries(1)
            .backoff(Duration::from_millis(1));
        let err = pool
            .run_with(PANICS, "always".into(), opts)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, PoolError::Panicked(m) if m == "always"),
            "{err:?}"
        );
        // Not retryable: a panic is an error and nothing is dead-lettered.
        let err = pool.run(PANICS, "once".into()).await.unwrap_err();
        assert!(matches!(err, PoolError::Panicked(_)), "{err:?}");
    });
    let dead = dead_letters(&server);
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(field(&dead[0], "error").contains("last retry"), "{dead:?}");
    assert_eq!(field(&dead[0], "attempt"), "1");
}

fn kill_9_mid_job_completes_on_another_worker() {
    let Some(server) = RedisServer::start("kill_9_mid_job") else {
        return;
    };
    let url = server.url();
    let pool = pool(&url);
    let first = WorkerProcess::start(&url, 300, 5);
    let (tx, rx) = mpsc::channel();
    let submitter = {
        let pool = pool.clone();
        std::thread::spawn(move || {
            let r = block_on(pool.run(HOLD, 200));
            let _ = tx.send(r);
        })
    };
    let line = first.wait_line("JOB STARTED", Duration::from_secs(10));
    assert_eq!(line, format!("JOB STARTED {}", first.pid()));
    first.signal(libc::SIGKILL);
    let second = WorkerProcess::start(&url, 300, 5);
    second.wait_line("JOB STARTED", Duration::from_secs(10));
    let pid = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the submitter got an answer")
        .expect("the job completed");
    assert_eq!(pid, second.pid(), "the job completed on the second worker");
    submitter.join().unwrap();
    assert!(dead_letters(&server).is_empty());
}

fn too_many_deliveries_go_to_dead_letter() {
    let Some(server) = RedisServer::start("too_many_deliveries") else {
        return;
    };
    let url = server.url();
    let pool = pool(&url);
    let (tx, rx) = mpsc::channel();
    {
        let pool = pool.clone();
        std::thread::spawn(move || {
            let _ = tx.send(block_on(pool.run(DIE, ())));
        });
    }
    // Two workers take the job and die of it (deliveries 1 and 2); the third delivery exceeds
    // the limit of 2, so the third worker dead-letters it instead of running it.
    for _ in 0..2 {
        let mut w = WorkerProcess::start(&url, 200, 2);
        w.wait_line("DYING", Duration::from_secs(10));
        w.wait_exit(Duration::from_secs(5));
    }
    let third = WorkerProcess::start(&url, 200, 2);
    let outcome = rx.recv_timeout(Duration::from_secs(10)).expect("an answer");
    assert!(
        third.lines.try_recv().is_err(),
        "the third worker ran the job"
    );
    let err = outcome.unwrap_err();
    assert!(
        matches!(&err, PoolError::DeadLettered(m) if m.contains("delivered 3 times")),
        "{err:?}"
    );
    let dead = dead_letters(&server);
    assert_eq!(dead.len(), 1);
    assert_eq!(field(&dead[0], "deliveries"), "3");
    assert_eq!(field(&dead[0], "job"), "die");
}

fn sigterm_finishes_the_job_in_hand() {
    let Some(server) = RedisServer::start("sigterm_finishes") else {
        return;
    };
    let url = server.url();
    let pool = pool(&url);
    let mut w = WorkerProcess::start(&url, 30_000, 5);
    let (tx, rx) = mpsc::channel();
    {
        let pool = pool.clone();
        std::thread::spawn(move || {
            let _ = tx.send(block_on(pool.run(HOLD, 300)));
        });
    }
    w.wait_line("JOB STARTED", Duration::from_secs(10));
    w.signal(libc::SIGTERM);
    let pid = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("an answer")
        .expect("the job in hand finished");
    assert_eq!(pid, w.pid());
    let status = w.wait_exit(Duration::from_secs(5));
    assert!(status.success(), "{status:?}");
    // Nothing left pending: the job was acknowledged before the worker exited.
    let mut conn = server.connection();
    let pending: Vec<redis::Value> = redis::cmd("XPENDING")
        .arg("waitless")
        .arg("waitless:workers")
        .query(&mut conn)
        .unwrap();
    assert_eq!(pending.first(), Some(&redis::Value::Int(0)), "{pending:?}");
}

fn broker_restart_gives_errors_then_recovers() {
    let Some(mut server) = RedisServer::start("broker_restart") else {
        return;
    };
    let url = server.url();
    let _worker = local_worker(&url, 2);
    let pool = RedisPool::builder(&url)
        .timeout(Duration::from_secs(2))
        .connect_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    block_on(async {
        // Load: 50 jobs in flight, then the broker dies under them.
        let handles: Vec<_> = (0..50u32)
            .map(|i| {
                let f = pool.run(NAP, 20);
                spawn(async move { (i, f.await) })
            })
            .collect();
        waitless_reactor::sleep(Duration::from_millis(30)).await;
        server.kill();
        let t0 = Instant::now();
        let mut errors = 0;
        for h in handles {
            if let (_, Err(e)) = h.await.unwrap() {
                assert!(
                    matches!(e, PoolError::Broker(_) | PoolError::Timeout),
                    "{e:?}"
                );
                errors += 1;
            }
        }
        assert!(errors > 0, "no job failed although the broker died");
        // Errors, not hangs: every caller had its answer within the job timeout.
        assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
        // While it is down, a submission fails fast.
        let t1 = Instant::now();
        let err = pool.run(FIB, 5).await.unwrap_err();
        assert!(
            matches!(err, PoolError::Broker(_) | PoolError::Timeout),
            "{err:?}"
        );
        assert!(t1.elapsed() < Duration::from_secs(3), "{:?}", t1.elapsed());
    });
    server.restart();
    // Back: submitters and workers reconnect on their own (bounded number of attempts).
    let t2 = Instant::now();
    let recovered = block_on(async {
        for _ in 0..50 {
            if let Ok(v) = pool.run(FIB, 10).await {
                return Some(v);
            }
            waitless_reactor::sleep(Duration::from_millis(100)).await;
        }
        None
    });
    assert_eq!(recovered, Some(55), "no recovery in {:?}", t2.elapsed());
    eprintln!("recovered {:?} after the restart", t2.elapsed());
}

// ---- main ------------------------------------------------------------------------------------

fn worker_mode(url: &str) -> ! {
    let ms = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let result = Worker::builder(url)
        .registry(registry())
        .concurrency(1)
        .visibility_timeout(Duration::from_millis(ms(
            "WAITLESS_TEST_VISIBILITY_MS",
            30_000,
        )))
        .max_deliveries(ms("WAITLESS_TEST_MAX_DELIVERIES", 5))
        .poll_interval(Duration::from_millis(100))
        .run();
    match result {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("worker: {e}");
            std::process::exit(1)
        }
    }
}

fn main() {
    if let Ok(url) = std::env::var("WAITLESS_TEST_WORKER") {
        worker_mode(&url);
    }
    common::run(
        &[
            (
                "round_trip_errors_and_dead_letters",
                round_trip_errors_and_dead_letters,
            ),
            ("expired_jobs_are_not_started", expired_jobs_are_not_started),
            (
                "retries_back_off_then_dead_letter",
                retries_back_off_then_dead_letter,
            ),
            (
                "kill_9_mid_job_completes_on_another_worker",
                kill_9_mid_job_completes_on_another_worker,
            ),
            (
                "too_many_deliveries_go_to_dead_letter",
                too_many_deliveries_go_to_dead_letter,
            ),
            (
                "sigterm_finishes_the_job_in_hand",
                sigterm_finishes_the_job_in_hand,
            ),
            (
                "broker_restart_gives_errors_then_recovers",
                broker_restart_gives_errors_then_recovers,
            ),
        ],
        Duration::from_secs(240),
    )
}
