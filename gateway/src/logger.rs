//! A small stderr logger in uvicorn's format (`INFO:     message`), installed by the apps'
//! `main`. Library code only uses the `log` facade, so programs may install env_logger, tracing
//! or anything else instead.
//!
//! Access-log lines (target `waitless::access`) are buffered per thread and written when the
//! server flushes the logger after each batch of requests (or when 8 KiB accumulate): one
//! `write` per batch instead of one per request. Every other line is written at once.

use std::cell::RefCell;
use std::io::Write;

/// Buffered access-log bytes written out once this many accumulate.
const ACCESS_BUFFER: usize = 8 * 1024;

thread_local! {
    static ACCESS: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn write_stderr(bytes: &[u8]) {
    let _ = std::io::stderr().lock().write_all(bytes);
}

struct Stderr;

static LOGGER: Stderr = Stderr;

impl log::Log for Stderr {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            log::Level::Error => "ERROR:",
            log::Level::Warn => "WARNING:",
            log::Level::Info => "INFO:",
            log::Level::Debug => "DEBUG:",
            log::Level::Trace => "TRACE:",
        };
        if record.target() == "waitless::access" {
            ACCESS.with(|buf| {
                let mut buf = buf.borrow_mut();
                let _ = writeln!(buf, "{level:<9} {}", record.args());
                if buf.len() >= ACCESS_BUFFER {
                    write_stderr(&buf);
                    buf.clear();
                }
            });
            return;
        }
        // One write per line, so lines of concurrent worker processes do not interleave.
        let line = format!("{level:<9} {}\n", record.args());
        write_stderr(line.as_bytes());
    }

    fn flush(&self) {
        ACCESS.with(|buf| {
            let mut buf = buf.borrow_mut();
            if !buf.is_empty() {
                write_stderr(&buf);
                buf.clear();
            }
        });
    }
}

/// Installs the stderr logger at `level` (does nothing if a logger is already installed).
pub fn init(level: log::LevelFilter) {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}
