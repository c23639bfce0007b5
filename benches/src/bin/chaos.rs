//! Chaos under load (issue 15, item 2): the showcase's process tree is hit while a closed-loop
//! client records every request, then each failure is matched against what was done to it.
//!
//! ```sh
//! benches/scripts/chaos.sh                      # all four scenarios, ~75 s
//! # or, after `cargo build --release -p showcase -p waitless-benches`:
//! target/release/chaos --scenario kill|hup|term|pool|all [--seconds 30] [--every 2] [--conns 16]
//! ```
//!
//! * `kill`: `showcase --workers 2`; one worker SIGKILLed every `--every` s for `--seconds` s.
//!   Expected: every failed request was in flight on the killed worker when it died (its
//!   connection belonged to that pid, it started before the kill and ended after it), and the
//!   service never stops answering (the longest silence is printed).
//! * `hup`: SIGHUP (rolling restart) every 5 s for `--seconds` s → zero failed requests, not
//!   even one reset on a keep-alive connection (which a client could retry).
//! * `term`: SIGTERM with slow requests (`/io/sleep`, 200–500 ms) in flight → each of them answered, exit status 0.
//! * `pool`: `showcase --workers 1 --cpu-processes 2`, `/cpu/fib/30?mode=process`, one pool
//!   process SIGKILLed every `--every` s → at most one failed job per kill (a pool process
//!   runs one job at a time), the others answered.
//!
//! Loopback only, every phase bounded in time. Exit status 1 if any expectation failed.

use std::time::{Duration, Instant};

use waitless_benches::reliability::client::Failure;
use waitless_benches::reliability::load::{longest_silence, Load, Outcome, Record};
use waitless_benches::reliability::showcase::{signal, Showcase};
use waitless_benches::reliability::{flag, num_flag, secs_flag, today};

struct Opts {
    seconds: Duration,
    every: Duration,
    conns: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scenario = flag(&args, "scenario").unwrap_or_else(|| "all".into());
    let opts = Opts {
        seconds: secs_flag(&args, "seconds", 30.0),
        every: secs_flag(&args, "every", 2.0),
        conns: num_flag(&args, "conns", 16),
    };
    println!(
        "# chaos, {} (2-core VM shared with other builds)\n",
        today()
    );
    let mut ok = true;
    for name in ["kill", "hup", "term", "pool"] {
        if scenario != "all" && scenario != name {
            continue;
        }
        let result = match name {
            "kill" => kill(&opts),
            "hup" => hup(&opts),
            "term" => term(&opts),
            _ => pool(&opts),
        };
        match result {
            Ok(pass) => ok &= pass,
            Err(e) => {
                println!("{name}: could not run: {e}");
                ok = false;
            }
        }
    }
    if !["all", "kill", "hup", "term", "pool"].contains(&scenario.as_str()) {
        eprintln!("--scenario: one of kill, hup, term, pool, all");
        std::process::exit(2);
    }
    std::process::exit(i32::from(!ok));
}

/// Half the connections ask for `/healthz`, half for `/io/sleep?ms=50` (so that a worker
/// always has requests in flight when it is hit).
fn mixed(i: usize, _n: u64) -> (&'static str, String) {
    if i % 2 == 0 {
        ("GET", "/healthz".into())
    } else {
        ("GET", "/io/sleep?ms=50".into())
    }
}

/// A SIGKILL (or signal) sent at a time, to a pid.
struct Hit {
    pid: u32,
    before: Duration,
    after: Duration,
}

fn hit(load: &Load, pid: u32, sig: i32) -> Hit {
    let before = load.t0.elapsed();
    signal(pid, sig);
    Hit {
        pid,
        before,
        after: load.t0.elapsed(),
    }
}

/// Counts by outcome, printed as one line.
fn tally(records: &[Record]) -> String {
    let ok = records.iter().filter(|r| r.ok()).count();
    let count = |f: Failure| {
        records
            .iter()
            .filter(|r| r.outcome == Outcome::Failed(f))
            .count()
    };
    let other = records
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Status(s) if !(200..300).contains(&s)))
        .count();
    format!(
        "{} requests: {ok} ok, {other} non-2xx, {} broken, {} stale (retried), {} refused at connect, {} timed out",
        records.len(),
        count(Failure::Broken),
        count(Failure::Stale),
        count(Failure::Connect),
        count(Failure::Timeout)
    )
}

