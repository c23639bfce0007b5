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
//! | `GET /client` | the client address and scheme the server trusts (`--proxy-headers`, `--forwarded-allow-ips`) | here |
//! | `POST/GET/DELETE /items…` | a blocking DB driver kept off the loop (thread pool), one SQLite file shared by every worker process | [`items`], [`database`] |
//! | `GET /io/sleep?ms=N` | waiting without blocking: concurrency on one thread | [`io`] |
//! | `GET /io/blocking?ms=N` | the anti-pattern: a blocking wait stalls the whole worker | [`io`] |
//! | `GET /cpu/fib/{n}?mode=…` | CPU work inline (stalls the loop) vs thread pool vs process pool | [`cpu`], [`fib`] |
//! | `GET /events?n=&interval_ms=` | a server-sent event stream waiting on timers | [`events`] |
//! | `WS /ws/echo`, `WS /ws/chat` | long-lived connections on one loop; a per-worker chat hub | [`websockets`] |
//! | `POST /files` | a multipart upload hashed as it streams in | [`files`] |
//! | `POST /token`, `GET /users/me` | OAuth2 password flow with tokens every worker can verify | [`auth`] |
//! | `GET /`, `GET /static/…` | the index page that runs the demos in a browser | [`index`] |
//! | `GET /docs`, `GET /openapi.json` | the framework's interactive docs of all the above | the framework |
//!
//! Every response carries `X-Worker-Pid` ([`worker_pid`]) so the processes are visible.
//! `docs/showcase.md` walks through each route with commands and measured numbers.

pub mod auth;
pub mod cpu;
pub mod database;
pub mod events;
pub mod fib;
pub mod files;
pub mod flags;
pub mod index;
pub mod io;
pub mod items;
pub mod settings;
pub mod websockets;
pub mod worker_pid;

use std::convert::Infallible;

use serde::Serialize;
use waitless::middleware::Layered;
use waitless::{App, HandlerExt, Json, RequestHead, Routes};

pub use settings::Settings;

/// The showcase app as the runner builds it in each worker.
pub type Showcase = App<Layered<worker_pid::WorkerPid, Routes>>;

/// Builds the app for one worker. The database at `settings.db_path` must exist
/// ([`database::create`]); the pools start in the worker's startup hooks.
pub fn app(settings: Settings) -> Showcase {
    let for_db = settings.clone();
    let for_cpu = settings.clone();
    let secret = settings.token_secret;
    App::new()
        .openapi_title("waitless showcase")
        .on_startup(move || {
            let db = database::Db::start(&for_db);
            async move { db }
        })
        .on_startup(move || {
            let pools = cpu::CpuPools::start(&for_cpu);
            async move { pools }
        })
        .on_startup(|| async { websockets::chat_hub() })
        .on_startup(move || {
            let secret = secret.clone();
            async move { Ok::<_, Infallible>(secret) }
        })
        .get("/", index::index)
        .include_in_schema(false)
        .mount_static("/static", index::static_files())
        .get("/healthz", healthz)
        .tag("health")
        .summary("Health check")
        .get("/client", client)
        .tag("health")
        .summary(
            "The client address and scheme this worker sees (behind a proxy: the forwarded ones)",
        )
        .post("/items", items::create.response_model::<items::Item>())
        .status_code(201)
        .tag("items")
        .summary("Create an item")
        .get("/items", items::list)
        .tag("items")
        .summary("List items")
        .get(
            "/items/{item_id}",
            items::read.response_model::<items::Item>(),
        )
        .tag("items")
        .summary("Read an item")
        .delete("/items/{item_id}", items::delete)
        .status_code(204)
        .tag("items")
        .summary("Delete an item")
        .get("/io/sleep", io::sleep)
        .tag("io")
        .get("/io/blocking", io::blocking)
        .tag("io")
        .get("/cpu/fib/{n}", cpu::fib_route)
        .tag("cpu")
        .get("/events", events::events)
        .tag("streaming")
        .websocket("/ws/echo", websockets::echo)
        .websocket("/ws/chat", websockets::chat)
        .post("/files", files::upload.response_model::<files::Uploaded>())
        .body_limit(files::UPLOAD_LIMIT)
        .multipart_files(&["file"])
        .status_code(201)
        .tag("files")
        .post("/token", auth::login)
        .tag("security")
        .summary("Log in (OAuth2 password flow)")
        .get("/users/me", auth::me)
        .tag("security")
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

/// What `GET /client` answers: `{"client": "203.0.113.7:0", "scheme": "https"}`.
#[derive(Serialize)]
pub struct ClientSeen {
    /// The peer, or the forwarded client when the peer is a trusted proxy (port 0: unknown);
    /// `null` on a Unix socket without forwarded headers.
    pub client: Option<String>,
    pub scheme: &'static str,
}

/// `GET /client`: the client and scheme as the gateway resolved them. Why: behind nginx
/// (`docs/runner.md`) this is how to see that `X-Forwarded-For`/`-Proto` reach the app, and that
/// a proxy outside `--forwarded-allow-ips` is not believed.
pub async fn client(head: RequestHead) -> Json<ClientSeen> {
    Json(ClientSeen {
        client: head.client.map(|c| c.to_string()),
        scheme: head.scheme,
    })
}
