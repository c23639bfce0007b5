//! `X-Worker-Pid`: which worker process answered.
//!
//! Why: the seed's parallelism comes from processes ("멀티프로세스로 병렬성을 확보"); this header
//! makes them visible — `curl -i` a few times and the pid changes — and lets the tests prove that
//! an item created through one worker is read through another.

use waitless::middleware::{Endpoint, Middleware, Next};
use waitless::{RequestContext, Response};

/// Adds `x-worker-pid: <pid>` to every response.
#[derive(Clone, Debug)]
pub struct WorkerPid {
    pid: String,
}

impl WorkerPid {
    /// Reads the pid when the app is built — in the worker, after the fork.
    pub fn new() -> WorkerPid {
        WorkerPid {
            pid: std::process::id().to_string(),
        }
    }
}

impl Default for WorkerPid {
    fn default() -> Self {
        WorkerPid::new()
    }
}

impl Middleware for WorkerPid {
    async fn around<E: Endpoint>(
        &self,
        req: &mut RequestContext<'_>,
        next: Next<'_, E>,
    ) -> Response {
        let mut res = next.run(req).await;
        res.headers.insert("x-worker-pid", self.pid.clone());
        res
    }
}