/// Was `r` on `h.pid`'s connection (or a fresh one) and unanswered across the kill?
fn in_flight_at(r: &Record, h: &Hit) -> bool {
    r.start <= h.after && r.end >= h.before && r.pid.is_none_or(|p| p == h.pid)
}

fn kill(o: &Opts) -> Result<bool, String> {
    let mut app = Showcase::start(&["--workers", "2"])?;
    let load = Load::start(app.addr, o.conns, mixed, false);
    std::thread::sleep(Duration::from_secs(1)); // warm: every connection has a worker
    let mut hits = Vec::new();
    let end = Instant::now() + o.seconds;
    let mut k = 0usize;
    while Instant::now() < end {
        let workers = app.workers();
        if let Some(&pid) = workers.get(k % workers.len().max(1)) {
            hits.push(hit(&load, pid, libc::SIGKILL));
            k += 1;
        }
        std::thread::sleep(o.every);
    }
    let last = load.t0.elapsed();
    let records = load.finish();
    let alive = app.wait_exit(Duration::ZERO).is_none();
    println!(
        "## kill: SIGKILL one of 2 workers every {:?} for {:?}, {} connections\n",
        o.every, o.seconds, o.conns
    );
    println!("{}", tally(&records));
    let mut in_flight = 0;
    for h in &hits {
        in_flight += records
            .iter()
            .filter(|r| !r.retry && in_flight_at(r, h))
            .count();
    }
    // Every failure, stale ones included (a request in flight on a reused connection fails
    // without a byte of response, so the client calls it stale), sorted by what explains it.
    let failed: Vec<&Record> = records.iter().filter(|r| !r.ok()).collect();
    let (mut failed_in_flight, mut after_death) = (0, 0);
    let mut unexplained = Vec::new();
    for r in &failed {
        if hits.iter().any(|h| in_flight_at(r, h)) {
            failed_in_flight += 1;
        } else if hits
            .iter()
            .any(|h| Some(h.pid) == r.pid && r.start >= h.before)
        {
            after_death += 1;
        } else {
            unexplained.push(**r);
        }
    }
    let retries_ok = records.iter().filter(|r| r.retry && r.ok()).count();
    let silence = longest_silence(&records, Duration::from_secs(1), last);
    println!(
        "{} kills; requests in flight on the killed worker across its kill: {in_flight}; failed requests: {} — in flight on the killed worker: {failed_in_flight}; sent later on a connection of the dead worker (retried on a new one): {after_death}; anything else: {}",
        hits.len(),
        failed.len(),
        unexplained.len()
    );
    println!("retries answered: {retries_ok}");
    println!(
        "longest time without any response: {:.0} ms; supervisor alive at the end: {alive}",
        silence.as_secs_f64() * 1e3
    );
    for r in unexplained.iter().take(10) {
        println!("  unexplained: {r:?}");
    }
    let pass = unexplained.is_empty() && alive && silence < Duration::from_secs(1);
    println!("kill: {}\n", verdict(pass));
    Ok(pass)
}

fn hup(o: &Opts) -> Result<bool, String> {
    let app = Showcase::start(&["--workers", "2"])?;
    let load = Load::start(app.addr, o.conns, mixed, false);
    std::thread::sleep(Duration::from_secs(1));
    let before = app.workers();
    let mut sent = 0;
    let end = Instant::now() + o.seconds;
    let every = Duration::from_secs(5);
    while Instant::now() < end {
        app.signal(libc::SIGHUP);
        sent += 1;
        std::thread::sleep(every.min(end.saturating_duration_since(Instant::now())));
    }
    std::thread::sleep(Duration::from_secs(1));
    let records = load.finish();
    let after = app.workers();
    println!(
        "## hup: SIGHUP (rolling restart) every {every:?} for {:?}, {} connections\n",
        o.seconds, o.conns
    );
    println!("{}", tally(&records));
    let failed = records
        .iter()
        .filter(|r| !r.ok() && r.outcome != Outcome::Failed(Failure::Stale))
        .count();
    let stale = records
        .iter()
        .filter(|r| r.outcome == Outcome::Failed(Failure::Stale))
        .count();
    let mut pids: Vec<u32> = records.iter().filter_map(|r| r.pid).collect();
    pids.sort_unstable();
    pids.dedup();
    println!(
        "{sent} SIGHUPs; failed requests (not counting stale keep-alive connections, which were retried): {failed}; stale: {stale}"
    );
    println!(
        "workers before {before:?}, after {after:?}; {} distinct workers answered",
        pids.len()
    );
    // Stale connections count too: since the shutdown grace, none should be reset.
    let pass = failed == 0 && stale == 0 && before.iter().all(|p| !after.contains(p));
    println!("hup: {}\n", verdict(pass));
    Ok(pass)
}

