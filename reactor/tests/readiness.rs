//! The readiness cache: when a bit may be cleared, and by whom. Each test pins one rule that a
//! past version broke; most poll once with a no-op waker, so a regression fails at once instead
//! of hanging.

use std::future::{poll_fn, Future};
use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use waitless_executor::block_on;
use waitless_reactor::{timeout, Async, Interest, TcpListener, TcpStream, UnixDatagram};

const LIMIT: Duration = Duration::from_secs(10);

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Polls `f` once with a waker that does nothing.
fn poll_once<F: Future>(f: F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    pin!(f).poll(&mut cx)
}

#[test]
fn a_short_datagram_read_keeps_the_socket_readable() -> io::Result<()> {
    block_on(timeout(LIMIT, async {
        let std_sock = std::net::UdpSocket::bind(localhost())?;
        let addr = std_sock.local_addr()?;
        let sock = Async::new(std_sock)?;
        let sender = std::net::UdpSocket::bind(localhost())?;
        sender.send_to(b"one", addr)?;
        sender.send_to(b"two", addr)?;
        sock.readable().await?;
        let mut buf = [0u8; 64];
        // 3 bytes into 64: short, but the second datagram is still queued.
        assert_eq!(poll_fn(|cx| sock.poll_read(cx, &mut buf)).await?, 3);
        match poll_once(poll_fn(|cx| sock.poll_read(cx, &mut buf))) {
            Poll::Ready(Ok(3)) => assert_eq!(&buf[..3], b"two"),
            other => panic!("second datagram not read at once: {other:?}"),
        }
        io::Result::Ok(())
    }))
    .expect("timed out")
}

#[test]
fn a_short_unix_datagram_read_keeps_the_socket_readable() -> io::Result<()> {
    block_on(timeout(LIMIT, async {
        let (a, b) = UnixDatagram::pair()?;
        a.send(b"one").await?;
        a.send(b"two").await?;
        let mut buf = [0u8; 64];
        assert_eq!(b.recv(&mut buf).await?, 3);
        match poll_once(b.recv(&mut buf)) {
            Poll::Ready(Ok(3)) => assert_eq!(&buf[..3], b"two"),
            other => panic!("second datagram not read at once: {other:?}"),
        }
        io::Result::Ok(())
    }))
    .expect("timed out")
}

#[test]
fn writing_more_than_iov_max_buffers_is_not_a_short_write() -> io::Result<()> {
    block_on(timeout(LIMIT, async {
        let listener = TcpListener::bind(localhost())?;
        let client = TcpStream::connect(listener.local_addr()?).await?;
        let (_server, _) = listener.accept().await?;
        let bytes = [b'x'; 2000];
        let bufs: Vec<IoSlice<'_>> = bytes.chunks(1).map(IoSlice::new).collect();
        let n = poll_fn(|cx| client.poll_write_vectored(cx, &bufs)).await?;
        assert_eq!(n, 1024, "writev takes IOV_MAX buffers");
        // All 1024 passed bytes went out: the socket is still writable, the rest goes at once.
        match poll_once(poll_fn(|cx| client.poll_write_vectored(cx, &bufs[n..]))) {
            Poll::Ready(Ok(976)) => {}
            other => panic!("writable cleared by a full writev: {other:?}"),
        }
        io::Result::Ok(())
    }))
    .expect("timed out")
}

#[test]
fn try_io_would_block_clears_readiness_and_readable_waits_again() -> io::Result<()> {
    block_on(timeout(LIMIT, async {
        let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
        let a = Async::new(a)?;
        b.write_all(b"ping")?;
        a.readable().await?;
        let mut buf = [0u8; 16];
        let n = a.try_io(Interest::Readable, |s| (&*s).read(&mut buf))?;
        assert_eq!(&buf[..n], b"ping");
        // Drained, but nobody told the cache yet: readable() still answers at once.
        assert!(poll_once(a.readable()).is_ready());
        let err = a
            .try_io(Interest::Readable, |s| (&*s).read(&mut buf))
            .expect_err("nothing left to read");
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        // Now the cache knows: readable() waits for a new edge instead of spinning.
        assert!(poll_once(a.readable()).is_pending());
        b.write_all(b"pong")?;
        a.readable().await?;
        assert!(a.is_ready(Interest::Readable));
        a.clear_ready(Interest::Readable);
        assert!(poll_once(a.readable()).is_pending());
        io::Result::Ok(())
    }))
    .expect("timed out")
}

#[test]
fn into_inner_deregisters_so_the_fd_can_be_wrapped_again() -> io::Result<()> {
    block_on(async {
        let (a, _b) = std::os::unix::net::UnixStream::pair()?;
        let wrapped = Async::new(a)?;
        let a = wrapped.into_inner()?;
        let again = Async::new(a)?; // EEXIST if the first registration were left behind
        drop(again);
        io::Result::Ok(())
    })
}

#[test]
fn dropping_a_wrapped_duplicate_ends_its_registration() -> io::Result<()> {
    let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    let dup: OwnedFd = a.as_fd().try_clone_to_owned()?;
    block_on(async {
        drop(Async::new(dup)?);
        io::Result::Ok(())
    })?;
    // `a` still holds the file open. Were the duplicate still registered, this write would wake
    // the reactor (for a token nobody owns) and end the wait early.
    b.write_all(b"x")?;
    let start = Instant::now();
    waitless_reactor::turn(Some(Duration::from_millis(100)))?;
    assert!(
        start.elapsed() >= Duration::from_millis(100),
        "a dropped registration woke the reactor"
    );
    drop(a);
    Ok(())
}

