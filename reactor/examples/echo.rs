//! A TCP echo server and its clients on one thread: the workload behind the syscall counts in
//! `docs/reactor.md`.
//!
//! ```sh
//! cargo run --release -p waitless-reactor --example echo -- [connections] [round_trips]
//! strace -c -f target/release/examples/echo 50 2000
//! ```

use std::io;
use std::time::Instant;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use waitless_executor::{block_on, spawn};
use waitless_reactor::{TcpListener, TcpStream};

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let conns: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
        let addr = listener.local_addr()?;
        spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                s.set_nodelay(true).ok();
                spawn(async move {
                    let mut buf = [0u8; 4096];
                    while let Ok(n @ 1..) = s.read(&mut buf).await {
                        if s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                })
                .detach();
            }
        })
        .detach();
        let start = Instant::now();
        let mut clients = Vec::new();
        for _ in 0..conns {
            let mut c = TcpStream::connect(addr).await?;
            c.set_nodelay(true)?;
            clients.push(spawn(async move {
                let msg = [42u8; 64];
                // A buffer larger than the reply, so a short read proves the socket drained
                // (read_exact into exactly 64 bytes would cost one EAGAIN read per round).
                let mut back = [0u8; 4096];
                for _ in 0..rounds {
                    c.write_all(&msg).await?;
                    let mut got = 0;
                    while got < msg.len() {
                        match c.read(&mut back).await? {
                            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                            n => got += n,
                        }
                    }
                }
                io::Result::Ok(())
            }));
        }
        for c in clients {
            c.await??;
        }
        let secs = start.elapsed().as_secs_f64();
        let total = conns * rounds;
        println!(
            "{total} round trips in {secs:.3} s: {:.0} round trips/s",
            total as f64 / secs
        );
        Ok(())
    })
}
