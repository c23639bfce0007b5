//! Foundation micro-benchmarks: waitless (reactor + executor) against tokio's current-thread
//! runtime and async-executor's `LocalExecutor`, all on one thread.
//!
//! ```text
//! cargo build --release -p waitless-benches --bin micro
//! taskset -c 1 cargo run --release -p waitless-benches --bin micro [-- --quick] [-- --only NAME]
//! ```
//!
//! The runtimes:
//!
//! * **waitless** — `waitless_executor::{block_on, spawn}`, `waitless_reactor` sockets and timers,
//!   `waitless_executor::channel::mpsc`.
//! * **tokio** — `runtime::Builder::new_current_thread().enable_all()`, `tokio::spawn`,
//!   `tokio::net`, `tokio::time`, `tokio::sync::mpsc`.
//! * **async-executor** — `async_executor::LocalExecutor` driven by
//!   `async_io::block_on(ex.run(..))`, `async_io::{Async, Timer}`, `async_channel`.
//!
//! Each runtime is built once and reused by every run, the way a server uses it (waitless's
//! executor and reactor are per-thread singletons anyway). Every timed region starts and ends
//! *inside* the runtime, so building and tearing down a runtime is never timed.
//!
//! What each benchmark measures, and why:
//!
//! * **`spawn`** — spawn 1,000,000 tasks that each return their index, then await every handle
//!   in spawn order. The raw per-task overhead: allocation, run-queue push/pop, one poll, storing
//!   the output and handing it to the joiner. Every request handler of a server is a task.
//! * **`pingpong`** — two tasks exchange 1,000,000 pings and 1,000,000 pongs over two bounded
//!   channels of capacity 1 (one per direction). Every message parks the receiver and wakes it
//!   again, so this measures the wake → schedule → poll path and the channel itself, with no I/O.
//! * **`timers`** — arm 100,000 sleeps with random deadlines 10–60 s ahead (create each and poll
//!   it once so the runtime registers it), then drop them all. A server arms a timeout for almost
//!   every request and cancels nearly all of them long before they fire, so both halves are on
//!   the hot path. The insert and cancel phases are timed separately; the "total" row is the
//!   median of per-run totals. Work a runtime defers past the drop (waitless pops at most ~1,000
//!   dead heap entries on its next turn, async-io applies at most 1,000 queued timer operations
//!   on its next reactor tick) is not timed.
//! * **`tcp`** — one listener and echo server and 50 client connections, each doing 2,000
//!   sequential 64-byte round trips (write 64 bytes, read the 64-byte echo), all 50 concurrent,
//!   clients and server on the same single-threaded runtime, `TCP_NODELAY` on every socket. This
//!   is the reactor's real job: readiness from `epoll`, wake-ups, and the read/write syscalls. The
//!   timed region includes the 50 connects and accepts (well under 1 % of the run).
//!
//! Method: see the `waitless_benches` crate docs — the runtimes alternate within each round
//! (waitless, tokio, async-executor, waitless, …), one warm-up round is discarded, and the median
//! of 5 rounds is reported (`--quick`: 1 round, counts divided by 10). Ratios are waitless time
//! divided by the peer's time: below 1.00 waitless is faster.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use waitless_benches::{
    alternate, print_samples, table, thousands, PinnedSlice, Row, Runtime, Sample,
};

/// Everything a benchmark needs: the counts and the two peer runtimes.
struct Ctx<'a> {
    scale: u64,
    warmup: usize,
    repeats: usize,
    tokio: &'a tokio::runtime::Runtime,
    /// Leaked so that tasks can spawn tasks (`'static` futures borrowing the executor).
    ex: &'static async_executor::LocalExecutor<'static>,
}

impl Ctx<'_> {
    /// `n` in a full run, `n / 10` with `--quick`.
    fn count(&self, n: u64) -> u64 {
        (n / self.scale).max(1)
    }
}

const BENCHES: [&str; 4] = ["spawn", "pingpong", "timers", "tcp"];

