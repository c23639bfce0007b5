//! What every connection of one worker (one thread, one event loop) shares.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::task::Poll;

use futures_lite::FutureExt;
use std::net::SocketAddr;
use std::task::Waker;

use super::buffers::BufferPool;
use crate::config::Config;
use crate::interface::shared::Shared;
use crate::interface::State;

/// A worker's app, settings and counters; connections hold an `Rc` of it.
pub(crate) struct Worker<A> {
    pub(crate) app: A,
    pub(crate) config: Config,
    pub(crate) pool: BufferPool,
    /// Shutdown signal, response-head defaults: what the app-facing types read.
    pub(crate) shared: Shared,
    pub(crate) open: Cell<usize>,
    /// Requests served, for `limit_max_requests`.
    pub(crate) served: Cell<u64>,
    /// Woken when `open` drops to zero during shutdown.
    pub(crate) drained: RefCell<Option<Waker>>,
}

impl<A> Worker<A> {
    pub(crate) fn new(
        app: A,
        state: State,
        config: Config,
        local: Option<SocketAddr>,
    ) -> Worker<A> {
        let shared = Shared {
            head: config.head_defaults(),
            write_high_water: config.write_high_water,
            state,
            // The listener's address: the same for every connection, kept here, not in each.
            local,
            root_path: config.root_path.clone(),
            shutdown: Default::default(),
        };
        Worker {
            pool: BufferPool::new(&config),
            app,
            config,
            shared,
            open: Cell::new(0),
            served: Cell::new(0),
            drained: RefCell::new(None),
        }
    }

    pub(crate) fn connection_opened(&self) {
        self.open.set(self.open.get() + 1);
    }

    pub(crate) fn connection_closed(&self) {
        self.open.set(self.open.get() - 1);
        if self.open.get() == 0 {
            if let Some(w) = self.drained.borrow_mut().take() {
                w.wake();
            }
        }
    }

    /// Waits until every connection closed, at most `graceful_timeout`; false if some were
    /// still open then (the shutdown of `Server::run_until` and `TestServer::shutdown`).
    pub(crate) async fn drain(&self) -> bool {
        let drained = async {
            poll_fn(|cx| {
                if self.open.get() == 0 {
                    Poll::Ready(())
                } else {
                    *self.drained.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
            .await;
            true
        };
        let expired = async {
            waitless_reactor::sleep(self.config.graceful_timeout).await;
            false
        };
        drained.or(expired).await
    }

    /// Counts a served request; starts recycling the worker at `limit_max_requests`.
    pub(crate) fn request_served(&self) {
        self.served.set(self.served.get() + 1);
        if self
            .config
            .limit_max_requests
            .is_some_and(|max| self.served.get() >= max)
            && !self.shared.shutdown.is_started()
        {
            log::info!(
                "Maximum request limit of {} exceeded. Terminating process.",
                self.served.get()
            );
            self.shared.shutdown.start();
        }
    }
}
