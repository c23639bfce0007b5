//! RFC 6455 case by case, as a table: the equivalent of the Autobahn TestSuite's sections 1–7
//! and a small section 9, each case numbered after the Autobahn case it mirrors. Every frame is
//! built by hand (`ws_client::Out`), so malformed input is exactly what the table says.
//!
//! A case is a script on one connection: frames to send (whole, or a few bytes per write), and
//! frames to expect, in order — an expected frame must be the *next* one the server sends.
//! A case that ends with a Close checks that the server then closes the TCP connection.

mod ws_client;

use std::io::Write;
use std::time::Instant;

use waitless_gateway::Config;
use ws_client::*;

#[derive(Clone)]
enum Step {
    /// Send a frame in one write.
    Tx(Out),
    /// Send a frame a few bytes per write.
    TxChunked(Out, usize),
    /// Expect this frame (opcode, payload) next.
    Rx(u8, Vec<u8>),
    /// Expect a Close next, with one of these codes (1005: no code).
    Close(Vec<u16>),
}
use Step::{Rx, Tx, TxChunked};

struct Case {
    id: String,
    path: &'static str,
    steps: Vec<Step>,
}

fn case(id: impl Into<String>, steps: Vec<Step>) -> Case {
    Case {
        id: id.into(),
        path: "/echo",
        steps,
    }
}

fn echo_text(t: &str) -> Vec<Step> {
    vec![Tx(text(t)), Rx(1, t.as_bytes().to_vec())]
}

#[allow(non_snake_case)]
fn Close(codes: impl AsRef<[u16]>) -> Step {
    Step::Close(codes.as_ref().to_vec())
}
const PROTOCOL: [u16; 1] = [1002];
const UTF8: [u16; 1] = [1007];

fn section_1_framing() -> Vec<Case> {
    let mut cases = Vec::new();
    for (i, len) in [0usize, 125, 126, 127, 128, 65535, 65536]
        .into_iter()
        .enumerate()
    {
        let t = "*".repeat(len);
        cases.push(case(format!("1.1.{}", i + 1), echo_text(&t)));
        let b = vec![0xfe; len];
        cases.push(case(
            format!("1.2.{}", i + 1),
            vec![Tx(binary(&b)), Rx(2, b.clone())],
        ));
    }
    let b = vec![0xfe; 65536];
    cases.push(case(
        "1.2.8 (997-byte writes)",
        vec![TxChunked(binary(&b), 997), Rx(2, b.clone())],
    ));
    cases
}

fn section_2_ping_pong() -> Vec<Case> {
    let p125 = vec![0xfe; 125];
    let mut cases = vec![
        case("2.1", vec![Tx(ping([])), Rx(10, vec![])]),
        case(
            "2.2",
            vec![
                Tx(ping(b"Hello, world!")),
                Rx(10, b"Hello, world!".to_vec()),
            ],
        ),
        case(
            "2.3",
            vec![
                Tx(ping([0, 0xff, 0xfe, 0xfd])),
                Rx(10, vec![0, 0xff, 0xfe, 0xfd]),
            ],
        ),
        case("2.4", vec![Tx(ping(&p125)), Rx(10, p125.clone())]),
        case("2.5", vec![Tx(ping(vec![0xfe; 126])), Close(PROTOCOL)]),
        case("2.6", vec![TxChunked(ping(&p125), 1), Rx(10, p125.clone())]),
        case(
            "2.7",
            [vec![Tx(pong([]))], echo_text("after pong")].concat(),
        ),
        case(
            "2.8",
            [vec![Tx(pong(b"unsolicited"))], echo_text("after pong")].concat(),
        ),
        case(
            "2.9",
            vec![Tx(pong(b"x")), Tx(ping(b"p")), Rx(10, b"p".to_vec())],
        ),
    ];
    let mut ten = Vec::new();
    let mut ten_chunked = Vec::new();
    for i in 0..10u8 {
        ten.push(Tx(ping([i])));
        ten_chunked.push(TxChunked(ping([i; 20]), 1));
    }
    for i in 0..10u8 {
        ten.push(Rx(10, vec![i]));
        ten_chunked.push(Rx(10, vec![i; 20]));
    }
    cases.push(case("2.10", ten));
    cases.push(case("2.11", ten_chunked));
    cases
}

