//! oneshot and bounded mpsc between tasks of one loop.

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
