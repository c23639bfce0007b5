//! A small stderr logger in uvicorn's format (`INFO:     message`), installed by the apps'
//! `main`. Library code only uses the `log` facade, so programs may install env_logger, tracing
//! or anything else instead.

use std::io::Write;

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
        // One write per line, so lines of concurrent worker processes do not interleave.
        let line = format!("{level:<9} {}\n", record.args());
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// Installs the stderr logger at `level` (does nothing if a logger is already installed).
pub fn init(level: log::LevelFilter) {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}
