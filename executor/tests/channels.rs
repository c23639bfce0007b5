//! oneshot and bounded mpsc between tasks of one loop.

use std::future::Future;
use std::time::Duration;

use waitless_executor::channel::{mpsc, oneshot, RecvError, TrySendError};
use waitless_executor::{block_on, spawn, yield_now};
use waitless_reactor::sleep;

#[test]
fn oneshot_delivers_or_reports_a_dropped_sender() {
    block_on(async {
        let (tx, rx) = oneshot::channel();
        spawn(async move {
            sleep(Duration::from_millis(2)).await;
            tx.send("hi").unwrap();
        })
        .detach();
        assert_eq!(rx.await, Ok("hi"));

        let (tx, rx) = oneshot::channel::<u8>();
        drop(tx);
        assert_eq!(rx.await, Err(RecvError));

        let (tx, rx) = oneshot::channel::<u8>();
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.send(1).unwrap_err().0, 1);
    });
}

#[test]
fn mpsc_is_bounded_and_applies_backpressure() {
    block_on(async {
        let (tx, mut rx) = mpsc::channel::<u32>(2);
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));

        // A sender waiting for room is released by a receive.
        let tx2 = tx.clone();
        let waiting = spawn(async move { tx2.send(3).await });
        yield_now().await;
        assert!(!waiting.is_finished());
        assert_eq!(rx.recv().await, Some(1));
        waiting.await.unwrap().unwrap();
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, Some(3));

        // Closed when every sender is gone; queued values are still delivered first.
        tx.try_send(4).unwrap();
        drop(tx);
        assert_eq!(rx.recv().await, Some(4));
        assert_eq!(rx.recv().await, None);
    });
}

#[test]
fn mpsc_send_fails_after_the_receiver_is_dropped() {
    block_on(async {
        let (tx, rx) = mpsc::channel::<u32>(1);
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.send(9).await.unwrap_err().0, 9);
    });
}

#[test]
fn mpsc_ping_pong_between_two_tasks() {
    let n = block_on(async {
        let (ping_tx, mut ping_rx) = mpsc::channel::<u32>(1);
        let (pong_tx, mut pong_rx) = mpsc::channel::<u32>(1);
        let ponger = spawn(async move {
            while let Some(v) = ping_rx.recv().await {
                pong_tx.send(v + 1).await.unwrap();
            }
        });
        let mut v = 0;
        for _ in 0..10_000 {
            ping_tx.send(v).await.unwrap();
            v = pong_rx.recv().await.unwrap();
        }
        drop(ping_tx);
        ponger.await.unwrap();
        v
    });
    assert_eq!(n, 10_000);
}

#[test]
fn each_receive_wakes_one_blocked_sender() {
    use std::cell::Cell;
    use std::rc::Rc;
    const SENDERS: u64 = 200;
    let polls = Rc::new(Cell::new(0u64));
    let total = block_on(async {
        let (tx, mut rx) = mpsc::channel::<u64>(1);
        tx.try_send(0).unwrap(); // full: every sender below blocks
        for i in 1..=SENDERS {
            let tx = tx.clone();
            let polls = polls.clone();
            spawn(async move {
                let mut send = std::pin::pin!(tx.send(i));
                std::future::poll_fn(|cx| {
                    polls.set(polls.get() + 1);
                    send.as_mut().poll(cx)
                })
                .await
                .unwrap();
            })
            .detach();
        }
        drop(tx);
        yield_now().await; // every sender has polled once and waits
        let mut total = 0;
        while let Some(v) = rx.recv().await {
            total += v;
        }
        total
    });
    assert_eq!(total, SENDERS * (SENDERS + 1) / 2);
    // One poll to start waiting and one when woken: waking every sender on each receive would
    // take about SENDERS² / 2 polls.
    assert!(
        polls.get() <= 3 * SENDERS,
        "{} sender polls for {SENDERS} senders",
        polls.get()
    );
}

#[test]
fn a_dropped_send_future_releases_its_waker_and_passes_on_its_wake() {
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Context, Wake, Waker};
    struct Nop;
    impl Wake for Nop {
        fn wake(self: Arc<Self>) {}
    }
    block_on(async {
        let (tx, mut rx) = mpsc::channel::<u8>(1);
        tx.try_send(1).unwrap();
        let counted = Arc::new(Nop);
        let waker = Waker::from(counted.clone());
        let mut cx = Context::from_waker(&waker);
        {
            let mut send = std::pin::pin!(tx.send(2));
            assert!(send.as_mut().poll(&mut cx).is_pending());
            assert_eq!(
                Arc::strong_count(&counted),
                3,
                "the channel holds the waker"
            );
        }
        assert_eq!(
            Arc::strong_count(&counted),
            2,
            "a dropped send kept its waker"
        );

        // Woken for a free slot, then dropped without sending: the next sender gets the wake.
        let tx2 = tx.clone();
        let second = spawn(async move { tx2.send(3).await.unwrap() });
        {
            let mut first = std::pin::pin!(tx.send(2));
            assert!(first.as_mut().poll(&mut cx).is_pending()); // first in line
            yield_now().await; // `second` queues behind it
            assert_eq!(rx.recv().await, Some(1)); // room for one: wakes `first`
        } // `first` dropped without sending
        second.await.unwrap();
        assert_eq!(rx.recv().await, Some(3));
    });
}
