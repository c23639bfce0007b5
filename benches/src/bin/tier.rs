//! The worker tier against Celery on the same Redis (`benches/scripts/tier-vs-celery.sh`).
//!
//! One `redis-server` (its own, on a free loopback port, no persistence), one waitless worker
//! process (this binary, `tier worker URL C`) and one Celery worker (`celery -A celery_peer
//! worker -c C`, prefork: C processes), both started once and idle while the other side runs.
//! Sections, each with the same jobs on both sides:
//!
//! * **round trip**: one submitter, sequential (submit, wait for the result, repeat): `add` and
//!   `fib(N)`;
//! * **throughput**: one submitter with every job in flight at once, C-way concurrent workers:
//!   `add` and `fib(N)`.
//!
//! Within a round the two sides alternate (which goes first flips each round); the first round
//! is a warm-up and is dropped; medians of the rest and the ratio are printed. The waitless side
//! also reports what `RedisPool::run` costs on the event loop (the submit call itself, no I/O).
//!
//! Flags: `--rounds N` (measured, default 5), `--jobs N` (round trips per round, default 1000;
//! throughput sections use 2×), `--fib N` (default 20), `--concurrency C` (default 2),
//! `--python PATH` (a Python with `celery` and `redis`; default `python3`; Celery is skipped with
//! a message when it is missing).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use waitless_benches::median_f64;
use waitless_executor::block_on;
use waitless_pool::redis::{RedisPool, Worker};
use waitless_pool::{Job, Registry};

fn add((x, y): (u64, u64)) -> u64 {
    x + y
}

