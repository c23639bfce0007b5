//! One consumer thread of a worker: take a job (new, or claimed after its visibility timeout),
//! run it, and acknowledge it together with its reply.
//!
//! Every way a job ends is one atomic `MULTI`/`EXEC` of the reply, the `XACK` and the `XDEL`
//! (plus the dead-letter `XADD` or the retry `ZADD` where they apply): either all of it happened or
//! none, so a worker that dies between running a job and acknowledging it leaves the job pending,
//! and it is delivered again — at least once, never silently lost.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use ::redis::{Connection, RedisResult, Value};

use super::connect::{self, Backoff};
use super::wire::{self, JobEntry, Status};
use super::worker::Shared;
use crate::process::frame;
use crate::process::registry::Failed;

/// How long a reply list lives after its last reply (a submitter that died leaves no garbage).
const REPLY_TTL_MS: u64 = 600_000;
/// The dead-letter stream keeps about this many entries.
const DEAD_MAX: u64 = 10_000;
/// Largest result sent back.
const MAX_RESULT: usize = frame::DEFAULT_MAX_FRAME;

/// An entry read from the stream: its stream id, its fields, how often it was delivered.
struct Delivery {
    entry_id: String,
    fields: Vec<(Vec<u8>, Vec<u8>)>,
    deliveries: u64,
}

/// What running a job gave.
enum Outcome {
    Ok(Vec<u8>),
    Unknown,
    Codec(String),
    Panicked(String),
}

/// One consumer thread's state.
pub(crate) struct Consumer {
    shared: Arc<Shared>,
    name: String,
    index: usize,
    conn: Option<Connection>,
    next_claim: Instant,
}

impl Consumer {
    pub(crate) fn new(shared: Arc<Shared>, name: String, index: usize) -> Consumer {
        Consumer {
            shared,
            name,
            index,
            conn: None,
            next_claim: Instant::now(),
        }
    }

    /// Serves jobs until the worker stops; the job in hand is always finished first.
    pub(crate) fn run(mut self) {
        let mut backoff = Backoff::new();
        while !self.shared.stopping() {
            match self.step() {
                Ok(()) => backoff.reset(),
                Err(e) if connect::is_no_group(&e) => {
                    // The broker lost the group (restarted empty): make it again.
                    if let Some(conn) = self.conn.as_mut() {
                        let _ = connect::ensure_group(conn, &self.shared.keys);
                    }
                }
                Err(e) => {
                    if self.conn.take().is_some() {
                        log::warn!("waitless-pool: worker {}: {e}", self.name);
                    }
                    thread::sleep(backoff.next_delay());
                }
            }
        }
    }

    /// One job at most: a timed-out one from another consumer first, else a new one.
    fn step(&mut self) -> RedisResult<()> {
        if self.conn.is_none() {
            let s = &self.shared;
            let mut conn = connect::open(&s.client, s.connect_timeout, s.poll)?;
            connect::ensure_group(&mut conn, &s.keys)?;
            self.conn = Some(conn);
        }
        let mut delivery = None;
        if Instant::now() >= self.next_claim {
            delivery = self.claim()?;
            if delivery.is_none() {
                self.next_claim = Instant::now() + self.shared.visibility / 2;
            }
        }
        if delivery.is_none() {
            delivery = self.read_new()?;
        }
        if let Some(d) = delivery {
            self.handle(d)?;
            self.shared.settled();
        }
        Ok(())
    }

    /// The connection `step` opened (an error, not a panic, if there is none).
    fn conn(&mut self) -> RedisResult<&mut Connection> {
        let not_connected = || io::Error::from(io::ErrorKind::NotConnected).into();
        self.conn.as_mut().ok_or_else(not_connected)
    }

