//! A connection's working memory, pooled per worker.
//!
//! Why pooled: a server holding 10,000 idle keep-alive connections should hold 10,000 small
//! state machines, not 10,000 × (read + write) buffers. Buffers come from the worker's pool when
//! bytes arrive and go back when the connection goes idle, so only connections with a request
//! in flight hold any.

use std::cell::RefCell;

use crate::config::Config;
use crate::h1::HeaderSpan;

/// Initial sizes of a connection's buffers (hyper also starts at 8 KiB). Kept small because a
/// connection holds them for as long as its request is in flight (1,000 slow requests = 1,000
/// buffer sets).
const READ_BUFFER: usize = 8 * 1024;
const WRITE_BUFFER: usize = 4 * 1024;

/// Room a request body gets behind its head at least: a head that leaves less than this makes
/// the buffer grow before the app runs (else a body would be read a few bytes per syscall, or
/// not at all behind a head that fills the buffer).
pub(crate) const MIN_BODY_ROOM: usize = 4 * 1024;

/// Buffers kept for reuse; beyond this many, returned buffers are freed.
pub(crate) const POOL_MAX: usize = 256;

pub(crate) struct Buffers {
    pub(crate) read: Box<[u8]>,
    pub(crate) write: Vec<u8>,
    pub(crate) scratch: Vec<u8>,
    pub(crate) spans: Vec<HeaderSpan>,
}

pub(crate) struct BufferPool {
    // Boxed so a connection holds a pointer, not ~80 bytes, in its (idle) state.
    #[allow(clippy::vec_box)]
    free: RefCell<Vec<Box<Buffers>>>,
    /// Size of a fresh read buffer: enough for almost every request head and for a pipelined
    /// batch.
    read_size: usize,
    /// Room for a maximal head plus body bytes behind it.
    pub(crate) max_read_size: usize,
}

impl BufferPool {
    pub(crate) fn new(config: &Config) -> BufferPool {
        BufferPool {
            free: RefCell::new(Vec::new()),
            read_size: READ_BUFFER.min(config.max_head_size + 16 * 1024),
            max_read_size: (config.max_head_size + 16 * 1024).max(READ_BUFFER),
        }
    }

    pub(crate) fn take(&self) -> Box<Buffers> {
        self.free.borrow_mut().pop().unwrap_or_else(|| {
            Box::new(Buffers {
                read: vec![0; self.read_size].into_boxed_slice(),
                write: Vec::with_capacity(WRITE_BUFFER),
                scratch: Vec::new(),
                spans: Vec::with_capacity(32),
            })
        })
    }

    pub(crate) fn give(&self, mut b: Box<Buffers>) {
        let mut free = self.free.borrow_mut();
        if free.len() < POOL_MAX {
            b.write.clear();
            // Do not keep a buffer that one huge response blew up.
            if b.write.capacity() > 1 << 20 {
                b.write = Vec::with_capacity(WRITE_BUFFER);
            }
            if b.read.len() > self.read_size {
                // A head that needed the large buffer was the exception: pool the usual size.
                b.read = vec![0; self.read_size].into_boxed_slice();
            }
            if b.scratch.capacity() > 1 << 20 {
                b.scratch = Vec::new();
            }
            free.push(b);
        }
    }
}

impl Buffers {
    /// Moves `read[start..end]` to the front and grows the read buffer to `size` (between
    /// requests, when nothing borrows it). Returns the new `(start, end)`.
    pub(crate) fn grow_read(&mut self, start: usize, end: usize, size: usize) -> (usize, usize) {
        if size > self.read.len() {
            let mut bigger = vec![0; size].into_boxed_slice();
            bigger[..end - start].copy_from_slice(&self.read[start..end]);
            self.read = bigger;
        } else if start > 0 {
            self.read.copy_within(start..end, 0);
        }
        (0, end - start)
    }
}
