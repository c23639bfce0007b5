//! The executor's edges: thread teardown, panicking destructors, stale wakers across
//! executors.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};

use waitless_executor::{block_on, spawn, yield_now};

#[test]
fn task_destructors_may_use_the_executor_while_the_thread_exits() {
    // A task left pending when its thread ends is dropped inside the executor's thread-local
    // destructor. Its Drop calls spawn, cancel and is_finished: that used to panic inside
    // `EXECUTOR.with` during TLS destruction, which aborts the whole process.
    struct Noisy(Option<waitless_executor::JoinHandle<()>>);
    impl Drop for Noisy {
        fn drop(&mut self) {
            let late = spawn(async {});
            late.cancel();
            assert!(late.is_finished());
            if let Some(h) = &self.0 {
                h.cancel();
                let _ = h.is_finished();
            }
        }
    }
    let t = std::thread::spawn(|| {
        let other = spawn(std::future::pending::<()>());
        let guard = Noisy(Some(other));
        spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        })
        .detach();
        block_on(yield_now()); // the task starts and parks; the thread then ends
    });
    t.join()
        .expect("the loop thread panicked while tearing down");
}

#[test]
fn a_panic_dropping_a_detached_tasks_output_stays_inside_the_executor() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("boom in a destructor");
        }
    }
    let survived = block_on(async {
        spawn(async { Bomb }).detach();
        for _ in 0..3 {
            yield_now().await; // the task runs, finishes, and its output is dropped
        }
        true
    });
    assert!(survived);
}

#[test]
fn a_panic_dropping_a_finished_or_cancelled_future_keeps_its_result() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("boom dropping the future");
        }
    }
    block_on(async {
        // The future finishes with 7; dropping it afterwards (outside its poll) panics.
        let done = spawn(std::future::poll_fn({
            let bomb = Bomb;
            move |_| {
                let _keep = &bomb;
                Poll::Ready(7)
            }
        }));
        assert_eq!(
            done.await.expect("the output survives its future's drop"),
            7
        );

        // Cancelled while parked: the drop panics, the handle still reports Cancelled.
        let parked = spawn(async {
            let _bomb = Bomb;
            std::future::pending::<()>().await;
        });
        yield_now().await;
        parked.cancel();
        assert!(parked.await.expect_err("cancelled").is_cancelled());
    });
}

#[test]
fn a_stale_waker_from_a_dead_executor_does_not_poll_a_new_one() {
    // Thread A's executor dies leaving a waker of its first task behind.
    let stale: Waker = std::thread::spawn(|| {
        block_on(async {
            let (tx, rx) = std::sync::mpsc::channel();
            spawn(std::future::poll_fn(move |cx| {
                let _ = tx.send(cx.waker().clone());
                Poll::<()>::Pending
            }))
            .detach();
            yield_now().await;
            rx.recv().expect("waker")
        })
    })
    .join()
    .unwrap();
    // Thread B's executor: its first task has the same index and generation as A's. Were B
    // given A's id straight away, the stale waker would poll it.
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    std::thread::spawn(move || {
        block_on(async move {
            let p2 = p.clone();
            spawn(std::future::poll_fn(move |_| {
                p2.fetch_add(1, Ordering::SeqCst);
                Poll::<()>::Pending
            }))
            .detach();
            yield_now().await;
            assert_eq!(p.load(Ordering::SeqCst), 1);
            stale.wake_by_ref();
            // The wake (if it lands here) is queued by now; each loop iteration drains the
            // remote queue, so two yields are enough for it to run.
            for _ in 0..3 {
                yield_now().await;
            }
        })
    })
    .join()
    .unwrap();
    assert_eq!(
        polls.load(Ordering::SeqCst),
        1,
        "a stale waker polled a task of another executor"
    );
}

#[test]
fn many_remote_wakes_of_one_task_poll_it_once() {
    let polls = Rc::new(Cell::new(0));
    let p = polls.clone();
    block_on(async move {
        let (tx, rx) = std::sync::mpsc::channel::<Waker>();
        let task = spawn(std::future::poll_fn(move |cx| {
            p.set(p.get() + 1);
            if p.get() == 1 {
                let _ = tx.send(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        }));
        yield_now().await;
        let waker = rx.recv().unwrap();
        // 10,000 wakes from another thread while this loop is busy (blocked in join).
        std::thread::spawn(move || (0..10_000).for_each(|_| waker.wake_by_ref()))
            .join()
            .unwrap();
        task.await.unwrap();
    });
    assert_eq!(polls.get(), 2);
}