/// Sleeps of 200 ms to 500 ms, different per connection so that a signal finds requests at
/// every stage (equal sleeps fall into step and all end together).
fn slow(i: usize, _n: u64) -> (&'static str, String) {
    ("GET", format!("/io/sleep?ms={}", 200 + (i % 16) * 20))
}

fn term(o: &Opts) -> Result<bool, String> {
    let mut app = Showcase::start(&["--workers", "2"])?;
    let load = Load::start(app.addr, o.conns, slow, true);
    std::thread::sleep(Duration::from_millis(1500));
    let h = hit(&load, app.pid(), libc::SIGTERM);
    let status = app.wait_exit(Duration::from_secs(40));
    let exited = load.t0.elapsed();
    let records = load.finish();
    println!(
        "## term: SIGTERM to the supervisor with {} connections of /io/sleep?ms=200..500\n",
        o.conns
    );
    println!("{}", tally(&records));
    let in_flight: Vec<&Record> = records
        .iter()
        .filter(|r| r.start <= h.before && r.end >= h.after)
        .collect();
    let failed = in_flight.iter().filter(|r| !r.ok()).count();
    let code = status.and_then(|s| s.code());
    println!(
        "in flight at SIGTERM: {}, answered: {}, failed: {failed}; supervisor exit status {code:?} after {:.0} ms",
        in_flight.len(),
        in_flight.len() - failed,
        (exited - h.after).as_secs_f64() * 1e3
    );
    let pass = failed == 0 && !in_flight.is_empty() && code == Some(0);
    println!("term: {}\n", verdict(pass));
    Ok(pass)
}

fn fib(_i: usize, _n: u64) -> (&'static str, String) {
    ("GET", "/cpu/fib/30?mode=process".into())
}

fn pool(o: &Opts) -> Result<bool, String> {
    let app = Showcase::start(&["--workers", "1", "--cpu-processes", "2"])?;
    let conns = 4;
    let load = Load::start(app.addr, conns, fib, false);
    // The pool starts on the first request: wait (bounded) until its processes exist.
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.pool_processes().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let from = load.t0.elapsed();
    let mut hits = Vec::new();
    let end = Instant::now() + o.seconds;
    let mut k = 0usize;
    while Instant::now() < end {
        let procs = app.pool_processes();
        if let Some(&pid) = procs.get(k % procs.len().max(1)) {
            hits.push(hit(&load, pid, libc::SIGKILL));
            k += 1;
        }
        std::thread::sleep(o.every);
    }
    let last = load.t0.elapsed();
    let records = load.finish();
    println!("## pool: SIGKILL one of 2 pool processes every {:?} for {:?}, {conns} connections of /cpu/fib/30?mode=process\n", o.every, o.seconds);
    println!("{}", tally(&records));
    let failed: Vec<&Record> = records.iter().filter(|r| !r.ok()).collect();
    let mut per_kill = vec![0usize; hits.len()];
    let mut unexplained = 0;
    for r in &failed {
        // A job in flight across the kill (the worker's pid is the HTTP worker's, not the pool
        // process's, so only time tells).
        match hits
            .iter()
            .position(|h| r.start <= h.after && r.end >= h.before)
        {
            Some(i) => per_kill[i] += 1,
            None => unexplained += 1,
        }
    }
    let statuses: Vec<Outcome> = failed.iter().map(|r| r.outcome).collect();
    let worst = per_kill.iter().copied().max().unwrap_or(0);
    let silence = longest_silence(&records, from, last);
    println!(
        "{} kills; failed jobs: {} (outcomes {:?}); most failures for one kill: {worst}; failures not across a kill: {unexplained}",
        hits.len(),
        failed.len(),
        dedup(statuses)
    );
    println!(
        "longest time without any response: {:.0} ms",
        silence.as_secs_f64() * 1e3
    );
    let pass = worst <= 1 && unexplained == 0;
    println!("pool: {}\n", verdict(pass));
    Ok(pass)
}

fn dedup(mut v: Vec<Outcome>) -> Vec<Outcome> {
    v.dedup();
    v.truncate(5);
    v
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "FAIL"
    }
}
