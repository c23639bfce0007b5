//! `BackgroundTasks`: work that runs after the response reached the client (FastAPI's
//! `BackgroundTasks`).
//!
//! Why inside the app's `call` and not a detached task: the app flushes the response first, then
//! awaits the tasks before `call` returns, so the server's graceful shutdown (which waits for
//! in-flight calls) also waits for them — nothing is lost on SIGTERM, as in Starlette.

use std::cell::RefCell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;

use futures_lite::FutureExt;

use crate::context::RequestContext;
use crate::extract::{FromRequest, Rejection};

type Task = Pin<Box<dyn Future<Output = ()>>>;

/// Tasks to run after the response is sent. Take it as a handler argument and `add` to it.
///
/// ```
/// use waitless::{App, BackgroundTasks};
///
/// async fn signup(tasks: BackgroundTasks) -> &'static str {
///     tasks.add(async { /* send the welcome mail */ });
///     "ok"
/// }
///
/// let app = App::new().post("/signup", signup);
/// # let _ = app;
/// ```
#[derive(Clone, Default)]
pub struct BackgroundTasks {
    tasks: Rc<RefCell<Vec<Task>>>,
}

impl BackgroundTasks {
    /// Queues a future; tasks run one after another, in the order added.
    pub fn add(&self, task: impl Future<Output = ()> + 'static) {
        self.tasks.borrow_mut().push(Box::pin(task));
    }

    /// Queues a blocking-free closure.
    pub fn add_fn(&self, f: impl FnOnce() + 'static) {
        self.add(async move { f() });
    }

    /// The number of tasks queued and not yet started.
    pub fn len(&self) -> usize {
        self.tasks.borrow().len()
    }

    /// Whether no task is queued (the app then skips the flush-and-run step after the response).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs every queued task (and tasks they queue), each under `catch_unwind`: a panicking
    /// task is logged and the next one still runs.
    pub(crate) async fn run(self) {
        // Bounded: at most 1024 tasks per request, in case tasks keep queueing more.
        for _ in 0..1024 {
            let next = {
                let mut tasks = self.tasks.borrow_mut();
                if tasks.is_empty() {
                    break;
                }
                tasks.remove(0)
            };
            if AssertUnwindSafe(next).catch_unwind().await.is_err() {
                log::error!("waitless: a background task panicked");
            }
        }
    }
}

impl std::fmt::Debug for BackgroundTasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundTasks")
            .field("queued", &self.len())
            .finish()
    }
}

impl FromRequest for BackgroundTasks {
    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        Ok(req.background.get_or_insert_with(Default::default).clone())
    }
}
