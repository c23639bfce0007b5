//! HTTP load harness (issue 6): waitless's `hello` app against the peers and the floor server,
//! on this machine, in one command:
//!
//! ```sh
//! cargo run --release -p waitless-benches --bin http -- [--quick] [--only SERVER,...] [--cases CASE,...]
//! ```
//!
//! It builds the peers (their own Cargo workspace in `benches/peers/`) and `hello` (when the
//! package exists), creates a Python venv for uvicorn + FastAPI (when `python3` exists), installs
//! `wrk` if it is missing, then for every case runs every server in alternation (A B C, A B C, …),
//! each trial on a freshly started server pinned to core 0 (`taskset -c 0`) and loaded by `wrk -t1`
//! pinned to core 1. It prints Markdown tables (medians over the repeats) and writes
//! `docs/benchmarks.svg`.
//!
//! The figure that compares servers fairly on a 2-core machine is **server CPU µs per request**:
//! the utime+stime of the server's whole process tree (from `/proc`) over the measured run,
//! divided by the requests wrk completed. Without pipelining wrk saturates its own core before
//! a fast server saturates its core, so requests/s measures wrk as much as the server.
//!
//! Every server is started on 127.0.0.1 only, every load is sent to 127.0.0.1 only, and every
//! wait is bounded in time. The parts live in `benches/src/http/`; this file only wires them.

#[path = "../http/mod.rs"]
mod http;

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use http::cases::{all_cases, Case, IDLE_CONNS};
use http::chart::write_svg;
use http::measure::measure_all;
use http::opts::{parse_opts, Opts, USAGE};
use http::process::{on_path, raise_nofile, raise_priority};
use http::report::{markdown, stamp};
use http::servers::{all_servers, check_server, prepare, Running, Server};
use http::tls::TlsFiles;
use http::wrk::ensure_wrk;

fn main() -> ExitCode {
    let o = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let root = http::repo_root();
    let servers = match setup(&root, &o) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Every server, every wrk and this process itself run at the highest priority (inherited by
    // the children), so that other work on the machine (compilers) yields to the measurement.
    // The builds above ran at normal priority.
    let reniced = raise_priority();
    let mut cases: Vec<Case> = all_cases()
        .into_iter()
        .filter(|c| o.cases.as_ref().is_none_or(|l| l.iter().any(|n| n == c.id)))
        .collect();
    let tls = certificate(&mut cases);
    check_all(&root, &servers);
    let started = Instant::now();
    let results = measure_all(&root, &servers, &cases, tls.as_ref(), &o);
    let stamp = stamp(o.repeats, o.duration_s);
    let no_sleep: Vec<&str> = servers
        .iter()
        .filter(|s| !s.serves("/sleep"))
        .map(|s| s.name)
        .collect();
    let md = markdown(&results, &no_sleep, &stamp, reniced);
    println!("{md}");
    let dir = root.join("target/http-bench");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("results.md"), &md);
    match write_svg(&o.svg, &results, &stamp) {
        Ok(()) => println!("chart: {}", o.svg.display()),
        Err(e) => eprintln!("could not write {}: {e}", o.svg.display()),
    }
    eprintln!("total {:.0} s", started.elapsed().as_secs_f64());
    ExitCode::SUCCESS
}

/// Limits, tools, wrk, and the selected servers built; the servers that can run.
fn setup(root: &Path, o: &Opts) -> Result<Vec<Server>, String> {
    let nofile = raise_nofile();
    if nofile < IDLE_CONNS as u64 + 100 {
        eprintln!("warning: RLIMIT_NOFILE is {nofile}; the idle case needs more than {IDLE_CONNS}");
    }
    for tool in ["taskset", "cargo"] {
        if !on_path(tool) {
            return Err(format!("`{tool}` is not on PATH"));
        }
    }
    ensure_wrk()?;
    let wanted: Vec<Server> = all_servers()
        .into_iter()
        .filter(|s| {
            o.only
                .as_ref()
                .is_none_or(|l| l.iter().any(|n| n == s.name))
        })
        .collect();
    let servers = prepare(root, wanted, o.build);
    if servers.is_empty() {
        return Err("no server to measure".into());
    }
    Ok(servers)
}

/// The run's TLS certificate when a selected case needs one; without it (no `openssl`) the TLS
/// cases are left out, with a message.
fn certificate(cases: &mut Vec<Case>) -> Option<TlsFiles> {
    if !cases.iter().any(|c| c.tls) {
        return None;
    }
    match TlsFiles::make() {
        Ok(t) => Some(t),
        Err(e) => {
            for c in cases.iter().filter(|c| c.tls) {
                println!("skipping {}: cannot make a TLS certificate: {e}", c.id);
            }
            cases.retain(|c| !c.tls);
            None
        }
    }
}

/// Correctness first: each server answers its paths (/plaintext, /json, and /sleep, /users where
/// it has them) with Date and Server headers and the expected body, over plain HTTP.
fn check_all(root: &Path, servers: &[Server]) {
    for s in servers {
        match Running::start(s, root, None) {
            Ok(mut r) => {
                for p in check_server(s, r.addr) {
                    println!("warning: {}: {p}", s.name);
                }
                r.stop();
            }
            Err(e) => println!("warning: {e}"),
        }
    }
}
