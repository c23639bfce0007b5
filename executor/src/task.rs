//! A task's storage and its `JoinHandle`.
//!
//! A task is exactly one heap allocation: a `TaskCell<F>` holding either the running future or
//! its output, boxed as `dyn Erased` so that tasks of every type share one slab. The `JoinHandle`
//! is just the task's key; it reaches the output through the slab and moves it out with a typed
//! `Any` downcast, so no second allocation (no `Rc<RefCell<Option<T>>>`) is needed. The future is
//! pinned inside the cell through `pin-project-lite` projections: this file has no `unsafe`.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

/// Why a task produced no value: it was cancelled, or it panicked.
///
/// `JoinError` is `Send + Sync` (the panic payload sits behind a `Mutex`), so it converts into
/// `std::io::Error` and travels through `?` like any other error.
pub struct JoinError {
    repr: Repr,
}

enum Repr {
    Cancelled,
    Panicked {
        message: Option<String>,
        payload: Mutex<Box<dyn Any + Send + 'static>>,
    },
}

impl JoinError {
    pub(crate) fn cancelled() -> JoinError {
        JoinError {
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panicked(payload: Box<dyn Any + Send + 'static>) -> JoinError {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned());
        JoinError {
            repr: Repr::Panicked {
                message,
                payload: Mutex::new(payload),
            },
        }
    }

    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panicked { .. })
    }

    /// Whether the task was cancelled with [`JoinHandle::cancel`] (its future was dropped).
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// The panic message, when the payload is a string.
    pub fn panic_message(&self) -> Option<&str> {
        match &self.repr {
            Repr::Panicked { message, .. } => message.as_deref(),
            Repr::Cancelled => None,
        }
    }

    /// The panic payload, to re-raise with `std::panic::resume_unwind`.
    pub fn into_panic(self) -> Option<Box<dyn Any + Send + 'static>> {
        match self.repr {
            Repr::Panicked { payload, .. } => {
                Some(payload.into_inner().unwrap_or_else(PoisonError::into_inner))
            }
            Repr::Cancelled => None,
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("JoinError::Cancelled"),
            Repr::Panicked { message, .. } => f
                .debug_tuple("JoinError::Panicked")
                .field(&message.as_deref().unwrap_or("<non-string payload>"))
                .finish(),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("task was cancelled"),
            Repr::Panicked {
                message: Some(msg), ..
            } => write!(f, "task panicked: {msg}"),
            Repr::Panicked { message: None, .. } => f.write_str("task panicked"),
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    fn from(e: JoinError) -> std::io::Error {
        std::io::Error::other(e)
    }
}

/// The type-erased interface the executor uses to drive a task.
pub(crate) trait Erased {
    /// Polls the future (catching a panic). `Ready` once the output (or panic) is stored.
    fn poll_task(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()>;
    /// Drops the future and stores `Cancelled` (no-op when already finished).
    fn cancel(self: Pin<&mut Self>);
    /// Moves the stored `Result<T, JoinError>` into `out` (an `Option<Result<T, JoinError>>`).
    fn take_output(self: Pin<&mut Self>, out: &mut dyn Any);
    /// The panic message, if the task panicked (for logging detached tasks).
    fn panic_message(&self) -> Option<String>;
}

pin_project! {
    /// Where a task is in its life. Only `Running` holds a pinned field; the other stages are moved
    /// freely (the output is moved out by `project_replace`, which drops nothing that is pinned).
    #[project = StageProj]
    #[project_replace = StageReplace]
    enum Stage<F: Future> {
        Running { #[pin] future: F },
        Done { result: Result<F::Output, JoinError> },
        Taken,
    }
}

pin_project! {
    pub(crate) struct TaskCell<F: Future> {
        #[pin]
        stage: Stage<F>,
    }
}

impl<F: Future> TaskCell<F> {
    pub(crate) fn new(future: F) -> TaskCell<F> {
        TaskCell {
            stage: Stage::Running { future },
        }
    }
}

/// Drops the future in place (a panic in its `Drop` is caught: the task is over either way) and
/// stores `result`. An assignment whose drop unwinds still writes the new value, so the stage is
/// never left holding a dropped future.
fn finish<F: Future>(mut stage: Pin<&mut Stage<F>>, result: Result<F::Output, JoinError>) {
    let _ = catch_unwind(AssertUnwindSafe(|| stage.as_mut().set(Stage::Taken)));
    stage.set(Stage::Done { result });
}

impl<F> Erased for TaskCell<F>
where
    F: Future + 'static,
    F::Output: 'static,
{
    fn poll_task(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut stage = self.project().stage;
        let StageProj::Running { future } = stage.as_mut().project() else {
            return Poll::Ready(());
        };
        let result = match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(v)) => Ok(v),
            Err(payload) => Err(JoinError::panicked(payload)),
        };
        finish(stage, result);
        Poll::Ready(())
    }