fn main() -> ExitCode {
    let mut quick = false;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--only" => match args.next() {
                Some(name) if BENCHES.contains(&name.as_str()) => only = Some(name),
                other => {
                    eprintln!(
                        "--only needs one of {}, got {:?}",
                        BENCHES.join(", "),
                        other.unwrap_or_default()
                    );
                    return ExitCode::FAILURE;
                }
            },
            "-h" | "--help" => {
                println!(
                    "usage: micro [--quick] [--only {}]\n  --quick  1 measured round, counts / 10",
                    BENCHES.join("|")
                );
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("unknown argument {other:?} (try --help)");
                return ExitCode::FAILURE;
            }
        }
    }

    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let ex: &'static _ = Box::leak(Box::new(async_executor::LocalExecutor::new()));
    let ctx = Ctx {
        scale: if quick { 10 } else { 1 },
        warmup: 1,
        repeats: if quick { 1 } else { 5 },
        tokio: &tokio,
        ex,
    };
    println!(
        "waitless micro-benchmarks: {} warm-up round + {} measured round(s), runtimes alternating{}",
        ctx.warmup,
        ctx.repeats,
        if quick { ", --quick (counts / 10)" } else { "" }
    );

    let started = Instant::now();
    let mut rows = Vec::new();
    let wanted = |name: &str| only.as_deref().is_none_or(|o| o == name);
    if wanted("spawn") {
        rows.extend(spawn::run(&ctx));
    }
    if wanted("pingpong") {
        rows.extend(pingpong::run(&ctx));
    }
    if wanted("timers") {
        rows.extend(timers::run(&ctx));
    }
    if wanted("tcp") {
        rows.extend(tcp::run(&ctx));
    }

    println!(
        "\nmedians (ops/s); ratio = waitless time / peer time, < 1.00 means waitless is faster\n"
    );
    print!("{}", table(&rows));
    println!("\ntotal wall time {:.1} s", started.elapsed().as_secs_f64());
    ExitCode::SUCCESS
}

/// Runs one benchmark in alternation, prints its raw samples and returns its table rows.
fn measure(
    ctx: &Ctx<'_>,
    title: &str,
    phases: &[(&str, u64)],
    bench: impl FnMut(Runtime) -> Sample,
) -> Vec<Row> {
    println!("\n{title}");
    let samples = alternate(ctx.warmup, ctx.repeats, bench);
    let names: Vec<&str> = phases.iter().map(|(n, _)| *n).collect();
    print_samples(&names, &samples);
    phases
        .iter()
        .enumerate()
        .map(|(p, (name, ops))| Row::from_phase(*name, *ops, &samples, p))
        .collect()
}

/// 1. Spawn `n` tiny tasks, then await every handle.
mod spawn {
    use super::*;

    pub fn run(ctx: &Ctx<'_>) -> Vec<Row> {
        let n = ctx.count(1_000_000);
        let name = format!("spawn+join {} tasks", thousands(n));
        measure(ctx, &name, &[(&name, n)], |rt| {
            let (elapsed, sum) = match rt {
                Runtime::Waitless => waitless(n),
                Runtime::Tokio => tokio(ctx.tokio, n),
                Runtime::AsyncExecutor => async_executor(ctx.ex, n),
            };
            assert_eq!(sum, n * (n - 1) / 2);
            vec![elapsed]
        })
    }

    fn waitless(n: u64) -> (Duration, u64) {
        waitless_executor::block_on(async move {
            let start = Instant::now();
            let handles: Vec<_> = (0..n)
                .map(|i| waitless_executor::spawn(async move { i }))
                .collect();
            let mut sum = 0;
            for h in handles {
                sum += h.await.unwrap();
            }
            (start.elapsed(), sum)
        })
    }

    fn tokio(rt: &tokio::runtime::Runtime, n: u64) -> (Duration, u64) {
        rt.block_on(async move {
            let start = Instant::now();
            let handles: Vec<_> = (0..n).map(|i| tokio::spawn(async move { i })).collect();
            let mut sum = 0;
            for h in handles {
                sum += h.await.unwrap();
            }
            (start.elapsed(), sum)
        })
    }

    fn async_executor(
        ex: &'static async_executor::LocalExecutor<'static>,
        n: u64,
    ) -> (Duration, u64) {
        async_io::block_on(ex.run(async {
            let start = Instant::now();
            let tasks: Vec<_> = (0..n).map(|i| ex.spawn(async move { i })).collect();
            let mut sum = 0;
            for t in tasks {
                sum += t.await;
            }
            (start.elapsed(), sum)
        }))
    }
}

