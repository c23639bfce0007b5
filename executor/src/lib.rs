//! # waitless-executor
//!
//! **One job:** run many tasks on one thread, and when none of them can make progress, sleep in
//! the reactor until one can.
//!
//! This is the seed's *Event Loop* ("실행 가능한 작업만 실행" — run only what can run) and its
//! reading of `async`/`await`: async is not parallelism ("async는 병렬이 아니다"); it is a way to
//! *yield while waiting* ("기다리는 동안 양보"). A task that awaits a socket or a timer returns
//! `Pending`, the loop runs the next ready task, and the thread never blocks on any single wait.
//!
//! * [`spawn`] takes futures without a `Send` bound: every task stays on the thread that spawned
//!   it, so tasks share state with `Rc`/`RefCell`, never `Arc`/`Mutex`.
//! * [`block_on`] drives the main future and the spawned tasks; when the run queue is empty it
//!   parks in `waitless_reactor::turn` (one `epoll_wait`).
//! * A task is one allocation; its waker is one machine word (no allocation, no reference count).
//!   A wake from the task's own thread is a queue push with no atomic operation; a wake from
//!   another thread goes through a small locked queue and the reactor's notifier.
//! * A panicking task is caught and reported through its [`JoinHandle`]; the loop keeps running.
//! * [`channel`] has the small `!Send` oneshot and bounded mpsc channels tasks use to talk.
//!
//! ## Example
//!
//! ```
//! use std::time::Duration;
//! use waitless_executor::{block_on, channel::mpsc, spawn};
//!
//! let total = block_on(async {
//!     let (tx, mut rx) = mpsc::channel(8);
//!     for i in 0..4u64 {
//!         let tx = tx.clone();
//!         spawn(async move {
//!             waitless_reactor::sleep(Duration::from_millis(10 * i)).await;
//!             tx.send(i).await.unwrap();
//!         })
//!         .detach();
//!     }
//!     drop(tx);
//!     let mut total = 0;
//!     while let Some(i) = rx.recv().await {
//!         total += i;
//!     }
//!     total
//! });
//! assert_eq!(total, 6);
//! ```

// `unsafe` lives only where it must; every block says why.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod channel;
mod executor;
mod task;
#[allow(unsafe_code)] // the RawWaker vtable and the leaked Remote table
mod waker;

pub use executor::{block_on, spawn, yield_now, IO_POLL_INTERVAL};
pub use task::{JoinError, JoinHandle};
