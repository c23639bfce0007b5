//! `/cpu/fib/{n}?mode=process` in memory: this test has its own `main` because the process pool
//! re-executes the running binary, and `waitless_pool::init` must come first in it (the pool
//! refuses to start otherwise, as `endpoints.rs` checks).

mod common;

use serde_json::{json, Value};

fn main() {
    // A pool worker started by the test below stops here and serves jobs.
    waitless_pool::init(showcase::fib::registry());

    let (c, _db) = common::client_with(|s| s.cpu_processes = 2);
    for (n, value) in [(0u32, 0u64), (25, 75_025), (92, 7_540_113_804_746_346_429)] {
        let res = c.get(&format!("/cpu/fib/{n}?mode=process")).send();
        assert_eq!(res.status.as_u16(), 200, "{n}: {}", res.text());
        let body: Value = res.json();
        assert_eq!(body, json!({"n": n, "value": value, "mode": "process"}));
    }
    // The loop is still the test's own: other routes answer after the pool started.
    assert_eq!(c.get("/healthz").send().text(), r#"{"status":"ok"}"#);
    println!("process_mode: fib in the process pool");
    println!("test result: ok. 1 passed; 0 failed");
}