    /// `XREADGROUP … COUNT 1 BLOCK poll … >`: a job no consumer has seen.
    fn read_new(&mut self) -> RedisResult<Option<Delivery>> {
        let s = Arc::clone(&self.shared);
        let reply: Value = ::redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(&s.keys.group)
            .arg(&self.name)
            .arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(u64::try_from(s.poll.as_millis()).unwrap_or(1000))
            .arg("STREAMS")
            .arg(&s.keys.stream)
            .arg(">")
            .query(self.conn()?)?;
        // [[stream, [[id, [field, value, …]]]]]
        let entry = array(&reply)
            .and_then(|streams| streams.first())
            .and_then(array)
            .and_then(|stream| stream.get(1))
            .and_then(array)
            .and_then(|entries| entries.first());
        Ok(entry.and_then(|e| parse_entry(e, 1)))
    }

    /// `XAUTOCLAIM … min-idle visibility … COUNT 1`: a job whose consumer has not acknowledged it
    /// within the visibility timeout (died, hung, lost its connection) becomes ours.
    fn claim(&mut self) -> RedisResult<Option<Delivery>> {
        let s = Arc::clone(&self.shared);
        let mut cursor = "0-0".to_owned();
        // Each call scans at most 10 pending entries: bound the scan per claim round.
        for _ in 0..16 {
            let reply: Value = ::redis::cmd("XAUTOCLAIM")
                .arg(&s.keys.stream)
                .arg(&s.keys.group)
                .arg(&self.name)
                .arg(u64::try_from(s.visibility.as_millis()).unwrap_or(u64::MAX))
                .arg(&cursor)
                .arg("COUNT")
                .arg(1)
                .query(self.conn()?)?;
            let parts = array(&reply).map(Vec::as_slice).unwrap_or_default();
            let next = parts.first().and_then(text).unwrap_or("0-0").to_owned();
            let claimed = parts.get(1).and_then(array).and_then(|e| e.first());
            // Redis 6.2 lists a claimed entry deleted meanwhile as nil: no id, nothing to run.
            let id = claimed
                .and_then(array)
                .and_then(|e| e.first())
                .and_then(text);
            if let (Some(entry), Some(id)) = (claimed, id) {
                let deliveries = self.delivery_count(id)?;
                return Ok(parse_entry(entry, deliveries));
            }
            if next == "0-0" {
                break;
            }
            cursor = next;
        }
        Ok(None)
    }

    /// How many times entry `id` was delivered (`XPENDING … id id 1`).
    fn delivery_count(&mut self, id: &str) -> RedisResult<u64> {
        let s = Arc::clone(&self.shared);
        let reply: Value = ::redis::cmd("XPENDING")
            .arg(&s.keys.stream)
            .arg(&s.keys.group)
            .arg(id)
            .arg(id)
            .arg(1)
            .query(self.conn()?)?;
        let count = array(&reply)
            .and_then(|rows| rows.first())
            .and_then(array)
            .and_then(|row| row.get(3))
            .and_then(|v| match v {
                Value::Int(n) => u64::try_from(*n).ok(),
                _ => None,
            });
        Ok(count.unwrap_or(1))
    }

    /// Decides what happens to one delivered entry, runs it if it should run, and settles it.
    fn handle(&mut self, d: Delivery) -> RedisResult<()> {
        let job = match JobEntry::decode(&d.fields) {
            Ok(job) => job,
            Err(m) => {
                let reason = format!("malformed job: {}", m.reason);
                let reply = self.own_reply(m.reply, m.id);
                return self.dead_letter(&d, &reason, reply, Status::Malformed);
            }
        };
        if !job.reply.starts_with(&self.shared.keys.reply_prefix) {
            let reason = format!("reply key {:?} is not one of this queue's", job.reply);
            return self.dead_letter(&d, &reason, None, Status::Malformed);
        }
        let max = self.shared.max_deliveries;
        if d.deliveries > max {
            let reason = format!(
                "delivered {} times without an acknowledgement (each worker died or hung past the \
                 visibility timeout); the limit is {max}",
                d.deliveries
            );
            return self.dead_letter(&d, &reason, reply_of(&job), Status::DeadLettered);
        }
        if wire::now_ms() > job.deadline {
            return self.finish(&d, &job, Status::Expired, b"");
        }
        self.shared
            .set_in_hand(self.index, Some(d.entry_id.clone()));
        let outcome = run_job(&self.shared, &job);
        self.shared.set_in_hand(self.index, None);
        match outcome {
            Outcome::Ok(result) => self.finish(&d, &job, Status::Ok, &result),
            Outcome::Unknown => {
                let reason = format!("unknown job {:?}", job.job);
                let reply = reply_of(&job);
                self.dead_letter_with(&d, &reason, reply, Status::UnknownJob, job.job.as_bytes())
            }
            Outcome::Codec(msg) => {
                let reason = format!("arguments do not decode: {msg}");
                self.dead_letter_with(&d, &reason, reply_of(&job), Status::Codec, msg.as_bytes())
            }
            Outcome::Panicked(msg) if job.attempt < job.retries => self.retry(&d, &job, &msg),
            Outcome::Panicked(msg) if job.retries > 0 => {
                let reason = format!("failed on its last retry ({}): {msg}", job.retries);
                self.dead_letter_with(
                    &d,
                    &reason,
                    reply_of(&job),
                    Status::Panicked,
                    msg.as_bytes(),
                )
            }
            Outcome::Panicked(msg) => self.finish(&d, &job, Status::Panicked, msg.as_bytes()),
        }
    }

