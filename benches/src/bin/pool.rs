//! Worker-pool benchmarks (`cargo run --release -p waitless-benches --bin pool`).
//!
//! 1. Thread pool, tiny jobs: `ThreadPool::spawn` awaited on a waitless loop vs `rayon::spawn`
//!    with a channel back to the main thread, and vs tokio's `spawn_blocking` awaited on a
//!    current-thread runtime (`max_blocking_threads` = the same thread count). Same job
//!    (`x + 1`). The waitless and tokio rows measure the cross-thread wake path: every job
//!    finishes on a pool thread and wakes a task of the one loop.
//! 2. Process pool, tiny jobs: `ProcessPool::run` vs Python's `ProcessPoolExecutor.submit`
//!    (`benches/pool_peer.py`, skipped with a message if `python3` is missing). Same job, same
//!    worker count, pools started and warmed before the clock starts.
//! 3. Process pool scaling: 64 fib(30) jobs with 1 worker vs 2 workers.
//!
//! Every comparison alternates its contenders within a round, throws the first round away and
//! reports the median of the rest, with the ratio computed within the same run.
//!
//! Flags: `--rounds N` (measured rounds, default 5), `--jobs N` (tiny jobs per round, default
//! 20000), `--threads N` (threads/workers, default 2), `--pipeline N` (depth of the pipelined
//! process-pool row, default 8).

use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use waitless_benches::median_f64;
use waitless_executor::block_on;
use waitless_pool::{Job, ProcessPool, Registry, ThreadPool};

fn tiny(x: u64) -> u64 {
    x + 1
}

