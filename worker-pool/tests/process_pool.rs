//! ProcessPool against real pool processes: every failure mode provoked for real.
//!
//! `harness = false` (see `common/mod.rs` for why): `main` calls `waitless_pool::init` first, so
//! when the pool re-executes this binary as a pool process, the pool process serves jobs instead of
//! running the tests. No test uses a sleep to synchronise: jobs report what they did through their
//! results, and exits are observed through pidfds and `waitpid`.

mod common;

use std::io::{BufRead, BufReader};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use waitless_executor::{block_on, spawn};
use waitless_pool::{Job, PoolError, ProcessPool, Registry};

// ---- the jobs --------------------------------------------------------------------------------

fn fib(n: u32) -> u64 {
    if n < 2 {
        n as u64
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

fn echo(s: String) -> String {
    s
}

fn pid(_: ()) -> u32 {
    std::process::id()
}

static BUMPS: AtomicU64 = AtomicU64::new(0);

/// Counts the calls in this pool process.
fn bump(_: ()) -> u64 {
    BUMPS.fetch_add(1, Ordering::SeqCst) + 1
}

fn abort(_: ()) {
    std::process::abort()
}

fn segfault(_: ()) {
    // Rust's runtime installs a SIGSEGV handler (to report stack overflows). For a fault that is
    // not a stack overflow it restores the default action and returns, so that the faulting
    // instruction runs again and kills the process. A raised signal has no instruction to
    // re-run, so the job raises it a second time, which the default action turns into death.
    for _ in 0..2 {
        // SAFETY: raise only sends a signal to this process; that is the point of the job.
        unsafe {
            libc::raise(libc::SIGSEGV);
        }
    }
}

fn kill_self(_: ()) {
    // SAFETY: as above.
    unsafe {
        libc::raise(libc::SIGKILL);
    }
}

fn exit_with(code: i32) {
    std::process::exit(code)
}

fn panics(msg: String) -> u32 {
    panic!("{msg}")
}

/// Spins until killed. Prints its pid first when asked (the orphan test reads it).
fn spin(announce: bool) {
    if announce {
        println!("SPINNING {}", std::process::id());
    }
    let mut x = 0u64;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

/// Tells a listener at `path` this pool process's pid, then spins until killed.
fn spin_after_connect(path: String) {
    use std::io::Write;
    if let Ok(mut s) = std::os::unix::net::UnixStream::connect(path) {
        let _ = writeln!(s, "{}", std::process::id());
    }
    spin(false)
}

/// Holds the pool process for `ms` milliseconds (occupies it; nothing waits on this as a signal).
fn hold(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Point {
    x: i64,
    y: i64,
    label: String,
}

fn mirror(p: Point) -> Point {
    Point {
        x: -p.x,
        y: -p.y,
        label: p.label.chars().rev().collect(),
    }
}

/// Writes a broken frame straight onto this pool process's socket, then waits to be killed.
fn garbage(kind: u32) {
    let fd: i32 = std::env::var("WAITLESS_POOL_PROCESS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(-1);
    let bytes: Vec<u8> = match kind {
        // A length prefix of 4 GiB - 1: over any limit.
        0 => u32::MAX.to_le_bytes().to_vec(),
        // A one-byte body with an unknown status.
        _ => vec![1, 0, 0, 0, 99],
    };
    // SAFETY: writes `bytes` to the fd the pool gave this pool process.
    unsafe {
        libc::write(fd, bytes.as_ptr().cast(), bytes.len());
    }
    spin(false)
}

const FIB: Job<u32, u64> = Job::new("fib", fib);
const ECHO: Job<String, String> = Job::new("echo", echo);
const PID: Job<(), u32> = Job::new("pid", pid);
const BUMP: Job<(), u64> = Job::new("bump", bump);
const ABORT: Job<(), ()> = Job::new("abort", abort);
const SEGFAULT: Job<(), ()> = Job::new("segfault", segfault);
const KILL_SELF: Job<(), ()> = Job::new("kill_self", kill_self);
const EXIT_WITH: Job<i32, ()> = Job::new("exit_with", exit_with);
const PANICS: Job<String, u32> = Job::new("panics", panics);
const SPIN: Job<bool, ()> = Job::new("spin", spin);
const SPIN_AFTER_CONNECT: Job<String, ()> = Job::new("spin_after_connect", spin_after_connect);
const HOLD: Job<u64, u64> = Job::new("hold", hold);
const MIRROR: Job<Point, Point> = Job::new("mirror", mirror);
const GARBAGE: Job<u32, ()> = Job::new("garbage", garbage);

fn fib_of_text(_: String) -> u64 {
    0
}
/// Same name as FIB, different argument type: the pool process cannot decode the argument.
const FIB_WRONG_ARGS: Job<String, u64> = Job::new("fib", fib_of_text);
/// Never registered.
const NOT_REGISTERED: Job<u32, u64> = Job::new("not-registered", fib);

fn registry() -> Registry {
    Registry::new()
        .register(FIB)
        .register(ECHO)
        .register(PID)
        .register(BUMP)
        .register(ABORT)
        .register(SEGFAULT)
        .register(KILL_SELF)
        .register(EXIT_WITH)
        .register(PANICS)
        .register(SPIN)
        .register(HOLD)
        .register(SPIN_AFTER_CONNECT)
        .register(MIRROR)
        .register(GARBAGE)
}

// ---- helpers ---------------------------------------------------------------------------------

fn pool(processes: usize) -> ProcessPool {
    ProcessPool::builder().processes(processes).build().unwrap()
}

/// True once `pid` is neither running nor a zombie (it was reaped).
fn is_gone(pid: u32) -> bool {
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn died_by(err: &PoolError, sig: i32) -> bool {
    matches!(err, PoolError::ProcessDied { signal: Some(s), .. } if *s == sig)
}

/// Waits (bounded) until every pid in `pids` has exited, using pidfds: no polling loop.
fn wait_all_exit(pids: &[u32], limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    for &pid in pids {
        // SAFETY: pidfd_open takes two integers; a result >= 0 is a new fd we own.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
        if fd < 0 {
            continue; // Already gone (ESRCH).
        }
        // SAFETY: `fd` is new and ours.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) };
        if n != 1 {
            return false;
        }
    }
    true
}

// ---- tests -----------------------------------------------------------------------------------

fn typed_results_round_trip() {
    let pool = pool(2);
    block_on(async {
        assert_eq!(pool.run(FIB, 20).await.unwrap(), 6765);
        let p = Point {
            x: 3,
            y: -4,
            label: "abc".into(),
        };
        let m = pool.run(MIRROR, p.clone()).await.unwrap();
        assert_eq!(
            m,
            Point {
                x: -3,
                y: 4,
                label: "cba".into()
            }
        );
        let pid = pool.run(PID, ()).await.unwrap();
        assert_ne!(pid, std::process::id(), "ran in another process");
        assert!(pool.pids().contains(&pid));
    });
}

fn abort_fails_one_job_and_the_process_is_replaced() {
    let pool = pool(1);
    block_on(async {
        let before = pool.run(PID, ()).await.unwrap();
        let err = pool.run(ABORT, ()).await.unwrap_err();
        assert!(died_by(&err, libc::SIGABRT), "{err:?}");
        assert!(
            is_gone(before),
            "the dead pool process was reaped: no zombie"
        );
        let after = pool.run(PID, ()).await.unwrap();
        assert_ne!(before, after, "a new pool process serves");
        assert_eq!(pool.run(FIB, 10).await.unwrap(), 55);
    });
}

fn segfault_is_pool_process_died_sigsegv() {
    let pool = pool(1);
    block_on(async {
        let err = pool.run(SEGFAULT, ()).await.unwrap_err();
        assert!(died_by(&err, libc::SIGSEGV), "{err:?}");
        assert_eq!(pool.run(FIB, 12).await.unwrap(), 144);
    });
}

fn sigkill_from_inside_and_outside() {
    let pool = pool(1);
    block_on(async {
        let err = pool.run(KILL_SELF, ()).await.unwrap_err();
        assert!(died_by(&err, libc::SIGKILL), "{err:?}");

        // Kill the pool process from outside while it runs a job (like the OOM killer would): the
        // job connects to a listener here and says its pid; a thread kills that pid.
        let path = std::env::temp_dir().join(format!("waitless-pool-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let killer = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut line = String::new();
            BufReader::new(stream).read_line(&mut line).unwrap();
            let victim: i32 = line.trim().parse().unwrap();
            // SAFETY: kill takes two integers; `victim` is a pool process of this test's pool.
            unsafe { libc::kill(victim, libc::SIGKILL) };
            victim as u32
        });
        let err = pool
            .run(SPIN_AFTER_CONNECT, path.to_string_lossy().into_owned())
            .await
            .unwrap_err();
        let victim = killer.join().unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(died_by(&err, libc::SIGKILL), "{err:?}");
        assert!(is_gone(victim));
        assert_eq!(pool.run(FIB, 5).await.unwrap(), 5);
    });
}

fn exit_code_is_reported() {
    let pool = pool(1);
    block_on(async {
        let err = pool.run(EXIT_WITH, 3).await.unwrap_err();
        assert!(
            matches!(
                err,
                PoolError::ProcessDied {
                    exit_code: Some(3),
                    signal: None
                }
            ),
            "{err:?}"
        );
        assert_eq!(pool.run(FIB, 6).await.unwrap(), 8);
    });
}

fn panic_is_an_error_and_the_process_stays() {
    let pool = pool(1);
    block_on(async {
        let before = pool.run(PID, ()).await.unwrap();
        let err = pool.run(PANICS, "no luck".into()).await.unwrap_err();
        assert!(
            matches!(&err, PoolError::Panicked(m) if m == "no luck"),
            "{err:?}"
        );
        assert_eq!(
            pool.run(PID, ()).await.unwrap(),
            before,
            "no restart needed"
        );
    });
}

fn timeout_kills_and_replaces_the_process() {
    let pool = pool(1);
    block_on(async {
        let before = pool.run(PID, ()).await.unwrap();
        let t0 = Instant::now();
        let err = pool
            .run_timeout(SPIN, false, Duration::from_millis(150))
            .await
            .unwrap_err();
        let took = t0.elapsed();
        assert!(matches!(err, PoolError::Timeout), "{err:?}");
        assert!(
            took >= Duration::from_millis(150) && took < Duration::from_secs(5),
            "{took:?}"
        );
        assert!(is_gone(before));
        let after = pool.run(PID, ()).await.unwrap();
        assert_ne!(before, after);
    });
    // The builder's default timeout applies to `run`.
    let pool = ProcessPool::builder()
        .processes(1)
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    block_on(async {
        assert!(matches!(
            pool.run(SPIN, false).await,
            Err(PoolError::Timeout)
        ));
        assert_eq!(pool.run(FIB, 7).await.unwrap(), 13);
    });
}

fn sixteen_mib_payload_round_trips() {
    let pool = pool(1);
    let big: String = "waitless-".repeat(16 * 1024 * 1024 / 9 + 1);
    assert!(big.len() >= 16 << 20);
    block_on(async {
        let back = pool.run(ECHO, big.clone()).await.unwrap();
        assert_eq!(back.len(), big.len());
        assert!(back == big);
        // Small jobs still work after the large buffers were released.
        assert_eq!(pool.run(FIB, 10).await.unwrap(), 55);
    });
}

fn payload_over_the_limit_is_refused() {
    let pool = ProcessPool::builder()
        .processes(1)
        .max_frame_size(1024)
        .build()
        .unwrap();
    block_on(async {
        let err = pool.run(ECHO, "x".repeat(2000)).await.unwrap_err();
        assert!(
            matches!(&err, PoolError::Codec(m) if m.contains("exceeds")),
            "{err:?}"
        );
        assert_eq!(pool.run(ECHO, "ok".into()).await.unwrap(), "ok");
    });
}

fn thousand_jobs_from_a_hundred_tasks() {
    let pool = std::rc::Rc::new(
        ProcessPool::builder()
            .processes(2)
            .max_in_flight(1000)
            .build()
            .unwrap(),
    );
    block_on(async {
        let tasks: Vec<_> = (0..100u32)
            .map(|t| {
                let pool = pool.clone();
                spawn(async move {
                    // Ten jobs in flight at once from this task.
                    let jobs: Vec<_> = (0..10u32).map(|j| pool.run(FIB, (t + j) % 20)).collect();
                    assert!(pool.in_flight() >= 10);
                    let mut sum = 0;
                    for job in jobs {
                        sum += job.await.unwrap();
                    }
                    sum
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        let expected: u64 = (0..100u32)
            .flat_map(|t| (0..10u32).map(move |j| fib((t + j) % 20)))
            .sum();
        assert_eq!(total, expected);
    });
    assert_eq!(pool.in_flight(), 0);
}

fn queue_full_beyond_max_in_flight() {
    let pool = ProcessPool::builder()
        .processes(1)
        .max_in_flight(2)
        .build()
        .unwrap();
    block_on(async {
        let a = pool.try_run(FIB, 10).unwrap();
        let b = pool.try_run(FIB, 11).unwrap();
        assert!(matches!(pool.try_run(FIB, 12), Err(PoolError::QueueFull)));
        assert!(matches!(pool.run(FIB, 12).await, Err(PoolError::QueueFull)));
        assert_eq!(a.await.unwrap() + b.await.unwrap(), 55 + 89);
        assert_eq!(pool.run(FIB, 12).await.unwrap(), 144, "room again");
    });
}

fn dropping_a_queued_job_cancels_it() {
    let pool = pool(1);
    block_on(async {
        let busy = pool.run(HOLD, 50);
        let cancelled = pool.run(BUMP, ());
        drop(cancelled);
        let counted = pool.run(BUMP, ()).await.unwrap();
        assert_eq!(counted, 1, "the dropped job never reached the pool process");
        assert_eq!(busy.await.unwrap(), 50);
        assert_eq!(pool.in_flight(), 0);
    });
}

fn dropping_a_running_job_discards_its_answer() {
    let pool = pool(1);
    block_on(async {
        let pid = pool.run(PID, ()).await.unwrap();
        // Give up on a job that is already at the pool process.
        let gave_up =
            waitless_reactor::timeout(Duration::from_millis(20), pool.run(HOLD, 100)).await;
        assert!(gave_up.is_err());
        // Its late answer is dropped, not delivered to the next job.
        assert_eq!(pool.run(FIB, 9).await.unwrap(), 34);
        assert_eq!(pool.run(PID, ()).await.unwrap(), pid, "not restarted");
        assert_eq!(pool.in_flight(), 0);
    });
}

fn max_tasks_per_child_recycles_processes() {
    let pool = ProcessPool::builder()
        .processes(1)
        .max_tasks_per_child(3)
        .build()
        .unwrap();
    block_on(async {
        let mut pids = Vec::new();
        for _ in 0..7 {
            pids.push(pool.run(PID, ()).await.unwrap());
        }
        assert_eq!(pids[0], pids[2]);
        assert_ne!(pids[2], pids[3]);
        assert_eq!(pids[3], pids[5]);
        assert_ne!(pids[5], pids[6]);
        assert!(
            is_gone(pids[0]) && is_gone(pids[3]),
            "retired pool processes were reaped"
        );
    });
}

fn malformed_and_oversized_frames_are_errors() {
    let pool = pool(1);
    block_on(async {
        let err = pool.run(GARBAGE, 0).await.unwrap_err();
        assert!(
            matches!(&err, PoolError::Protocol(m) if m.contains("exceeds")),
            "{err:?}"
        );
        let err = pool.run(GARBAGE, 1).await.unwrap_err();
        assert!(
            matches!(&err, PoolError::Protocol(m) if m.contains("status")),
            "{err:?}"
        );
        assert_eq!(pool.run(FIB, 8).await.unwrap(), 21, "replaced and serving");
    });
}

fn unknown_job_and_bad_arguments() {
    let pool = pool(1);
    block_on(async {
        let err = pool.run(NOT_REGISTERED, 1).await.unwrap_err();
        assert!(matches!(&err, PoolError::UnknownJob(n) if n == "not-registered"));
        let err = pool.run(FIB_WRONG_ARGS, "ten".into()).await.unwrap_err();
        assert!(matches!(err, PoolError::Codec(_)), "{err:?}");
        assert_eq!(pool.run(FIB, 4).await.unwrap(), 3);
    });
}

fn a_crash_fails_only_the_running_job_of_a_pipeline() {
    // One pool process, four requests sent ahead: only the one that aborts fails.
    let pool = ProcessPool::builder()
        .processes(1)
        .pipeline(4)
        .build()
        .unwrap();
    block_on(async {
        let a = pool.run(FIB, 10);
        let b = pool.run(ABORT, ());
        let c = pool.run(FIB, 11);
        let d = pool.run(FIB, 12);
        assert_eq!(a.await.unwrap(), 55);
        assert!(died_by(&b.await.unwrap_err(), libc::SIGABRT));
        assert_eq!(c.await.unwrap(), 89);
        assert_eq!(d.await.unwrap(), 144);
    });
}

fn dropping_the_pool_kills_and_reaps_processes() {
    let pool = pool(2);
    let pids = block_on(async {
        pool.run(FIB, 3).await.unwrap();
        let busy = pool.run(SPIN, false);
        waitless_executor::yield_now().await;
        drop(busy);
        pool.pids()
    });
    assert_eq!(pids.len(), 2);
    drop(pool);
    for pid in pids {
        assert!(is_gone(pid), "pool process {pid} was killed and reaped");
    }
}

/// The orphan helper: a parent that dies (exit without cleanup, or SIGKILL) while its pool
/// processes spin in jobs that never read their socket, so only the parent-death signal can stop
/// them. It waits for the test's word on stdin (read through the reactor, so the pool keeps
/// running).
fn orphan_helper(mode: &str) -> ! {
    use futures_lite::AsyncReadExt;
    let pool = pool(2);
    block_on(async {
        let _a = pool.run(SPIN, true);
        let _b = pool.run(SPIN, true);
        let stdin = std::io::stdin().as_fd().try_clone_to_owned().unwrap();
        let mut stdin = waitless_reactor::Async::new(stdin).unwrap();
        let mut word = [0u8; 8];
        let _ = stdin.read(&mut word).await;
    });
    // Leave without dropping the pool: no cleanup code runs.
    assert_eq!(mode, "exit");
    std::process::exit(0)
}

fn parents_death_takes_the_processes(mode: &str) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("WAITLESS_POOL_TEST_ORPHAN", mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut pids = Vec::new();
    while pids.len() < 2 {
        let line = lines.next().expect("helper output").unwrap();
        if let Some(pid) = line.strip_prefix("SPINNING ") {
            pids.push(pid.parse::<u32>().unwrap());
        }
    }
    if mode == "kill" {
        child.kill().unwrap();
    } else {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    }
    child.wait().unwrap();
    assert!(
        wait_all_exit(&pids, Duration::from_secs(10)),
        "pool processes {pids:?} outlived their parent"
    );
}

fn parent_exit_takes_the_processes() {
    parents_death_takes_the_processes("exit");
}

fn parent_sigkill_takes_the_processes() {
    parents_death_takes_the_processes("kill");
}

/// Last: every pool of this process is gone, so no child of ours may remain, zombie or not.
fn no_child_processes_remain() {
    let mut children = String::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path().join("children");
        children += &std::fs::read_to_string(path).unwrap_or_default();
    }
    assert_eq!(children.trim(), "", "children left behind");
}

fn main() {
    waitless_pool::init(registry());
    if let Ok(mode) = std::env::var("WAITLESS_POOL_TEST_ORPHAN") {
        orphan_helper(&mode);
    }
    common::run(
        &[
            ("typed_results_round_trip", typed_results_round_trip),
            (
                "abort_fails_one_job_and_the_process_is_replaced",
                abort_fails_one_job_and_the_process_is_replaced,
            ),
            (
                "segfault_is_pool_process_died_sigsegv",
                segfault_is_pool_process_died_sigsegv,
            ),
            (
                "sigkill_from_inside_and_outside",
                sigkill_from_inside_and_outside,
            ),
            ("exit_code_is_reported", exit_code_is_reported),
            (
                "panic_is_an_error_and_the_process_stays",
                panic_is_an_error_and_the_process_stays,
            ),
            (
                "timeout_kills_and_replaces_the_process",
                timeout_kills_and_replaces_the_process,
            ),
            (
                "sixteen_mib_payload_round_trips",
                sixteen_mib_payload_round_trips,
            ),
            (
                "payload_over_the_limit_is_refused",
                payload_over_the_limit_is_refused,
            ),
            (
                "thousand_jobs_from_a_hundred_tasks",
                thousand_jobs_from_a_hundred_tasks,
            ),
            (
                "queue_full_beyond_max_in_flight",
                queue_full_beyond_max_in_flight,
            ),
            (
                "dropping_a_queued_job_cancels_it",
                dropping_a_queued_job_cancels_it,
            ),
            (
                "dropping_a_running_job_discards_its_answer",
                dropping_a_running_job_discards_its_answer,
            ),
            (
                "max_tasks_per_child_recycles_processes",
                max_tasks_per_child_recycles_processes,
            ),
            (
                "malformed_and_oversized_frames_are_errors",
                malformed_and_oversized_frames_are_errors,
            ),
            (
                "unknown_job_and_bad_arguments",
                unknown_job_and_bad_arguments,
            ),
            (
                "a_crash_fails_only_the_running_job_of_a_pipeline",
                a_crash_fails_only_the_running_job_of_a_pipeline,
            ),
            (
                "dropping_the_pool_kills_and_reaps_processes",
                dropping_the_pool_kills_and_reaps_processes,
            ),
            (
                "parent_exit_takes_the_processes",
                parent_exit_takes_the_processes,
            ),
            (
                "parent_sigkill_takes_the_processes",
                parent_sigkill_takes_the_processes,
            ),
            ("no_child_processes_remain", no_child_processes_remain),
        ],
        Duration::from_secs(60),
    );
}
