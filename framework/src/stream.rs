//! Writing a streamed response (`Response::stream`, [`Sse`](crate::sse::Sse)) to the gateway.
//!
//! Why not "write each chunk, flush each chunk": chunks that are ready together (a generator
//! that yields many at once) would each cost a syscall. Here every chunk that is ready *now* is
//! appended to the gateway's write buffer (`Responder::write`, which writes by itself past its
//! high-water mark), and the buffer is flushed only when the next chunk is not ready — so an
//! event that is produced alone still reaches the client at once (server-sent events), and a
//! burst leaves in one write.
//!
//! While waiting for the next chunk the writer also waits for the client to hang up
//! (`Body::disconnected`, ASGI's `http.disconnect`): a stream to a vanished client is dropped at
//! once — its cleanup (`Drop` of whatever the stream owns) runs then, not at the next write.
//! A stream marked `until_shutdown` (SSE) also ends, cleanly, when the worker starts shutting
//! down; other streams (a download) are left to finish within the graceful timeout, since
//! cutting them would look complete to the client.

use futures_lite::future::{self, FutureExt};
use futures_lite::StreamExt;
use waitless_gateway::{Body, Responder, ResponseError, ShutdownSignal};

use crate::response::ChunkStream;

/// What woke a wait for the next chunk.
enum Next {
    Chunk(Option<Vec<u8>>),
    Disconnected,
    Shutdown,
}

/// How a streamed response is sent.
pub(crate) struct StreamSpec<'h> {
    pub(crate) status: u16,
    pub(crate) headers: &'h [(&'h str, &'h str)],
    pub(crate) until_shutdown: bool,
}

/// Sends `chunks` as the body (chunked on HTTP/1.1); returns when it ended, the client went
/// away, or (with `until_shutdown`) the worker started shutting down.
pub(crate) async fn send(
    res: &mut Responder<'_>,
    body: &mut Body<'_>,
    shutdown: ShutdownSignal<'_>,
    spec: StreamSpec<'_>,
    chunks: &mut ChunkStream,
) -> Result<(), ResponseError> {
    res.start(spec.status, spec.headers)?;
    loop {
        let next = match future::poll_once(chunks.next()).await {
            Some(ready) => Next::Chunk(ready),
            None => {
                // Nothing more right now: what is buffered goes out, then wait.
                res.flush().await?;
                wait(chunks, body, shutdown, spec.until_shutdown).await
            }
        };
        match next {
            Next::Chunk(Some(chunk)) => res.write(&chunk).await?,
            Next::Chunk(None) | Next::Shutdown => break,
            Next::Disconnected => {
                log::debug!("waitless: the client went away during a streamed response");
                return Ok(());
            }
        }
    }
    res.finish().await
}

async fn wait(
    chunks: &mut ChunkStream,
    body: &mut Body<'_>,
    shutdown: ShutdownSignal<'_>,
    until_shutdown: bool,
) -> Next {
    let chunk = async { Next::Chunk(chunks.next().await) };
    let gone = async {
        body.disconnected().await;
        Next::Disconnected
    };
    let stop = async {
        if until_shutdown {
            shutdown.wait().await;
            Next::Shutdown
        } else {
            future::pending().await
        }
    };
    chunk.or(gone).or(stop).await
}
