//! `Async<T>` over non-socket fds: a pipe, as the process pool uses.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use waitless_executor::{block_on, spawn};
use waitless_reactor::{timeout, Async};

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe writes two fds into the array; on success we own both.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just created by pipe(2) and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

#[test]
fn pipe_round_trip_and_eof() -> io::Result<()> {
    block_on(timeout(Duration::from_secs(10), async {
        let (r, w) = pipe()?;
        let mut reader = Async::new(r)?;
        let mut writer = Async::new(w)?;
        let producer = spawn(async move {
            // More than a pipe buffer (64 KiB), so the writer has to wait for the reader.
            let data = vec![b'x'; 1 << 20];
            writer.write_all(&data).await?;
            drop(writer); // closes the write end: the reader sees EOF
            io::Result::Ok(())
        });
        let mut got = Vec::new();
        reader.read_to_end(&mut got).await?;
        assert_eq!(got.len(), 1 << 20);
        producer.await.expect("producer panicked")?;
        io::Result::Ok(())
    }))
    .expect("test timed out")
}
