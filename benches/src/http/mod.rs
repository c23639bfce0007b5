//! The HTTP load harness behind `cargo run --release -p waitless-benches --bin http` (issue 6),
//! split by job so that each part can be read and changed alone: which cases exist
//! ([`cases`]), how each server is built, started and checked ([`servers`]), what the machine
//! says about a process tree ([`procfs`]), running and reading wrk ([`wrk`]), one trial
//! ([`measure`]), and turning medians into Markdown ([`report`]) and SVG ([`chart`]). The binary
//! (`src/bin/http.rs`) only wires them together.

use std::path::{Path, PathBuf};

pub mod cases;
pub mod chart;
pub mod measure;
pub mod opts;
pub mod process;
pub mod procfs;
pub mod report;
pub mod servers;
pub mod targets;
pub mod tls;
pub mod wrk;

/// The root of the repository (the parent of `benches/`): servers and wrk run from there.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ has a parent")
        .to_path_buf()
}
