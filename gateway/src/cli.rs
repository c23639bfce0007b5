//! The command line shared by every waitless app (uvicorn's flags), with `WAITLESS_<NAME>`
//! environment variables as defaults.
//!
//! Precedence: a flag beats its environment variable, which beats a line of the `--env-file`,
//! which beats the built-in default. Errors name the flag (or variable) and the process exits
//! with code 2, like every Unix tool.
//!
//! Why the environment variables: a container or a systemd unit configures a server with its
//! environment more easily than with its command line; uvicorn reads `UVICORN_*` the same way.
//! Why parsing is a pure function of the arguments and an environment lookup: every rule here is
//! unit-tested without touching the process environment (the runner applies `--env-file`'s
//! variables to the process itself, for the app, after parsing).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Config, TlsFiles, TrustedProxies};

/// How much the server logs (`--log-level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// Only critical failures (logged at `error`: the `log` crate has no higher level).
    Critical,
    /// Errors.
    Error,
    /// Warnings and errors.
    Warning,
    /// Start-up, shutdown and access lines (the default).
    Info,
    /// Diagnostics.
    Debug,
    /// Everything.
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

    /// The `log` filter for this level.
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
    /// How much the server logs (`--log-level`).
    pub log_level: LogLevel,
    /// Give every worker its own `SO_REUSEPORT` socket instead of one shared listener.
    pub reuse_port: bool,
    /// Where to listen: `config.bind`, a Unix socket (`--uds`) or an inherited fd (`--fd`).
    pub listen: Listen,
    /// Each worker recycles after `limit_max_requests` plus a random `0..=jitter` requests, so
    /// workers started together do not all restart together.
    pub limit_max_requests_jitter: u64,
    /// The `--env-file` variables that the real environment does not set, in file order: the
    /// runner exports them to the process so the app sees them too.
    pub env_file_vars: Vec<(String, String)>,
}

/// Where the server listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    /// TCP on `config.bind` (`--host`/`--port`).
    Tcp,
    /// A Unix domain socket at this path (`--uds`), created by the supervisor.
    Unix(PathBuf),
    /// An already open listening socket, TCP or Unix (`--fd`), e.g. from systemd or a test.
    Fd(RawFd),
}

/// What the command line asked for.
#[derive(Debug)]
pub enum Command {
    /// Serve with these options.
    Run(Box<Options>),
    /// `--help`: print the usage.
    Help,
    /// `--version`: print the version.
    Version,
}

/// A bad flag or environment variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CliError {
    /// A flag no waitless app knows.
    UnknownFlag(String),
    /// A flag that needs a value was last.
    MissingValue(String),
    /// A value that does not parse.
    InvalidValue {
        /// The flag (or environment variable).
        flag: String,
        /// What was given.
        value: String,
        /// What was expected, in words.
        expected: &'static str,
    },
    /// A file named by a flag cannot be used (`--env-file`).
    File {
        /// The flag that named it.
        flag: String,
        /// The path given.
        path: String,
        /// Why it cannot be used.
        error: String,
    },
    /// Two settings that cannot go together, or one that needs another.
    Conflict(String),
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
            CliError::File { flag, path, error } => write!(f, "{flag} {path}: {error}"),
            CliError::Conflict(what) => f.write_str(what),
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
         \x20 --uds PATH                        listen on a Unix domain socket instead of --host/--port\n\
         \x20 --fd INT                          serve on this already open listening socket (TCP or Unix)\n\
         \x20 --root-path TEXT                  the app's mount prefix behind a proxy (scope root_path) [default: \"\"]\n\
         \x20 --header NAME:VALUE               add this header to every response; repeatable\n\
         \x20                                   (WAITLESS_HEADER: one per line) [default: none]\n\
         \x20 --server-header / --no-server-header\n\
         \x20                                   send `Server: waitless` [default: on]\n\
         \x20 --date-header / --no-date-header  send `Date` [default: on]\n\
         \x20 --env-file PATH                   load KEY=VALUE lines into the environment first;\n\
         \x20                                   real environment variables win [default: none]\n\
         \x20 --limit-max-requests-jitter INT   add a random 0..=INT to each worker's --limit-max-requests [default: 0]\n\
         \x20 --ssl-certfile PATH               serve HTTPS with this PEM certificate chain (needs --ssl-keyfile)\n\
         \x20 --ssl-keyfile PATH                the PEM private key for --ssl-certfile [default: none]\n\
         \x20 --timeout-body-read SECONDS       longest idle gap while reading a request body, then 408 [default: 10]\n\
         \x20 --timeout-send SECONDS            close a connection whose writes make no progress this long [default: 30]\n\
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
    uds: Option<PathBuf>,
    fd: Option<RawFd>,
    jitter: u64,
    certfile: Option<PathBuf>,
    keyfile: Option<PathBuf>,
    /// `--header` flags replace the headers of `WAITLESS_HEADER` (a flag wins over its variable).
    headers_from_flags: bool,
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

