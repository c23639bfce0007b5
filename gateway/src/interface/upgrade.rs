//! The connection after `101 Switching Protocols`: raw bytes both ways, for a WebSocket codec or
//! any other protocol.
//!
//! Why it borrows instead of owning the socket: the connection (its socket, its buffers, its
//! place in the worker's open-connection count and graceful shutdown) stays with the server; the
//! app gets it for the rest of `call`. The two halves borrow different parts, so a handler can
//! read and write at once from two futures (`futures_lite::future::zip`, `or`, or a select
//! loop) — the way one task serves both directions of a WebSocket.
//!
//! Why the read buffer can be replaced by a larger one ([`UpgradedReader::reserve`]) rather than
//! being large from the start: an upgraded connection keeps its buffer for its whole life, and
//! most WebSockets (a chat member, a notification feed) only ever see small frames. The
//! connection's usual 8 KiB serves them; a codec that meets a frame too large for it asks for
//! more once, and from then on reads as if the buffer had always been large. An idle WebSocket
//! thus costs ~24 KiB instead of ~48 KiB (`docs/reliability.md`).

use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSliceMut};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::{AsyncRead, AsyncWrite};

use crate::transport::Io;

/// An upgraded connection; see [`Responder::upgrade`](crate::Responder::upgrade).
pub struct Upgraded<'a> {
    reader: UpgradedReader<'a>,
    writer: UpgradedWriter<'a>,
}

/// The reading half of an [`Upgraded`] connection.
pub struct UpgradedReader<'a> {
    io: &'a Io,
    /// The connection's read buffer, until [`reserve`](Self::reserve) asks for more than it
    /// holds; then `grown` replaces it for the rest of the connection.
    buf: &'a mut [u8],
    grown: Option<Box<[u8]>>,
    /// Unread bytes are `buf[pos..filled]`: first what arrived behind the request head.
    pos: usize,
    filled: usize,
}

/// The writing half of an [`Upgraded`] connection.
pub struct UpgradedWriter<'a> {
    io: &'a Io,
    out: &'a mut Vec<u8>,
}

impl<'a> Upgraded<'a> {
    pub(crate) fn new(
        io: &'a Io,
        buf: &'a mut [u8],
        pos: usize,
        filled: usize,
        out: &'a mut Vec<u8>,
    ) -> Upgraded<'a> {
        out.clear();
        Upgraded {
            reader: UpgradedReader {
                io,
                buf,
                grown: None,
                pos,
                filled,
            },
            writer: UpgradedWriter { io, out },
        }
    }

    /// Splits into a reader and a writer usable at the same time.
    pub fn split(self) -> (UpgradedReader<'a>, UpgradedWriter<'a>) {
        (self.reader, self.writer)
    }

    /// Reads into `dst`; 0 means the peer closed.
    pub async fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        self.reader.read(dst).await
    }

    /// Writes all of `bytes` (waits while the peer is not reading; fails after the server's
    /// send timeout without progress).
    pub async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes).await
    }
}

