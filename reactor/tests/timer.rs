//! Timers: ordering, never early, cancellation, timeout, interval, 100,000 armed and cancelled.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use waitless_executor::{block_on, spawn};
use waitless_reactor::{
    sleep, sleep_until, timeout, timeout_at, Elapsed, Interval, MissedTickBehavior,
};

#[test]
fn timers_fire_in_deadline_order_and_never_early() {
    let order = Rc::new(RefCell::new(Vec::new()));
    block_on(async {
        let start = Instant::now();
        let mut handles = Vec::new();
        for ms in [30u64, 10, 20, 0, 25] {
            let order = order.clone();
            handles.push(spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                let elapsed = start.elapsed();
                assert!(
                    elapsed >= Duration::from_millis(ms),
                    "{ms} ms timer fired after {elapsed:?}"
                );
                order.borrow_mut().push(ms);
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(*order.borrow(), vec![0, 10, 20, 25, 30]);
}

#[test]
fn sleep_until_the_past_is_ready_at_once() {
    block_on(async {
        sleep_until(Instant::now() - Duration::from_secs(1)).await;
        sleep(Duration::ZERO).await;
    });
}

#[test]
fn timeout_expires_and_drops_the_inner_future() {
    struct DropFlag(Rc<RefCell<bool>>);
    impl Drop for DropFlag {
        fn drop(&mut self) {
            *self.0.borrow_mut() = true;
        }
    }
    let dropped = Rc::new(RefCell::new(false));
    let d = dropped.clone();
    let res = block_on(async move {
        let guard = DropFlag(d);
        let start = Instant::now();
        let res = timeout(Duration::from_millis(20), async move {
            let _guard = guard;
            sleep(Duration::from_secs(3600)).await;
        })
        .await;
        assert!(start.elapsed() >= Duration::from_millis(20));
        res
    });
    let err: Elapsed = res.expect_err("the 20 ms timeout did not fire before a 1 h sleep");
    assert_eq!(err.to_string(), "deadline has elapsed");
    assert!(*dropped.borrow(), "the timed-out future was not dropped");

    // A ready future wins even with a zero timeout, or a deadline in the past.
    assert_eq!(block_on(timeout(Duration::ZERO, async { 5 })), Ok(5));
    let past = Instant::now() - Duration::from_secs(1);
    assert_eq!(block_on(timeout_at(past, async { 6 })), Ok(6));
    assert!(block_on(timeout_at(past, std::future::pending::<()>())).is_err());
}

/// A waker that counts its wakes.
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn dropped_sleep_never_wakes() {
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let waker = Waker::from(count.clone());
    block_on(async {
        {
            let mut s = sleep(Duration::from_millis(5));
            let mut cx = Context::from_waker(&waker);
            assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
        } // dropped: cancelled
        sleep(Duration::from_millis(30)).await;
    });
    assert_eq!(
        count.0.load(Ordering::SeqCst),
        0,
        "a cancelled timer woke its task"
    );
}

#[test]
fn interval_ticks_at_its_period() {
    block_on(async {
        let start = Instant::now();
        let mut iv = Interval::new(Duration::from_millis(10));
        let mut last = start;
        for i in 1..=5u32 {
            let at = iv.tick().await;
            assert!(at >= last);
            assert!(Instant::now() >= start + Duration::from_millis(10) * i);
            last = at;
        }
    });
}

#[test]
fn hundred_thousand_timers_armed_then_cancelled() {
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let waker = Waker::from(count.clone());
    block_on(async {
        let mut cx = Context::from_waker(&waker);
        let now = Instant::now();
        let mut sleeps: Vec<_> = (0..100_000u64)
            // Deadlines from 200 ms to 300 ms: every one would fire during the wait below if
            // the cancellation leaked.
            .map(|i| sleep_until(now + Duration::from_millis(200) + Duration::from_micros(i)))
            .collect();
        for s in &mut sleeps {
            assert!(Pin::new(s).poll(&mut cx).is_pending());
        }
        drop(sleeps);
        // Past every cancelled deadline: a surviving entry would have woken by now.
        sleep_until(now + Duration::from_millis(350)).await;
    });
    assert_eq!(count.0.load(Ordering::SeqCst), 0);
}

#[test]
fn sleep_reset_to_later_fires_at_the_new_deadline_not_the_old_one() {
    block_on(async {
        let start = Instant::now();
        let mut s = sleep(Duration::from_millis(5));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(Pin::new(&mut s).poll(&mut cx).is_pending()); // armed for +5 ms
        s.reset(start + Duration::from_millis(40)); // O(1): the +5 ms entry stays armed
        (&mut s).await;
        assert!(start.elapsed() >= Duration::from_millis(40), "fired early");
        assert!(s.is_elapsed());
        // And earlier than armed: re-armed at once.
        let start = Instant::now();
        let mut s = sleep(Duration::from_secs(3600));
        assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
        s.reset(start + Duration::from_millis(10));
        timeout(Duration::from_secs(5), s)
            .await
            .expect("an earlier reset was not honoured");
    });
}

/// Stalls the loop thread, as a long CPU-bound poll would (the point of these tests).
fn stall(d: Duration) {
    std::thread::sleep(d);
}

#[test]
fn interval_missed_tick_policies() {
    const P: Duration = Duration::from_millis(20);
    block_on(async {
        // Burst: the missed ticks come back to back, on the original grid.
        let mut iv = Interval::new(P);
        stall(P * 3 + P / 2);
        let stalled = Instant::now();
        let ticks = [iv.tick().await, iv.tick().await, iv.tick().await];
        assert_eq!(ticks[1] - ticks[0], P);
        assert_eq!(ticks[2] - ticks[1], P);
        assert!(
            ticks[2] <= stalled,
            "all three were due when the stall ended"
        );
        // Waiting for each tick would take 3 periods; the bound leaves room for a loaded machine
        // (it used to be 10 ms past the stall and failed under parallel builds).
        assert!(stalled.elapsed() < P * 2, "burst ticks waited");

        // Skip: one tick now, the next on the grid after now.
        let mut iv = Interval::new(P);
        iv.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let first = Instant::now() + P;
        stall(P * 3 + P / 2);
        let t1 = iv.tick().await;
        let t2 = iv.tick().await;
        assert!(t1 <= first + Duration::from_millis(2));
        assert_eq!((t2 - t1).as_nanos() % P.as_nanos(), 0, "off the grid");
        assert!(t2 - t1 >= P * 3, "missed ticks were delivered");

        // Delay: the next tick is a full period after the late one was delivered.
        let mut iv = Interval::new(P);
        iv.set_missed_tick_behavior(MissedTickBehavior::Delay);
        stall(P * 2);
        iv.tick().await;
        let delivered = Instant::now();
        let t2 = iv.tick().await;
        assert!(t2 >= delivered + P - Duration::from_millis(1));

        // reset: the next tick is one period from the reset.
        let mut iv = Interval::new(P);
        stall(P / 2);
        let reset_at = Instant::now();
        iv.reset();
        let t = iv.tick().await;
        assert!(t >= reset_at + P);
        assert_eq!(iv.missed_tick_behavior(), MissedTickBehavior::Burst);
    });
}
