//! What every connection of a worker shares with the app-facing types.

use std::fmt;
use std::net::SocketAddr;

use crate::h1::response::HeadDefaults;
use crate::interface::shutdown::Shutdown;
use crate::interface::State;

/// Per-worker settings and signals that `Scope`, `Body` and `Responder` read (one pointer in
/// each, instead of a copy of every setting per request).
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) shutdown: Shutdown,
    /// `Server`, `Date` and `--header` lines written into every response head.
    pub(crate) head: HeadDefaults,
    /// A streamed response flushes on its own once this much is buffered.
    pub(crate) write_high_water: usize,
    /// The app's per-worker state (`Scope::state`).
    pub(crate) state: State,
    /// The listener's address (`Scope::server`).
    pub(crate) local: Option<SocketAddr>,
    /// `Config::root_path` (`Scope::root_path`).
    pub(crate) root_path: String,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("server", &self.local)
            .field("root_path", &self.root_path)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
