//! A per-worker publish/subscribe hub with rooms, for chat-like WebSocket routes.
//!
//! Why per worker and `Rc`: a worker is one thread, so the hub needs no locks and no `Send`;
//! messages reach the clients of *this* worker (the showcase's `/ws/chat` contract says "every
//! client of the worker"). Across workers it would need a broker (Redis pub/sub), which is the
//! app's choice, not the framework's.
//!
//! Why bounded queues and what happens to a slow subscriber (the slow-consumer policy): a
//! client that stops reading makes its socket's `send` wait, so its subscription stops being
//! drained. An unbounded queue would then grow with every message published to the room —
//! one stuck client could exhaust the worker's memory. Instead every subscription holds at most
//! `capacity` messages; a publish that finds it full marks it **lagged**: its queue is freed at
//! once, it leaves the room (no more messages, no more memory), and its next `recv` (or a
//! pending [`Subscription::lagged`]) reports [`Lagged`]. [`Subscription::forward_text`] turns
//! that into Close **1008** (policy violation, reason `"too slow"`) — the client broke the
//! server's policy by not keeping up; 1013 ("try again later") would blame the server. A socket
//! too stuck to take even the Close frame within [`CLOSE_WAIT`] is disconnected instead.
//! Publishers never wait: `publish` is synchronous and O(subscribers).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use futures_lite::FutureExt;

use crate::websocket::{Error, Message, Writer};

/// How long [`Subscription::forward_text`] tries to send Close 1008 to a lagged client.
pub const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// The close code for a subscriber that could not keep up.
pub const LAGGED_CLOSE_CODE: u16 = 1008;

/// A subscription fell behind by more than the hub's capacity and was dropped from its room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lagged;

impl fmt::Display for Lagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the subscriber could not keep up and was dropped")
    }
}

impl std::error::Error for Lagged {}

/// One subscriber's bounded queue, shared by the hub (producer) and its [`Subscription`].
struct Queue<T> {
    items: RefCell<VecDeque<T>>,
    lagged: Cell<bool>,
    recv_waker: RefCell<Option<Waker>>,
    lag_waker: RefCell<Option<Waker>>,
}

impl<T> Queue<T> {
    fn wake(&self, slot: &RefCell<Option<Waker>>) {
        if let Some(w) = slot.borrow_mut().take() {
            w.wake();
        }
    }

    fn mark_lagged(&self) {
        self.lagged.set(true);
        *self.items.borrow_mut() = VecDeque::new();
        self.wake(&self.recv_waker);
        self.wake(&self.lag_waker);
    }
}

/// A room's subscribers: `(subscription id, its queue)`.
type Members<T> = Vec<(u64, Rc<Queue<T>>)>;

struct Rooms<T> {
    rooms: HashMap<String, Members<T>>,
    next_id: u64,
}

/// The hub: cheap to clone (an `Rc`), one per worker — build it in a startup hook and take it
/// with `State<Hub>`.
///
/// ```
/// use std::rc::Rc;
/// use waitless::broadcast::{Hub, Lagged};
///
/// waitless_executor::block_on(async {
///     let hub: Hub = Hub::new(2);
///     let mut a = hub.subscribe("lobby");
///     let mut b = hub.subscribe("lobby");
///     assert_eq!(hub.publish("lobby", Rc::from("hi")), 2);
///     assert_eq!(&*a.recv().await.unwrap(), "hi");
///     assert_eq!(&*b.recv().await.unwrap(), "hi");
///     // `b` stops reading: after 2 queued messages it is dropped, not buffered without bound.
///     for i in 0..5 {
///         hub.publish("lobby", Rc::from(i.to_string()));
///         let _ = a.recv().await;
///     }
///     assert_eq!(b.recv().await, Err(Lagged));
///     assert_eq!(hub.subscribers("lobby"), 1);
/// });
/// ```
pub struct Hub<T = Rc<str>> {
    inner: Rc<RefCell<Rooms<T>>>,
    capacity: usize,
}

impl<T> Clone for Hub<T> {
    fn clone(&self) -> Self {
        Hub {
            inner: self.inner.clone(),
            capacity: self.capacity,
        }
    }
}

