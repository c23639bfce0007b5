//! Load client for the WebSocket echo benchmark: C connections, each sending one message and
//! waiting for its echo, over and over, for D seconds; prints messages/s and — given the
//! server's pid — the server's CPU time per message from `/proc/PID/stat`.
//!
//! Why hand-built frames and not a client library: the client shares the machine with the
//! server (pinned to another core) and must not be the bottleneck; a pre-masked frame written
//! with one `write` and an echo read with `read_exact` of its known length is the least work a
//! correct client can do. The echo's header and payload are checked on every message.
//!
//! Usage: `ws_load ADDR PATH SIZE CONNECTIONS SECONDS [SERVER_PID]`,
//! e.g. `taskset -c 1 ws_load 127.0.0.1:9001 / 64 256 10 $(pidof ws_echo)`.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Args {
    addr: String,
    path: String,
    size: usize,
    conns: usize,
    secs: u64,
    pid: Option<u32>,
}

fn args() -> Args {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() < 5 {
        eprintln!("usage: ws_load ADDR PATH SIZE CONNECTIONS SECONDS [SERVER_PID]");
        std::process::exit(2);
    }
    let num = |i: usize| -> u64 {
        a[i].parse().unwrap_or_else(|_| {
            eprintln!("ws_load: {:?} is not a number", a[i]);
            std::process::exit(2)
        })
    };
    Args {
        addr: a[0].clone(),
        path: a[1].clone(),
        size: num(2) as usize,
        conns: num(3) as usize,
        secs: num(4),
        pid: a.get(5).and_then(|p| p.parse().ok()),
    }
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// A masked binary frame with `size` bytes of payload (the same bytes every time).
fn client_frame(size: usize) -> Vec<u8> {
    let mut f = vec![0x82];
    if size < 126 {
        f.push(0x80 | size as u8);
    } else if size <= 0xFFFF {
        f.push(0x80 | 126);
        f.extend_from_slice(&(size as u16).to_be_bytes());
    } else {
        f.push(0x80 | 127);
        f.extend_from_slice(&(size as u64).to_be_bytes());
    }
    let key = [0x11, 0x22, 0x33, 0x44];
    f.extend_from_slice(&key);
    f.extend((0..size).map(|i| (i as u8) ^ key[i % 4]));
    f
}

/// The server's (unmasked) echo of it.
fn server_frame(size: usize) -> Vec<u8> {
    let mut f = vec![0x82];
    if size < 126 {
        f.push(size as u8);
    } else if size <= 0xFFFF {
        f.push(126);
        f.extend_from_slice(&(size as u16).to_be_bytes());
    } else {
        f.push(127);
        f.extend_from_slice(&(size as u64).to_be_bytes());
    }
    f.extend((0..size).map(|i| i as u8));
    f
}

async fn open(addr: &str, path: &str) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await?;
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        if s.read(&mut b).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(b[0]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        return Err(std::io::Error::other(
            String::from_utf8_lossy(&head).into_owned(),
        ));
    }
    Ok(s)
}

async fn ping_pong(
    mut s: TcpStream,
    out: Rc<Vec<u8>>,
    expect: Rc<Vec<u8>>,
    stop: Rc<Cell<bool>>,
    count: Rc<Cell<u64>>,
) -> std::io::Result<()> {
    let mut got = vec![0u8; expect.len()];
    while !stop.get() {
        s.write_all(&out).await?;
        s.read_exact(&mut got).await?;
        if got != *expect {
            return Err(std::io::Error::other("echo differs"));
        }
        count.set(count.get() + 1);
    }
    // Close 1000, then wait for the server's Close (best effort).
    let _ = s.write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8]).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), s.read(&mut got)).await;
    Ok(())
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let out = Rc::new(client_frame(a.size));
        let expect = Rc::new(server_frame(a.size));
        let stop = Rc::new(Cell::new(false));
        let count = Rc::new(Cell::new(0u64));
        let mut socks = Vec::new();
        for _ in 0..a.conns {
            match open(&a.addr, &a.path).await {
                Ok(s) => socks.push(s),
                Err(e) => {
                    eprintln!("ws_load: connect failed: {e}");
                    std::process::exit(1);
                }
            }
        }
        let cpu0 = a.pid.and_then(cpu_ticks);
        let start = Instant::now();
        let tasks: Vec<_> = socks
            .into_iter()
            .map(|s| {
                tokio::task::spawn_local(ping_pong(
                    s,
                    out.clone(),
                    expect.clone(),
                    stop.clone(),
                    count.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(a.secs)).await;
        let n = count.get();
        let elapsed = start.elapsed().as_secs_f64();
        let cpu1 = a.pid.and_then(cpu_ticks);
        stop.set(true);
        let mut errors = 0;
        for t in tasks {
            if !matches!(t.await, Ok(Ok(()))) {
                errors += 1;
            }
        }
        let rate = n as f64 / elapsed;
        print!(
            "size={} conns={} messages={n} msg/s={rate:.0} errors={errors}",
            a.size, a.conns
        );
        if let (Some(c0), Some(c1)) = (cpu0, cpu1) {
            let cpu_s = (c1 - c0) as f64 / ticks_per_sec();
            print!(
                " server_cpu={:.2}s us/msg={:.2}",
                cpu_s,
                cpu_s * 1e6 / n.max(1) as f64
            );
        }
        println!();
    });
}
