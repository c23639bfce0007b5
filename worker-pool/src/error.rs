//! The one error type of the crate: every way a job can fail to produce its value.

use std::fmt;
use std::io;

/// Why a job submitted to a [`ThreadPool`](crate::ThreadPool) or a
/// [`ProcessPool`](crate::ProcessPool) produced no value.
///
/// Every variant fails exactly one job; the pool itself keeps serving (except after
/// [`PoolError::ShutDown`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum PoolError {
    /// The bounded queue is full (back-pressure: a server maps it to 503). Nothing was queued.
    QueueFull,
    /// The job panicked; the payload's message (`&str`/`String` payloads, else a placeholder).
    Panicked(String),
    /// The pool process running the job died (abort, a signal such as SIGSEGV or SIGKILL, OOM
    /// kill, or an exit). It has been reaped and replaced.
    ProcessDied {
        /// The signal that killed it, if a signal did.
        signal: Option<i32>,
        /// Its exit code, if it exited.
        exit_code: Option<i32>,
    },
    /// The job ran longer than its timeout. In a process pool its pool process was killed and
    /// replaced; on the worker tier no answer came in time (the job may still run).
    Timeout,
    /// The pool was shut down before the job could run.
    ShutDown,
    /// No job of this name is registered (process pool).
    UnknownJob(String),
    /// The argument or the result could not be (de)serialized (process pool).
    Codec(String),
    /// A pool process sent a malformed or oversized frame; the pool process was killed and
    /// replaced.
    Protocol(String),
    /// A pool process could not be started.
    Spawn(io::Error),
    /// The broker (Redis) could not be reached or answered with an error (worker tier). Whether
    /// the job ran is unknown: it may have been queued before the connection broke.
    Broker(String),
    /// The job's deadline passed before a worker started it (worker tier); it was not run.
    Expired,
    /// The job was moved to the dead-letter stream (worker tier): it is malformed, or it was
    /// delivered too many times without an acknowledgement, or it failed on its last retry.
    DeadLettered(String),
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::QueueFull => f.write_str("the pool's queue is full"),
            PoolError::Panicked(msg) => write!(f, "the job panicked: {msg}"),
            PoolError::ProcessDied {
                signal: Some(sig), ..
            } => write!(f, "the pool process was killed by signal {sig}"),
            PoolError::ProcessDied {
                exit_code: Some(code),
                ..
            } => write!(f, "the pool process exited with code {code}"),
            PoolError::ProcessDied { .. } => f.write_str("the pool process died"),
            PoolError::Timeout => f.write_str("the job timed out"),
            PoolError::ShutDown => f.write_str("the pool is shut down"),
            PoolError::UnknownJob(name) => write!(f, "no job named {name:?} is registered"),
            PoolError::Codec(msg) => write!(f, "job argument or result encoding failed: {msg}"),
            PoolError::Protocol(msg) => write!(f, "pool process protocol error: {msg}"),
            PoolError::Spawn(e) => write!(f, "cannot start a pool process: {e}"),
            PoolError::Broker(msg) => write!(f, "broker error: {msg}"),
            PoolError::Expired => {
                f.write_str("the job's deadline passed before a worker started it")
            }
            PoolError::DeadLettered(msg) => write!(f, "the job was dead-lettered: {msg}"),
        }
    }
}

impl std::error::Error for PoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PoolError::Spawn(e) => Some(e),
            _ => None,
        }
    }
}

impl From<PoolError> for io::Error {
    fn from(e: PoolError) -> io::Error {
        let kind = match e {
            PoolError::QueueFull => io::ErrorKind::WouldBlock,
            PoolError::Timeout | PoolError::Expired => io::ErrorKind::TimedOut,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

/// The message of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
