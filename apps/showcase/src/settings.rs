//! What one showcase server is configured with, and the pool sizing rule.
//!
//! Why a sizing rule at all: the seed's formula gives one event loop per core ("왜 워커 수를
//! 코어 수로 잡는지"), and a CPU pool per worker adds threads that compete for those same cores.
//! Pools live inside each HTTP worker (a thread or a child process cannot be shared across the
//! runner's forked workers), so the defaults divide the cores among the workers:
//! `cores / workers` CPU threads (and as many pool processes) per worker, at least one. With the
//! default `--workers` (= cores) that is one each: when every loop hands a fib to its pool and
//! waits, exactly `cores` threads compute. `docs/worker-pool.md` ("Sizing in the showcase") has
//! the measurement behind it.

use std::path::PathBuf;

use crate::auth::TokenSecret;

/// Per-worker settings, built in the supervisor and copied into every worker.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The SQLite file shared by every worker.
    pub db_path: PathBuf,
    /// Diagnostic: call the SQLite driver on the event loop instead of the DB pool (the
    /// anti-pattern, for the measurement in `docs/showcase.md` only).
    pub db_on_loop: bool,
    /// Threads of each worker's DB pool (blocking driver calls).
    pub db_threads: usize,
    /// Threads of each worker's CPU pool (`/cpu/fib/{n}?mode=thread`).
    pub cpu_threads: usize,
    /// Processes of each worker's process pool (`/cpu/fib/{n}?mode=process`), started on the
    /// first such request.
    pub cpu_processes: usize,
    /// Signs `/token`'s tokens. Drawn once in the supervisor, so every forked worker validates
    /// the tokens of every other ([`crate::auth`] says why).
    pub token_secret: TokenSecret,
    /// The worker tier's Redis URL (`--broker`): `/cpu/fib/{n}?mode=queue` sends fib there.
    pub broker: Option<String>,
}

impl Settings {
    /// The defaults for `http_workers` workers on this machine's available cores, with a fresh
    /// token secret (fails only if the OS random source does).
    pub fn new(db_path: PathBuf, http_workers: usize) -> Result<Settings, getrandom::Error> {
        let per_worker = cpu_share(available_cores(), http_workers);
        Ok(Settings {
            db_path,
            db_on_loop: false,
            db_threads: DB_THREADS,
            cpu_threads: per_worker,
            cpu_processes: per_worker,
            token_secret: TokenSecret::random()?,
            broker: None,
        })
    }
}

/// DB pool threads per worker. SQLite calls are short and their slow part is waiting (the
/// commit's fsync, another process's write lock under `busy_timeout`), not computing; two
/// threads let one read proceed while a commit waits, without adding CPU-hungry threads.
pub const DB_THREADS: usize = 2;

/// CPU pool size per HTTP worker: the cores divided among the workers, at least one.
pub fn cpu_share(cores: usize, http_workers: usize) -> usize {
    (cores / http_workers.max(1)).max(1)
}

/// The cores this process may use (affinity and cgroup quota), as the runner counts them.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_times_pool_never_exceeds_cores() {
        for cores in 1..=64 {
            for workers in 1..=cores {
                let share = cpu_share(cores, workers);
                assert!(share >= 1);
                assert!(workers * share <= cores, "{cores} cores, {workers} workers");
            }
        }
        assert_eq!(cpu_share(2, 2), 1);
        assert_eq!(cpu_share(2, 1), 2);
        assert_eq!(cpu_share(2, 4), 1, "more workers than cores still get one");
    }
}