/// Headers the server writes itself on every response: an extra copy would contradict them.
const MANAGED_HEADERS: [&str; 4] = ["content-length", "transfer-encoding", "connection", "date"];

/// Parses one `NAME:VALUE` of `--header`.
fn header(flag: &str, v: &str) -> Result<(String, String), CliError> {
    let Some((name, value)) = v.split_once(':') else {
        return Err(invalid(flag, v, "NAME:VALUE"));
    };
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    if !Config::valid_header(name, value) {
        return Err(invalid(
            flag,
            v,
            "NAME:VALUE with a header name (letters, digits, !#$%&'*+-.^_`|~) and a value without control characters",
        ));
    }
    if MANAGED_HEADERS.iter().any(|m| m.eq_ignore_ascii_case(name)) {
        return Err(invalid(
            flag,
            v,
            "a header the server does not write itself (not Content-Length, Transfer-Encoding, Connection or Date)",
        ));
    }
    Ok((name.to_owned(), value.to_owned()))
}

fn path(flag: &str, v: &str) -> Result<PathBuf, CliError> {
    if v.is_empty() {
        return Err(invalid(flag, v, "a path"));
    }
    Ok(PathBuf::from(v))
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
            "uds" => self.uds = Some(path(flag, value)?),
            "fd" => {
                self.fd = Some(
                    value
                        .parse()
                        .ok()
                        .filter(|n| *n >= 0)
                        .ok_or_else(|| invalid(flag, value, "a file descriptor number"))?,
                )
            }
            "root-path" => {
                if !(value.is_empty() || value.starts_with('/') && !value.ends_with('/')) {
                    return Err(invalid(
                        flag,
                        value,
                        "a path starting with / and not ending with / (or empty)",
                    ));
                }
                self.config.root_path = value.to_owned();
            }
            "header" => {
                if flag.starts_with("--") {
                    if !self.headers_from_flags {
                        self.config.headers.clear();
                        self.headers_from_flags = true;
                    }
                    self.config.headers.push(header(flag, value)?);
                } else {
                    // The variable holds one header per line.
                    for line in value.lines().filter(|l| !l.trim().is_empty()) {
                        self.config.headers.push(header(flag, line)?);
                    }
                }
            }
            "server-header" => self.config.server_header = boolean(flag, value)?,
            "no-server-header" => self.config.server_header = !boolean(flag, value)?,
            "date-header" => self.config.date_header = boolean(flag, value)?,
            "no-date-header" => self.config.date_header = !boolean(flag, value)?,
            // Read before everything else (see `parse`); nothing left to do here.
            "env-file" => {}
            "limit-max-requests-jitter" => {
                self.jitter = value
                    .parse()
                    .map_err(|_| invalid(flag, value, "a non-negative integer"))?
            }
            "ssl-certfile" => self.certfile = Some(path(flag, value)?),
            "ssl-keyfile" => self.keyfile = Some(path(flag, value)?),
            "timeout-body-read" => self.config.body_read_timeout = seconds(flag, value)?,
            "timeout-send" => self.config.send_timeout = seconds(flag, value)?,
            _ => return Err(CliError::UnknownFlag(flag.to_owned())),
        }
        Ok(())
    }
}

