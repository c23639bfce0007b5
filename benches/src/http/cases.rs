//! The cases: what wrk asks for, with how many connections. Kept apart from the servers because a
//! case says what is measured and a server says who is measured; the harness runs every pair.

#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub id: &'static str,
    pub title: &'static str,
    pub path: &'static str,
    pub conns: u32,
    /// Requests per write (wrk Lua script) when > 1.
    pub pipeline: u32,
    /// The idle keep-alive memory case instead of a wrk load.
    pub idle: bool,
}

pub const IDLE_CONNS: usize = 10_000;

pub fn all_cases() -> Vec<Case> {
    let load = |id, title, path, conns, pipeline| Case {
        id,
        title,
        path,
        conns,
        pipeline,
        idle: false,
    };
    vec![
        load("plaintext-c64", "plaintext c64", "/plaintext", 64, 1),
        load("plaintext-c256", "plaintext c256", "/plaintext", 256, 1),
        load(
            "pipelined16-c256",
            "plaintext pipelined-16 c256",
            "/plaintext",
            256,
            16,
        ),
        load("json-c256", "json c256", "/json", 256, 1),
        load(
            "sleep100-c1000",
            "sleep?ms=100 c1000 (ideal 10,000 req/s)",
            "/sleep?ms=100",
            1000,
            1,
        ),
        Case {
            id: "idle10k",
            title: "10,000 idle keep-alive connections",
            path: "/plaintext",
            conns: IDLE_CONNS as u32,
            pipeline: 1,
            idle: true,
        },
    ]
}
