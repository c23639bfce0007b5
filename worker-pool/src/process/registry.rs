//! Jobs a pool process can run: typed functions registered under stable names.
//!
//! Closures cannot cross a process boundary (a closure is code *and* captured memory, and the pool
//! process is a fresh `execve` of the binary with none of the parent's memory), so a process job is
//! a plain `fn(A) -> R` known to both sides at compile time, named by a string that travels in the
//! request frame. [`Job`] ties the name to the function's argument and result types, so the same
//! constant serves for registration ([`Registry::register`]) and for calls
//! ([`ProcessPool::run`](crate::ProcessPool::run)): a call with the wrong types does not compile.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::frame;

/// A process-pool job: a stable name and a function from `A` to `R` (both serde types).
///
/// Declare it once as a `const` and use it on both sides:
///
/// ```
/// use waitless_pool::Job;
///
/// fn fib(n: u32) -> u64 {
///     if n < 2 { n as u64 } else { fib(n - 1) + fib(n - 2) }
/// }
/// const FIB: Job<u32, u64> = Job::new("fib", fib);
/// assert_eq!(FIB.name(), "fib");
/// ```
pub struct Job<A, R> {
    name: &'static str,
    f: fn(A) -> R,
    _types: PhantomData<fn(A) -> R>,
}

impl<A, R> Job<A, R> {
    /// Names `f`. The name must be unique in the [`Registry`] and at most 255 bytes long.
    pub const fn new(name: &'static str, f: fn(A) -> R) -> Job<A, R> {
        Job {
            name,
            f,
            _types: PhantomData,
        }
    }

    /// The job's name on the wire.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Runs the function here, in this process (what "inline" means).
    pub fn call(&self, args: A) -> R {
        (self.f)(args)
    }
}

impl<A, R> Clone for Job<A, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A, R> Copy for Job<A, R> {}

impl<A, R> fmt::Debug for Job<A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job").field("name", &self.name).finish()
    }
}

/// How a job failed inside the pool process (before or after running it), as a response status.
pub(crate) struct Failed(pub(crate) u8, pub(crate) String);

/// Decodes the arguments, runs the function, appends the encoded result frame to `out`.
type Erased = Box<dyn Fn(&[u8], &mut Vec<u8>, usize) -> Result<(), Failed> + Send + Sync>;

/// The set of jobs this program's pool processes can run, handed to [`init`](crate::init).
///
/// Every process of the program builds the same registry (the parent and each pool process run the
/// same `main`), so names resolve to the same functions on both sides.
///
/// ```
/// use waitless_pool::{Job, Registry};
///
/// fn double(x: i64) -> i64 { x * 2 }
/// fn greet(name: String) -> String { format!("hello {name}") }
///
/// const DOUBLE: Job<i64, i64> = Job::new("double", double);
/// const GREET: Job<String, String> = Job::new("greet", greet);
///
/// let registry = Registry::new().register(DOUBLE).register(GREET);
/// assert!(registry.contains("greet"));
/// ```
#[derive(Default)]
pub struct Registry {
    jobs: HashMap<&'static str, Erased>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds `job`.
    ///
    /// # Panics
    ///
    /// If a job of the same name is already registered, or the name is longer than 255 bytes: both
    /// are programming errors that would otherwise surface only at run time, in a pool process.
    pub fn register<A, R>(mut self, job: Job<A, R>) -> Registry
    where
        A: DeserializeOwned + 'static,
        R: Serialize + 'static,
    {
        assert!(
            job.name.len() <= 255,
            "waitless-pool: job name {:?} is longer than 255 bytes",
            job.name
        );
        let f = job.f;
        let erased: Erased = Box::new(move |args, out, max| {
            let args: A =
                serde_json::from_slice(args).map_err(|e| Failed(frame::CODEC, e.to_string()))?;
            let result = f(args);
            frame::encode_response(out, max, frame::OK, |out| {
                serde_json::to_writer(out, &result)
            })
            .map(drop)
            .map_err(|e| Failed(frame::CODEC, format!("result: {e}")))
        });
        let previous = self.jobs.insert(job.name, erased);
        assert!(
            previous.is_none(),
            "waitless-pool: job {:?} registered twice",
            job.name
        );
        self
    }

    /// Whether a job of this name is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.jobs.contains_key(name)
    }

    /// The registered names, in no particular order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.jobs.keys().copied()
    }

    pub(crate) fn get(&self, name: &[u8]) -> Option<&Erased> {
        std::str::from_utf8(name)
            .ok()
            .and_then(|n| self.jobs.get(n))
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.jobs.keys()).finish()
    }
}