fn fib(n: u32) -> u64 {
    if n < 2 {
        u64::from(n)
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

const ADD: Job<(u64, u64), u64> = Job::new("add", add);
const FIB: Job<u32, u64> = Job::new("fib", fib);

struct Args {
    rounds: usize,
    jobs: u64,
    fib: u32,
    concurrency: usize,
    python: String,
}

fn args() -> Args {
    let mut a = Args {
        rounds: 5,
        jobs: 1000,
        fib: 20,
        concurrency: 2,
        python: "python3".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--rounds" => a.rounds = value().parse().expect("--rounds N"),
            "--jobs" => a.jobs = value().parse().expect("--jobs N"),
            "--fib" => a.fib = value().parse().expect("--fib N"),
            "--concurrency" => a.concurrency = value().parse().expect("--concurrency C"),
            "--python" => a.python = value(),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

/// Kills (and reaps) a child on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis_server(dir: &PathBuf) -> (Killed, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .arg("--dir")
        .arg(dir)
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-server (apt-get install redis-server)");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if line.contains("Ready to accept connections") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("redis-server ready");
    (Killed(child), format!("redis://127.0.0.1:{port}/0"))
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    RoundTrip,
    Throughput,
}

#[derive(Clone, Copy, PartialEq)]
enum Task {
    Add,
    Fib,
}

/// Jobs per second on the waitless side, and the mean cost of one `run` call on the loop (ns).
fn ours(pool: &RedisPool, kind: Kind, task: Task, jobs: u64, n: u32) -> (f64, f64) {
    let want = fib(n);
    block_on(async {
        let start = Instant::now();
        let mut submit_ns = 0u128;
        match kind {
            Kind::RoundTrip => {
                for i in 0..jobs {
                    let t = Instant::now();
                    let ok = match task {
                        Task::Add => {
                            let f = pool.run(ADD, (i, i));
                            submit_ns += t.elapsed().as_nanos();
                            f.await.expect("add") == 2 * i
                        }
                        Task::Fib => {
                            let f = pool.run(FIB, n);
                            submit_ns += t.elapsed().as_nanos();
                            f.await.expect("fib") == want
                        }
                    };
                    assert!(ok, "wrong answer");
                }
            }
            Kind::Throughput => {
                let t = Instant::now();
                let futures: Vec<_> = (0..jobs)
                    .map(|i| match task {
                        Task::Add => pool.run(ADD, (i, i)),
                        Task::Fib => pool.run(FIB, n),
                    })
                    .collect();
                submit_ns = t.elapsed().as_nanos();
                for f in futures {
                    f.await.expect("job");
                }
            }
        }
        let rate = jobs as f64 / start.elapsed().as_secs_f64();
        (rate, submit_ns as f64 / jobs as f64)
    })
}

fn celery(a: &Args, url: &str, kind: Kind, task: Task, jobs: u64) -> f64 {
    let out = Command::new(&a.python)
        .arg(format!("{}/celery_peer.py", env!("CARGO_MANIFEST_DIR")))
        .arg(if kind == Kind::RoundTrip {
            "roundtrip"
        } else {
            "throughput"
        })
        .arg(if task == Task::Add { "add" } else { "fib" })
        .arg(jobs.to_string())
        .arg(a.fib.to_string())
        .env("CELERY_BROKER", url)
        .output()
        .expect("python");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "celery_peer.py said: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

fn has_celery(python: &str) -> bool {
    Command::new(python)
        .args(["-c", "import celery, redis"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn start_celery_worker(a: &Args, url: &str) -> Killed {
    let child = Command::new(&a.python)
        .args(["-m", "celery", "-A", "celery_peer", "worker"])
        .args([
            "--concurrency",
            &a.concurrency.to_string(),
            "--pool",
            "prefork",
        ])
        .args([
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("CELERY_BROKER", url)
        .stdout(Stdio::null())
        .spawn()
        .expect("celery worker");
    Killed(child)
}

fn worker_mode(url: &str, concurrency: usize) -> ! {
    let registry = Registry::new().register(ADD).register(FIB);
    let result = Worker::builder(url)
        .registry(registry)
        .concurrency(concurrency)
        .run();
    std::process::exit(i32::from(result.is_err()))
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("worker") {
        let url = argv.get(2).expect("tier worker URL C");
        let c = argv.get(3).and_then(|c| c.parse().ok()).unwrap_or(2);
        worker_mode(url, c);
    }
    let a = args();
    let dir = std::env::temp_dir().join(format!("waitless-tier-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (_redis, url) = redis_server(&dir);
    let _ours_worker = Killed(
        Command::new(std::env::current_exe().expect("own binary"))
            .args(["worker", &url, &a.concurrency.to_string()])
            .spawn()
            .expect("waitless worker"),
    );
    let celery_ok = has_celery(&a.python);
    let _celery_worker = celery_ok.then(|| start_celery_worker(&a, &url));
    if !celery_ok {
        println!(
            "({} has no celery/redis: the Celery side is skipped)",
            a.python
        );
    }
    let pool = RedisPool::builder(url.clone())
        .timeout(Duration::from_secs(120))
        .build()
        .expect("pool");
    // Warm-up (and wait for the worker to be up).
    for i in 0..8 {
        block_on(pool.run(ADD, (i, i))).expect("warm-up");
    }
    println!(
        "worker tier vs Celery on one redis-server ({url}), {} concurrent workers each, fib({}); \
         {} measured rounds after 1 warm-up, medians",
        a.concurrency, a.fib, a.rounds
    );
    let sections = [
        ("round trip, add", Kind::RoundTrip, Task::Add, a.jobs),
        ("round trip, fib", Kind::RoundTrip, Task::Fib, a.jobs),
        ("throughput, add", Kind::Throughput, Task::Add, a.jobs * 2),
        ("throughput, fib", Kind::Throughput, Task::Fib, a.jobs * 2),
    ];
    for (name, kind, task, jobs) in sections {
        let (mut w, mut c, mut submit) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..=a.rounds {
            let run_ours = || ours(&pool, kind, task, jobs, a.fib);
            let (rate, cost, celery_rate) = if round % 2 == 0 || !celery_ok {
                let (rate, cost) = run_ours();
                let cr = celery_ok.then(|| celery(&a, &url, kind, task, jobs));
                (rate, cost, cr)
            } else {
                let cr = Some(celery(&a, &url, kind, task, jobs));
                let (rate, cost) = run_ours();
                (rate, cost, cr)
            };
            if round == 0 {
                continue;
            }
            w.push(rate);
            submit.push(cost);
            if let Some(cr) = celery_rate {
                c.push(cr);
            }
        }
        let ours_med = median_f64(&mut w);
        let submit_med = median_f64(&mut submit);
        if c.is_empty() {
            println!("{name:<16} waitless {ours_med:>9.0} jobs/s (submit {submit_med:.0} ns on the loop)");
        } else {
            let celery_med = median_f64(&mut c);
            println!(
                "{name:<16} waitless {ours_med:>9.0} jobs/s   celery {celery_med:>8.0} jobs/s   \
                 ratio {:>5.1}x   (waitless submit {submit_med:.0} ns on the loop; rounds: \
                 waitless {w:.0?}, celery {c:.0?})",
                ours_med / celery_med
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
