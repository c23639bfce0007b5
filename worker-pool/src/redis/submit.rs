//! [`RedisPool`]: submit typed jobs to the worker tier from the event loop, await their results.
//!
//! **Which client, and why.** The `redis` crate's async connections run on tokio or async-std,
//! which waitless's product crates do not use, so the pool uses the crate's *blocking* client on
//! two dedicated connection threads per pool, and the loop only touches memory:
//!
//! * `run` (on the loop): encode the arguments, insert a slot in the table, send the job down a
//!   channel. No syscall except the futex wake of the sender thread; the loop never waits for
//!   Redis.
//! * the **sender thread** takes every job waiting in the channel and `XADD`s them in one
//!   pipeline (one round trip for a burst of submissions).
//! * the **reply thread** waits in `BLPOP` on this submitter's own reply list, takes up to 128
//!   replies at a time, completes their slots and wakes their tasks through the executor's remote
//!   wake.
//!
//! The alternative the issue names, the blocking client on the CPU thread pool, would hold a pool
//! thread for every round trip (or every `BLPOP`) and compete with the CPU jobs the pool exists
//! for; a dedicated thread pair costs two mostly sleeping threads and batches naturally.
//! `docs/worker-pool.md` ("Beyond one machine") has the measured submit cost on the loop.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use super::conn_threads::{self, Outgoing};
use super::connect;
use super::slots::{Slots, TierFuture};
use super::wire::{self, JobEntry, Keys};
use crate::{Job, PoolError};

/// Per-job settings: timeout (which is also the job's deadline) and retries.
#[derive(Clone, Copy, Debug, Default)]
pub struct JobOptions {
    timeout: Option<Duration>,
    retries: u32,
    backoff: Option<Duration>,
}

impl JobOptions {
    /// The defaults: the pool's timeout, not retryable.
    pub fn new() -> JobOptions {
        JobOptions::default()
    }

    /// How long the caller waits for the result. It is also the job's deadline: a worker that
    /// takes the job after it does not start it (the caller gets [`PoolError::Expired`] if still
    /// waiting, [`PoolError::Timeout`] otherwise).
    pub fn timeout(mut self, timeout: Duration) -> JobOptions {
        self.timeout = Some(timeout);
        self
    }

    /// Marks the job retryable: a panic in it is retried up to `n` times, after `backoff`,
    /// `2 × backoff`, `4 × backoff`… On the last failure the job goes to the dead-letter stream
    /// with its error.
    pub fn retries(mut self, n: u32) -> JobOptions {
        self.retries = n;
        self
    }

    /// The delay before the first retry (default 100 ms); it doubles for each further one.
    pub fn backoff(mut self, backoff: Duration) -> JobOptions {
        self.backoff = Some(backoff);
        self
    }
}

/// Configures and connects a [`RedisPool`].
#[derive(Clone, Debug)]
pub struct RedisPoolBuilder {
    url: String,
    queue: String,
    timeout: Duration,
    connect_timeout: Duration,
    max_in_flight: usize,
}