/// 2. Two tasks ping-pong `n` messages each way through two bounded(1) channels.
mod pingpong {
    use super::*;

    pub fn run(ctx: &Ctx<'_>) -> Vec<Row> {
        let n = ctx.count(1_000_000);
        let name = format!("ping-pong {} round trips", thousands(n));
        measure(ctx, &name, &[(&name, n)], |rt| {
            let (elapsed, sum) = match rt {
                Runtime::Waitless => waitless(n),
                Runtime::Tokio => tokio(ctx.tokio, n),
                Runtime::AsyncExecutor => async_executor(ctx.ex, n),
            };
            assert_eq!(sum, n * (n - 1) / 2);
            vec![elapsed]
        })
    }

    fn waitless(n: u64) -> (Duration, u64) {
        use waitless_executor::{channel::mpsc, spawn};
        waitless_executor::block_on(async move {
            let start = Instant::now();
            let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
            let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
            let echo = spawn(async move {
                while let Some(v) = ping_rx.recv().await {
                    pong_tx.send(v).await.unwrap();
                }
            });
            let pinger = spawn(async move {
                let mut sum = 0;
                for i in 0..n {
                    ping_tx.send(i).await.unwrap();
                    sum += pong_rx.recv().await.unwrap();
                }
                sum
            });
            let sum = pinger.await.unwrap();
            echo.await.unwrap();
            (start.elapsed(), sum)
        })
    }

    fn tokio(rt: &tokio::runtime::Runtime, n: u64) -> (Duration, u64) {
        use tokio::sync::mpsc;
        rt.block_on(async move {
            let start = Instant::now();
            let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
            let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
            let echo = tokio::spawn(async move {
                while let Some(v) = ping_rx.recv().await {
                    pong_tx.send(v).await.unwrap();
                }
            });
            let pinger = tokio::spawn(async move {
                let mut sum = 0;
                for i in 0..n {
                    ping_tx.send(i).await.unwrap();
                    sum += pong_rx.recv().await.unwrap();
                }
                sum
            });
            let sum = pinger.await.unwrap();
            echo.await.unwrap();
            (start.elapsed(), sum)
        })
    }

    fn async_executor(
        ex: &'static async_executor::LocalExecutor<'static>,
        n: u64,
    ) -> (Duration, u64) {
        async_io::block_on(ex.run(async {
            let start = Instant::now();
            let (ping_tx, ping_rx) = async_channel::bounded::<u64>(1);
            let (pong_tx, pong_rx) = async_channel::bounded::<u64>(1);
            let echo = ex.spawn(async move {
                while let Ok(v) = ping_rx.recv().await {
                    pong_tx.send(v).await.unwrap();
                }
            });
            let pinger = ex.spawn(async move {
                let mut sum = 0;
                for i in 0..n {
                    ping_tx.send(i).await.unwrap();
                    sum += pong_rx.recv().await.unwrap();
                }
                sum
            });
            let sum = pinger.await;
            echo.await;
            (start.elapsed(), sum)
        }))
    }
}

/// 3. Arm `n` far-future sleeps (create + poll once), then drop them all.
mod timers {
    use super::*;
    use std::future::poll_fn;
    use std::task::Poll;

    pub fn run(ctx: &Ctx<'_>) -> Vec<Row> {
        let n = ctx.count(100_000);
        let offsets = deadline_offsets(n as usize);
        let phases = [
            (format!("timers: insert {}", thousands(n)), n),
            (format!("timers: cancel {}", thousands(n)), n),
            (format!("timers: insert+cancel {}", thousands(n)), n),
        ];
        let phases: Vec<(&str, u64)> = phases.iter().map(|(s, n)| (s.as_str(), *n)).collect();
        let title = format!("timers: insert then cancel {} sleeps", thousands(n));
        measure(ctx, &title, &phases, |rt| {
            let (insert, cancel) = match rt {
                Runtime::Waitless => waitless(&offsets),
                Runtime::Tokio => tokio(ctx.tokio, &offsets),
                Runtime::AsyncExecutor => async_executor(ctx.ex, &offsets),
            };
            vec![insert, cancel, insert + cancel]
        })
    }

