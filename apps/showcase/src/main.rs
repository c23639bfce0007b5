//! The `showcase` binary: the runner's CLI (`--host`, `--port`, `--workers`, …) plus `--db` and
//! the pool sizes.
//!
//! ```sh
//! cargo run --release -p showcase                 # http://127.0.0.1:8000, one worker per core
//! cargo run --release -p showcase -- --db items.db --workers 2
//! cargo run --release -p showcase -- --broker redis://127.0.0.1:6379/0     # mode=queue on
//! cargo run --release -p showcase -- worker --broker redis://127.0.0.1:6379/0 --concurrency 2
//! ```
//!
//! Order matters here, and each step says why: the process pool's `init` first (its workers
//! re-execute this binary), then the flags, then the database (created in the supervisor, before
//! the runner forks, so every worker opens the same file), then the runner; the temporary
//! database is removed when the runner returns — in the supervisor only.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use showcase::database::{self, TempDatabase};
use showcase::flags::{self, ShowcaseFlags};
use showcase::Settings;
use waitless_gateway::cli::{self, Command, Options};

const PROGRAM: &str = "showcase";

fn main() -> ExitCode {
    // A process-pool worker stops here: it serves fib jobs and never returns.
    waitless_pool::init(showcase::fib::registry());

    // Worker mode: serve the tier's fib jobs (the registry is the one `init` was given).
    if std::env::args().nth(1).as_deref() == Some("worker") {
        return worker(std::env::args().skip(2));
    }

    let (ours, rest) = match flags::split(std::env::args().skip(1)) {
        Ok(split) => split,
        Err(e) => return usage_error(&e),
    };
    match cli::parse(rest, |k| std::env::var(k).ok()) {
        Ok(Command::Help) => {
            let usage = cli::usage(PROGRAM);
            let _ = writeln!(std::io::stdout(), "{usage}\n{}", flags::USAGE);
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            let version = env!("CARGO_PKG_VERSION");
            let _ = writeln!(std::io::stdout(), "{PROGRAM} (waitless {version})");
            ExitCode::SUCCESS
        }
        Err(e) => usage_error(&e),
        Ok(Command::Run(options)) => serve(ours, *options),
    }
}

fn worker(args: impl Iterator<Item = String>) -> ExitCode {
    let flags = match flags::worker(args, |k| std::env::var(k).ok()) {
        Ok(flags) => flags,
        Err(e) => return usage_error(&e),
    };
    waitless_gateway::logger::init(log::LevelFilter::Info);
    let mut builder = waitless_pool::redis::Worker::builder(flags.broker.clone());
    if let Some(n) = flags.concurrency {
        builder = builder.concurrency(n);
    }
    if let Some(queue) = flags.queue {
        builder = builder.queue(queue);
    }
    let _ = writeln!(
        std::io::stdout(),
        "showcase: worker {} serving {}",
        std::process::id(),
        flags.broker
    );
    match builder.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

fn usage_error(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("{PROGRAM}: error: {e} (see --help)");
    ExitCode::from(2)
}

fn serve(ours: ShowcaseFlags, mut options: Options) -> ExitCode {
    // As `waitless_gateway::main` does: `--env-file` values reach the app (WAITLESS_DB too).
    // No thread exists yet, so changing the environment is safe.
    for (key, value) in &options.env_file_vars {
        std::env::set_var(key, value);
    }
    waitless_gateway::logger::init(options.log_level.to_filter());

    // Dropped at the end of this function, i.e. after the runner stopped every worker.
    let mut temp = None;
    let db_path = match ours
        .db
        .clone()
        .or_else(|| std::env::var_os("WAITLESS_DB").map(PathBuf::from))
    {
        Some(path) => path,
        None => match TempDatabase::create() {
            Ok(t) => temp.insert(t).path(),
            Err(e) => return fail(&format!("cannot create a temporary directory: {e}")),
        },
    };
    if let Err(e) = database::create(&db_path) {
        return fail(&format!("{}: {e}", db_path.display()));
    }
    let removal = if temp.is_some() {
        "removed at exit"
    } else {
        "kept"
    };
    let _ = writeln!(
        std::io::stdout(),
        "showcase: items database {} ({removal})",
        db_path.display()
    );

    // `/files` takes up to 50 MiB; the server's cap must let it through (every other route
    // keeps its own smaller limit, 1 MiB by default).
    let cap = &mut options.config.max_body_size;
    *cap = (*cap).max(showcase::files::UPLOAD_LIMIT);
    // Before the fork: every worker gets the same token secret.
    let settings = match configure(&ours, db_path, options.workers) {
        Ok(settings) => settings,
        Err(e) => return fail(&format!("no token secret from the OS random source: {e}")),
    };
    let code = waitless_gateway::run(|| showcase::app(settings.clone()), options);
    drop(temp);
    code
}

fn configure(
    ours: &ShowcaseFlags,
    db_path: PathBuf,
    workers: usize,
) -> Result<Settings, getrandom::Error> {
    let mut settings = Settings::new(db_path, workers)?;
    settings.db_on_loop = ours.db_on_loop;
    settings.broker = ours
        .broker
        .clone()
        .or_else(|| std::env::var("WAITLESS_BROKER").ok());
    if let Some(n) = ours.db_threads {
        settings.db_threads = n;
    }
    if let Some(n) = ours.cpu_threads {
        settings.cpu_threads = n;
    }
    if let Some(n) = ours.cpu_processes {
        settings.cpu_processes = n;
    }
    if settings.db_on_loop {
        log::warn!("--db-on-loop: SQLite runs on the event loop (diagnostic; blocks the loop)");
    }
    Ok(settings)
}

fn fail(message: &str) -> ExitCode {
    eprintln!("{PROGRAM}: error: {message}");
    ExitCode::FAILURE
}