    /// Reply, acknowledge, delete: atomically.
    fn finish(
        &mut self,
        d: &Delivery,
        job: &JobEntry,
        status: Status,
        payload: &[u8],
    ) -> RedisResult<()> {
        let mut pipe = ::redis::pipe();
        pipe.atomic();
        push_reply(&mut pipe, &job.reply, &job.id, status, payload);
        self.ack(&mut pipe, d);
        pipe.query::<()>(self.conn()?)
    }

    /// Back into the queue after the backoff: a retry waits in the delayed set until it is due.
    fn retry(&mut self, d: &Delivery, job: &JobEntry, error: &str) -> RedisResult<()> {
        let mut next = job.clone();
        next.attempt += 1;
        let due = wire::now_ms().saturating_add(job.backoff_delay());
        let member = delayed_member(&next);
        log::info!(
            "waitless-pool: job {} panicked ({error}); retry {} of {} in {} ms",
            job.id,
            next.attempt,
            job.retries,
            job.backoff_delay()
        );
        let mut pipe = ::redis::pipe();
        pipe.atomic();
        pipe.cmd("ZADD")
            .arg(&self.shared.keys.delayed)
            .arg(due)
            .arg(member)
            .ignore();
        self.ack(&mut pipe, d);
        pipe.query::<()>(self.conn()?)
    }

    fn dead_letter(
        &mut self,
        d: &Delivery,
        reason: &str,
        reply: Option<(String, String)>,
        status: Status,
    ) -> RedisResult<()> {
        self.dead_letter_with(d, reason, reply, status, reason.as_bytes())
    }

    /// To the dead-letter stream with the error, the delivery count and every original field;
    /// the submitter (if the entry says who it is) gets `status` and `payload`.
    fn dead_letter_with(
        &mut self,
        d: &Delivery,
        reason: &str,
        reply: Option<(String, String)>,
        status: Status,
        payload: &[u8],
    ) -> RedisResult<()> {
        log::warn!("waitless-pool: dead-lettered {}: {reason}", d.entry_id);
        let mut pipe = ::redis::pipe();
        pipe.atomic();
        let cmd = pipe
            .cmd("XADD")
            .arg(&self.shared.keys.dead)
            .arg("MAXLEN")
            .arg("~")
            .arg(DEAD_MAX)
            .arg("*")
            .arg("error")
            .arg(reason)
            .arg("entry")
            .arg(&d.entry_id)
            .arg("deliveries")
            .arg(d.deliveries)
            .arg("worker")
            .arg(&self.name);
        for (field, value) in &d.fields {
            cmd.arg(field.as_slice()).arg(value.as_slice());
        }
        cmd.ignore();
        if let Some((reply_key, id)) = reply {
            push_reply(&mut pipe, &reply_key, &id, status, payload);
        }
        self.ack(&mut pipe, d);
        pipe.query::<()>(self.conn()?)
    }

    /// Where a malformed entry's error may be sent: only to a reply list of this queue (an entry
    /// must not make the worker push into an arbitrary key).
    fn own_reply(&self, reply: Option<String>, id: Option<String>) -> Option<(String, String)> {
        let prefix = &self.shared.keys.reply_prefix;
        reply.filter(|r| r.starts_with(prefix)).zip(id)
    }

