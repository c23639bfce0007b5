//! ThreadPool: results, panics, back-pressure, cancellation, shutdown, and that awaiting a job
//! leaves the loop free.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

use waitless_executor::{block_on, spawn};
use waitless_pool::{PoolError, ThreadPool};

fn fib(n: u32) -> u64 {
    if n < 2 {
        n as u64
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

#[test]
fn results_come_back() {
    let pool = ThreadPool::builder().threads(2).build().unwrap();
    let sum = block_on(async {
        let handles: Vec<_> = (0..100u64).map(|i| pool.spawn(move || i * 2)).collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, 9900);
}

#[test]
fn a_panic_is_an_error_and_the_pool_keeps_serving() {
    let pool = ThreadPool::builder().threads(1).build().unwrap();
    block_on(async {
        let err = pool
            .spawn(|| -> u32 { panic!("job failed: {}", 42) })
            .await
            .unwrap_err();
        match err {
            PoolError::Panicked(msg) => assert_eq!(msg, "job failed: 42"),
            other => panic!("unexpected {other:?}"),
        }
        // The same (single) thread still runs jobs.
        assert_eq!(pool.spawn(|| fib(20)).await.unwrap(), 6765);
    });
}

#[test]
fn try_spawn_reports_queue_full() {
    let pool = ThreadPool::builder()
        .threads(1)
        .queue_depth(2)
        .build()
        .unwrap();
    // Occupy the only thread until released.
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let blocker = pool
        .try_spawn(move || {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        })
        .unwrap();
    started_rx.recv().unwrap();
    // The thread is busy: two jobs fill the queue, the third is refused.
    let a = pool.try_spawn(|| 1).unwrap();
    let b = pool.try_spawn(|| 2).unwrap();
    assert!(matches!(pool.try_spawn(|| 3), Err(PoolError::QueueFull)));
    assert_eq!(pool.queued(), 2);
    // spawn reports the same through its future.
    let c = pool.spawn(|| 4);
    release_tx.send(()).unwrap();
    block_on(async {
        assert!(matches!(c.await, Err(PoolError::QueueFull)));
        blocker.await.unwrap();
        assert_eq!(a.await.unwrap() + b.await.unwrap(), 3);
        // Room again.
        assert_eq!(pool.spawn(|| 5).await.unwrap(), 5);
    });
}

#[test]
fn dropping_a_queued_handle_cancels_the_job() {
    let pool = ThreadPool::builder().threads(1).build().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let blocker = pool.spawn(move || {
        started_tx.send(()).unwrap();
        release_rx.recv().unwrap();
    });
    started_rx.recv().unwrap();
    let r = ran.clone();
    drop(pool.spawn(move || r.fetch_add(1, Ordering::SeqCst)));
    let r = ran.clone();
    let kept = pool.spawn(move || r.fetch_add(10, Ordering::SeqCst));
    release_tx.send(()).unwrap();
    block_on(async {
        blocker.await.unwrap();
        kept.await.unwrap();
    });
    assert_eq!(ran.load(Ordering::SeqCst), 10, "the dropped job never ran");
}

#[test]
fn shutdown_finishes_queued_jobs_and_joins_every_thread() {
    let pool = ThreadPool::builder().threads(3).build().unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..50)
        .map(|_| {
            let done = done.clone();
            pool.spawn(move || {
                fib(15);
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    pool.shutdown();
    // Every thread is joined, so every job already ran.
    assert_eq!(done.load(Ordering::SeqCst), 50);
    block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
}

#[test]
fn work_is_spread_over_all_threads() {
    // Each job waits at a barrier for all the others: it can only finish if every thread takes
    // one job at the same time (stealing from the injector and from siblings).
    let threads = 4;
    let pool = ThreadPool::builder().threads(threads).build().unwrap();
    let barrier = Arc::new(Barrier::new(threads));
    block_on(async {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let b = barrier.clone();
                pool.spawn(move || {
                    b.wait();
                    std::thread::current().name().map(str::to_owned)
                })
            })
            .collect();
        let mut names = Vec::new();
        for h in handles {
            names.push(h.await.unwrap().unwrap());
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), threads);
    });
}

#[test]
fn the_loop_keeps_running_while_a_job_computes() {
    let pool = ThreadPool::builder().threads(1).build().unwrap();
    block_on(async {
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let job = pool.spawn(move || {
            release_rx.recv().unwrap();
            7
        });
        // Timers on the loop fire although the job has not finished.
        let start = Instant::now();
        for _ in 0..3 {
            waitless_reactor::sleep(Duration::from_millis(5)).await;
        }
        assert!(start.elapsed() < Duration::from_secs(5));
        release_tx.send(()).unwrap();
        assert_eq!(job.await.unwrap(), 7);
    });
}

#[test]
fn many_loops_share_one_pool() {
    let pool = Arc::new(ThreadPool::builder().threads(2).build().unwrap());
    let loops: Vec<_> = (0..3u64)
        .map(|l| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                block_on(async move {
                    let tasks: Vec<_> = (0..20u64)
                        .map(|i| {
                            let pool = pool.clone();
                            spawn(async move { pool.spawn(move || l * 100 + i).await.unwrap() })
                        })
                        .collect();
                    let mut sum = 0;
                    for t in tasks {
                        sum += t.await.unwrap();
                    }
                    sum
                })
            })
        })
        .collect();
    let sums: Vec<u64> = loops.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(sums, vec![190, 2190, 4190]);
}

#[test]
fn errors_display_and_convert() {
    let e = PoolError::ProcessDied {
        signal: Some(11),
        exit_code: None,
    };
    assert_eq!(e.to_string(), "the pool process was killed by signal 11");
    let io: std::io::Error = PoolError::QueueFull.into();
    assert_eq!(io.kind(), std::io::ErrorKind::WouldBlock);
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(PoolError::Timeout);
    assert!(boxed.to_string().contains("timed out"));
}
