//! Writing to a socket whose peer is gone must fail with an error, not kill the process, even
//! when the program restored the default SIGPIPE action (Rust ignores it unless told otherwise).

use std::io;
use std::time::Duration;

use futures_lite::AsyncWriteExt;
use waitless_executor::block_on;
use waitless_reactor::{timeout, TcpListener, TcpStream};

#[test]
fn writes_to_a_closed_peer_fail_instead_of_raising_sigpipe() {
    // SAFETY: restores the default disposition; this test binary contains only this test.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let err = block_on(timeout(Duration::from_secs(10), async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
        let mut client = TcpStream::connect(listener.local_addr()?).await?;
        let (server, _) = listener.accept().await?;
        drop(server);
        // The first writes may be accepted by the kernel; once the RST arrives they fail.
        let chunk = [0u8; 64 * 1024];
        for _ in 0..10_000 {
            client.write_all(&chunk).await?;
        }
        io::Result::Ok(())
    }))
    .expect("timed out")
    .expect_err("writing to a closed peer kept succeeding");
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        ),
        "{err:?}"
    );
}