    fn ack(&self, pipe: &mut ::redis::Pipeline, d: &Delivery) {
        let keys = &self.shared.keys;
        pipe.cmd("XACK")
            .arg(&keys.stream)
            .arg(&keys.group)
            .arg(&d.entry_id)
            .ignore();
        pipe.cmd("XDEL").arg(&keys.stream).arg(&d.entry_id).ignore();
    }
}

fn reply_of(job: &JobEntry) -> Option<(String, String)> {
    Some((job.reply.clone(), job.id.clone()))
}

fn push_reply(pipe: &mut ::redis::Pipeline, key: &str, id: &str, status: Status, payload: &[u8]) {
    pipe.cmd("RPUSH")
        .arg(key)
        .arg(wire::encode_reply(id, status, payload))
        .ignore();
    pipe.cmd("PEXPIRE").arg(key).arg(REPLY_TTL_MS).ignore();
}

/// A retry in the delayed set: the entry's fields as a flat JSON array of strings, which the
/// promotion script turns back into an `XADD` (unique per job and attempt).
fn delayed_member(job: &JobEntry) -> String {
    let flat: Vec<String> = job
        .fields()
        .into_iter()
        .flat_map(|(k, v)| [k.to_owned(), String::from_utf8_lossy(&v).into_owned()])
        .collect();
    serde_json::to_string(&flat).unwrap_or_default()
}

/// Runs the registered function, catching a panic.
fn run_job(shared: &Shared, job: &JobEntry) -> Outcome {
    let Some(f) = shared.registry().get(job.job.as_bytes()) else {
        return Outcome::Unknown;
    };
    let mut out = Vec::new();
    match catch_unwind(AssertUnwindSafe(|| f(&job.args, &mut out, MAX_RESULT))) {
        // The registry writes a process-pool response frame: length, status, JSON.
        Ok(Ok(())) => Outcome::Ok(out.get(frame::HEADER + 1..).unwrap_or_default().to_vec()),
        Ok(Err(Failed(status, msg))) if status == frame::CODEC => Outcome::Codec(msg),
        Ok(Err(Failed(_, msg))) => Outcome::Panicked(msg),
        Err(payload) => Outcome::Panicked(crate::error::panic_message(&*payload)),
    }
}

fn array(v: &Value) -> Option<&Vec<Value>> {
    match v {
        Value::Array(items) | Value::Set(items) => Some(items),
        _ => None,
    }
}

fn text(v: &Value) -> Option<&str> {
    match v {
        Value::BulkString(b) => std::str::from_utf8(b).ok(),
        Value::SimpleString(s) => Some(s),
        _ => None,
    }
}

fn bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b.clone()),
        Value::SimpleString(s) => Some(s.clone().into_bytes()),
        Value::Int(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}

/// `[id, [field, value, …]]` (fields `nil` when the entry was deleted meanwhile).
fn parse_entry(entry: &Value, deliveries: u64) -> Option<Delivery> {
    let parts = array(entry)?;
    let entry_id = text(parts.first()?)?.to_owned();
    let flat = parts.get(1).and_then(array).cloned().unwrap_or_default();
    let fields = flat
        .chunks(2)
        .filter_map(|kv| Some((bytes(kv.first()?)?, bytes(kv.get(1)?)?)))
        .collect();
    Some(Delivery {
        entry_id,
        fields,
        deliveries,
    })
}

/// The stream entry the heartbeat keeps claimed while its job runs.
pub(crate) fn heartbeat(conn: &mut Connection, shared: &Shared, consumer: &str, entry: &str) {
    let touched: RedisResult<Value> = ::redis::cmd("XCLAIM")
        .arg(&shared.keys.stream)
        .arg(&shared.keys.group)
        .arg(consumer)
        .arg(0)
        .arg(entry)
        .arg("JUSTID")
        .query(conn);
    if let Err(e) = touched {
        log::warn!("waitless-pool: heartbeat of {entry}: {e}");
    }
}
