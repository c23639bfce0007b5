//! What travels through Redis: the fields of a job entry, the reply element, the key names.
//!
//! Why fields and not one blob: a job entry stays readable with `XRANGE` / `redis-cli`, and a
//! malformed one (a field missing, a number that does not parse) can still be dead-lettered with
//! whatever fields it has. Arguments and results are JSON, as in the process pool, so a job's
//! `A` and `R` are the same serde types on every host.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The Redis keys of one queue (a stream, its consumer group, and the side keys).
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    /// The job stream (`XADD` by submitters, `XREADGROUP` by workers).
    pub(crate) stream: String,
    /// The consumer group every worker of the queue joins.
    pub(crate) group: String,
    /// The dead-letter stream.
    pub(crate) dead: String,
    /// Retries waiting for their backoff (a sorted set scored by due time, unix ms).
    pub(crate) delayed: String,
    /// Prefix of the submitters' reply lists.
    pub(crate) reply_prefix: String,
}

impl Keys {
    pub(crate) fn new(queue: &str) -> Keys {
        Keys {
            stream: queue.to_owned(),
            group: format!("{queue}:workers"),
            dead: format!("{queue}:dead"),
            delayed: format!("{queue}:delayed"),
            reply_prefix: format!("{queue}:reply:"),
        }
    }
}

/// Milliseconds since the Unix epoch (deadlines cross hosts, so they are wall-clock times).
pub(crate) fn now_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// One job as a stream entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct JobEntry {
    /// `<submitter>:<seq>`: unique, and the part after the last `:` is the submitter's key.
    pub(crate) id: String,
    pub(crate) job: String,
    pub(crate) args: Vec<u8>,
    /// The list the result is pushed to.
    pub(crate) reply: String,
    /// Unix ms after which the job is not started.
    pub(crate) deadline: u64,
    /// How many times a panicking job is retried (0: not retryable).
    pub(crate) retries: u32,
    /// Which attempt this entry is (0 first).
    pub(crate) attempt: u32,
    /// The first retry's delay; each further retry doubles it.
    pub(crate) backoff_ms: u64,
}

/// An entry that is not a job: what could be read of it, and why it is refused.
#[derive(Debug)]
pub(crate) struct Malformed {
    pub(crate) id: Option<String>,
    pub(crate) reply: Option<String>,
    pub(crate) reason: String,
}

impl JobEntry {
    /// The entry's field/value pairs, in `XADD` order.
    pub(crate) fn fields(&self) -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("id", self.id.clone().into_bytes()),
            ("job", self.job.clone().into_bytes()),
            ("args", self.args.clone()),
            ("reply", self.reply.clone().into_bytes()),
            ("deadline", self.deadline.to_string().into_bytes()),
            ("retries", self.retries.to_string().into_bytes()),
            ("attempt", self.attempt.to_string().into_bytes()),
            ("backoff", self.backoff_ms.to_string().into_bytes()),
        ]
    }

    /// Reads an entry's fields; any missing or unparsable field makes it [`Malformed`].
    pub(crate) fn decode(fields: &[(Vec<u8>, Vec<u8>)]) -> Result<JobEntry, Malformed> {
        let get = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name.as_bytes())
                .map(|(_, v)| v.as_slice())
        };
        let text = |name: &str| get(name).and_then(|v| std::str::from_utf8(v).ok());
        let id = text("id").map(str::to_owned);
        let reply = text("reply").map(str::to_owned);
        let malformed = |reason: String| Malformed {
            id: id.clone(),
            reply: reply.clone(),
            reason,
        };
        let number = |name: &str| -> Result<u64, Malformed> {
            text(name)
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| malformed(format!("field {name:?} missing or not a number")))
        };
        let small = |name: &str| -> Result<u32, Malformed> {
            number(name).and_then(|n| {
                u32::try_from(n).map_err(|_| malformed(format!("field {name:?} too large")))
            })
        };
        let (Some(id_text), Some(reply_text)) = (id.clone(), reply.clone()) else {
            return Err(malformed("field \"id\" or \"reply\" missing".into()));
        };
        let job = text("job").ok_or_else(|| malformed("field \"job\" missing".into()))?;
        let args = get("args").ok_or_else(|| malformed("field \"args\" missing".into()))?;
        Ok(JobEntry {
            id: id_text,
            job: job.to_owned(),
            args: args.to_vec(),
            reply: reply_text,
            deadline: number("deadline")?,
            retries: small("retries")?,
            attempt: small("attempt")?,
            backoff_ms: number("backoff")?,
        })
    }

    /// The delay before retry number `attempt + 1`: `backoff * 2^attempt`, at most an hour.
    pub(crate) fn backoff_delay(&self) -> u64 {
        let factor = 1u64 << self.attempt.min(20);
        self.backoff_ms.saturating_mul(factor).min(3_600_000)
    }
}

