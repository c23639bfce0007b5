//! The command line shared by every waitless app (uvicorn's flags), with `WAITLESS_<NAME>`
//! environment variables as defaults.
//!
//! Precedence: a flag beats its environment variable, which beats the built-in default. Errors
//! name the flag (or variable) and the process exits with code 2, like every Unix tool.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::config::{Config, TrustedProxies};

/// How much the server logs (`--log-level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Critical,
    Error,
    Warning,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    fn parse(s: &str) -> Option<LogLevel> {
        Some(match s.to_ascii_lowercase().as_str() {
            "critical" => LogLevel::Critical,
            "error" => LogLevel::Error,
            "warning" | "warn" => LogLevel::Warning,
            "info" => LogLevel::Info,
            "debug" => LogLevel::Debug,
            "trace" => LogLevel::Trace,
            _ => return None,
        })
    }

    pub fn to_filter(self) -> log::LevelFilter {
        match self {
            LogLevel::Critical | LogLevel::Error => log::LevelFilter::Error,
            LogLevel::Warning => log::LevelFilter::Warn,
            LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Debug => log::LevelFilter::Debug,
            LogLevel::Trace => log::LevelFilter::Trace,
        }
    }
}

/// Everything the command line can set.
#[derive(Clone, Debug)]
pub struct Options {
    /// Server settings (bind address, limits, timeouts, proxy headers, access log).
    pub config: Config,
    /// Worker processes (default: available cores).
    pub workers: usize,
    /// Recycle a worker after this many requests.
    pub limit_max_requests: Option<u64>,
    pub log_level: LogLevel,
    /// Give every worker its own `SO_REUSEPORT` socket instead of one shared listener.
    pub reuse_port: bool,
}

/// What the command line asked for.
#[derive(Debug)]
pub enum Command {
    Run(Box<Options>),
    Help,
    Version,
}

/// A bad flag or environment variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CliError {
    UnknownFlag(String),
    MissingValue(String),
    InvalidValue {
        flag: String,
        value: String,
        expected: &'static str,
    },
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::UnknownFlag(flag) => write!(f, "unknown flag {flag}"),
            CliError::MissingValue(flag) => write!(f, "flag {flag} needs a value"),
            CliError::InvalidValue {
                flag,
                value,
                expected,
            } => {
                write!(f, "invalid value {value:?} for {flag}: expected {expected}")
            }
        }
    }
}

impl std::error::Error for CliError {}

/// The default worker count: the CPUs this process may run on (affinity), capped by a cgroup
/// CPU quota if one is set — what `std::thread::available_parallelism` reports on Linux.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One line per flag, for `--help`.
pub fn usage(program: &str) -> String {
    format!(
        "usage: {program} [OPTIONS]\n\
         \n\
         Every option can also be set with an environment variable WAITLESS_<NAME>\n\
         (e.g. WAITLESS_PORT=9000); a flag wins over its variable.\n\
         \n\
         \x20 --host TEXT                       bind address [default: 127.0.0.1]\n\
         \x20 --port INT                        bind port, 0 for any free port [default: 8000]\n\
         \x20 --workers INT                     worker processes [default: available cores]\n\
         \x20 --backlog INT                     listen backlog [default: 2048]\n\
         \x20 --timeout-keep-alive SECONDS      close idle keep-alive connections after this [default: 5]\n\
         \x20 --timeout-graceful-shutdown SECS  time in-flight requests get on shutdown [default: 30]\n\
         \x20 --limit-concurrency INT           connections per worker before answering 503\n\
         \x20 --limit-max-requests INT          recycle a worker after this many requests\n\
         \x20 --proxy-headers / --no-proxy-headers\n\
         \x20                                   trust X-Forwarded-For/-Proto from --forwarded-allow-ips [default: on]\n\
         \x20 --forwarded-allow-ips LIST        comma-separated addresses, or * [default: 127.0.0.1]\n\
         \x20 --log-level LEVEL                 critical|error|warning|info|debug|trace [default: info]\n\
         \x20 --access-log / --no-access-log    one log line per request [default: on]\n\
         \x20 --reuse-port                      one SO_REUSEPORT socket per worker instead of one shared listener\n\
         \x20 --version                         print the version and exit\n\
         \x20 --help                            print this help and exit"
    )
}

