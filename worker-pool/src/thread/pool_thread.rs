//! The loop of one pool thread: local deque, then the injector, then the siblings; sleep when
//! all are empty.

use std::iter;
use std::sync::atomic::{fence, Ordering};
use std::sync::PoisonError;

use crossbeam_deque::{Steal, Worker};

use super::{Job, Shared};

/// Rounds of looking for work before a thread parks. Submissions arrive in bursts; a thread that
/// parks the moment the queue is empty pays a futex sleep and a futex wake per job (a few µs
/// each) while a burst trickles in. Spinning briefly, yielding the CPU between rounds (rayon does
/// the same), catches the next job without a syscall; after that the thread parks: an idle pool
/// burns no CPU.
const SPIN_ROUNDS: u32 = 64;

pub(super) fn run(shared: &Shared, index: usize, local: Worker<Job>) {
    let mut idle_rounds = 0;
    loop {
        if let Some(job) = find(shared, index, &local) {
            idle_rounds = 0;
            shared.queued.fetch_sub(1, Ordering::Relaxed);
            // More work may be waiting in our deque: let a sleeping sibling steal it.
            if !local.is_empty() {
                shared.notify_one();
            }
            job.run();
            continue;
        }
        if idle_rounds < SPIN_ROUNDS {
            idle_rounds += 1;
            if idle_rounds % 8 == 0 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
            continue;
        }
        idle_rounds = 0;
        if !sleep(shared, index) {
            return;
        }
    }
}

/// The next job: our deque first, then a batch from the injector, then a sibling's deque.
fn find(shared: &Shared, index: usize, local: &Worker<Job>) -> Option<Job> {
    local.pop().or_else(|| {
        iter::repeat_with(|| {
            shared.injector.steal_batch_and_pop(local).or_else(|| {
                shared
                    .stealers
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != index)
                    .map(|(_, s)| s.steal())
                    .collect::<Steal<Job>>()
            })
        })
        .find(|s| !s.is_retry())
        .and_then(|s| s.success())
    })
}

fn has_work(shared: &Shared) -> bool {
    !shared.injector.is_empty() || shared.stealers.iter().any(|s| !s.is_empty())
}

/// Sleeps until a job may be available. Returns false when the pool shuts down and no work is
/// left.
fn sleep(shared: &Shared, _index: usize) -> bool {
    let mut guard = shared.lock.lock().unwrap_or_else(PoisonError::into_inner);
    shared.sleepers.fetch_add(1, Ordering::SeqCst);
    fence(Ordering::SeqCst);
    let keep_going = loop {
        if has_work(shared) {
            break true;
        }
        if shared.shutdown.load(Ordering::SeqCst) {
            break false;
        }
        guard = shared
            .wakeup
            .wait(guard)
            .unwrap_or_else(PoisonError::into_inner);
    };
    shared.sleepers.fetch_sub(1, Ordering::SeqCst);
    keep_going
}
