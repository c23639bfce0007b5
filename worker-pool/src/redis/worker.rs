//! [`Worker`]: the process that serves jobs from the queue, on any host that reaches the broker.
//!
//! A worker is `concurrency` consumer threads (each a blocking connection that runs one job at a
//! time; see `consume.rs`) plus one maintenance thread that:
//! * keeps the jobs in hand claimed (`XCLAIM … JUSTID` every third of the visibility timeout),
//!   so a job that runs longer than the timeout is not taken over by another worker while this
//!   one is alive — the timeout then measures a *dead* worker, not a long job;
//! * moves retries whose backoff has passed from the delayed set back into the stream (one Lua
//!   script: atomic, so two workers never promote the same retry twice).
//!
//! Threads and blocking calls, not an event loop: a worker's work is CPU-bound by definition
//! (that is why it left the API server), each thread waits on exactly one thing, and the
//! `redis` crate's async connections would need tokio.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use ::redis::{Client, Connection, RedisResult, Script};

use super::connect;
use super::consume::{self, Consumer};
use super::wire::{self, Keys};
use crate::{PoolError, Registry};

/// Promotes due retries: `ZRANGEBYSCORE` + `ZREM` + `XADD` of the stored fields, atomically.
const PROMOTE: &str = r"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  local ok, fields = pcall(cjson.decode, member)
  if ok and type(fields) == 'table' and #fields > 0 then
    redis.call('XADD', KEYS[2], '*', unpack(fields))
  end
end
return #due
";

/// How often due retries are promoted (the resolution of a retry's backoff).
const PROMOTE_EVERY: Duration = Duration::from_millis(50);

/// Configures a [`Worker`]; [`WorkerBuilder::run`] serves until SIGTERM or SIGINT.
pub struct WorkerBuilder {
    url: String,
    queue: String,
    registry: Option<Registry>,
    concurrency: usize,
    visibility: Duration,
    max_deliveries: u64,
    poll: Duration,
    connect_timeout: Duration,
}

/// The entry point of a worker process: `Worker::builder(url)…run()` from `main`.
#[derive(Debug)]
pub struct Worker;

impl Worker {
    /// A worker of the broker at `url` (`redis://host:port/db`).
    pub fn builder(url: impl Into<String>) -> WorkerBuilder {
        WorkerBuilder {
            url: url.into(),
            queue: "waitless".into(),
            registry: None,
            concurrency: thread::available_parallelism().map_or(1, |n| n.get()),
            visibility: Duration::from_secs(30),
            max_deliveries: 5,
            poll: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(2),
        }
    }
}

impl WorkerBuilder {
    /// The queue to serve (must match the submitters' [`RedisPoolBuilder::queue`](super::RedisPoolBuilder::queue)).
    pub fn queue(mut self, name: impl Into<String>) -> Self {
        self.queue = name.into();
        self
    }

    /// The jobs this worker runs. Without it, the registry given to [`init`](crate::init).
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Jobs run at once: one consumer thread each (default: the number of CPUs).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// How long a delivered job may stay unacknowledged before another worker takes it over
    /// (default 30 s). A live worker keeps its running jobs claimed, so this bounds how long a
    /// *dead* worker's job waits, not how long a job may run.
    pub fn visibility_timeout(mut self, timeout: Duration) -> Self {
        self.visibility = timeout.max(Duration::from_millis(10));
        self
    }

    /// How many deliveries a job gets (default 5); one more and it goes to the dead-letter stream.
    pub fn max_deliveries(mut self, n: u64) -> Self {
        self.max_deliveries = n.max(1);
        self
    }

    /// How long one wait for a new job blocks (default 500 ms): the bound on how long a stop
    /// takes when no job is in hand.
    pub fn poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll.max(Duration::from_millis(1));
        self
    }

    /// Connects, creates the consumer group if needed and starts the threads.
    pub fn spawn(self) -> Result<WorkerHandle, PoolError> {
        let client = connect::client(&self.url)?;
        let keys = Keys::new(&self.queue);
        let broker = |e: ::redis::RedisError| PoolError::Broker(format!("{}: {e}", self.url));
        let mut conn =
            connect::open(&client, self.connect_timeout, Duration::ZERO).map_err(broker)?;
        connect::ensure_group(&mut conn, &keys).map_err(broker)?;
        let registry = match self.registry {
            Some(r) => RegistryRef::Owned(r),
            None => RegistryRef::Init(crate::process::REGISTRY.get().ok_or_else(|| {
                PoolError::Broker("no registry: call .registry(..) or waitless_pool::init".into())
            })?),
        };
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "host".into());
        let prefix = format!("{host}-{}", std::process::id());
        let consumers: Vec<String> = (0..self.concurrency)
            .map(|i| format!("{prefix}-{i}"))
            .collect();
        let shared = Arc::new(Shared {
            client,
            keys,
            registry,
            visibility: self.visibility,
            max_deliveries: self.max_deliveries,
            poll: self.poll,
            connect_timeout: self.connect_timeout,
            stop: AtomicBool::new(false),
            in_hand: Mutex::new(vec![None; self.concurrency]),
            consumers: consumers.clone(),
            done: AtomicU64::new(0),
        });
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let mut threads = Vec::with_capacity(self.concurrency + 1);
        for (i, name) in consumers.into_iter().enumerate() {
            let consumer = Consumer::new(Arc::clone(&shared), name, i);
            let t = thread::Builder::new()
                .name(format!("waitless-worker-{i}"))
                .spawn(move || consumer.run())
                .map_err(PoolError::Spawn)?;
            threads.push(t);
        }
        let s = Arc::clone(&shared);
        let t = thread::Builder::new()
            .name("waitless-worker-upkeep".into())
            .spawn(move || upkeep(&s, Some(conn), &stop_rx))
            .map_err(PoolError::Spawn)?;
        threads.push(t);
        Ok(WorkerHandle {
            shared,
            threads,
            stop_tx: Some(stop_tx),
        })
    }

    /// Serves until SIGTERM or SIGINT, then finishes the jobs in hand and returns.
    pub fn run(self) -> Result<(), PoolError> {
        // Before the threads exist: a SIGTERM during startup is not the default (killing) action.
        let mut signals = waitless_reactor::signal::Signals::new(&[libc::SIGTERM, libc::SIGINT])
            .map_err(PoolError::Spawn)?;
        let handle = self.spawn()?;
        let received = waitless_reactor::block_on(signals.recv());
        log::info!(
            "waitless-pool: worker got {received:?}; finishing the jobs in hand ({} busy)",
            handle.busy()
        );
        handle.stop();
        Ok(())
    }
}

