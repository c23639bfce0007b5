//! Real sockets on 127.0.0.1:0, one thread, bounded in time.

use std::cell::Cell;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use waitless_executor::{block_on, spawn};
use waitless_reactor::{timeout, ListenOptions, TcpListener, TcpStream};

const LIMIT: Duration = Duration::from_secs(20);

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Raises the soft fd limit towards the hard one (CI caps `ulimit -n` at 20,000).
fn raise_fd_limit(want: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read/write a live rlimit struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < want as libc::rlim_t {
            lim.rlim_cur = (want as libc::rlim_t).min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        }
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every platform
    let cur = lim.rlim_cur as u64;
    cur
}

async fn echo_server(listener: TcpListener) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        spawn(async move {
            let mut buf = [0u8; 1024];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if stream.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
            }
        })
        .detach();
    }
}

#[test]
fn echo_2000_concurrent_connections_in_one_thread() -> io::Result<()> {
    const CONNS: usize = 2000;
    const ROUNDS: usize = 5;
    let limit = raise_fd_limit(2 * CONNS as u64 + 256);
    assert!(
        limit >= 2 * CONNS as u64 + 64,
        "fd limit {limit} too low for this test"
    );
    block_on(timeout(LIMIT, async {
        let listener = ListenOptions::new().backlog(4096).bind(localhost())?;
        let addr = listener.local_addr()?;
        let server = spawn(echo_server(listener));
        // Open every connection first, so all 2,000 are held at once.
        let mut clients = Vec::with_capacity(CONNS);
        for _ in 0..CONNS {
            clients.push(TcpStream::connect(addr).await?);
        }
        let done = Rc::new(Cell::new(0usize));
        let mut handles = Vec::new();
        for (i, mut c) in clients.into_iter().enumerate() {
            let done = done.clone();
            handles.push(spawn(async move {
                for round in 0..ROUNDS {
                    let msg = format!("conn {i} round {round}\n");
                    c.write_all(msg.as_bytes()).await?;
                    let mut back = vec![0u8; msg.len()];
                    c.read_exact(&mut back).await?;
                    assert_eq!(back, msg.as_bytes());
                }
                done.set(done.get() + 1);
                io::Result::Ok(())
            }));
        }
        for h in handles {
            h.await.expect("client task panicked")?;
        }
        assert_eq!(done.get(), CONNS);
        server.cancel();
        io::Result::Ok(())
    }))
    .expect("test timed out")
}

#[test]
fn peer_close_reads_eof() -> io::Result<()> {
    block_on(timeout(LIMIT, async {
        let listener = TcpListener::bind(localhost())?;
        let addr = listener.local_addr()?;
        let mut client = TcpStream::connect(addr).await?;
        let (mut server_side, peer) = listener.accept().await?;
        assert_eq!(peer, client.local_addr()?);
        client.write_all(b"last words").await?;
        drop(client);
        let mut got = Vec::new();
        server_side.read_to_end(&mut got).await?;
        assert_eq!(got, b"last words");
        // EOF is sticky: reading again returns 0 at once.
        let mut buf = [0u8; 8];
        assert_eq!(server_side.read(&mut buf).await?, 0);
        io::Result::Ok(())
    }))
    .expect("test timed out")
}

#[test]
fn half_close_still_lets_the_other_side_answer() -> io::Result<()> {
    block_on(timeout(LIMIT, async {
        let listener = TcpListener::bind(localhost())?;
        let addr = listener.local_addr()?;
        let server = spawn(async move {
            let (mut s, _) = listener.accept().await?;
            let mut req = Vec::new();
            s.read_to_end(&mut req).await?; // returns at the client's FIN
            s.write_all(&req).await?;
            s.write_all(b" (read to EOF)").await?;
            s.close().await?;
            io::Result::Ok(())
        });
        let mut client = TcpStream::connect(addr).await?;
        client.set_nodelay(true)?;
        assert!(client.nodelay()?);
        client.write_all(b"question").await?;
        client.shutdown(Shutdown::Write)?;
        let mut answer = String::new();
        client.read_to_string(&mut answer).await?;
        assert_eq!(answer, "question (read to EOF)");
        server.await.expect("server panicked")?;
        io::Result::Ok(())
    }))
    .expect("test timed out")
}

#[test]
fn connect_refused_is_reported() {
    // Bind then close a listener to find a port nobody listens on.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind");
    let err = block_on(timeout(LIMIT, TcpStream::connect(addr)))
        .expect("test timed out")
        .expect_err("connect to a closed port succeeded");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
}

