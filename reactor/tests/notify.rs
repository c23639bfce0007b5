//! Cross-thread wake-ups: a `Notifier` interrupts a blocked `epoll_wait`, whichever comes first.

use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Long enough to tell "woken by the notification" from "the wait timed out" on a loaded CI box.
const WAIT: Duration = Duration::from_secs(5);

/// The kernel's view of thread `tid` of this process: 'S' while it sleeps in a syscall.
#[cfg(target_os = "linux")]
fn thread_state(tid: libc::pid_t) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    // The state follows the parenthesised command name, which may itself hold spaces.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

#[test]
#[cfg(target_os = "linux")]
fn notify_while_blocked_ends_the_wait() {
    let notifier = waitless_reactor::notifier();
    // SAFETY: gettid takes no arguments and cannot fail.
    let tid = unsafe { libc::gettid() };
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        ready_rx.recv().unwrap();
        // Wait (bounded) until the loop thread is asleep in epoll_wait, then notify: this is
        // the ordering the test is about. The loop thread does nothing but wait after `send`.
        let deadline = Instant::now() + WAIT;
        let mut slept = false;
        while Instant::now() < deadline {
            if thread_state(tid) == Some('S') {
                slept = true;
                break;
            }
            std::thread::yield_now();
        }
        notifier.notify();
        notifier.notify(); // coalesced with the first
        slept
    });
    ready_tx.send(()).unwrap();
    let start = Instant::now();
    waitless_reactor::turn(Some(WAIT)).unwrap();
    let waited = start.elapsed();
    let slept = t.join().unwrap();
    assert!(slept, "the loop thread never blocked");
    assert!(
        waited < WAIT,
        "the notification did not end the wait ({waited:?})"
    );
}

#[test]
fn notify_before_the_wait_is_not_lost() {
    let notifier = waitless_reactor::notifier();
    std::thread::spawn(move || notifier.notify())
        .join()
        .unwrap();
    let start = Instant::now();
    waitless_reactor::turn(Some(WAIT)).unwrap();
    assert!(
        start.elapsed() < WAIT,
        "a notification sent before the wait was lost"
    );
}

#[test]
fn notifications_are_not_lost_across_turns() {
    let notifier = waitless_reactor::notifier();
    for i in 0..100 {
        let n = notifier;
        let t = std::thread::spawn(move || n.notify());
        let start = Instant::now();
        waitless_reactor::turn(Some(WAIT)).unwrap();
        assert!(start.elapsed() < WAIT, "notification {i} was lost");
        t.join().unwrap();
    }
}

#[test]
fn a_notifier_outliving_its_thread_is_harmless() {
    // The loop thread ends; its notifier is recycled, never freed, so notifying is safe.
    let stale = std::thread::spawn(waitless_reactor::notifier)
        .join()
        .unwrap();
    stale.notify();
    // A new reactor (this thread's) may inherit it: at worst one turn ends early.
    waitless_reactor::turn(Some(Duration::ZERO)).unwrap();
}