impl<T> fmt::Debug for Hub<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("rooms", &self.inner.borrow().rooms.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl<T: Clone + 'static> Hub<T> {
    /// A hub whose subscriptions queue at most `capacity` messages (at least 1).
    pub fn new(capacity: usize) -> Hub<T> {
        Hub {
            inner: Rc::new(RefCell::new(Rooms {
                rooms: HashMap::new(),
                next_id: 0,
            })),
            capacity: capacity.max(1),
        }
    }

    /// Joins `room`; the subscription leaves it when dropped.
    pub fn subscribe(&self, room: &str) -> Subscription<T> {
        let queue = Rc::new(Queue {
            items: RefCell::new(VecDeque::new()),
            lagged: Cell::new(false),
            recv_waker: RefCell::new(None),
            lag_waker: RefCell::new(None),
        });
        let mut inner = self.inner.borrow_mut();
        let id = inner.next_id;
        inner.next_id += 1;
        let members = inner.rooms.entry(room.to_owned()).or_default();
        members.push((id, queue.clone()));
        Subscription {
            hub: self.clone(),
            room: room.to_owned(),
            id,
            queue,
        }
    }

    /// Queues `msg` for every subscriber of `room` (the publisher's own subscription included);
    /// returns how many got it. Subscribers whose queue is full are dropped from the room
    /// ([`Lagged`]) instead.
    pub fn publish(&self, room: &str, msg: T) -> usize {
        let mut inner = self.inner.borrow_mut();
        let Some(members) = inner.rooms.get_mut(room) else {
            return 0;
        };
        let capacity = self.capacity;
        members.retain(|(_, q)| {
            if q.items.borrow().len() >= capacity {
                q.mark_lagged();
                return false;
            }
            q.items.borrow_mut().push_back(msg.clone());
            q.wake(&q.recv_waker);
            true
        });
        members.len()
    }

    /// Subscribers of `room` now.
    pub fn subscribers(&self, room: &str) -> usize {
        self.inner.borrow().rooms.get(room).map_or(0, Vec::len)
    }
}

/// A member of one room: receives what is published there from the moment it subscribed.
pub struct Subscription<T = Rc<str>> {
    hub: Hub<T>,
    room: String,
    id: u64,
    queue: Rc<Queue<T>>,
}

impl<T> Subscription<T> {
    /// The next message, or [`Lagged`] once this subscription fell behind (it then never
    /// receives again).
    pub async fn recv(&mut self) -> Result<T, Lagged> {
        let q = &self.queue;
        poll_fn(|cx| {
            if let Some(item) = q.items.borrow_mut().pop_front() {
                return Poll::Ready(Ok(item));
            }
            if q.lagged.get() {
                return Poll::Ready(Err(Lagged));
            }
            *q.recv_waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// The next message if one is queued, without waiting (`None` when none is; whether this
    /// subscription lagged, [`recv`](Self::recv) and [`is_lagged`](Self::is_lagged) say).
    pub fn try_recv(&self) -> Option<T> {
        self.queue.items.borrow_mut().pop_front()
    }

    /// Resolves when this subscription is dropped for lagging (to interrupt a send that waits
    /// on a client that does not read).
    pub async fn lagged(&self) {
        let q = &self.queue;
        poll_fn(|cx| {
            if q.lagged.get() {
                return Poll::Ready(());
            }
            *q.lag_waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Messages waiting (never more than the hub's capacity).
    pub fn queued(&self) -> usize {
        self.queue.items.borrow().len()
    }

    /// Whether this subscription was dropped for lagging.
    pub fn is_lagged(&self) -> bool {
        self.queue.lagged.get()
    }
}

impl<T: AsRef<str>> Subscription<T> {
    /// Sends every message as a text frame until sending fails (`Err`) or this subscription
    /// lags; then closes the socket with [`LAGGED_CLOSE_CODE`] (given up after [`CLOSE_WAIT`]
    /// if the client takes nothing) and returns `Ok`. A send stuck on a client that does not
    /// read is abandoned as soon as the subscription lags.
    ///
    /// Messages that queued up while the socket was busy (a burst of publishes, a worker that
    /// fell behind) leave together: framed into the write buffer and written with one syscall,
    /// not one each. A message alone is sent as [`Writer::send_text`] sends it (a large one
    /// without a copy).
    pub async fn forward_text(&mut self, tx: &mut Writer<'_, '_>) -> Result<(), Error> {
        loop {
            let Ok(msg) = self.recv().await else {
                return close_lagged(tx).await;
            };
            let sent = async {
                if self.queued() == 0 {
                    return tx.send_text(msg.as_ref()).await.map(|()| true);
                }
                tx.feed(Message::Text(msg.as_ref())).await?;
                // Bounded by the hub's capacity, plus what is published while a full write
                // buffer is flushed.
                while let Some(next) = self.try_recv() {
                    tx.feed(Message::Text(next.as_ref())).await?;
                }
                tx.flush().await.map(|()| true)
            };
            let lagged = async {
                self.lagged().await;
                Ok(false)
            };
            if !sent.or(lagged).await? {
                return close_lagged(tx).await;
            }
        }
    }
}

async fn close_lagged(tx: &mut Writer<'_, '_>) -> Result<(), Error> {
    log::debug!("waitless: a subscriber lagged; closing its socket with {LAGGED_CLOSE_CODE}");
    let close = async {
        let _ = tx.close(LAGGED_CLOSE_CODE, "too slow").await;
    };
    close.or(waitless_reactor::sleep(CLOSE_WAIT)).await;
    Ok(())
}

impl<T> Drop for Subscription<T> {
    fn drop(&mut self) {
        let mut inner = self.hub.inner.borrow_mut();
        if let Some(members) = inner.rooms.get_mut(&self.room) {
            members.retain(|(id, _)| *id != self.id);
            if members.is_empty() {
                inner.rooms.remove(&self.room);
            }
        }
    }
}

impl<T> fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("room", &self.room)
            .field("queued", &self.queued())
            .field("lagged", &self.is_lagged())
            .finish()
    }
}