impl std::fmt::Debug for WorkerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerBuilder")
            .field("url", &self.url)
            .field("queue", &self.queue)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

/// The registry a worker runs: its own, or the one given to `init`.
enum RegistryRef {
    Owned(Registry),
    Init(&'static Registry),
}

/// What a worker's threads share.
pub(crate) struct Shared {
    pub(crate) client: Client,
    pub(crate) keys: Keys,
    registry: RegistryRef,
    pub(crate) visibility: Duration,
    pub(crate) max_deliveries: u64,
    pub(crate) poll: Duration,
    pub(crate) connect_timeout: Duration,
    stop: AtomicBool,
    /// Per consumer thread: the stream entry of the job it runs.
    in_hand: Mutex<Vec<Option<String>>>,
    consumers: Vec<String>,
    done: AtomicU64,
}

impl Shared {
    pub(crate) fn registry(&self) -> &Registry {
        match &self.registry {
            RegistryRef::Owned(r) => r,
            RegistryRef::Init(r) => r,
        }
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// One more job settled (answered, dead-lettered, expired or sent to retry).
    pub(crate) fn settled(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set_in_hand(&self, index: usize, entry: Option<String>) {
        let mut slots = self.in_hand.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = slots.get_mut(index) {
            *slot = entry;
        }
    }

    fn in_hand(&self) -> Vec<(usize, String)> {
        let slots = self.in_hand.lock().unwrap_or_else(|p| p.into_inner());
        slots
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((i, e.clone()?)))
            .collect()
    }
}

/// The maintenance thread: promote due retries, keep running jobs claimed, until stopped.
fn upkeep(shared: &Shared, mut conn: Option<Connection>, stop: &mpsc::Receiver<()>) {
    let script = Script::new(PROMOTE);
    let heartbeat_every = (shared.visibility / 3).max(PROMOTE_EVERY);
    let mut since_heartbeat = Duration::ZERO;
    loop {
        match stop.recv_timeout(PROMOTE_EVERY) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        since_heartbeat += PROMOTE_EVERY;
        let c = match &mut conn {
            Some(c) => c,
            None => match connect::open(&shared.client, shared.connect_timeout, Duration::ZERO) {
                Ok(c) => conn.insert(c),
                Err(_) => continue,
            },
        };
        let promoted: RedisResult<u64> = script
            .key(&shared.keys.delayed)
            .key(&shared.keys.stream)
            .arg(wire::now_ms())
            .invoke(c);
        if let Err(e) = promoted {
            log::warn!("waitless-pool: promoting retries: {e}");
            conn = None;
            continue;
        }
        if since_heartbeat >= heartbeat_every {
            since_heartbeat = Duration::ZERO;
            for (i, entry) in shared.in_hand() {
                if let Some(consumer) = shared.consumers.get(i) {
                    consume::heartbeat(c, shared, consumer, &entry);
                }
            }
        }
    }
}

/// A running worker (from [`WorkerBuilder::spawn`]); dropping it stops it like [`stop`](Self::stop).
pub struct WorkerHandle {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    stop_tx: Option<mpsc::Sender<()>>,
}

impl WorkerHandle {
    /// Jobs this worker has settled (run, dead-lettered, expired or retried).
    pub fn jobs_done(&self) -> u64 {
        self.shared.done.load(Ordering::Relaxed)
    }

    /// Jobs running now.
    pub fn busy(&self) -> usize {
        self.shared.in_hand().len()
    }

    /// Stops taking jobs, finishes (and acknowledges) the jobs in hand, joins every thread.
    pub fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.stop_tx.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.stop_now();
    }
}

impl std::fmt::Debug for WorkerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerHandle")
            .field("consumers", &self.shared.consumers)
            .field("jobs_done", &self.jobs_done())
            .finish()
    }
}

/// Serves `registry`'s jobs from the queue `waitless` at `url` with `concurrency` threads until
/// SIGTERM/SIGINT: the one-line worker `main`.
pub fn worker(url: &str, registry: Registry, concurrency: usize) -> Result<(), PoolError> {
    Worker::builder(url)
        .registry(registry)
        .concurrency(concurrency)
        .run()
}
