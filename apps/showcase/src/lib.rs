//! # showcase — the seed in one service
//!
//! The study notes' closing formula, "멀티프로세스로 병렬성을 확보하고, 단일 스레드 Event Loop로
//! 동시성을 확보하며, CPU Bound 작업은 반드시 분리한다" (parallelism from processes, concurrency
//! from one single-threaded event loop per process, CPU-bound work always moved off the loop),
//! made into endpoints you can poke with `curl` and `wrk`:
//!
//! | route | what it demonstrates | module |
//! |---|---|---|
//! | `GET /healthz` | the smallest request: no wait, no CPU | here |
//! | `POST/GET/DELETE /items…` | a blocking DB driver kept off the loop (thread pool), one SQLite file shared by every worker process | [`items`], [`database`] |
//! | `GET /io/sleep?ms=N` | waiting without blocking: concurrency on one thread | [`io`] |
//! | `GET /io/blocking?ms=N` | the anti-pattern: a blocking wait stalls the whole worker | [`io`] |
//! | `GET /cpu/fib/{n}?mode=…` | CPU work inline (stalls the loop) vs thread pool vs process pool | [`cpu`], [`fib`] |
//!
//! Every response carries `X-Worker-Pid` ([`worker_pid`]) so the processes are visible.
//! `docs/showcase.md` walks through each route with commands and measured numbers.

pub mod cpu;
pub mod database;
pub mod fib;
pub mod flags;
pub mod io;
pub mod items;
pub mod settings;
pub mod worker_pid;

use serde::Serialize;
use waitless::middleware::Layered;
use waitless::{App, Json, Routes};

pub use settings::Settings;

/// The showcase app as the runner builds it in each worker.
pub type Showcase = App<Layered<worker_pid::WorkerPid, Routes>>;

/// Builds the app for one worker. The database at `settings.db_path` must exist
/// ([`database::create`]); the pools start in the worker's startup hooks.
pub fn app(settings: Settings) -> Showcase {
    let for_db = settings.clone();
    let for_cpu = settings;
    App::new()
        .on_startup(move || {
            let db = database::Db::start(&for_db);
            async move { db }
        })
        .on_startup(move || {
            let pools = cpu::CpuPools::start(&for_cpu);
            async move { pools }
        })
        .get("/healthz", healthz)
        .post("/items", items::create)
        .get("/items", items::list)
        .get("/items/{item_id}", items::read)
        .delete("/items/{item_id}", items::delete)
        .get("/io/sleep", io::sleep)
        .get("/io/blocking", io::blocking)
        .get("/cpu/fib/{n}", cpu::fib_route)
        .layer(worker_pid::WorkerPid::new())
}

/// `{"status":"ok"}`.
#[derive(Serialize)]
pub struct Health {
    pub status: &'static str,
}

/// `GET /healthz`: answers as long as the worker's loop is free to.
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}