impl UpgradedReader<'_> {
    /// The read buffer in use: the connection's, or the larger one that replaced it.
    fn buf(&self) -> &[u8] {
        self.grown.as_deref().unwrap_or(self.buf)
    }

    fn buf_mut(&mut self) -> &mut [u8] {
        match &mut self.grown {
            Some(grown) => grown,
            None => self.buf,
        }
    }

    /// Makes the read buffer hold at least `size` bytes: a larger one replaces it (allocated
    /// once; the connection's own buffer is left as it was), the unread bytes moved to its
    /// start. A codec calls this when a frame announces more than [`capacity`](Self::capacity).
    pub fn reserve(&mut self, size: usize) {
        if size <= self.capacity() {
            return;
        }
        let mut bigger = vec![0; size].into_boxed_slice();
        let unread = self.filled - self.pos;
        bigger[..unread].copy_from_slice(&self.buf()[self.pos..self.filled]);
        self.grown = Some(bigger);
        self.pos = 0;
        self.filled = unread;
    }

    /// Reads into `dst`; 0 means the peer closed. Bytes buffered by the server come first.
    pub async fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read_into(cx, dst)).await
    }

    fn poll_read_into(&mut self, cx: &mut Context<'_>, dst: &mut [u8]) -> Poll<io::Result<usize>> {
        if self.pos < self.filled {
            let n = dst.len().min(self.filled - self.pos);
            dst[..n].copy_from_slice(&self.buf()[self.pos..self.pos + n]);
            self.pos += n;
            return Poll::Ready(Ok(n));
        }
        self.io.transport.poll_read(cx, dst)
    }

    /// Zero-copy reading for a codec: returns the unread bytes in the connection's own buffer,
    /// reading more from the socket first if there are none (an empty slice means the peer
    /// closed). Mark what was used with [`consume`](Self::consume).
    pub async fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.filled {
            self.pos = 0;
            self.filled = 0;
            let transport = &self.io.transport;
            let buf = self.buf_mut();
            let n = poll_fn(|cx| transport.poll_read(cx, buf)).await?;
            self.filled = n;
        }
        Ok(&self.buf()[self.pos..self.filled])
    }

    /// Like [`fill_buf`](Self::fill_buf), but reads more even when bytes are buffered (a codec
    /// that needs a whole frame header); the unread bytes move to the buffer's start. Returns
    /// the number of new bytes (0: the peer closed, or the buffer is full).
    pub async fn fill_more(&mut self) -> io::Result<usize> {
        if self.pos > 0 {
            let (pos, filled) = (self.pos, self.filled);
            self.buf_mut().copy_within(pos..filled, 0);
            self.filled -= self.pos;
            self.pos = 0;
        }
        if self.filled == self.capacity() {
            return Ok(0);
        }
        let transport = &self.io.transport;
        let filled = self.filled;
        let spare = &mut self.buf_mut()[filled..];
        let n = poll_fn(|cx| transport.poll_read(cx, spare)).await?;
        self.filled += n;
        Ok(n)
    }

    /// Reads into `dst` and, in the same syscall (`readv`), whatever follows into the
    /// connection's buffer, where [`buffered`](Self::buffered) then shows it. Returns the bytes
    /// put into `dst` (0: the peer closed). Bytes already buffered are copied first instead.
    ///
    /// Why: a codec reading the rest of a large record straight into its own buffer would
    /// otherwise ask for exactly the rest, and the read after it, for the next record, would
    /// usually find nothing (`EAGAIN`, then a wait). With the connection's buffer behind `dst`
    /// the next record's first bytes come along, and a read that fills less than both proves
    /// the socket drained, so the reactor waits without the probe.
    pub async fn read_spilling(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.filled || dst.is_empty() {
            return self.read(dst).await;
        }
        self.pos = 0;
        self.filled = 0;
        let transport = &self.io.transport;
        let buf = self.buf_mut();
        let n = poll_fn(|cx| {
            let mut bufs = [IoSliceMut::new(dst), IoSliceMut::new(buf)];
            transport.poll_read_vectored(cx, &mut bufs)
        })
        .await?;
        let into_dst = n.min(dst.len());
        self.filled = n - into_dst;
        Ok(into_dst)
    }

    /// The unread bytes already buffered.
    pub fn buffered(&self) -> &[u8] {
        &self.buf()[self.pos..self.filled]
    }

    /// The unread bytes already buffered, writable (a codec unmasks a payload in place and
    /// hands it out without copying it).
    pub fn buffered_mut(&mut self) -> &mut [u8] {
        let (pos, filled) = (self.pos, self.filled);
        &mut self.buf_mut()[pos..filled]
    }

    /// Marks `n` buffered bytes as read.
    pub fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.filled);
    }

    /// The capacity of the read buffer (the most [`fill_more`](Self::fill_more) can hold): the
    /// connection's (8 KiB by default), or what [`reserve`](Self::reserve) made it.
    pub fn capacity(&self) -> usize {
        self.buf().len()
    }
}

impl UpgradedWriter<'_> {
    /// Writes all of `bytes` (waits while the peer is not reading; fails after the server's
    /// send timeout without progress).
    pub async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.io.write_all(bytes).await
    }

    /// The connection's reusable write buffer: append several frames, then
    /// [`flush`](Self::flush) them with one syscall.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        self.out
    }

    /// Writes what [`buffer`](Self::buffer) holds and then `bytes`, in one vectored write where
    /// the transport has one (a frame header and a large payload, without copying the payload).
    pub async fn flush_with(&mut self, bytes: &[u8]) -> io::Result<()> {
        let res = self.io.write_all_vectored(self.out, bytes).await;
        self.out.clear();
        res
    }

    /// Writes what [`buffer`](Self::buffer) holds.
    pub async fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let res = self.io.write_all(self.out).await;
        self.out.clear();
        res
    }
}

impl AsyncRead for UpgradedReader<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_read_into(cx, buf)
    }
}

impl AsyncWrite for UpgradedWriter<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.io.transport.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.transport.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.transport.poll_flush(cx)
    }
}

impl fmt::Debug for Upgraded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgraded")
            .field("buffered", &(self.reader.filled - self.reader.pos))
            .finish()
    }
}

impl fmt::Debug for UpgradedReader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpgradedReader")
            .field("buffered", &(self.filled - self.pos))
            .finish()
    }
}

impl fmt::Debug for UpgradedWriter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpgradedWriter")
            .field("buffered", &self.out.len())
            .finish()
    }
}