/// How a job ended, as the reply's status byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    Panicked,
    UnknownJob,
    Codec,
    Expired,
    DeadLettered,
    Malformed,
}

impl Status {
    fn byte(self) -> u8 {
        match self {
            Status::Ok => b'o',
            Status::Panicked => b'p',
            Status::UnknownJob => b'u',
            Status::Codec => b'c',
            Status::Expired => b'x',
            Status::DeadLettered => b'd',
            Status::Malformed => b'm',
        }
    }

    fn from_byte(b: u8) -> Option<Status> {
        Some(match b {
            b'o' => Status::Ok,
            b'p' => Status::Panicked,
            b'u' => Status::UnknownJob,
            b'c' => Status::Codec,
            b'x' => Status::Expired,
            b'd' => Status::DeadLettered,
            b'm' => Status::Malformed,
            _ => return None,
        })
    }
}

/// A reply list element: `<job id>\n<status byte><payload>` (the payload is the JSON result or an
/// error message).
pub(crate) fn encode_reply(id: &str, status: Status, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(id.len() + 2 + payload.len());
    out.extend_from_slice(id.as_bytes());
    out.push(b'\n');
    out.push(status.byte());
    out.extend_from_slice(payload);
    out
}

/// Splits a reply element into the job's sequence number (the part of its id after the last `:`),
/// its status and its payload; `None` for anything else.
pub(crate) fn decode_reply(element: &[u8]) -> Option<(u64, Status, &[u8])> {
    let newline = element.iter().position(|&b| b == b'\n')?;
    let (id, rest) = element.split_at(newline);
    let (&status, payload) = rest.get(1..)?.split_first()?;
    let seq = id.rsplit(|&b| b == b':').next()?;
    let seq = std::str::from_utf8(seq).ok()?.parse().ok()?;
    Some((seq, Status::from_byte(status)?, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> JobEntry {
        JobEntry {
            id: "host-1:42".into(),
            job: "fib".into(),
            args: b"30".to_vec(),
            reply: "q:reply:host-1".into(),
            deadline: 1_700_000_000_000,
            retries: 2,
            attempt: 1,
            backoff_ms: 100,
        }
    }

    fn as_pairs(e: &JobEntry) -> Vec<(Vec<u8>, Vec<u8>)> {
        e.fields()
            .into_iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v))
            .collect()
    }

    #[test]
    fn entry_round_trip_and_backoff() {
        let e = entry();
        assert_eq!(JobEntry::decode(&as_pairs(&e)).unwrap(), e);
        assert_eq!(e.backoff_delay(), 200);
    }

    #[test]
    fn malformed_entries_keep_what_they_can() {
        let mut pairs = as_pairs(&entry());
        pairs.retain(|(k, _)| k != b"deadline");
        let m = JobEntry::decode(&pairs).unwrap_err();
        assert_eq!(m.id.as_deref(), Some("host-1:42"));
        assert!(m.reason.contains("deadline"), "{}", m.reason);
        let m = JobEntry::decode(&[(b"junk".to_vec(), b"1".to_vec())]).unwrap_err();
        assert!(m.id.is_none() && m.reply.is_none());
    }

    #[test]
    fn reply_round_trip_and_garbage() {
        let r = encode_reply("a:b:17", Status::Ok, b"832040");
        assert_eq!(decode_reply(&r), Some((17, Status::Ok, &b"832040"[..])));
        assert_eq!(decode_reply(b"no newline"), None);
        assert_eq!(decode_reply(b"x:1\n"), None);
        assert_eq!(decode_reply(b"x:y\no1"), None);
        assert_eq!(decode_reply(b"x:1\nZ1"), None);
    }
}