fn section_3_reserved_bits() -> Vec<Case> {
    let mut cases = Vec::new();
    for rsv in 1..=7u8 {
        cases.push(case(
            format!("3.{rsv} (rsv={rsv})"),
            vec![
                Tx(text("before")),
                Rx(1, b"before".to_vec()),
                Tx(text("bad").rsv(rsv)),
                Close(PROTOCOL),
            ],
        ));
    }
    cases.push(case(
        "3.6 ping",
        vec![Tx(ping(b"p").rsv(4)), Close(PROTOCOL)],
    ));
    cases
}

fn section_4_opcodes() -> Vec<Case> {
    (3..=7u8)
        .chain(11..=15)
        .map(|op| {
            case(
                format!("4.x opcode {op}"),
                vec![
                    Tx(text("before")),
                    Rx(1, b"before".to_vec()),
                    Tx(out(op, b"payload")),
                    Tx(ping(b"never answered")),
                    Close(PROTOCOL),
                ],
            )
        })
        .collect()
}

fn section_5_fragmentation() -> Vec<Case> {
    vec![
        case(
            "5.1",
            vec![
                Tx(ping(b"frag").fin(false)),
                Tx(cont(b"ment")),
                Close(PROTOCOL),
            ],
        ),
        case(
            "5.2",
            vec![
                Tx(pong(b"frag").fin(false)),
                Tx(cont(b"ment")),
                Close(PROTOCOL),
            ],
        ),
        case(
            "5.3",
            vec![
                Tx(text("frag").fin(false)),
                Tx(cont(b"ment")),
                Rx(1, b"fragment".to_vec()),
            ],
        ),
        case(
            "5.5",
            vec![
                TxChunked(text("frag").fin(false), 1),
                TxChunked(cont(b"ment"), 1),
                Rx(1, b"fragment".to_vec()),
            ],
        ),
        case(
            "5.6",
            vec![
                Tx(text("frag").fin(false)),
                Tx(ping(b"between")),
                Tx(cont(b"ment")),
                Rx(10, b"between".to_vec()),
                Rx(1, b"fragment".to_vec()),
            ],
        ),
        case(
            "5.8",
            vec![
                TxChunked(text("frag").fin(false), 1),
                TxChunked(ping(b"between"), 1),
                TxChunked(cont(b"ment"), 1),
                Rx(10, b"between".to_vec()),
                Rx(1, b"fragment".to_vec()),
            ],
        ),
        case(
            "5.9",
            vec![Tx(cont(b"orphan")), Tx(text("x")), Close(PROTOCOL)],
        ),
        case(
            "5.10",
            vec![Tx(cont(b"orphan").fin(false)), Close(PROTOCOL)],
        ),
        case(
            "5.15",
            vec![
                Tx(text("a").fin(false)),
                Tx(cont(b"b")),
                Rx(1, b"ab".to_vec()),
                Tx(cont(b"c").fin(false)),
                Close(PROTOCOL),
            ],
        ),
        case(
            "5.18",
            vec![Tx(text("a").fin(false)), Tx(text("b")), Close(PROTOCOL)],
        ),
        case(
            "5.19",
            vec![
                Tx(text("1").fin(false)),
                Tx(cont(b"2").fin(false)),
                Tx(ping(b"p1")),
                Tx(cont(b"3").fin(false)),
                Tx(cont(b"4").fin(false)),
                Tx(ping(b"p2")),
                Tx(cont(b"5")),
                Rx(10, b"p1".to_vec()),
                Rx(10, b"p2".to_vec()),
                Rx(1, b"12345".to_vec()),
            ],
        ),
        case(
            "5.x binary",
            vec![Tx(binary([1]).fin(false)), Tx(cont([2])), Rx(2, vec![1, 2])],
        ),
    ]
}