impl RedisPoolBuilder {
    /// Defaults: queue `waitless`, timeout 30 s, connect timeout 2 s, 10 000 jobs in flight.
    pub fn new(url: impl Into<String>) -> RedisPoolBuilder {
        RedisPoolBuilder {
            url: url.into(),
            queue: "waitless".into(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(2),
            max_in_flight: 10_000,
        }
    }

    /// The queue's name: the job stream's key; the other keys start with it.
    pub fn queue(mut self, name: impl Into<String>) -> Self {
        self.queue = name.into();
        self
    }

    /// The default timeout (and deadline) of every job; see [`JobOptions::timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long connecting (and every write) may take before it is an error.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Jobs submitted and not answered, at most; beyond it [`PoolError::QueueFull`].
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// Starts the pool's two connection threads. No I/O here, so it may be called on the event
    /// loop: only a malformed URL fails now; an unreachable broker shows as
    /// [`PoolError::Broker`] on the jobs (and the threads keep trying to reconnect).
    pub fn build(self) -> Result<RedisPool, PoolError> {
        let client = connect::client(&self.url)?;
        let keys = Keys::new(&self.queue);
        let submitter = submitter_name();
        let reply = format!("{}{submitter}", keys.reply_prefix);
        let slots = Arc::new(Slots::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let settings = conn_threads::Settings {
            client,
            keys: keys.clone(),
            reply: reply.clone(),
            connect_timeout: self.connect_timeout,
        };
        conn_threads::start(settings, rx, Arc::clone(&slots), Arc::clone(&stop))
            .map_err(PoolError::Spawn)?;
        Ok(RedisPool {
            inner: Arc::new(Inner {
                submitter,
                reply,
                sender: Mutex::new(tx),
                slots,
                stop,
                next_seq: AtomicU64::new(1),
                timeout: self.timeout,
                max_in_flight: self.max_in_flight,
            }),
        })
    }
}

/// A name unique to this submitter: host, pid, and the clock.
fn submitter_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    format!(
        "{host}-{}-{:x}",
        std::process::id(),
        wire::now_ms() ^ (u64::from(std::process::id()) << 40)
    )
}

/// A submitter of jobs to workers anywhere, through Redis Streams (cheap to clone; `Send`).
///
/// ```no_run
/// use waitless_pool::{redis::RedisPool, Job};
///
/// fn fib(n: u32) -> u64 { if n < 2 { n.into() } else { fib(n - 1) + fib(n - 2) } }
/// const FIB: Job<u32, u64> = Job::new("fib", fib);
///
/// let pool = RedisPool::builder("redis://127.0.0.1:6379/0").build().unwrap();
/// let value = waitless_executor::block_on(pool.run(FIB, 30)).unwrap();
/// assert_eq!(value, 832_040);
/// ```
#[derive(Clone)]
pub struct RedisPool {
    inner: Arc<Inner>,
}

struct Inner {
    submitter: String,
    reply: String,
    sender: Mutex<mpsc::Sender<Outgoing>>,
    slots: Arc<Slots>,
    stop: Arc<AtomicBool>,
    next_seq: AtomicU64,
    timeout: Duration,
    max_in_flight: usize,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The sender thread ends when the channel closes (with this struct); the reply thread
        // sees the flag within one `BLPOP` timeout.
        self.stop.store(true, Ordering::Release);
        self.slots.fail_all(|| PoolError::ShutDown);
    }
}

impl RedisPool {
    /// A builder for the broker at `url` (`redis://host:port/db`).
    pub fn builder(url: impl Into<String>) -> RedisPoolBuilder {
        RedisPoolBuilder::new(url)
    }

    /// Submits `job` with the pool's default options; await the result.
    pub fn run<A: Serialize, R>(&self, job: Job<A, R>, args: A) -> TierFuture<R> {
        self.run_with(job, args, JobOptions::new())
    }

    /// Submits `job` with its own timeout, deadline and retries.
    pub fn run_with<A: Serialize, R>(
        &self,
        job: Job<A, R>,
        args: A,
        options: JobOptions,
    ) -> TierFuture<R> {
        self.submit(job.name(), &args, options)
            .unwrap_or_else(TierFuture::failed)
    }

    fn submit<A: Serialize, R>(
        &self,
        name: &str,
        args: &A,
        options: JobOptions,
    ) -> Result<TierFuture<R>, PoolError> {
        let inner = &*self.inner;
        let args = serde_json::to_vec(args).map_err(|e| PoolError::Codec(e.to_string()))?;
        let timeout = options.timeout.unwrap_or(inner.timeout);
        let seq = inner.next_seq.fetch_add(1, Ordering::Relaxed);
        let slot = inner.slots.insert(seq, inner.max_in_flight)?;
        let entry = JobEntry {
            id: format!("{}:{seq}", inner.submitter),
            job: name.to_owned(),
            args,
            reply: inner.reply.clone(),
            deadline: wire::now_ms().saturating_add(duration_ms(timeout)),
            retries: options.retries,
            attempt: 0,
            backoff_ms: duration_ms(options.backoff.unwrap_or(Duration::from_millis(100))),
        };
        let outgoing = Outgoing {
            slot: Arc::clone(&slot),
            entry,
        };
        let sent = inner
            .sender
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(outgoing);
        if sent.is_err() {
            inner.slots.remove(seq);
            return Err(PoolError::ShutDown);
        }
        Ok(TierFuture::new(
            slot,
            Arc::clone(&inner.slots),
            seq,
            timeout,
        ))
    }

    /// Jobs submitted and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.inner.slots.len()
    }

    /// The Redis list this submitter's replies arrive on.
    pub fn reply_key(&self) -> &str {
        &self.inner.reply
    }
}

impl std::fmt::Debug for RedisPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPool")
            .field("submitter", &self.inner.submitter)
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
