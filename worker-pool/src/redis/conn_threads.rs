//! A submitter's two connection threads: the sender (`XADD` in pipelined batches) and the reply
//! thread (`BLPOP` on the submitter's reply list). See `submit.rs` for why threads.
//!
//! Failure handling, so that a broker outage turns into errors and never into hangs:
//! * a failed `XADD` batch fails exactly its jobs with [`PoolError::Broker`] and drops the
//!   connection; the next batch reconnects (one attempt, bounded by the connect timeout);
//! * when the reply connection breaks, every job still waiting fails with `Broker` at once (their
//!   replies may be lost with the broker's memory); the thread reconnects with a backoff of 50 ms
//!   doubling to 1 s, and replies that were safe in Redis are delivered after it is back;
//! * every job also has its own timeout on the loop ([`PoolError::Timeout`]).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use ::redis::{Client, Connection, RedisResult};

use super::connect::{self, Backoff};
use super::slots::{Slot, Slots};
use super::wire::{self, JobEntry, Keys, Status};
use crate::PoolError;

/// Most jobs `XADD`ed in one pipeline.
const MAX_BATCH: usize = 256;
/// Most replies taken per round trip after the blocking pop.
const MAX_REPLIES: usize = 128;
/// How long one `BLPOP` waits: the reply thread notices a dropped pool within it.
const POP_WAIT: Duration = Duration::from_secs(1);

/// A job on its way to the sender thread.
pub(crate) struct Outgoing {
    pub(crate) slot: Arc<Slot>,
    pub(crate) entry: JobEntry,
}

/// What both threads need to (re)connect.
pub(crate) struct Settings {
    pub(crate) client: Client,
    pub(crate) keys: Keys,
    pub(crate) reply: String,
    pub(crate) connect_timeout: Duration,
}

/// Starts both threads (they connect on their first use).
pub(crate) fn start(
    settings: Settings,
    jobs: Receiver<Outgoing>,
    slots: Arc<Slots>,
    stop: Arc<AtomicBool>,
) -> io::Result<()> {
    let settings = Arc::new(settings);
    let s = Arc::clone(&settings);
    thread::Builder::new()
        .name("waitless-redis-send".into())
        .spawn(move || send_loop(&s, None, &jobs))?;
    thread::Builder::new()
        .name("waitless-redis-reply".into())
        .spawn(move || reply_loop(&settings, &slots, &stop))?;
    Ok(())
}

/// Until the pool is dropped (the channel closes): take what is queued, `XADD` it in one trip.
fn send_loop(s: &Settings, mut conn: Option<Connection>, jobs: &Receiver<Outgoing>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // A job whose future was dropped (or timed out) before it was sent is never sent.
        batch.retain(|job| job.slot.is_wanted());
        if batch.is_empty() {
            continue;
        }
        if let Err(e) = send_batch(s, &mut conn, &batch) {
            conn = None;
            for job in batch {
                job.slot.complete(Err(PoolError::Broker(e.to_string())));
            }
        }
    }
}

fn send_batch(s: &Settings, conn: &mut Option<Connection>, batch: &[Outgoing]) -> RedisResult<()> {
    let conn = match conn {
        Some(c) => c,
        None => conn.insert(connect::open(&s.client, s.connect_timeout, Duration::ZERO)?),
    };
    let mut pipe = ::redis::pipe();
    for job in batch {
        let cmd = pipe.cmd("XADD").arg(&s.keys.stream).arg("*");
        for (field, value) in job.entry.fields() {
            cmd.arg(field).arg(value);
        }
        cmd.ignore();
    }
    pipe.query::<()>(conn)
}

/// Until the pool is dropped: wait for replies, complete their jobs.
fn reply_loop(s: &Settings, slots: &Slots, stop: &AtomicBool) {
    let mut conn: Option<Connection> = None;
    let mut backoff = Backoff::new();
    while !stop.load(Ordering::Acquire) {
        match receive(s, &mut conn, slots) {
            Ok(()) => backoff.reset(),
            Err(e) => {
                if conn.take().is_some() {
                    log::warn!("waitless-pool: reply connection lost: {e}");
                    slots.fail_all(|| PoolError::Broker(format!("connection lost: {e}")));
                } else {
                    // Not connected and cannot connect: wait a little before the next attempt.
                    thread::sleep(backoff.next_delay());
                }
            }
        }
    }
}

fn receive(s: &Settings, conn: &mut Option<Connection>, slots: &Slots) -> RedisResult<()> {
    let conn = match conn {
        Some(c) => c,
        None => conn.insert(connect::open(&s.client, s.connect_timeout, POP_WAIT)?),
    };
    let popped: Option<(Vec<u8>, Vec<u8>)> = ::redis::cmd("BLPOP")
        .arg(&s.reply)
        .arg(POP_WAIT.as_secs_f64())
        .query(conn)?;
    let Some((_, first)) = popped else {
        return Ok(());
    };
    deliver(slots, &first);
    let more: Option<Vec<Vec<u8>>> = ::redis::cmd("LPOP")
        .arg(&s.reply)
        .arg(MAX_REPLIES)
        .query(conn)?;
    for element in more.iter().flatten() {
        deliver(slots, element);
    }
    Ok(())
}

/// Completes the job a reply element names; garbage is logged and dropped.
fn deliver(slots: &Slots, element: &[u8]) {
    let Some((seq, status, payload)) = wire::decode_reply(element) else {
        log::warn!(
            "waitless-pool: dropped a malformed reply ({} bytes)",
            element.len()
        );
        return;
    };
    let text = || String::from_utf8_lossy(payload).into_owned();
    let result = match status {
        Status::Ok => Ok(payload.to_vec()),
        Status::Panicked => Err(PoolError::Panicked(text())),
        Status::UnknownJob => Err(PoolError::UnknownJob(text())),
        Status::Codec => Err(PoolError::Codec(text())),
        Status::Expired => Err(PoolError::Expired),
        Status::DeadLettered | Status::Malformed => Err(PoolError::DeadLettered(text())),
    };
    slots.complete(seq, result);
}
