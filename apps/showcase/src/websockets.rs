//! `WS /ws/echo` and `WS /ws/chat`: long-lived connections on the same single-threaded loop.
//!
//! Why: a WebSocket is a request that mostly *waits* (for the client's next message, for
//! someone else's); on the event loop each one costs a little memory, not a thread — the seed's
//! concurrency without parallelism. The chat shows the limit of "one loop per process" too:
//! its [`Hub`] lives in one worker's memory (processes share none, the reason items needed a
//! database), so a message reaches the clients of the worker it was sent to. Run with
//! `--workers 1` for a chat everyone shares.

use std::convert::Infallible;
use std::rc::Rc;

use futures_lite::FutureExt;
use waitless::broadcast::Hub;
use waitless::websocket::{Error, Message, WebSocket};
use waitless::State;

/// The hub's room for `/ws/chat`.
const ROOM: &str = "chat";

/// Messages a slow chat client may have queued before the hub drops it (close 1008).
const QUEUE: usize = 256;

/// The worker's chat hub (from its startup hook: one per worker process).
pub fn chat_hub() -> Result<Hub<Rc<str>>, Infallible> {
    Ok(Hub::new(QUEUE))
}

/// `WS /ws/echo`: every text and binary message comes back as it was sent.
pub async fn echo(mut ws: WebSocket<'_>) -> Result<(), Error> {
    let (mut rx, mut tx) = ws.split();
    loop {
        match rx.recv().await? {
            Message::Close(..) => return Ok(()),
            msg => tx.send(msg).await?,
        }
    }
}

/// `WS /ws/chat`: each text message goes verbatim to every client of this worker, the sender
/// included; binary messages are ignored; no join/leave notices.
pub async fn chat(mut ws: WebSocket<'_>, State(hub): State<Hub<Rc<str>>>) -> Result<(), Error> {
    let mut subscription = hub.subscribe(ROOM);
    let (mut rx, mut tx) = ws.split();
    let inbound = async {
        loop {
            match rx.recv().await? {
                Message::Text(text) => {
                    hub.publish(ROOM, Rc::from(text));
                }
                Message::Binary(_) => {}
                Message::Close(..) => return Ok(()),
            }
        }
    };
    inbound.or(subscription.forward_text(&mut tx)).await
}
