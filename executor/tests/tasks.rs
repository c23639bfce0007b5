//! Spawn, join, detach, cancel, panic isolation, remote wakes.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use waitless_executor::{block_on, spawn, yield_now};
use waitless_reactor::{sleep, timeout};

const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn spawned_tasks_run_and_join_with_their_output() {
    let sum = block_on(async {
        let handles: Vec<_> = (0..1000u64).map(|i| spawn(async move { i * 2 })).collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, 999 * 1000);
}

#[test]
fn tasks_need_no_send_bound() {
    let shared = Rc::new(Cell::new(0));
    block_on(async {
        let s = shared.clone();
        spawn(async move { s.set(s.get() + 1) }).await.unwrap();
    });
    assert_eq!(shared.get(), 1);
}

#[test]
fn dropping_the_handle_detaches_the_task() {
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    block_on(async move {
        drop(spawn(async move {
            sleep(Duration::from_millis(5)).await;
            d.set(true);
        }));
        sleep(Duration::from_millis(30)).await;
    });
    assert!(done.get(), "a detached task did not run to completion");
}

#[test]
fn cancel_drops_the_future_and_reports_cancelled() {
    struct Guard(Rc<Cell<bool>>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let dropped = Rc::new(Cell::new(false));
    let d = dropped.clone();
    let res = block_on(async move {
        let h = spawn(async move {
            let _g = Guard(d);
            sleep(Duration::from_secs(3600)).await;
        });
        yield_now().await; // let it start and park on its timer
        h.cancel();
        assert!(h.is_finished());
        h.await
    });
    assert!(res.unwrap_err().is_cancelled());
    assert!(dropped.get(), "cancel did not drop the task's future");
}

#[test]
fn a_task_can_cancel_itself() {
    let res = block_on(async {
        let slot: Rc<RefCell<Option<waitless_executor::JoinHandle<()>>>> = Rc::default();
        let s = slot.clone();
        let h = spawn(async move {
            yield_now().await;
            if let Some(me) = s.borrow().as_ref() {
                me.cancel();
            }
            yield_now().await;
            unreachable!("the task ran after cancelling itself");
        });
        // Keep a second handle-like view: await through the slot.
        *slot.borrow_mut() = Some(h);
        sleep(Duration::from_millis(10)).await;
        let h = slot.borrow_mut().take().unwrap();
        h.await
    });
    assert!(res.unwrap_err().is_cancelled());
}

#[test]
fn a_panicking_task_is_reported_and_the_loop_keeps_running() {
    let (msg, after) = block_on(async {
        let bad = spawn(async {
            yield_now().await;
            panic!("boom in a task");
        });
        // A detached panicking task must not take the loop down either.
        spawn(async { panic!("detached boom") }).detach();
        let good = spawn(async {
            sleep(Duration::from_millis(5)).await;
            7
        });
        let err = bad.await.unwrap_err();
        assert!(err.is_panic());
        (err.panic_message().map(str::to_owned), good.await.unwrap())
    });
    assert_eq!(msg.as_deref(), Some("boom in a task"));
    assert_eq!(after, 7);
}

/// A future completed by another thread: the `Waker` crosses threads.
struct Remote {
    state: Arc<Mutex<(bool, Option<Waker>)>>,
    registered: Option<mpsc::Sender<()>>,
}

impl Future for Remote {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.state.lock().unwrap();
        if st.0 {
            return Poll::Ready(());
        }
        st.1 = Some(cx.waker().clone());
        drop(st);
        if let Some(tx) = self.registered.take() {
            tx.send(()).unwrap();
        }
        Poll::Pending
    }
}

fn remote_pair() -> (Remote, impl FnOnce() + Send) {
    let state = Arc::new(Mutex::new((false, None::<Waker>)));
    let (tx, rx) = mpsc::channel();
    let s = state.clone();
    let complete = move || {
        rx.recv().unwrap(); // the loop has stored its waker and is about to park
        let waker = {
            let mut st = s.lock().unwrap();
            st.0 = true;
            st.1.take()
        };
        waker.unwrap().wake();
    };
    (
        Remote {
            state,
            registered: Some(tx),
        },
        complete,
    )
}

#[test]
fn a_wake_from_another_thread_unparks_a_blocked_loop() {
    // The main future and a spawned task, each completed from a std::thread while the loop is
    // blocked in epoll_wait with nothing else to do.
    let (main_fut, complete_main) = remote_pair();
    let t1 = std::thread::spawn(complete_main);
    block_on(timeout(LIMIT, main_fut)).expect("main future never woke");
    t1.join().unwrap();

    let (task_fut, complete_task) = remote_pair();
    let t2 = std::thread::spawn(complete_task);
    block_on(timeout(LIMIT, spawn(task_fut)))
        .expect("task never woke")
        .unwrap();
    t2.join().unwrap();
}

#[test]
fn many_remote_wakes_from_many_threads() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 200;
    block_on(timeout(LIMIT, async {
        let mut handles = Vec::new();
        let mut threads = Vec::new();
        for _ in 0..THREADS * PER_THREAD {
            let (f, complete) = remote_pair();
            handles.push(spawn(f));
            threads.push(complete);
        }
        let mut joins = Vec::new();
        let mut chunks = threads.into_iter();
        for _ in 0..THREADS {
            let batch: Vec<_> = chunks.by_ref().take(PER_THREAD).collect();
            joins.push(std::thread::spawn(move || {
                batch.into_iter().for_each(|c| c())
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        for j in joins {
            j.join().unwrap();
        }
    }))
    .expect("remote wakes were lost");
}

#[test]
#[should_panic(expected = "block_on called inside block_on")]
fn nested_block_on_is_refused() {
    block_on(async { block_on(async {}) });
}

#[test]
fn tasks_left_pending_resume_at_the_next_block_on() {
    let hits = Rc::new(Cell::new(0));
    let h = hits.clone();
    // Spawning outside block_on queues the task; the first block_on starts it, and it parks on
    // its timer when that block_on returns.
    let handle = spawn(async move {
        sleep(Duration::from_millis(5)).await;
        h.set(h.get() + 1);
        5
    });
    block_on(yield_now());
    assert_eq!(hits.get(), 0);
    assert_eq!(block_on(handle).unwrap(), 5);
    assert_eq!(hits.get(), 1);
}

#[test]
fn a_consumed_handle_never_touches_the_task_that_reuses_its_slot() {
    block_on(async {
        let mut first = spawn(async { 1 });
        assert_eq!((&mut first).await.unwrap(), 1);
        // Reuse the freed slot many times over: each task below takes the same slot and frees
        // it again (the handle's `consumed` flag, not the generation, protects the reuser).
        for _ in 0..(1 << 16) - 1 {
            let h = spawn(async {});
            h.cancel();
        }
        // This task now sits in the first one's slot.
        let victim = spawn(std::future::pending::<()>());
        // Cancelling or dropping the consumed handle must not touch it.
        first.cancel();
        drop(first);
        assert!(
            !victim.is_finished(),
            "a stale JoinHandle cancelled an unrelated task"
        );
        victim.cancel();
        assert!(victim.await.unwrap_err().is_cancelled());
    });
}
