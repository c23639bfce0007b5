//! The worker tier (feature `redis`): the same typed jobs as the process pool, run by workers on
//! any host, through Redis Streams and a consumer group.
//!
//! This is the seed's last step, "완전 분리 구조" (full separation: API servers and job servers
//! apart, "Celery / Queue / Batch 처리"), for when one machine's cores are not enough or a job
//! must survive the server that asked for it. A job is the same [`Job`](crate::Job) constant and
//! [`Registry`](crate::Registry) as in the process pool, so moving it to the tier changes the
//! pool, not the code: `process_pool.run(FIB, 30)` becomes `redis_pool.run(FIB, 30)`.
//!
//! ```text
//!  API server (event loop)                 Redis                         worker (any host)
//!  ───────────────────────                 ─────                         ─────────────────
//!  pool.run(FIB, 30) ─► channel ─► sender ─ XADD ─► stream <queue> ─► XREADGROUP (consumer thread)
//!                                  thread           group <queue>:workers        │ run fib(30)
//!  TierFuture ◄─ remote wake ◄─ reply ◄─ BLPOP ─ list <queue>:reply:<submitter> ◄┤ MULTI: RPUSH
//!                               thread                                           │  XACK  XDEL
//!                                        dead worker's job ── XAUTOCLAIM ────────┘ (after the
//!                                        retries ─ <queue>:delayed ─ promoted      visibility
//!                                        refused ─► <queue>:dead                   timeout)
//! ```
//!
//! **Delivery semantics: at least once.** A job is acknowledged in the same `MULTI` as its reply,
//! after it ran. A worker that dies before that leaves the job pending; after the visibility
//! timeout another worker claims it (`XAUTOCLAIM`) and runs it again. So a job may run more than
//! once (its first run died mid-way, or finished but died before acknowledging): **making a job
//! idempotent is the job's duty**. A job is delivered at most `max_deliveries` times; after that
//! it goes to the dead-letter stream `<queue>:dead` with its error, as do malformed entries,
//! unknown job names, arguments that do not decode, and retryable jobs that failed their last
//! retry. A job whose deadline (its timeout, set by the submitter) has passed is not started.
//!
//! Files: `submit.rs` ([`RedisPool`], the submitter), `conn_threads.rs` (its sender and reply
//! threads), `slots.rs` ([`TierFuture`] and the table of waiting jobs), `worker.rs` ([`Worker`]),
//! `consume.rs` (one consumer thread), `wire.rs` (entry, reply and key formats), `connect.rs`.

mod conn_threads;
mod connect;
mod consume;
mod slots;
mod submit;
mod wire;
mod worker;

pub use slots::TierFuture;
pub use submit::{JobOptions, RedisPool, RedisPoolBuilder};
pub use worker::{worker, Worker, WorkerBuilder, WorkerHandle};