    fn cancel(self: Pin<&mut Self>) {
        let stage = self.project().stage;
        if let Stage::Running { .. } = *stage {
            finish(stage, Err(JoinError::cancelled()));
        }
    }

    fn take_output(self: Pin<&mut Self>, out: &mut dyn Any) {
        let stage = self.project().stage;
        if let Some(slot) = out.downcast_mut::<Option<Result<F::Output, JoinError>>>() {
            if let Stage::Done { .. } = *stage {
                if let StageReplace::Done { result } = stage.project_replace(Stage::Taken) {
                    *slot = Some(result);
                }
            }
        }
    }

    fn panic_message(&self) -> Option<String> {
        match &self.stage {
            Stage::Done { result: Err(e) } if e.is_panic() => Some(e.to_string()),
            _ => None,
        }
    }
}

/// Carries `T` without owning one, and makes the handle `!Send` (`*const ()`).
type OutputNotSend<T> = (fn() -> T, *const ());

/// An owned permission to await a spawned task's output.
///
/// * **Await** it to get `Ok(output)`, or `Err(JoinError)` if the task panicked or was cancelled.
/// * **Drop** it (or call [`detach`](JoinHandle::detach)) to let the task run on unobserved: the
///   task is *not* cancelled (tokio's semantics, not async-task's), and its output is dropped when
///   it finishes. A detached task that panics is reported through the `log` facade.
/// * **Cancel** it with [`cancel`](JoinHandle::cancel): the future is dropped at once (at the
///   end of its current poll if it is cancelling itself) and awaiting the handle yields
///   `Err(JoinError::Cancelled)`.
///
/// A `JoinHandle` is `!Send`: it belongs to the thread whose executor runs the task.
#[must_use = "dropping a JoinHandle detaches the task; call .detach() to make that explicit"]
pub struct JoinHandle<T> {
    pub(crate) local: usize,
    /// The output was taken: the slot is freed (and may belong to another task by now), so
    /// `cancel` and `drop` must not touch it.
    pub(crate) consumed: bool,
    pub(crate) _marker: PhantomData<OutputNotSend<T>>,
}

impl<T: 'static> JoinHandle<T> {
    /// Lets the task run to completion unobserved (the same as dropping the handle).
    pub fn detach(self) {}

    /// Cancels the task: drops its future and makes the handle resolve to `Cancelled`.
    /// Does nothing if the task already finished.
    pub fn cancel(&self) {
        if !self.consumed {
            crate::executor::cancel(self.local);
        }
    }

    /// Whether the task has finished (its output is ready to be taken).
    pub fn is_finished(&self) -> bool {
        self.consumed || crate::executor::is_finished(self.local)
    }
}

impl<T: 'static> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        assert!(
            !self.consumed,
            "JoinHandle polled after it returned its output"
        );
        let mut out: Option<Result<T, JoinError>> = None;
        crate::executor::poll_join::<T>(self.local, cx, &mut out);
        match out {
            Some(result) => {
                self.consumed = true;
                Poll::Ready(result)
            }
            None => Poll::Pending,
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if !self.consumed {
            crate::executor::detach(self.local);
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("task", &(self.local & crate::waker::INDEX_MASK))
            .finish()
    }
}
