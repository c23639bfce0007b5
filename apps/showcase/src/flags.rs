//! The showcase's own flags, taken off the command line before the rest goes to the runner's
//! CLI (`waitless_gateway::cli`), which knows only the server flags every app shares.
//!
//! Why a separate pass: the database must be chosen and created in the supervisor, before the
//! runner forks its workers, and the runner rejects flags it does not know (exit 2).

use std::fmt;
use std::path::PathBuf;

/// Lines appended to the runner's `--help`.
pub const USAGE: &str = "\
showcase options:
  --db PATH                         keep the items in this SQLite file (WAITLESS_DB)
                                    [default: a fresh file in the temp directory, removed at exit]
  --db-threads INT                  DB pool threads per worker [default: 2]
  --cpu-threads INT                 CPU thread pool threads per worker (mode=thread)
                                    [default: available cores / --workers, at least 1]
  --cpu-processes INT               process pool processes per worker (mode=process)
                                    [default: available cores / --workers, at least 1]
  --db-on-loop                      diagnostic: call SQLite on the event loop (the anti-pattern
                                    measured in docs/showcase.md); never in production
  --broker URL                      Redis URL of the worker tier: enables mode=queue (WAITLESS_BROKER)

worker mode (the same binary on any host; serves mode=queue jobs):
  showcase worker --broker URL [--concurrency INT] [--queue NAME]
                                    --concurrency: jobs at once [default: available cores]";

/// What the showcase flags set; `None` = default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShowcaseFlags {
    pub db: Option<PathBuf>,
    pub db_threads: Option<usize>,
    pub cpu_threads: Option<usize>,
    pub cpu_processes: Option<usize>,
    pub db_on_loop: bool,
    pub broker: Option<String>,
}

/// `showcase worker …`: what the worker mode is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerFlags {
    pub broker: String,
    pub concurrency: Option<usize>,
    pub queue: Option<String>,
}

/// A bad showcase flag (exit 2, like the runner's own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlagError {
    MissingValue(&'static str),
    Unknown(String),
    NotPositive { flag: &'static str, value: String },
}

impl fmt::Display for FlagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlagError::MissingValue(flag) => write!(f, "{flag} needs a value"),
            FlagError::Unknown(flag) => write!(f, "unknown flag {flag:?}"),
            FlagError::NotPositive { flag, value } => {
                write!(f, "{flag} {value:?}: expected an integer of at least 1")
            }
        }
    }
}

impl std::error::Error for FlagError {}

/// `--flag=VALUE` as (`--flag`, `Some(VALUE)`); anything else as it is, with no inline value.
fn name_and_inline(arg: &str) -> (String, Option<String>) {
    match arg.split_once('=') {
        Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
        _ => (arg.to_owned(), None),
    }
}

/// Splits `args` into the showcase's flags and everything else (in order, for the runner).
/// Accepts `--flag VALUE` and `--flag=VALUE`.
pub fn split(
    args: impl IntoIterator<Item = String>,
) -> Result<(ShowcaseFlags, Vec<String>), FlagError> {
    let mut flags = ShowcaseFlags::default();
    let mut rest = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline) = name_and_inline(&arg);
        let mut value = |flag: &'static str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or(FlagError::MissingValue(flag))
        };
        match name.as_str() {
            "--db" => flags.db = Some(PathBuf::from(value("--db")?)),
            "--db-threads" => {
                flags.db_threads = Some(positive("--db-threads", value("--db-threads")?)?)
            }
            "--cpu-threads" => {
                flags.cpu_threads = Some(positive("--cpu-threads", value("--cpu-threads")?)?)
            }
            "--cpu-processes" => {
                flags.cpu_processes = Some(positive("--cpu-processes", value("--cpu-processes")?)?)
            }
            "--db-on-loop" if inline.is_none() => flags.db_on_loop = true,
            "--broker" => flags.broker = Some(value("--broker")?),
            _ => rest.push(arg),
        }
    }
    Ok((flags, rest))
}

/// Parses the arguments after `worker`: `--broker URL` (or `WAITLESS_BROKER`), `--concurrency N`,
/// `--queue NAME`.
pub fn worker(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<WorkerFlags, FlagError> {
    let mut broker = None;
    let mut concurrency = None;
    let mut queue = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline) = name_and_inline(&arg);
        let mut value = |flag: &'static str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or(FlagError::MissingValue(flag))
        };
        match name.as_str() {
            "--broker" => broker = Some(value("--broker")?),
            "--concurrency" => {
                concurrency = Some(positive("--concurrency", value("--concurrency")?)?)
            }
            "--queue" => queue = Some(value("--queue")?),
            _ => return Err(FlagError::Unknown(arg)),
        }
    }
    let broker = broker
        .or_else(|| env("WAITLESS_BROKER"))
        .ok_or(FlagError::MissingValue("--broker"))?;
    Ok(WorkerFlags {
        broker,
        concurrency,
        queue,
    })
}

fn positive(flag: &'static str, value: String) -> Result<usize, FlagError> {
    match value.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(FlagError::NotPositive { flag, value }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn showcase_flags_are_taken_and_the_rest_kept_in_order() {
        let (flags, rest) = split(args(&[
            "--port",
            "0",
            "--db",
            "/tmp/x.db",
            "--workers",
            "2",
            "--cpu-threads=3",
            "--db-on-loop",
            "--broker=redis://127.0.0.1:6379/0",
        ]))
        .unwrap();
        assert_eq!(flags.db, Some(PathBuf::from("/tmp/x.db")));
        assert_eq!(flags.cpu_threads, Some(3));
        assert!(flags.db_on_loop);
        assert_eq!(flags.broker.as_deref(), Some("redis://127.0.0.1:6379/0"));
        assert_eq!(rest, args(&["--port", "0", "--workers", "2"]));
    }

    #[test]
    fn bad_values_name_the_flag() {
        assert_eq!(split(args(&["--db"])), Err(FlagError::MissingValue("--db")));
        let e = split(args(&["--cpu-processes", "0"])).unwrap_err();
        assert!(e.to_string().contains("--cpu-processes"));
        let e = split(args(&["--db-threads=many"])).unwrap_err();
        assert!(e.to_string().contains("--db-threads"));
    }

    #[test]
    fn worker_mode_flags() {
        let none = |_: &str| None;
        let w = worker(args(&["--broker", "redis://h/0", "--concurrency=3"]), none).unwrap();
        assert_eq!(w.broker, "redis://h/0");
        assert_eq!(w.concurrency, Some(3));
        let from_env = worker(args(&[]), |k| {
            (k == "WAITLESS_BROKER").then(|| "redis://e/1".into())
        });
        assert_eq!(from_env.unwrap().broker, "redis://e/1");
        assert_eq!(
            worker(args(&[]), none),
            Err(FlagError::MissingValue("--broker"))
        );
        assert!(matches!(
            worker(args(&["--port", "1"]), none),
            Err(FlagError::Unknown(_))
        ));
    }
}