    /// Deadlines spread pseudo-randomly over 10–60 s (the same sequence for every runtime), so
    /// that inserts do not arrive in sorted order (a best case for a heap).
    fn deadline_offsets(n: usize) -> Vec<Duration> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..n)
            .map(|_| {
                // xorshift64
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                Duration::from_secs(10) + Duration::from_micros(x % 50_000_000)
            })
            .collect()
    }

    /// Polls every sleep once with the calling task's waker (registering it), asserts none fired.
    async fn arm<F: std::future::Future>(set: &mut PinnedSlice<F>) {
        let ready = poll_fn(|cx| Poll::Ready(set.poll_each_once(cx))).await;
        assert_eq!(ready, 0, "a 10 s timer fired at once");
    }

    fn waitless(offsets: &[Duration]) -> (Duration, Duration) {
        waitless_executor::block_on(async {
            let start = Instant::now();
            let mut set = PinnedSlice::new(
                offsets
                    .iter()
                    .map(|&o| waitless_reactor::sleep_until(start + o)),
            );
            arm(&mut set).await;
            let inserted = Instant::now();
            drop(set);
            (inserted - start, inserted.elapsed())
        })
    }

    fn tokio(rt: &tokio::runtime::Runtime, offsets: &[Duration]) -> (Duration, Duration) {
        rt.block_on(async {
            let start = Instant::now();
            let base = tokio::time::Instant::from_std(start);
            let mut set =
                PinnedSlice::new(offsets.iter().map(|&o| tokio::time::sleep_until(base + o)));
            arm(&mut set).await;
            let inserted = Instant::now();
            drop(set);
            (inserted - start, inserted.elapsed())
        })
    }

    fn async_executor(
        ex: &'static async_executor::LocalExecutor<'static>,
        offsets: &[Duration],
    ) -> (Duration, Duration) {
        async_io::block_on(ex.run(async {
            let start = Instant::now();
            let mut set = PinnedSlice::new(offsets.iter().map(|&o| async_io::Timer::at(start + o)));
            arm(&mut set).await;
            let inserted = Instant::now();
            drop(set);
            (inserted - start, inserted.elapsed())
        }))
    }
}

/// 4. TCP echo over loopback: `conns` concurrent clients, `trips` sequential 64-byte round trips
///    each, server and clients on the same thread.
mod tcp {
    use super::*;

    const MSG: usize = 64;

    pub fn run(ctx: &Ctx<'_>) -> Vec<Row> {
        let conns = 50;
        let trips = ctx.count(2_000);
        let total = conns * trips;
        let name = format!("tcp echo {conns} conns x {} round trips", thousands(trips));
        measure(ctx, &name, &[(&name, total)], |rt| {
            let (elapsed, echoed) = match rt {
                Runtime::Waitless => waitless(conns, trips),
                Runtime::Tokio => tokio(ctx.tokio, conns, trips),
                Runtime::AsyncExecutor => async_executor(ctx.ex, conns, trips),
            };
            assert_eq!(echoed, total * MSG as u64);
            vec![elapsed]
        })
    }

