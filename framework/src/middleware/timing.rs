//! `Timing`: how long the app took, in a response header.
//!
//! Why a header and not a log line: clients and load balancers can read it per request with no
//! access to the server's logs (FastAPI's tutorial adds `X-Process-Time` with a middleware).

use std::time::Instant;

use super::{Endpoint, Middleware, Next};
use crate::context::RequestContext;
use crate::response::Response;

/// Adds `x-process-time: <seconds>` (the default), or `server-timing: app;dur=<ms>`.
///
/// ```
/// use waitless::{App, middleware::Timing};
/// let app = App::new().get("/", || async { "hi" }).layer(Timing::process_time());
/// # let _ = app;
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Timing {
    server_timing: bool,
}

impl Timing {
    /// `x-process-time: 0.000123` (seconds, like the FastAPI tutorial).
    pub fn process_time() -> Timing {
        Timing {
            server_timing: false,
        }
    }

    /// `server-timing: app;dur=0.123` (milliseconds, shown by browsers' dev tools).
    pub fn server_timing() -> Timing {
        Timing {
            server_timing: true,
        }
    }
}

impl Middleware for Timing {
    async fn around<E: Endpoint>(
        &self,
        req: &mut RequestContext<'_>,
        next: Next<'_, E>,
    ) -> Response {
        let start = Instant::now();
        let mut res = next.run(req).await;
        let elapsed = start.elapsed().as_secs_f64();
        if self.server_timing {
            res.headers
                .append("server-timing", format!("app;dur={:.3}", elapsed * 1e3));
        } else {
            res.headers
                .insert("x-process-time", format!("{elapsed:.6}"));
        }
        res
    }
}