struct Setter {
    config: Config,
    host: String,
    port: u16,
    workers: usize,
    limit_max_requests: Option<u64>,
    log_level: LogLevel,
    reuse_port: bool,
}

fn invalid(flag: &str, value: &str, expected: &'static str) -> CliError {
    CliError::InvalidValue {
        flag: flag.to_owned(),
        value: value.to_owned(),
        expected,
    }
}

fn seconds(flag: &str, v: &str) -> Result<Duration, CliError> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| invalid(flag, v, "a number of seconds"))
}

fn boolean(flag: &str, v: &str) -> Result<bool, CliError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(invalid(flag, v, "true or false")),
    }
}

impl Setter {
    /// Applies option `name` (without dashes) with `value`; `flag` names it in errors.
    fn apply(&mut self, name: &str, value: &str, flag: &str) -> Result<(), CliError> {
        match name {
            "host" => self.host = value.to_owned(),
            "port" => {
                self.port = value
                    .parse()
                    .map_err(|_| invalid(flag, value, "a port number 0-65535"))?
            }
            "workers" => {
                self.workers = value
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| invalid(flag, value, "a positive integer"))?
            }
            "backlog" => {
                self.config.backlog = value
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| invalid(flag, value, "a positive integer"))?
            }
            "timeout-keep-alive" => self.config.keep_alive_timeout = seconds(flag, value)?,
            "timeout-graceful-shutdown" => self.config.graceful_timeout = seconds(flag, value)?,
            "limit-concurrency" => {
                self.config.limit_concurrency = Some(
                    value
                        .parse()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| invalid(flag, value, "a positive integer"))?,
                )
            }
            "limit-max-requests" => {
                self.limit_max_requests = Some(
                    value
                        .parse()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| invalid(flag, value, "a positive integer"))?,
                )
            }
            "proxy-headers" => self.config.proxy_headers = boolean(flag, value)?,
            "no-proxy-headers" => self.config.proxy_headers = !boolean(flag, value)?,
            "forwarded-allow-ips" => {
                self.config.forwarded_allow_ips = TrustedProxies::parse(value)
                    .map_err(|_| invalid(flag, value, "IP addresses separated by commas, or *"))?
            }
            "log-level" => {
                self.log_level = LogLevel::parse(value).ok_or_else(|| {
                    invalid(flag, value, "critical|error|warning|info|debug|trace")
                })?
            }
            "access-log" => self.config.access_log = boolean(flag, value)?,
            "reuse-port" => self.reuse_port = boolean(flag, value)?,
            "no-access-log" => self.config.access_log = !boolean(flag, value)?,
            _ => return Err(CliError::UnknownFlag(flag.to_owned())),
        }
        Ok(())
    }
}

/// Options that take no value on the command line.
const SWITCHES: [&str; 5] = [
    "proxy-headers",
    "no-proxy-headers",
    "access-log",
    "no-access-log",
    "reuse-port",
];
/// Every option name, for the environment variables.
const NAMES: [&str; 15] = [
    "reuse-port",
    "host",
    "port",
    "workers",
    "backlog",
    "timeout-keep-alive",
    "timeout-graceful-shutdown",
    "limit-concurrency",
    "limit-max-requests",
    "proxy-headers",
    "no-proxy-headers",
    "forwarded-allow-ips",
    "log-level",
    "access-log",
    "no-access-log",
];