#[test]
fn reuse_port_lets_two_listeners_share_a_port() -> io::Result<()> {
    block_on(async {
        let opts = ListenOptions::new().reuse_port(true);
        let a = opts.bind(localhost())?;
        let b = opts.bind(a.local_addr()?)?;
        assert_eq!(a.local_addr()?, b.local_addr()?);
        // Without SO_REUSEPORT the second bind fails.
        let plain = ListenOptions::new().bind(a.local_addr()?);
        assert_eq!(
            plain.err().map(|e| e.kind()),
            Some(io::ErrorKind::AddrInUse)
        );
        io::Result::Ok(())
    })
}

#[test]
fn accept_drains_a_burst_of_connections_on_one_wake() -> io::Result<()> {
    block_on(timeout(LIMIT, async {
        let listener = TcpListener::bind(localhost())?;
        let addr = listener.local_addr()?;
        // Connect with blocking std sockets so all 64 sit in the accept queue before we accept.
        let clients: Vec<_> = (0..64)
            .map(|_| std::net::TcpStream::connect(addr))
            .collect::<io::Result<_>>()?;
        // Count the polls of the accepting future: one finds the listener not yet known to be
        // ready (no loop turn since it was registered), and the one after the readiness edge
        // must accept all 64. A listener that cleared readiness after each accept would need a
        // wake, and a poll, per connection.
        let polls = Cell::new(0u32);
        let mut accepted = 0;
        std::future::poll_fn(|cx| {
            polls.set(polls.get() + 1);
            while accepted < clients.len() {
                match listener.poll_accept(cx) {
                    std::task::Poll::Ready(res) => {
                        res?;
                        accepted += 1;
                    }
                    std::task::Poll::Pending => return std::task::Poll::Pending,
                }
            }
            std::task::Poll::Ready(io::Result::Ok(()))
        })
        .await?;
        assert!(
            polls.get() <= 2,
            "64 queued connections took {} polls",
            polls.get()
        );
        io::Result::Ok(())
    }))
    .expect("test timed out")
}

#[test]
fn vectored_write_gathers_buffers() -> io::Result<()> {
    block_on(timeout(LIMIT, async {
        let listener = TcpListener::bind(localhost())?;
        let addr = listener.local_addr()?;
        let mut client = TcpStream::connect(addr).await?;
        let (mut server, _) = listener.accept().await?;
        let bufs = [
            io::IoSlice::new(b"head "),
            io::IoSlice::new(b"and "),
            io::IoSlice::new(b"body"),
        ];
        let n = std::future::poll_fn(|cx| client.poll_write_vectored(cx, &bufs)).await?;
        assert_eq!(n, 13);
        client.close().await?;
        let mut got = String::new();
        server.read_to_string(&mut got).await?;
        assert_eq!(got, "head and body");
        io::Result::Ok(())
    }))
    .expect("test timed out")
}

#[test]
fn end_of_stream_right_behind_the_data_is_seen_after_a_short_read() -> io::Result<()> {
    // The peer writes and shuts down before the reader looks: data and FIN share one readable
    // edge. The first read is short (the data); the next must return 0, not wait for an edge that
    // will never come (the portable backend used to hang here, see docs/reactor.md).
    block_on(timeout(LIMIT, async {
        let listener = TcpListener::bind(localhost())?;
        let addr = listener.local_addr()?;
        let mut client = TcpStream::connect(addr).await?;
        let (mut server, _) = listener.accept().await?;
        client.write_all(&[1u8; 1000]).await?;
        client.close().await?;
        waitless_reactor::sleep(Duration::from_millis(50)).await;
        let mut buf = vec![0u8; 64 * 1024];
        assert_eq!(server.read(&mut buf).await?, 1000);
        assert_eq!(server.read(&mut buf).await?, 0);
        io::Result::Ok(())
    }))
    .expect("test timed out")
}

#[test]
fn large_transfer_respects_backpressure() -> io::Result<()> {
    // 8 MiB through a socket whose reader starts late: the writer must wait for writability
    // (short writes) rather than spin or fail.
    const SIZE: usize = 8 << 20;
    block_on(timeout(LIMIT, async {
        let listener = TcpListener::bind(localhost())?;
        let addr = listener.local_addr()?;
        let writer = spawn(async move {
            let (mut s, _) = listener.accept().await?;
            let chunk = vec![7u8; 64 * 1024];
            for _ in 0..SIZE / chunk.len() {
                s.write_all(&chunk).await?;
            }
            s.close().await?;
            io::Result::Ok(())
        });
        let mut c = TcpStream::connect(addr).await?;
        waitless_reactor::sleep(Duration::from_millis(50)).await;
        let mut total = 0usize;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = c.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            assert!(buf[..n].iter().all(|&b| b == 7));
            total += n;
        }
        assert_eq!(total, SIZE);
        writer.await.expect("writer panicked")?;
        io::Result::Ok(())
    }))
    .expect("test timed out")
}