#[test]
fn a_reported_error_does_not_make_would_block_spin() -> io::Result<()> {
    block_on(timeout(LIMIT, async {
        // A port with nobody listening: the send draws an ICMP "port unreachable", reported as
        // an error event (sticky READ_CLOSED | WRITE_CLOSED in the cache) and ECONNREFUSED once.
        let closed = std::net::UdpSocket::bind(localhost())?.local_addr()?;
        let sock = std::net::UdpSocket::bind(localhost())?;
        sock.connect(closed)?;
        let sock = Async::new(sock)?;
        sock.get_ref().send(b"anyone?")?;
        sock.readable().await?;
        let mut buf = [0u8; 16];
        let err = sock
            .read_with(|s| s.recv(&mut buf))
            .await
            .expect_err("ECONNREFUSED expected");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        // The error is consumed; recv now answers WouldBlock. That must end the poll.
        let mut calls = 0;
        let polled = poll_once(sock.read_with(|s| {
            calls += 1;
            if calls > 100 {
                return Err(io::Error::other("spun on WouldBlock"));
            }
            s.recv(&mut buf)
        }));
        assert!(polled.is_pending(), "{polled:?}");
        assert_eq!(calls, 1);
        io::Result::Ok(())
    }))
    .expect("timed out")
}

#[test]
fn an_accepted_stream_starts_readable() -> io::Result<()> {
    block_on(timeout(LIMIT, async {
        let listener = TcpListener::bind(localhost())?;
        let mut client = std::net::TcpStream::connect(listener.local_addr()?)?;
        client.write_all(b"GET / HTTP/1.1\r\n\r\n")?;
        let (server, _) = listener.accept().await?;
        // No loop turn since the accept: the first read must not wait for one.
        let mut buf = [0u8; 64];
        match poll_once(poll_fn(|cx| server.poll_read(cx, &mut buf))) {
            Poll::Ready(Ok(18)) => {}
            other => panic!("first read waited for a loop turn: {other:?}"),
        }
        // Nothing more: the read was short, so the next one waits.
        assert!(poll_once(poll_fn(|cx| server.poll_read(cx, &mut buf))).is_pending());
        io::Result::Ok(())
    }))
    .expect("timed out")
}

#[test]
fn peek_leaves_the_data_and_options_round_trip() -> io::Result<()> {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    block_on(timeout(LIMIT, async {
        let listener = TcpListener::bind(localhost())?;
        let mut client = TcpStream::connect(listener.local_addr()?).await?;
        let (mut server, _) = listener.accept().await?;
        client.write_all(b"hello").await?;
        let mut buf = [0u8; 5];
        let n = server.peek(&mut buf).await?;
        assert_eq!(&buf[..n], &b"hello"[..n]);
        server.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"hello");
        client.set_keepalive(Some(Duration::from_secs(30)))?;
        assert!(client.keepalive()?);
        client.set_linger(Some(Duration::from_secs(2)))?;
        assert_eq!(client.linger()?, Some(Duration::from_secs(2)));
        client.set_linger(None)?;
        assert_eq!(client.linger()?, None);
        // into_std / from_std round trip keeps the connection.
        let std_client = client.into_std()?;
        let mut client = TcpStream::from_std(std_client)?;
        client.write_all(b"again").await?;
        server.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"again");
        io::Result::Ok(())
    }))
    .expect("timed out")
}

#[test]
fn a_vectored_read_scatters_in_order_and_a_short_one_marks_the_stream_drained() -> io::Result<()> {
    use std::io::IoSliceMut;
    block_on(timeout(LIMIT, async {
        let listener = TcpListener::bind(localhost())?;
        let mut client = std::net::TcpStream::connect(listener.local_addr()?)?;
        let (server, _) = listener.accept().await?;
        client.write_all(b"0123456789")?;
        server.readable().await?;
        // 4 bytes fill the first buffer, 6 of 8 the second: short in total.
        let (mut a, mut b) = ([0u8; 4], [0u8; 8]);
        let n = poll_fn(|cx| {
            server.poll_read_vectored(cx, &mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)])
        })
        .await?;
        assert_eq!((n, &a, &b[..6]), (10, b"0123", &b"456789"[..]));
        // Drained: the next read waits for an edge without a `WouldBlock` syscall (with epoll;
        // the portable backend cannot tell a half-close apart, so there reads go on until
        // `WouldBlock`: see `fd.rs`).
        let mut calls = 0;
        let probe = server.try_io(Interest::Readable, || {
            calls += 1;
            Err::<(), _>(io::ErrorKind::WouldBlock.into())
        });
        assert_eq!(probe.map_err(|e| e.kind()), Err(io::ErrorKind::WouldBlock));
        let expected = if cfg!(waitless_polling_backend) { 1 } else { 0 };
        assert_eq!(
            calls, expected,
            "the short vectored read did not clear readiness"
        );
        // Filling every buffer exactly is not short: the next read is tried.
        client.write_all(b"abcdefghijkl")?;
        let (mut a, mut b) = ([0u8; 4], [0u8; 8]);
        let n = poll_fn(|cx| {
            server.poll_read_vectored(cx, &mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)])
        })
        .await?;
        assert_eq!((n, &a, &b), (12, b"abcd", b"efghijkl"));
        let mut tried = false;
        let probe = server.try_io(Interest::Readable, || {
            tried = true;
            Ok(())
        });
        assert!(
            probe.is_ok() && tried,
            "a full vectored read must keep readiness"
        );
        io::Result::Ok(())
    }))
    .expect("timed out")
}
