//! What every connection of a worker shares with the app-facing types.

use crate::h1::response::HeadDefaults;
use crate::interface::shutdown::Shutdown;

/// Per-worker settings and signals that `Scope`, `Body` and `Responder` read (one pointer in
/// each, instead of a copy of every setting per request).
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) shutdown: Shutdown,
    /// `Server`, `Date` and `--header` lines written into every response head.
    pub(crate) head: HeadDefaults,
    /// A streamed response flushes on its own once this much is buffered.
    pub(crate) write_high_water: usize,
}
