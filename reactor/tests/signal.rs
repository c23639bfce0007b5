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

/// The child half of `a_repeated_signal_ends_the_process_in_the_handler` (runs only when that
/// test starts this binary again with `WAITLESS_SIGNAL_CHILD` set).
#[test]
fn repeat_child() {
    if std::env::var_os("WAITLESS_SIGNAL_CHILD").is_none() {
        return;
    }
    block_on(async {
        let mut signals = Signals::new(&[libc::SIGUSR1, libc::SIGUSR2]).unwrap();
        signals.exit_on_repeat(libc::SIGUSR2, 42).unwrap();
        assert!(signals.exit_on_repeat(libc::SIGTERM, 1).is_err());
        // The first delivery is an ordinary one.
        // SAFETY: the handler is installed; raising is harmless.
        unsafe { libc::raise(libc::SIGUSR2) };
        assert_eq!(signals.recv().await.unwrap(), libc::SIGUSR2);
        println!("first delivery received");
        // The second ends the process inside the handler, with the loop never polled again.
        // SAFETY: as above.
        unsafe { libc::raise(libc::SIGUSR2) };
        println!("still alive after the second delivery");
    });
}

#[test]
fn a_repeated_signal_ends_the_process_in_the_handler() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["repeat_child", "--exact", "--nocapture", "--test-threads=1"])
        .env("WAITLESS_SIGNAL_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("first delivery received"), "{stdout}");
    assert!(!stdout.contains("still alive"), "{stdout}");
    assert_eq!(out.status.code(), Some(42), "{stdout}");
}
