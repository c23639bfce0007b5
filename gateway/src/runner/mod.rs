//! The multi-process runner: a supervisor and N worker processes, each one thread running one
//! executor + reactor, all serving the same port.
//!
//! This is the seed's closing formula made into a process tree — "멀티프로세스로 병렬성을
//! 확보하고, 단일 스레드 Event Loop로 동시성을 확보하며" (parallelism from processes, concurrency from a
//! single-threaded event loop in each):
//!
//! ```text
//!   supervisor (pid P: binds the port, forks, reaps, restarts, forwards signals; serves nothing)
//!   ├── worker 1  one thread: executor + reactor + Server, app built here
//!   ├── worker 2  one thread: executor + reactor + Server, app built here
//!   └── ...       (default: one per available core)
//!          all accept from the listening socket the supervisor created and keeps open
//! ```
//!
//! Workers are made with `fork` while the supervisor is still single-threaded, so each child starts
//! from a clean copy of a process that has created no reactor, no thread and no app. The app is
//! built *inside* each worker: nothing the app owns crosses processes ("메모리 공간 완전 분리").
//! See `docs/runner.md` for the choices (fork vs re-exec, shared listener vs `SO_REUSEPORT`) and
//! their measurements.

mod socket;
mod sys;

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use waitless_reactor::signal::Signals;
use waitless_reactor::{ListenOptions, TcpListener};

use crate::cli::{self, Command, Listen, Options};
use crate::config::Config;
use crate::interface::App;
use crate::server::{ServeError, Server};
use socket::Kind;

/// More than this many worker deaths ...
const CRASH_LOOP_DEATHS: usize = 5;
/// ... within this window stops the supervisor.
const CRASH_LOOP_WINDOW: Duration = Duration::from_secs(10);
/// First restart delay after a crash; doubles per recent death, capped at [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Extra time the supervisor gives workers beyond their graceful timeout before SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// Exit code of a worker whose lifespan startup failed (a crash for the supervisor).
const EXIT_STARTUP_FAILED: i32 = 3;