/// Parses `args` (without the program name) over the `WAITLESS_*` variables in `env`.
pub fn parse<I, S>(args: I, env: impl Fn(&str) -> Option<String>) -> Result<Command, CliError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut s = Setter {
        config: Config::default(),
        host: "127.0.0.1".to_owned(),
        port: 8000,
        workers: default_workers(),
        limit_max_requests: None,
        log_level: LogLevel::Info,
        reuse_port: false,
    };
    for name in NAMES {
        let var = format!("WAITLESS_{}", name.to_ascii_uppercase().replace('-', "_"));
        if let Some(value) = env(&var) {
            s.apply(name, &value, &var)?;
        }
    }
    let mut args = args.into_iter().map(|a| a.as_ref().to_owned());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            _ => {}
        }
        let Some(body) = arg.strip_prefix("--") else {
            return Err(CliError::UnknownFlag(arg));
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (body.to_owned(), None),
        };
        let flag = format!("--{name}");
        if !NAMES.contains(&name.as_str()) {
            return Err(CliError::UnknownFlag(flag));
        }
        let value = if SWITCHES.contains(&name.as_str()) {
            inline.unwrap_or_else(|| "true".to_owned())
        } else {
            match inline.or_else(|| args.next()) {
                Some(v) => v,
                None => return Err(CliError::MissingValue(flag)),
            }
        };
        s.apply(&name, &value, &flag)?;
    }
    let ip: IpAddr = s
        .host
        .trim_matches(|c| c == '[' || c == ']')
        .parse()
        .map_err(|_| invalid("--host", &s.host, "an IP address"))?;
    s.config.bind = SocketAddr::new(ip, s.port);
    Ok(Command::Run(Box::new(Options {
        config: s.config,
        workers: s.workers,
        limit_max_requests: s.limit_max_requests,
        log_level: s.log_level,
        reuse_port: s.reuse_port,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Options, CliError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        match parse(args, |k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })? {
            Command::Run(o) => Ok(*o),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let o = run(&[], &[]).unwrap();
        assert_eq!(o.config.bind, "127.0.0.1:8000".parse().unwrap());
        assert_eq!(o.workers, default_workers());
        assert_eq!(o.config.keep_alive_timeout, Duration::from_secs(5));
        assert!(o.config.access_log);
    }

    #[test]
    fn flags_env_and_precedence() {
        let o = run(
            &[
                "--port",
                "9001",
                "--workers=3",
                "--no-access-log",
                "--timeout-keep-alive",
                "2.5",
            ],
            &[
                ("WAITLESS_PORT", "7000"),
                ("WAITLESS_BACKLOG", "64"),
                ("WAITLESS_HOST", "0.0.0.0"),
            ],
        )
        .unwrap();
        assert_eq!(o.config.bind, "0.0.0.0:9001".parse().unwrap());
        assert_eq!(o.workers, 3);
        assert_eq!(o.config.backlog, 64);
        assert!(!o.config.access_log);
        assert_eq!(o.config.keep_alive_timeout, Duration::from_millis(2500));
        let o = run(&["--host", "::1", "--limit-max-requests", "10"], &[]).unwrap();
        assert_eq!(o.config.bind, "[::1]:8000".parse().unwrap());
        assert_eq!(o.limit_max_requests, Some(10));
    }

    #[test]
    fn errors_name_the_flag() {
        assert_eq!(
            run(&["--frobnicate"], &[]).unwrap_err().to_string(),
            "unknown flag --frobnicate"
        );
        assert_eq!(
            run(&["--port"], &[]).unwrap_err().to_string(),
            "flag --port needs a value"
        );
        assert!(run(&["--port", "http"], &[])
            .unwrap_err()
            .to_string()
            .contains("--port"));
        assert!(run(&["--workers", "0"], &[])
            .unwrap_err()
            .to_string()
            .contains("--workers"));
        assert!(run(&[], &[("WAITLESS_WORKERS", "many")])
            .unwrap_err()
            .to_string()
            .contains("WAITLESS_WORKERS"));
        assert!(run(&["positional"], &[]).is_err());
    }
}
