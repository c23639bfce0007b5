//! Command-line options of the harness. Unknown servers and cases are refused before anything is
//! built, so a typo costs a second rather than a build.

use std::path::PathBuf;

use super::cases::all_cases;
use super::repo_root;
use super::servers::all_servers;

pub struct Opts {
    pub repeats: usize,
    pub duration_s: u64,
    pub warmup_s: u64,
    pub only: Option<Vec<String>>,
    pub cases: Option<Vec<String>>,
    pub svg: PathBuf,
    pub build: bool,
}

pub const USAGE: &str = "usage: cargo run --release -p waitless-benches --bin http -- [options]
  --quick              one repeat, 3 s runs (development)
  --repeats N          repeats per server and case (default 3)
  --duration S         seconds per measured wrk run (default 4)
  --only S1,S2,...     servers: waitless (hello), framework-hello, floor, hyper, axum, actix,
                       may-minihttp, uvicorn, node
  --cases C1,C2,...    cases: plaintext-c64, plaintext-tls-c64, plaintext-c256,
                       pipelined16-c256, json-c256, users-c256, sleep100-c1000, idle10k
  --svg PATH           chart to write (default docs/benchmarks.svg)
  --no-build           use the binaries already built";

pub fn parse_opts() -> Result<Opts, String> {
    let mut o = Opts {
        repeats: 3,
        duration_s: 4,
        warmup_s: 1,
        only: None,
        cases: None,
        svg: repo_root().join("docs/benchmarks.svg"),
        build: true,
    };
    let mut args = std::env::args().skip(1);
    let list = |v: Option<String>| -> Result<Vec<String>, String> {
        let v = v.ok_or("missing value")?;
        Ok(v.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect())
    };
    let num = |v: Option<String>, what: &str| -> Result<u64, String> {
        v.and_then(|v| v.parse().ok())
            .filter(|&n| n > 0)
            .ok_or(format!("{what} needs a positive number"))
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => {
                o.repeats = 1;
                o.duration_s = 3;
            }
            "--repeats" => o.repeats = num(args.next(), "--repeats")?.min(20) as usize,
            "--duration" => o.duration_s = num(args.next(), "--duration")?.min(60),
            "--only" => o.only = Some(list(args.next())?),
            "--cases" => o.cases = Some(list(args.next())?),
            "--svg" => o.svg = PathBuf::from(args.next().ok_or("--svg needs a path")?),
            "--no-build" => o.build = false,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let names: Vec<&str> = all_servers().iter().map(|s| s.name).collect();
    for n in o.only.iter().flatten() {
        if !names.contains(&n.as_str()) {
            return Err(format!(
                "unknown server `{n}` (known: {})",
                names.join(", ")
            ));
        }
    }
    let ids: Vec<&str> = all_cases().iter().map(|c| c.id).collect();
    for c in o.cases.iter().flatten() {
        if !ids.contains(&c.as_str()) {
            return Err(format!("unknown case `{c}` (known: {})", ids.join(", ")));
        }
    }
    Ok(o)
}
