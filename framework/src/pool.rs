//! `run_in_threadpool` / `run_in_process`: CPU-bound work off the event loop, with pool errors
//! mapped to HTTP answers.
//!
//! Why: the seed's rule — "Event Loop에서 CPU 작업 제거" (take CPU work off the event loop). A
//! handler that computes for 100 ms stalls every other request of its worker for 100 ms; these
//! helpers send the work to `waitless-pool` and await it like I/O. A full queue is back-pressure,
//! so it becomes `503` (retry later), not a 500.

use serde::de::DeserializeOwned;
use serde::Serialize;
use waitless_pool::{Job, PoolError, ProcessPool, ThreadPool};

use crate::error::HttpError;
use crate::response::StatusCode;

/// Runs `f` on a pool thread (Starlette's `run_in_threadpool`).
///
/// ```
/// use waitless::run_in_threadpool;
/// use waitless_pool::ThreadPool;
///
/// let pool = ThreadPool::builder().threads(1).build().unwrap();
/// let sum = waitless_executor::block_on(run_in_threadpool(&pool, || (1..=10u64).sum::<u64>()));
/// assert_eq!(sum.unwrap(), 55);
/// ```
pub async fn run_in_threadpool<F, T>(pool: &ThreadPool, f: F) -> Result<T, HttpError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    pool.spawn(f).await.map_err(pool_error)
}

/// Runs a registered `job(args)` in a worker process (crash-isolated).
pub async fn run_in_process<A, R>(
    pool: &ProcessPool,
    job: Job<A, R>,
    args: A,
) -> Result<R, HttpError>
where
    A: Serialize,
    R: DeserializeOwned,
{
    pool.run(job, args).await.map_err(pool_error)
}

/// `QueueFull` → 503 with `Retry-After`; everything else → 500 (logged).
pub fn pool_error(e: PoolError) -> HttpError {
    match e {
        PoolError::QueueFull => {
            HttpError::new(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
                .with_header("retry-after", "1")
        }
        // The worker tier's broker is down: retryable, like a full queue (nginx and uvicorn
        // answer an unreachable upstream with 502/503; the request itself was fine).
        PoolError::Broker(e) => {
            log::warn!("waitless: worker tier broker: {e}");
            HttpError::new(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
                .with_header("retry-after", "1")
        }
        // No answer in time, or the deadline passed before a worker started it.
        PoolError::Timeout | PoolError::Expired => {
            HttpError::new(StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout")
        }
        other => {
            log::error!("waitless: pool job failed: {other}");
            HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_is_503_and_a_panic_is_500() {
        let e = pool_error(PoolError::QueueFull);
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.headers.get("retry-after"), Some("1"));
        let e = pool_error(PoolError::Panicked("boom".into()));
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_broker_down_is_503_and_no_answer_in_time_is_504() {
        let e = pool_error(PoolError::Broker("connection refused".into()));
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.headers.get("retry-after"), Some("1"));
        assert_eq!(
            pool_error(PoolError::Timeout).status,
            StatusCode::GATEWAY_TIMEOUT
        );
        assert_eq!(
            pool_error(PoolError::Expired).status,
            StatusCode::GATEWAY_TIMEOUT
        );
    }
}