/// Options that take no value on the command line.
const SWITCHES: [&str; 9] = [
    "proxy-headers",
    "no-proxy-headers",
    "access-log",
    "no-access-log",
    "reuse-port",
    "server-header",
    "no-server-header",
    "date-header",
    "no-date-header",
];
/// Every option name, for the environment variables.
const NAMES: [&str; 29] = [
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
    "uds",
    "fd",
    "root-path",
    "header",
    "server-header",
    "no-server-header",
    "date-header",
    "no-date-header",
    "env-file",
    "limit-max-requests-jitter",
    "ssl-certfile",
    "ssl-keyfile",
    "timeout-body-read",
    "timeout-send",
];

fn var_name(name: &str) -> String {
    format!("WAITLESS_{}", name.to_ascii_uppercase().replace('-', "_"))
}

/// Reads an `--env-file` with python-dotenv's rules (what uvicorn uses): `KEY=VALUE` lines,
/// `#` comments, blank lines, an optional `export `, single or double quotes, `${VAR}`.
fn read_env_file(flag: &str, path: &str) -> Result<Vec<(String, String)>, CliError> {
    let fail = |e: &dyn fmt::Display| CliError::File {
        flag: flag.to_owned(),
        path: path.to_owned(),
        error: e.to_string(),
    };
    dotenvy::from_path_iter(path)
        .map_err(|e| fail(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(&e))
}

/// Parses `args` (without the program name) over the `WAITLESS_*` variables in `env`.
pub fn parse<I, S>(args: I, env: impl Fn(&str) -> Option<String>) -> Result<Command, CliError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    // 1. The command line, split into (name, value, flag); `--help` wins over anything after.
    let mut given: Vec<(String, String, String)> = Vec::new();
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
        given.push((name, value, flag));
    }

    // 2. The env file, before any WAITLESS_* variable is read: its lines count as environment
    //    variables, below the real ones (python-dotenv's default, which uvicorn uses).
    let env_file = match given.iter().rev().find(|(name, ..)| name == "env-file") {
        Some((_, path, flag)) => Some((flag.clone(), path.clone())),
        None => env(&var_name("env-file")).map(|path| (var_name("env-file"), path)),
    };
    let file_vars = match &env_file {
        Some((flag, path)) => read_env_file(flag, path)?,
        None => Vec::new(),
    };
    let lookup = |k: &str| {
        env(k).or_else(|| {
            file_vars
                .iter()
                .rev() // a later line wins, as when python-dotenv sets them in order
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        })
    };

    // 3. Defaults, then variables, then flags.
    let mut s = Setter {
        config: Config::default(),
        host: "127.0.0.1".to_owned(),
        port: 8000,
        workers: default_workers(),
        limit_max_requests: None,
        log_level: LogLevel::Info,
        reuse_port: false,
        uds: None,
        fd: None,
        jitter: 0,
        certfile: None,
        keyfile: None,
        headers_from_flags: false,
    };
    for name in NAMES {
        let var = var_name(name);
        if let Some(value) = lookup(&var) {
            s.apply(name, &value, &var)?;
        }
    }
    for (name, value, flag) in &given {
        s.apply(name, value, flag)?;
    }

    // 4. Settings that depend on each other.
    let ip: IpAddr = s
        .host
        .trim_matches(|c| c == '[' || c == ']')
        .parse()
        .map_err(|_| invalid("--host", &s.host, "an IP address"))?;
    s.config.bind = SocketAddr::new(ip, s.port);
    let listen = match (s.uds, s.fd) {
        (Some(_), Some(_)) => {
            return Err(CliError::Conflict(
                "--uds and --fd cannot be used together".to_owned(),
            ))
        }
        (Some(path), None) => Listen::Unix(path),
        (None, Some(fd)) => Listen::Fd(fd),
        (None, None) => Listen::Tcp,
    };
    if s.reuse_port && listen != Listen::Tcp {
        return Err(CliError::Conflict(
            "--reuse-port needs --host/--port (not --uds or --fd)".to_owned(),
        ));
    }
    s.config.tls = match (s.certfile, s.keyfile) {
        (Some(certfile), Some(keyfile)) => Some(TlsFiles { certfile, keyfile }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(CliError::Conflict(
                "--ssl-certfile needs --ssl-keyfile".to_owned(),
            ))
        }
        (None, Some(_)) => {
            return Err(CliError::Conflict(
                "--ssl-keyfile needs --ssl-certfile".to_owned(),
            ))
        }
    };
    if s.config.tls.is_some() && matches!(listen, Listen::Unix(_)) {
        return Err(CliError::Conflict(
            "--ssl-certfile serves TLS on TCP only, not on --uds".to_owned(),
        ));
    }
    // A `Server` header given with `--header` replaces ours, as in uvicorn.
    if s.config
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("server"))
    {
        s.config.server_header = false;
    }
    let env_file_vars = file_vars
        .iter()
        .filter(|(k, _)| env(k).is_none())
        .cloned()
        .collect();
    Ok(Command::Run(Box::new(Options {
        config: s.config,
        workers: s.workers,
        limit_max_requests: s.limit_max_requests,
        log_level: s.log_level,
        reuse_port: s.reuse_port,
        listen,
        limit_max_requests_jitter: s.jitter,
        env_file_vars,
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

    fn err(args: &[&str], env: &[(&str, &str)]) -> String {
        run(args, env).unwrap_err().to_string()
    }

    #[test]
    fn uds_and_fd() {
        let o = run(&["--uds", "/tmp/app.sock"], &[]).unwrap();
        assert_eq!(o.listen, Listen::Unix("/tmp/app.sock".into()));
        let o = run(&[], &[("WAITLESS_FD", "3")]).unwrap();
        assert_eq!(o.listen, Listen::Fd(3));
        assert_eq!(run(&[], &[]).unwrap().listen, Listen::Tcp);
        assert!(err(&["--fd", "-1"], &[]).contains("--fd"));
        assert!(err(&["--fd", "three"], &[]).contains("--fd"));
        assert!(err(&["--uds", ""], &[]).contains("--uds"));
        assert_eq!(
            err(&["--uds", "/tmp/a", "--fd", "3"], &[]),
            "--uds and --fd cannot be used together"
        );
        assert!(err(&["--uds", "/tmp/a", "--reuse-port"], &[]).contains("--reuse-port"));
        assert!(err(&["--fd", "3", "--reuse-port"], &[]).contains("--reuse-port"));
    }

    #[test]
    fn root_path() {
        assert_eq!(run(&[], &[]).unwrap().config.root_path, "");
        let o = run(&["--root-path", "/api/v1"], &[]).unwrap();
        assert_eq!(o.config.root_path, "/api/v1");
        assert!(err(&["--root-path", "api"], &[]).contains("--root-path"));
        assert!(err(&["--root-path", "/api/"], &[]).contains("--root-path"));
    }

    #[test]
    fn headers_repeat_validate_and_flags_replace_the_variable() {
        let o = run(
            &["--header", "X-Frame-Options: DENY", "--header=x-a:b:c"],
            &[("WAITLESS_HEADER", "X-From-Env: 1")],
        )
        .unwrap();
        assert_eq!(
            o.config.headers,
            vec![
                ("X-Frame-Options".to_owned(), "DENY".to_owned()),
                ("x-a".to_owned(), "b:c".to_owned())
            ]
        );
        assert!(o.config.server_header);
        let o = run(&[], &[("WAITLESS_HEADER", "X-A: 1\nX-B: 2\n")]).unwrap();
        assert_eq!(o.config.headers.len(), 2);
        for bad in [
            "novalue",
            "bad name:1",
            ":v",
            "x:a\u{7}b",
            "Content-Length: 5",
            "date:x",
        ] {
            let e = err(&["--header", bad], &[]);
            assert!(
                e.starts_with("invalid value") && e.contains("--header"),
                "{bad}: {e}"
            );
        }
        // A Server header of our own replaces the default one, as in uvicorn.
        let o = run(&["--header", "server:edge"], &[]).unwrap();
        assert!(!o.config.server_header);
    }

    #[test]
    fn server_and_date_header_switches() {
        let o = run(&[], &[]).unwrap();
        assert!(o.config.server_header && o.config.date_header);
        let o = run(&["--no-server-header", "--no-date-header"], &[]).unwrap();
        assert!(!o.config.server_header && !o.config.date_header);
        let o = run(&["--server-header"], &[("WAITLESS_NO_DATE_HEADER", "true")]).unwrap();
        assert!(o.config.server_header && !o.config.date_header);
        assert!(err(&["--no-date-header=maybe"], &[]).contains("--no-date-header"));
    }

    #[test]
    fn jitter_and_timeouts() {
        let o = run(&[], &[]).unwrap();
        assert_eq!(o.limit_max_requests_jitter, 0);
        assert_eq!(o.config.body_read_timeout, Duration::from_secs(10));
        assert_eq!(o.config.send_timeout, Duration::from_secs(30));
        let o = run(
            &[
                "--limit-max-requests-jitter",
                "7",
                "--timeout-body-read",
                "2.5",
                "--timeout-send=4",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(o.limit_max_requests_jitter, 7);
        assert_eq!(o.config.body_read_timeout, Duration::from_millis(2500));
        assert_eq!(o.config.send_timeout, Duration::from_secs(4));
        assert!(err(&["--limit-max-requests-jitter", "-1"], &[])
            .contains("--limit-max-requests-jitter"));
        assert!(err(&["--timeout-body-read", "soon"], &[]).contains("--timeout-body-read"));
        assert!(err(&["--timeout-send", "-3"], &[]).contains("--timeout-send"));
    }

    #[test]
    fn ssl_files_come_in_pairs() {
        let o = run(&["--ssl-certfile", "c.pem", "--ssl-keyfile", "k.pem"], &[]).unwrap();
        assert_eq!(
            o.config.tls,
            Some(TlsFiles {
                certfile: "c.pem".into(),
                keyfile: "k.pem".into()
            })
        );
        assert_eq!(
            err(&["--ssl-certfile", "c.pem"], &[]),
            "--ssl-certfile needs --ssl-keyfile"
        );
        assert_eq!(
            err(&[], &[("WAITLESS_SSL_KEYFILE", "k.pem")]),
            "--ssl-keyfile needs --ssl-certfile"
        );
        assert!(err(
            &[
                "--ssl-certfile",
                "c",
                "--ssl-keyfile",
                "k",
                "--uds",
                "/tmp/s"
            ],
            &[]
        )
        .contains("--uds"));
    }

    #[test]
    fn env_file_sits_below_the_real_environment() {
        let dir = std::env::temp_dir().join(format!("waitless-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("test.env");
        std::fs::write(
            &file,
            "# a comment\n\nexport WAITLESS_PORT=9100\nWAITLESS_HOST='0.0.0.0'\n\
             WAITLESS_WORKERS=\"3\"\nAPP_SECRET=s3cret # trailing comment\n",
        )
        .unwrap();
        let path = file.to_str().unwrap();
        let o = run(&["--env-file", path], &[("WAITLESS_WORKERS", "2")]).unwrap();
        assert_eq!(o.config.bind, "0.0.0.0:9100".parse().unwrap());
        assert_eq!(o.workers, 2, "the real variable wins over the file");
        // What the runner exports for the app: the file's lines the environment lacks.
        assert!(o
            .env_file_vars
            .contains(&("APP_SECRET".to_owned(), "s3cret".to_owned())));
        assert!(!o.env_file_vars.iter().any(|(k, _)| k == "WAITLESS_WORKERS"));
        // A flag still beats the file; the file can come from the variable too.
        let o = run(&["--port", "9200"], &[("WAITLESS_ENV_FILE", path)]).unwrap();
        assert_eq!(o.config.bind.port(), 9200);
        assert_eq!(o.config.bind.ip().to_string(), "0.0.0.0");
        // Missing or malformed files name the flag and the path.
        let e = err(&["--env-file", "/nonexistent/.env"], &[]);
        assert!(e.starts_with("--env-file /nonexistent/.env: "), "{e}");
        std::fs::write(&file, "NOT A VALID LINE\n").unwrap();
        let e = err(&[], &[("WAITLESS_ENV_FILE", path)]);
        assert!(e.starts_with("WAITLESS_ENV_FILE "), "{e}");
        // A bad value from the file is reported under its variable name.
        std::fs::write(&file, "WAITLESS_PORT=http\n").unwrap();
        assert!(err(&["--env-file", path], &[]).contains("WAITLESS_PORT"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn help_lists_every_flag() {
        let help = usage("app");
        for name in NAMES {
            assert!(help.contains(&format!("--{name}")), "--help lacks --{name}");
        }
    }
}
