//! Signals arrive on the loop, in order, through `Signals::recv`.

use std::time::Duration;

use waitless_executor::block_on;
use waitless_reactor::signal::Signals;
use waitless_reactor::timeout;

#[test]
fn raised_signals_are_received_on_the_loop() {
    block_on(timeout(Duration::from_secs(10), async {
        let mut signals = Signals::new(&[libc::SIGUSR1, libc::SIGUSR2]).unwrap();
        // SAFETY: both signals have a handler installed; raising them is harmless.
        unsafe {
            libc::raise(libc::SIGUSR1);
            libc::raise(libc::SIGUSR2);
        }
        assert_eq!(signals.recv().await.unwrap(), libc::SIGUSR1);
        assert_eq!(signals.recv().await.unwrap(), libc::SIGUSR2);
        // From another thread too (the handler runs wherever the kernel delivers it).
        std::thread::spawn(|| {
            // SAFETY: as above; kill targets this process.
            unsafe { libc::kill(libc::getpid(), libc::SIGUSR2) };
        })
        .join()
        .unwrap();
        assert_eq!(signals.recv().await.unwrap(), libc::SIGUSR2);
        assert!(Signals::new(&[libc::SIGKILL]).is_err());
    }))
    .expect("a signal was not delivered");
}