fn section_6_utf8() -> Vec<Case> {
    let mut cases = vec![
        case("6.1.1", echo_text("")),
        case(
            "6.1.2",
            vec![
                Tx(text("").fin(false)),
                Tx(cont(b"").fin(false)),
                Tx(cont(b"")),
                Rx(1, vec![]),
            ],
        ),
    ];
    let valid = [
        "Hello-µ@ßöäüàá-UTF-8!!",
        "κόσμε",
        "\u{0}",
        "\u{7f}\u{80}\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}",
        "\u{d7ff}\u{e000}\u{fffd}\u{fffe}",
    ];
    for (i, t) in valid.iter().enumerate() {
        cases.push(case(format!("6.2/6.5 valid #{i}"), echo_text(t)));
        // 6.2.2/6.6: split into two fragments at every byte, code points cut included.
        let b = t.as_bytes();
        for cut in 1..b.len() {
            cases.push(case(
                format!("6.6 valid #{i} cut at {cut}"),
                vec![
                    Tx(out(1, &b[..cut]).fin(false)),
                    Tx(cont(&b[cut..])),
                    Rx(1, b.to_vec()),
                ],
            ));
        }
    }
    let invalid: &[&[u8]] = &[
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64",
        b"\x80",
        b"\xbf",
        b"\xfe",
        b"\xff",
        b"\xc0\xaf",
        b"\xe0\x80\xaf",
        b"\xf0\x80\x80\xaf",
        b"\xc1\xbf",
        b"\xed\xa0\x80",
        b"\xed\xbf\xbf",
        b"\xf4\x90\x80\x80",
        b"\xce",
        b"\xe1\xbd",
        b"a\xf8\x88\x80\x80\x80",
    ];
    for (i, b) in invalid.iter().enumerate() {
        cases.push(case(
            format!("6.x invalid #{i}"),
            vec![Tx(out(1, b)), Close(UTF8)],
        ));
        // Split across two fragments at every byte.
        for cut in 1..b.len() {
            cases.push(case(
                format!("6.x invalid #{i} cut at {cut}"),
                vec![
                    Tx(out(1, &b[..cut]).fin(false)),
                    Tx(cont(&b[cut..])),
                    Close(UTF8),
                ],
            ));
        }
    }
    // 6.4: fail fast — the Close comes before the rest of the message is sent.
    cases.push(case(
        "6.4.1 fail fast in the first fragment",
        vec![
            Tx(out(1, "κόσμε".as_bytes()).fin(false)),
            Tx(cont(b"\xf4\x90\x80\x80").fin(false)),
            Close(UTF8),
        ],
    ));
    cases.push(case(
        "6.4.3 fail fast within one frame",
        vec![
            TxChunked(
                out(
                    1,
                    ["κόσμε".as_bytes(), b"\xf4\x90\x80\x80", &[b'x'; 200]].concat(),
                ),
                4,
            ),
            Close(UTF8),
        ],
    ));
    cases
}

fn section_7_close() -> Vec<Case> {
    let mut cases = vec![
        case(
            "7.1.1",
            [echo_text("hi"), vec![Tx(close(1000, "")), Close([1000])]].concat(),
        ),
        case("7.1.2", vec![Tx(close(1000, "")), Close([1000])]),
        case("7.3.1", vec![Tx(out(8, [])), Close([1005])]),
        case("7.3.2", vec![Tx(out(8, [0x03])), Close(PROTOCOL)]),
        case("7.3.3", vec![Tx(close(1000, "")), Close([1000])]),
        case(
            "7.3.4",
            vec![Tx(close(1000, "Hello World!")), Close([1000])],
        ),
        case(
            "7.3.5",
            vec![Tx(close(1000, &"*".repeat(123))), Close([1000])],
        ),
        case(
            "7.3.6",
            vec![Tx(close(1000, &"*".repeat(124))), Close(PROTOCOL)],
        ),
        case(
            "7.5.1",
            vec![
                Tx(out(
                    8,
                    [
                        &1000u16.to_be_bytes()[..],
                        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80",
                    ]
                    .concat(),
                )),
                Close([1002, 1007]),
            ],
        ),
    ];
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
    ] {
        // Stricter than Autobahn (which accepts any valid code back): the code is echoed.
        cases.push(case(
            format!("7.7 code {code}"),
            vec![Tx(close(code, "")), Close(vec![code])],
        ));
    }
    for code in [
        0u16,
        999,
        1004,
        1005,
        1006,
        1012 + 4,
        1100,
        2000,
        2999,
        5000,
        65535,
    ] {
        cases.push(case(
            format!("7.9 code {code}"),
            vec![Tx(close(code, "")), Close(PROTOCOL)],
        ));
    }
    cases
}

