//! An always-ready task cannot starve other tasks or I/O: the reactor is polled at least every
//! `IO_POLL_INTERVAL` task polls.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use waitless_executor::{block_on, spawn, yield_now, IO_POLL_INTERVAL};
use waitless_reactor::{sleep, timeout, TcpListener, TcpStream};

#[test]
fn a_task_that_never_waits_does_not_starve_io_or_timers() {
    let spins = Rc::new(Cell::new(0u64));
    let s = spins.clone();
    block_on(timeout(Duration::from_secs(20), async move {
        // Always ready: it never awaits anything but yield_now, so the run queue never empties.
        let spinner = spawn(async move {
            loop {
                s.set(s.get() + 1);
                yield_now().await;
            }
        });

        // Timers still fire.
        sleep(Duration::from_millis(10)).await;

        // I/O still progresses, and promptly: data already in the kernel is noticed within one
        // fairness interval of spinner polls.
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut a = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut b, _) = listener.accept().await.unwrap();
        let mut worst = 0;
        for i in 0..50u8 {
            let before = spins.get();
            a.write_all(&[i]).await.unwrap();
            let mut byte = [0u8; 1];
            b.read_exact(&mut byte).await.unwrap();
            assert_eq!(byte[0], i);
            worst = worst.max(spins.get() - before);
        }
        spinner.cancel();
        assert!(
            worst <= 2 * IO_POLL_INTERVAL as u64 + 4,
            "I/O waited {worst} spinner polls (interval {IO_POLL_INTERVAL})"
        );
        assert!(spins.get() > 0);
    }))
    .expect("the spinner starved the loop");
}

#[test]
fn a_connection_that_always_has_data_yields_to_the_others() {
    use std::io::Write;
    use waitless_reactor::coop::DEFAULT_BUDGET;
    const BYTES: usize = 64 * 1024;
    block_on(timeout(Duration::from_secs(20), async {
        let (mut peer, ours) = std::os::unix::net::UnixStream::pair().unwrap();
        peer.write_all(&[7u8; BYTES]).unwrap(); // all queued before the reader starts
        let mut ours = waitless_reactor::UnixStream::from_std(ours).unwrap();
        ours.readable().await.unwrap();

        // Another task on the loop counts its turns.
        let turns = Rc::new(Cell::new(0u64));
        let t = turns.clone();
        let other = spawn(async move {
            loop {
                t.set(t.get() + 1);
                yield_now().await;
            }
        });
        // One byte per read: every read is full, so readiness is never cleared and, without a
        // budget, all 65,536 reads would run inside one poll of this task.
        let reader = spawn(async move {
            let (mut worst, mut run, mut last) = (0u64, 0u64, turns.get());
            let mut byte = [0u8; 1];
            for _ in 0..BYTES {
                ours.read_exact(&mut byte).await.unwrap();
                if turns.get() == last {
                    run += 1;
                } else {
                    (run, last) = (1, turns.get());
                }
                worst = worst.max(run);
            }
            worst
        });
        let worst = reader.await.unwrap();
        other.cancel();
        assert!(
            worst <= 2 * DEFAULT_BUDGET as u64,
            "{worst} reads in a row while another task waited (budget {DEFAULT_BUDGET})"
        );
    }))
    .expect("timed out");
}