fn fib(n: u32) -> u64 {
    if n < 2 {
        n as u64
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

const TINY: Job<u64, u64> = Job::new("tiny", tiny);
const FIB: Job<u32, u64> = Job::new("fib", fib);

struct Args {
    rounds: usize,
    jobs: u64,
    threads: usize,
    pipeline: usize,
    only: Option<String>,
}

impl Args {
    fn wants(&self, part: &str) -> bool {
        self.only.as_deref().is_none_or(|o| o == part)
    }
}

fn args() -> Args {
    let mut a = Args {
        rounds: 5,
        jobs: 20_000,
        threads: 2,
        pipeline: 8,
        only: None,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let value = argv.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match (argv[i].as_str(), value) {
            ("--rounds", Some(v)) => a.rounds = v.max(1) as usize,
            ("--jobs", Some(v)) => a.jobs = v.max(1),
            ("--threads", Some(v)) => a.threads = v.max(1) as usize,
            ("--pipeline", Some(v)) => a.pipeline = v.max(1) as usize,
            ("--only", _) if argv.get(i + 1).is_some() => a.only = argv.get(i + 1).cloned(),
            ("--help", _) | ("-h", _) => {
                println!("usage: pool [--rounds N] [--jobs N] [--threads N] [--pipeline N] [--only thread|process|fib]");
                std::process::exit(0);
            }
            (flag, _) => {
                eprintln!("pool: bad flag or value: {flag}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    a
}

fn rate(jobs: u64, took: Duration) -> f64 {
    jobs as f64 / took.as_secs_f64()
}

/// Runs each contender once per round (alternating), drops round 0, returns the medians.
fn alternate<const N: usize>(rounds: usize, mut run: impl FnMut(usize) -> f64) -> [f64; N] {
    let mut samples: [Vec<f64>; N] = std::array::from_fn(|_| Vec::new());
    for round in 0..=rounds {
        for (i, s) in samples.iter_mut().enumerate() {
            let v = run(i);
            if round > 0 {
                s.push(v);
            }
        }
    }
    samples.map(|mut s| median_f64(&mut s))
}

fn thread_pool_tiny(a: &Args) -> [f64; 3] {
    // Tiny thread-pool jobs take well under a microsecond: 10x the jobs, so a round lasts long
    // enough (tens of ms) for the machine's noise to average out.
    let jobs = a.jobs * 10;
    let ours = ThreadPool::builder()
        .threads(a.threads)
        .queue_depth(jobs as usize)
        .build()
        .expect("thread pool");
    let theirs = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads)
        .build()
        .expect("rayon pool");
    let tokio = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(a.threads)
        .build()
        .expect("tokio runtime");
    alternate(a.rounds, |i| {
        let start = Instant::now();
        if i == 0 {
            let sum = block_on(async {
                let handles: Vec<_> = (0..jobs).map(|x| ours.spawn(move || tiny(x))).collect();
                let mut sum = 0;
                for h in handles {
                    sum += h.await.expect("job");
                }
                sum
            });
            assert_eq!(sum, jobs * (jobs + 1) / 2);
        } else if i == 2 {
            let sum = tokio.block_on(async {
                let handles: Vec<_> = (0..jobs)
                    .map(|x| tokio::task::spawn_blocking(move || tiny(x)))
                    .collect();
                let mut sum = 0;
                for h in handles {
                    sum += h.await.expect("job");
                }
                sum
            });
            assert_eq!(sum, jobs * (jobs + 1) / 2);
        } else {
            let (tx, rx) = mpsc::channel();
            for x in 0..jobs {
                let tx = tx.clone();
                theirs.spawn(move || {
                    let _ = tx.send(tiny(x));
                });
            }
            drop(tx);
            let sum: u64 = rx.iter().sum();
            assert_eq!(sum, jobs * (jobs + 1) / 2);
        }
        rate(jobs, start.elapsed())
    })
}

fn process_pool_tiny_once(pool: &ProcessPool, jobs: u64) -> f64 {
    let start = Instant::now();
    let sum = block_on(async {
        let futures: Vec<_> = (0..jobs).map(|x| pool.run(TINY, x)).collect();
        let mut sum = 0;
        for f in futures {
            sum += f.await.expect("job");
        }
        sum
    });
    assert_eq!(sum, jobs * (jobs + 1) / 2);
    rate(jobs, start.elapsed())
}

fn python() -> Option<String> {
    let ok = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then(|| format!("{}/pool_peer.py", env!("CARGO_MANIFEST_DIR")))
}

fn python_tiny(script: &str, jobs: u64, workers: usize) -> f64 {
    let out = Command::new("python3")
        .args([script, "tiny", &jobs.to_string(), &workers.to_string()])
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "pool_peer.py said: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

fn process_pool(a: &Args, workers: usize, pipeline: usize) -> ProcessPool {
    let pool = ProcessPool::builder()
        .workers(workers)
        .pipeline(pipeline)
        .max_in_flight(a.jobs as usize + 64)
        .build()
        .expect("process pool");
    // Start every worker before the clock starts.
    block_on(async {
        let warm: Vec<_> = (0..workers as u64 * 4).map(|x| pool.run(TINY, x)).collect();
        for f in warm {
            f.await.expect("warm-up job");
        }
    });
    pool
}

fn fib_seconds(pool: &ProcessPool, jobs: usize, n: u32) -> f64 {
    let start = Instant::now();
    block_on(async {
        let futures: Vec<_> = (0..jobs).map(|_| pool.run(FIB, n)).collect();
        for f in futures {
            assert_eq!(f.await.expect("fib job"), 832_040);
        }
    });
    start.elapsed().as_secs_f64()
}

fn main() {
    waitless_pool::init(Registry::new().register(TINY).register(FIB));
    let a = args();
    println!(
        "worker-pool benchmarks: {} tiny jobs per round (x10 for the thread pool), {} threads/workers, {} measured rounds (+1 warm-up), medians",
        a.jobs, a.threads, a.rounds
    );

    if a.wants("thread") {
        thread_pool(&a);
    }
    if a.wants("process") {
        process_pool_vs_python(&a);
    }
    if a.wants("fib") {
        fib_scaling(&a);
    }
}

fn thread_pool(a: &Args) {
    let [ours, rayon, tokio] = thread_pool_tiny(a);
    println!(
        "thread pool, tiny jobs:  waitless {:>10.0}/s  rayon {:>10.0}/s  ratio {:.2}x",
        ours,
        rayon,
        ours / rayon
    );
    println!(
        "  vs tokio spawn_blocking:                    tokio {:>10.0}/s  ratio {:.2}x",
        tokio,
        ours / tokio
    );
}

fn process_pool_vs_python(a: &Args) {
    // The default (one job per worker at a time) and a pipelined pool (`--pipeline`, default 8).
    let plain = process_pool(a, a.threads, 1);
    let piped = process_pool(a, a.threads, a.pipeline);
    match python() {
        Some(script) => {
            let [ours, ours_piped, py] = alternate(a.rounds, |i| match i {
                0 => process_pool_tiny_once(&plain, a.jobs),
                1 => process_pool_tiny_once(&piped, a.jobs),
                _ => python_tiny(&script, a.jobs, a.threads),
            });
            println!(
                "process pool, tiny jobs: waitless {:>10.0}/s  ProcessPoolExecutor {:>10.0}/s  ratio {:.2}x",
                ours,
                py,
                ours / py
            );
            println!(
                "  with pipeline({}):       waitless {:>10.0}/s  ratio {:.2}x",
                a.pipeline,
                ours_piped,
                ours_piped / py
            );
        }
        None => {
            let [ours, ours_piped] = alternate(a.rounds, |i| {
                process_pool_tiny_once(if i == 0 { &plain } else { &piped }, a.jobs)
            });
            println!(
                "process pool, tiny jobs: waitless {ours:>10.0}/s, pipeline({}) {ours_piped:>10.0}/s  (python3 not found: ProcessPoolExecutor skipped)",
                a.pipeline
            );
        }
    }
    drop((plain, piped));
}

fn fib_scaling(a: &Args) {
    let one = process_pool(a, 1, 1);
    let two = process_pool(a, 2, 1);
    // A round is short (~0.2 s) and the machine is shared: three times the rounds. The same 64
    // fibs computed inline on this thread show what the pool itself costs on one core.
    let [t1, t2, inline] = alternate(a.rounds * 3, |i| match i {
        0 => fib_seconds(&one, 64, 30),
        1 => fib_seconds(&two, 64, 30),
        _ => {
            let start = Instant::now();
            for _ in 0..64 {
                assert_eq!(FIB.call(std::hint::black_box(30)), 832_040);
            }
            start.elapsed().as_secs_f64()
        }
    });
    println!(
        "process pool, 64 x fib(30): 1 worker {:.3} s  2 workers {:.3} s  speed-up {:.2}x",
        t1,
        t2,
        t1 / t2
    );
    println!(
        "  inline on one thread {:.3} s: the pool's own cost with 1 worker {:+.1}%",
        inline,
        (t1 / inline - 1.0) * 100.0
    );
}
