//! Cross-thread wake-ups: a `Notifier` interrupts a blocked `epoll_wait`.

use std::sync::mpsc;
use std::time::{Duration, Instant};

#[test]
fn notify_from_another_thread_unblocks_turn() {
    let notifier = waitless_reactor::notifier();
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        // Wait until the loop is (about to be) blocked, then notify.
        ready_rx.recv().unwrap();
        notifier.notify();
        notifier.notify(); // coalesced with the first
    });
    ready_tx.send(()).unwrap();
    let start = Instant::now();
    // With no timers and no sources this would block forever without the notification.
    waitless_reactor::turn(None).unwrap();
    assert!(start.elapsed() < Duration::from_secs(10));
    t.join().unwrap();
}

#[test]
fn notifications_are_not_lost_across_turns() {
    let notifier = waitless_reactor::notifier();
    for _ in 0..100 {
        let n = notifier.clone();
        let t = std::thread::spawn(move || n.notify());
        waitless_reactor::turn(Some(Duration::from_secs(10))).unwrap();
        t.join().unwrap();
    }
}