    fn loopback() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 0))
    }

    /// Returns the time from the first spawn until every client and server task finished, and
    /// the number of bytes the server echoed.
    fn waitless(conns: u64, trips: u64) -> (Duration, u64) {
        use futures_lite::{AsyncReadExt, AsyncWriteExt};
        use waitless_executor::spawn;
        use waitless_reactor::{TcpListener, TcpStream};

        waitless_executor::block_on(async move {
            let listener = TcpListener::bind(loopback()).unwrap();
            let addr = listener.local_addr().unwrap();
            let start = Instant::now();
            let server = spawn(async move {
                let mut handlers = Vec::new();
                for _ in 0..conns {
                    let (mut s, _) = listener.accept().await.unwrap();
                    s.set_nodelay(true).unwrap();
                    handlers.push(spawn(async move {
                        let mut buf = [0u8; 4096];
                        let mut echoed = 0;
                        loop {
                            let n = s.read(&mut buf).await.unwrap();
                            if n == 0 {
                                return echoed;
                            }
                            s.write_all(&buf[..n]).await.unwrap();
                            echoed += n as u64;
                        }
                    }));
                }
                let mut echoed = 0;
                for h in handlers {
                    echoed += h.await.unwrap();
                }
                echoed
            });
            let clients: Vec<_> = (0..conns)
                .map(|_| {
                    spawn(async move {
                        let mut s = TcpStream::connect(addr).await.unwrap();
                        s.set_nodelay(true).unwrap();
                        let msg = [7u8; MSG];
                        let mut reply = [0u8; MSG];
                        for _ in 0..trips {
                            s.write_all(&msg).await.unwrap();
                            s.read_exact(&mut reply).await.unwrap();
                        }
                    })
                })
                .collect();
            for c in clients {
                c.await.unwrap();
            }
            let echoed = server.await.unwrap();
            (start.elapsed(), echoed)
        })
    }

    fn tokio(rt: &tokio::runtime::Runtime, conns: u64, trips: u64) -> (Duration, u64) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio::net::{TcpListener, TcpStream};

        rt.block_on(async move {
            let listener = TcpListener::bind(loopback()).await.unwrap();
            let addr = listener.local_addr().unwrap();
            let start = Instant::now();
            let server = tokio::spawn(async move {
                let mut handlers = Vec::new();
                for _ in 0..conns {
                    let (mut s, _) = listener.accept().await.unwrap();
                    s.set_nodelay(true).unwrap();
                    handlers.push(tokio::spawn(async move {
                        let mut buf = [0u8; 4096];
                        let mut echoed = 0;
                        loop {
                            let n = s.read(&mut buf).await.unwrap();
                            if n == 0 {
                                return echoed;
                            }
                            s.write_all(&buf[..n]).await.unwrap();
                            echoed += n as u64;
                        }
                    }));
                }
                let mut echoed = 0;
                for h in handlers {
                    echoed += h.await.unwrap();
                }
                echoed
            });
            let clients: Vec<_> = (0..conns)
                .map(|_| {
                    tokio::spawn(async move {
                        let mut s = TcpStream::connect(addr).await.unwrap();
                        s.set_nodelay(true).unwrap();
                        let msg = [7u8; MSG];
                        let mut reply = [0u8; MSG];
                        for _ in 0..trips {
                            s.write_all(&msg).await.unwrap();
                            s.read_exact(&mut reply).await.unwrap();
                        }
                    })
                })
                .collect();
            for c in clients {
                c.await.unwrap();
            }
            let echoed = server.await.unwrap();
            (start.elapsed(), echoed)
        })
    }

    fn async_executor(
        ex: &'static async_executor::LocalExecutor<'static>,
        conns: u64,
        trips: u64,
    ) -> (Duration, u64) {
        use async_io::Async;
        use futures_lite::{AsyncReadExt, AsyncWriteExt};
        use std::net::{TcpListener, TcpStream};

        async_io::block_on(ex.run(async {
            let listener = Async::<TcpListener>::bind(loopback()).unwrap();
            let addr = listener.get_ref().local_addr().unwrap();
            let start = Instant::now();
            let server = ex.spawn(async move {
                let mut handlers = Vec::new();
                for _ in 0..conns {
                    let (mut s, _) = listener.accept().await.unwrap();
                    s.get_ref().set_nodelay(true).unwrap();
                    handlers.push(ex.spawn(async move {
                        let mut buf = [0u8; 4096];
                        let mut echoed = 0;
                        loop {
                            let n = s.read(&mut buf).await.unwrap();
                            if n == 0 {
                                return echoed;
                            }
                            s.write_all(&buf[..n]).await.unwrap();
                            echoed += n as u64;
                        }
                    }));
                }
                let mut echoed = 0;
                for h in handlers {
                    echoed += h.await;
                }
                echoed
            });
            let clients: Vec<_> = (0..conns)
                .map(|_| {
                    ex.spawn(async move {
                        let mut s = Async::<TcpStream>::connect(addr).await.unwrap();
                        s.get_ref().set_nodelay(true).unwrap();
                        let msg = [7u8; MSG];
                        let mut reply = [0u8; MSG];
                        for _ in 0..trips {
                            s.write_all(&msg).await.unwrap();
                            s.read_exact(&mut reply).await.unwrap();
                        }
                    })
                })
                .collect();
            for c in clients {
                c.await;
            }
            let echoed = server.await;
            (start.elapsed(), echoed)
        }))
    }
}