fn section_9_small() -> Vec<Case> {
    let mut cases = Vec::new();
    for (i, kib) in [64usize, 256, 1024].into_iter().enumerate() {
        let t = "x".repeat(kib * 1024);
        cases.push(case(format!("9.1.{} text {kib} KiB", i + 1), echo_text(&t)));
        let b: Vec<u8> = (0..kib * 1024).map(|i| i as u8).collect();
        cases.push(case(
            format!("9.2.{} binary {kib} KiB", i + 1),
            vec![Tx(binary(&b)), Rx(2, b.clone())],
        ));
    }
    for frag in [64usize, 4096, 65536] {
        let b: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
        let mut steps: Vec<Step> = Vec::new();
        let n = b.len().div_ceil(frag);
        for (i, chunk) in b.chunks(frag).enumerate() {
            let f = if i == 0 { binary(chunk) } else { cont(chunk) };
            steps.push(Tx(f.fin(i + 1 == n)));
        }
        steps.push(Rx(2, b));
        cases.push(case(format!("9.4 1 MiB in {frag}-byte fragments"), steps));
    }
    cases
}

fn size_limit() -> Vec<Case> {
    let small = |id: &str, steps| Case {
        id: id.into(),
        path: "/small",
        steps,
    };
    vec![
        small("limit: 1024 bytes pass", echo_text(&"a".repeat(1024))),
        small(
            "limit: 1025 bytes → 1009",
            vec![Tx(text(&"a".repeat(1025))), Close([1009])],
        ),
        small(
            "limit: 600+600 fragments → 1009",
            vec![
                Tx(text(&"a".repeat(600)).fin(false)),
                Tx(cont(vec![b'a'; 600])),
                Close([1009]),
            ],
        ),
    ]
}

fn unmasked() -> Vec<Case> {
    vec![
        case(
            "masking: unmasked text → 1002",
            vec![Tx(text("plain").unmasked()), Close(PROTOCOL)],
        ),
        case(
            "masking: unmasked ping → 1002",
            vec![Tx(ping(b"p").unmasked()), Close(PROTOCOL)],
        ),
    ]
}

fn run(addr: std::net::SocketAddr, c: &Case) {
    let mut ws = open(addr, c.path);
    let mut sent_close = false;
    for step in &c.steps {
        match step {
            Tx(f) => {
                sent_close |= f.opcode == 8;
                ws.send(f);
            }
            TxChunked(f, n) => {
                for piece in f.encode().chunks(*n) {
                    ws.send_bytes(piece).unwrap();
                    ws.s.flush().unwrap();
                }
            }
            Rx(op, payload) => {
                let got = ws
                    .recv()
                    .unwrap_or_else(|| panic!("{}: stream ended", c.id));
                assert_eq!(
                    (got.opcode, got.payload.len(), got.fin),
                    (*op, payload.len(), true),
                    "{}",
                    c.id
                );
                assert!(got.payload == *payload, "{}: payload differs", c.id);
            }
            Step::Close(codes) => {
                let got = ws
                    .recv()
                    .unwrap_or_else(|| panic!("{}: stream ended", c.id));
                assert_eq!(got.opcode, 8, "{}: {got:?}", c.id);
                let code = got.close_code().unwrap_or(1005);
                assert!(
                    codes.contains(&code),
                    "{}: close {code}, want {codes:?}",
                    c.id
                );
                if !sent_close {
                    // Answer, and say we are done sending: the server then closes.
                    let _ = ws.send_bytes(&close(1000, "").encode());
                    let _ = ws.s.shutdown(std::net::Shutdown::Write);
                }
                assert!(ws.closed_by_server(), "{}: not closed", c.id);
            }
        }
    }
}

#[test]
fn autobahn_sections_1_to_7_and_9_as_a_table() {
    let srv = TestServer::start(Config::default(), || WsApp::new(None));
    let all: Vec<Case> = [
        section_1_framing(),
        section_2_ping_pong(),
        section_3_reserved_bits(),
        section_4_opcodes(),
        section_5_fragmentation(),
        section_6_utf8(),
        section_7_close(),
        section_9_small(),
        size_limit(),
        unmasked(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let start = Instant::now();
    for c in &all {
        let t = Instant::now();
        run(srv.addr, c);
        if t.elapsed().as_millis() > 200 {
            eprintln!("slow: {} {:?}", c.id, t.elapsed());
        }
    }
    assert!(all.len() > 150, "{} cases", all.len());
    eprintln!("{} cases in {:?}", all.len(), start.elapsed());
}

#[test]
fn a_frame_declaring_more_than_the_limit_is_refused_before_its_payload() {
    let srv = TestServer::start(Config::default(), || WsApp::new(None));
    let mut ws = open(srv.addr, "/small");
    // Header only: 2^40 bytes announced, none sent. The server answers 1009 at once.
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 40).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    ws.send_bytes(&header).unwrap();
    assert_eq!(ws.close_code(), Some(1009));
}
