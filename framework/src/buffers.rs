//! Reused body buffers, per worker thread.
//!
//! Why: a JSON response is serialized into a `Vec<u8>` that lives until the response is written;
//! taking it from a small free list (and giving it back after the write) makes the steady state
//! allocate nothing for bodies. Thread-local because a worker is one thread: no lock, no `Send`.

use std::cell::RefCell;

/// Buffers kept per thread, and the largest capacity worth keeping (bigger ones are freed so one
/// huge response does not pin its memory forever).
const KEEP: usize = 16;
const MAX_CAPACITY: usize = 64 * 1024;

thread_local! {
    static FREE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer, reused when one is free.
pub(crate) fn take() -> Vec<u8> {
    FREE.with(|f| f.borrow_mut().pop()).unwrap_or_default()
}

/// Returns a buffer for reuse.
pub(crate) fn give(mut buf: Vec<u8>) {
    if buf.capacity() == 0 || buf.capacity() > MAX_CAPACITY {
        return;
    }
    buf.clear();
    FREE.with(|f| {
        let mut free = f.borrow_mut();
        if free.len() < KEEP {
            free.push(buf);
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_given_buffer_is_taken_again_and_empty() {
        let mut b = super::take();
        b.extend_from_slice(b"hello");
        let ptr = b.as_ptr();
        super::give(b);
        let again = super::take();
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), ptr);
    }
}