/// Parses the command line and environment, installs the stderr logger, and runs `make_app` in
/// worker processes. The `main` of every waitless app:
///
/// ```no_run
/// # use waitless_gateway::{App, Request, Responder};
/// # struct MyApp;
/// # impl App for MyApp { async fn call(&self, _: Request<'_>, _: Responder<'_>) {} }
/// fn main() -> std::process::ExitCode {
///     waitless_gateway::main("myapp", || MyApp)
/// }
/// ```
///
/// Call it first thing in `main`, before starting any thread: workers are forked.
pub fn main<A: App>(program: &str, make_app: impl Fn() -> A) -> ExitCode {
    let command = cli::parse(std::env::args().skip(1), |k| std::env::var(k).ok());
    match command {
        Ok(Command::Help) => {
            let _ = writeln!(io::stdout(), "{}", cli::usage(program));
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            let _ = writeln!(
                io::stdout(),
                "{program} (waitless {})",
                env!("CARGO_PKG_VERSION")
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{program}: error: {e} (see --help)");
            ExitCode::from(2)
        }
        Ok(Command::Run(options)) => {
            // `--env-file`: the app reads its settings from the environment too. No thread
            // exists yet (the runner forks later), so changing the environment is safe.
            for (key, value) in &options.env_file_vars {
                std::env::set_var(key, value);
            }
            crate::logger::init(options.log_level.to_filter());
            run(make_app, *options)
        }
    }
}

/// Runs `make_app` in `options.workers` worker processes (or in this process when it is 1),
/// supervised, until SIGTERM/SIGINT. Returns the process exit code.
pub fn run<A: App>(make_app: impl Fn() -> A, options: Options) -> ExitCode {
    match run_inner(&make_app, options) {
        Ok(code) => code,
        Err(e) => {
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run_inner<A: App>(make_app: &impl Fn() -> A, options: Options) -> io::Result<ExitCode> {
    let workers = options.workers.max(1);
    if workers > 1 && sys::thread_count() > 1 {
        return Err(io::Error::other(
            "waitless: the runner forks its workers and must be started before any other thread",
        ));
    }
    check_tls(&options.config)?;
    // Removes the `--uds` file when this function returns (in the supervisor only).
    let mut _uds_file = None;
    let (mut listeners, kind) = match &options.listen {
        Listen::Tcp => {
            let opts = ListenOptions::new()
                .backlog(options.config.backlog)
                .reuse_port(options.reuse_port);
            let first = opts.bind_std(options.config.bind)?;
            let local = local_addr(&first)?;
            // With --reuse-port every worker slot gets its own socket on the same port.
            let mut listeners = vec![first];
            if options.reuse_port {
                for _ in 1..workers {
                    listeners.push(opts.bind_std(local)?);
                }
            }
            (listeners, Kind::Tcp)
        }
        Listen::Unix(path) => {
            let listener = socket::bind_uds(path, options.config.backlog)?;
            _uds_file = Some(socket::UdsFile::new(path.clone()));
            (vec![OwnedFd::from(listener)], Kind::Unix)
        }
        Listen::Fd(fd) => {
            let (fd, kind) = socket::adopt_fd(*fd)?;
            (vec![fd], kind)
        }
    };
    let tls = options.config.tls.is_some();
    if tls && kind == Kind::Unix {
        return Err(io::Error::other(
            "--ssl-certfile: TLS is served on TCP sockets only, and --fd is a Unix socket",
        ));
    }
    let address = socket::describe(&listeners[0], kind, tls)?;
    let _ = writeln!(
        io::stdout(),
        "waitless: listening on {address} (workers: {workers})"
    );
    let _ = io::stdout().flush();

    if workers == 1 {
        log::info!("Started server process [{}]", std::process::id());
        let fd = listeners.remove(0);
        let code = worker_main(make_app, fd, kind, &options);
        return Ok(ExitCode::from(code as u8));
    }
    log::info!("Started parent process [{}]", std::process::id());
    let code = Supervisor::new(make_app, options, listeners, kind, workers).run()?;
    Ok(code)
}

/// Loads `--ssl-certfile`/`--ssl-keyfile` once in the supervisor, so a wrong path or a bad file
/// is one error line naming it before any worker is forked (and not a crash loop of workers
/// each failing the same way).
fn check_tls(config: &Config) -> io::Result<()> {
    let Some(files) = &config.tls else {
        return Ok(());
    };
    for (flag, path) in [
        ("--ssl-certfile", &files.certfile),
        ("--ssl-keyfile", &files.keyfile),
    ] {
        std::fs::File::open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{flag} {}: {e}", path.display())))?;
    }
    #[cfg(feature = "tls")]
    {
        // Its errors name the file that does not parse.
        crate::transport::tls::Acceptor::from_config(config)
            .map_err(|e| io::Error::new(e.kind(), format!("--ssl-certfile/--ssl-keyfile: {e}")))?;
        Ok(())
    }
    #[cfg(not(feature = "tls"))]
    Err(io::Error::other(
        "--ssl-certfile: this program was built without the gateway's `tls` feature",
    ))
}

/// A worker's request limit: `--limit-max-requests` plus a random `0..=jitter`, so workers
/// started together do not all recycle at the same moment (uvicorn's
/// `--limit-max-requests-jitter`). The random source only has to differ between workers: the
/// pid and the clock, mixed by splitmix64.
fn jittered_limit(limit: Option<u64>, jitter: u64) -> Option<u64> {
    let limit = limit?;
    if jitter == 0 {
        return Some(limit);
    }
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut z = (nanos ^ (u64::from(std::process::id()) << 32)).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let extra = match jitter.checked_add(1) {
        Some(range) => z % range,
        None => z,
    };
    Some(limit.saturating_add(extra))
}

fn local_addr(fd: &OwnedFd) -> io::Result<SocketAddr> {
    // A clone registered nowhere, only to ask for the bound address.
    let std_listener = std::net::TcpListener::from(fd.try_clone()?);
    std_listener.local_addr()
}

/// One worker process's life: build the app, serve until a stop signal, exit.
fn worker_main<A: App>(
    make_app: &impl Fn() -> A,
    listener: OwnedFd,
    kind: Kind,
    options: &Options,
) -> i32 {
    let mut config = options.config.clone();
    let pid = std::process::id();
    config.limit_max_requests = jittered_limit(
        options.limit_max_requests,
        options.limit_max_requests_jitter,
    );
    if let (Some(limit), true) = (
        config.limit_max_requests,
        options.limit_max_requests_jitter > 0,
    ) {
        log::info!("Worker [{pid}] recycles after {limit} requests");
    }
    let result: Result<(), ServeError> = waitless_executor::block_on(async {
        // SIGTERM or a first SIGINT: graceful shutdown, read on the loop. A second SIGINT
        // (Ctrl-C again, or the supervisor's forced stop) ends the process inside the handler,
        // even while the loop is busy.
        let mut stop = Signals::new(&[libc::SIGTERM, libc::SIGINT])?;
        stop.exit_on_repeat(libc::SIGINT, 130)?;
        let server = match kind {
            Kind::Tcp => Server::from_listener(TcpListener::from_owned(listener)?, config)?,
            Kind::Unix => Server::from_unix_listener(UnixListener::from(listener), config)?,
        };
        let shutdown = async move {
            let _ = stop.recv().await;
            log::info!("Shutting down [{pid}]");
        };
        log::info!("Waiting for application startup [{pid}]");
        server.run_until(make_app(), shutdown).await
    });
    log::logger().flush();
    match result {
        Ok(()) => {
            log::info!("Finished server process [{pid}]");
            0
        }
        Err(e @ ServeError::Startup(_)) => {
            log::error!("{e} [{pid}]");
            EXIT_STARTUP_FAILED
        }
        Err(e) => {
            log::error!("{e} [{pid}]");
            1
        }
    }
}

struct WorkerProc {
    pid: libc::pid_t,
    slot: usize,
    /// Asked to stop (rolling restart, fewer workers, recycling): its exit is not a crash.
    retiring: bool,
}

struct Supervisor<'a, F> {
    make_app: &'a F,
    options: Options,
    listeners: Vec<OwnedFd>,
    kind: Kind,
    slots: usize,
    workers: Vec<WorkerProc>,
    /// Slots waiting for a restart, and when.
    pending: Vec<(usize, Instant)>,
    deaths: VecDeque<Instant>,
    old_mask: Option<libc::sigset_t>,
    shutting_down: Option<Instant>,
}

impl<'a, A: App, F: Fn() -> A> Supervisor<'a, F> {
    fn new(
        make_app: &'a F,
        options: Options,
        listeners: Vec<OwnedFd>,
        kind: Kind,
        slots: usize,
    ) -> Self {
        Supervisor {
            make_app,
            options,
            listeners,
            kind,
            slots,
            workers: Vec::new(),
            pending: Vec::new(),
            deaths: VecDeque::new(),
            old_mask: None,
            shutting_down: None,
        }
    }

    fn listener_for(&self, slot: usize) -> Option<&OwnedFd> {
        if self.listeners.len() > 1 {
            self.listeners.get(slot)
        } else {
            self.listeners.first()
        }
    }

    fn spawn(&mut self, slot: usize) {
        let Some(listener) = self.listener_for(slot) else {
            return;
        };
        let fd: RawFd = listener.as_raw_fd();
        let _ = io::stdout().flush();
        let _ = io::stderr().flush();
        // SAFETY: the supervisor never starts a thread (checked in `run_inner`), so the process
        // is single-threaded here.
        match unsafe { sys::fork() } {
            Ok(sys::Fork::Child) => {
                if let Some(mask) = &self.old_mask {
                    sys::set_mask(mask);
                }
                sys::reset_child_signals();
                sys::die_with_parent(libc::SIGTERM);
                // SAFETY: a close-on-exec dup of a valid listening fd; the copy is owned by
                // this worker alone.
                let own = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
                let code = if own < 0 {
                    log::error!(
                        "cannot duplicate the listener: {}",
                        io::Error::last_os_error()
                    );
                    1
                } else {
                    // SAFETY: `own` is a fresh fd from dup.
                    let listener = unsafe { OwnedFd::from_raw_fd(own) };
                    log::info!("Started worker process [{}]", std::process::id());
                    worker_main(self.make_app, listener, self.kind, &self.options)
                };
                let _ = io::stdout().flush();
                std::process::exit(code);
            }
            Ok(sys::Fork::Parent(pid)) => self.workers.push(WorkerProc {
                pid,
                slot,
                retiring: false,
            }),
            Err(e) => {
                log::error!("fork failed: {e}; retrying");
                self.pending.push((slot, Instant::now() + MAX_BACKOFF));
            }
        }
    }

    fn run(mut self) -> io::Result<ExitCode> {
        self.old_mask = Some(sys::block(&sys::SUPERVISED)?);
        for slot in 0..self.slots {
            self.spawn(slot);
        }
        loop {
            if self.shutting_down.is_some() && self.workers.is_empty() {
                log::info!("Stopping parent process [{}]", std::process::id());
                return Ok(ExitCode::SUCCESS);
            }
            let now = Instant::now();
            let next = self
                .pending
                .iter()
                .map(|(_, at)| *at)
                .chain(self.shutting_down)
                .min()
                .map(|at| at.saturating_duration_since(now));
            match sys::wait_signal(&sys::SUPERVISED, next) {
                Some(libc::SIGCHLD) => {
                    while let Some((pid, exit)) = sys::reap() {
                        if let Some(code) = self.on_exit(pid, exit) {
                            return Ok(code);
                        }
                    }
                }
                Some(sig @ (libc::SIGTERM | libc::SIGINT)) => {
                    if self.shutting_down.is_some() {
                        if sig == libc::SIGINT {
                            log::warn!("Second interrupt: forcing exit");
                            self.kill_all(libc::SIGKILL);
                            return Ok(ExitCode::from(130));
                        }
                        continue;
                    }
                    log::info!("Received {}: shutting down workers", sys::signal_name(sig));
                    self.shutting_down =
                        Some(Instant::now() + self.options.config.graceful_timeout + KILL_GRACE);
                    self.pending.clear();
                    // Stop accepting at once: close the supervisor's copies of the sockets;
                    // workers close theirs as they stop.
                    self.listeners.clear();
                    self.kill_all(sig);
                }
                Some(libc::SIGHUP) if self.shutting_down.is_none() => {
                    // New workers re-read the TLS files (renewed certificates); broken ones
                    // would take the service down through the crash-loop guard, so check first.
                    if let Err(e) = check_tls(&self.options.config) {
                        log::error!(
                            "Received SIGHUP: not restarting, keeping the old workers: {e}"
                        );
                        continue;
                    }
                    log::info!("Received SIGHUP: restarting workers");
                    let old: Vec<(libc::pid_t, usize)> = self
                        .workers
                        .iter()
                        .filter(|w| !w.retiring)
                        .map(|w| (w.pid, w.slot))
                        .collect();
                    // New workers first, then retire the old ones: the shared socket (kept open
                    // here) queues any connection that arrives in between.
                    for &(_, slot) in &old {
                        self.spawn(slot);
                    }
                    for &(pid, _) in &old {
                        self.retire(pid);
                    }
                }
                Some(libc::SIGTTIN) if self.shutting_down.is_none() => {
                    let slot = self.slots;
                    if self.listeners.len() > 1 {
                        let opts = ListenOptions::new()
                            .backlog(self.options.config.backlog)
                            .reuse_port(true);
                        let addr = local_addr(&self.listeners[0])?;
                        self.listeners.push(opts.bind_std(addr)?);
                    }
                    self.slots += 1;
                    log::info!("Received SIGTTIN: {} workers", self.slots);
                    self.spawn(slot);
                }
                Some(libc::SIGTTOU) if self.shutting_down.is_none() && self.slots > 1 => {
                    self.slots -= 1;
                    let slot = self.slots;
                    log::info!("Received SIGTTOU: {} workers", self.slots);
                    self.pending.retain(|(s, _)| *s != slot);
                    let victims: Vec<libc::pid_t> = self
                        .workers
                        .iter()
                        .filter(|w| w.slot == slot)
                        .map(|w| w.pid)
                        .collect();
                    for pid in victims {
                        self.retire(pid);
                    }
                    if self.listeners.len() > 1 {
                        // Its queue goes with it: SO_REUSEPORT cannot hand queued connections on.
                        self.listeners.truncate(self.slots);
                    }
                }
                Some(_) => {}
                None => {
                    let now = Instant::now();
                    if self.shutting_down.is_some_and(|deadline| now >= deadline) {
                        log::warn!(
                            "Workers did not stop in time: killing {}",
                            self.workers.len()
                        );
                        self.kill_all(libc::SIGKILL);
                        self.shutting_down = Some(now + KILL_GRACE);
                        continue;
                    }
                    let due: Vec<usize> = self
                        .pending
                        .iter()
                        .filter(|(_, at)| *at <= now)
                        .map(|(s, _)| *s)
                        .collect();
                    self.pending.retain(|(_, at)| *at > now);
                    for slot in due {
                        if slot < self.slots {
                            self.spawn(slot);
                        }
                    }
                }
            }
        }
    }

    fn retire(&mut self, pid: libc::pid_t) {
        if let Some(w) = self.workers.iter_mut().find(|w| w.pid == pid) {
            w.retiring = true;
            sys::kill(pid, libc::SIGTERM);
        }
    }

    fn kill_all(&self, sig: libc::c_int) {
        for w in &self.workers {
            sys::kill(w.pid, sig);
        }
    }

    /// Handles a reaped child. Returns an exit code when the supervisor must stop.
    fn on_exit(&mut self, pid: libc::pid_t, exit: sys::Exit) -> Option<ExitCode> {
        let pos = self.workers.iter().position(|w| w.pid == pid)?;
        let worker = self.workers.swap_remove(pos);
        if worker.retiring || self.shutting_down.is_some() {
            log::info!("Worker [{pid}] stopped ({exit})");
            return None;
        }
        if worker.slot >= self.slots {
            return None;
        }
        if exit == sys::Exit::Code(0) {
            // A planned exit (--limit-max-requests): replace at once.
            log::info!("Worker [{pid}] recycled; starting a replacement");
            self.spawn(worker.slot);
            return None;
        }
        let now = Instant::now();
        self.deaths.push_back(now);
        while self
            .deaths
            .front()
            .is_some_and(|t| now.duration_since(*t) > CRASH_LOOP_WINDOW)
        {
            self.deaths.pop_front();
        }
        if self.deaths.len() > CRASH_LOOP_DEATHS {
            log::error!(
                "Worker [{pid}] died ({exit}): {} worker deaths within {}s, giving up",
                self.deaths.len(),
                CRASH_LOOP_WINDOW.as_secs()
            );
            self.shutting_down = Some(now);
            self.kill_all(libc::SIGKILL);
            while !self.workers.is_empty() {
                match sys::reap() {
                    Some((p, _)) => self.workers.retain(|w| w.pid != p),
                    None => {
                        sys::wait_signal(&[libc::SIGCHLD], Some(Duration::from_millis(100)));
                    }
                }
            }
            return Some(ExitCode::from(1));
        }
        let backoff = FIRST_BACKOFF
            .saturating_mul(1 << (self.deaths.len() - 1).min(10))
            .min(MAX_BACKOFF);
        log::error!(
            "Worker [{pid}] died ({exit}); restarting in {} ms",
            backoff.as_millis()
        );
        self.pending.push((worker.slot, now + backoff));
        None
    }
}

#[cfg(test)]
mod tests {
    use super::jittered_limit;

    #[test]
    fn jitter_stays_in_range() {
        assert_eq!(jittered_limit(None, 5), None);
        assert_eq!(jittered_limit(Some(100), 0), Some(100));
        for _ in 0..1000 {
            let n = jittered_limit(Some(100), 5).unwrap();
            assert!((100..=105).contains(&n), "{n}");
        }
        assert_eq!(jittered_limit(Some(u64::MAX), 5), Some(u64::MAX));
        assert!(jittered_limit(Some(1), u64::MAX).is_some());
    }
}
