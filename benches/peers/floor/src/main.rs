//! The floor: the least an HTTP/1.1 server on one thread can do. A raw level-triggered epoll loop,
//! canned responses (rebuilt once a second for the `Date` header), no limits, no timeouts, no
//! parsing beyond finding the end of each request head and the first letters of its path. Per
//! readable event it does one `read` and answers every complete request in it with one `write`.
//! It is not a server anyone should run: it is the yardstick for how much of a request's cost is
//! the kernel's. GET /plaintext and GET /json are served; everything else is a 404 (no /sleep).

use std::net::TcpListener;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Default)]
struct Canned {
    secs: u64,
    plain: Vec<u8>,
    json: Vec<u8>,
    missing: Vec<u8>,
}

impl Canned {
    fn refresh(&mut self) {
        let now = SystemTime::now();
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if secs == self.secs {
            return;
        }
        self.secs = secs;
        let date = httpdate::fmt_http_date(now);
        let make = |status: &str, ctype: &str, body: &str| {
            format!(
                "HTTP/1.1 {status}\r\nServer: floor\r\nDate: {date}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        };
        self.plain = make("200 OK", "text/plain", "Hello, World!");
        self.json = make(
            "200 OK",
            "application/json",
            r#"{"message":"Hello, World!"}"#,
        );
        self.missing = make("404 Not Found", "text/plain", "Not Found");
    }
}

/// A connection's state: both buffers stay empty (unallocated) while it is idle.
#[derive(Default)]
struct Conn {
    partial: Vec<u8>,
    unsent: Vec<u8>,
}

fn port() -> u16 {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--port" {
            return args.next().and_then(|p| p.parse().ok()).expect("--port N");
        }
    }
    std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080)
}

fn ctl(ep: RawFd, op: i32, fd: RawFd, events: u32) {
    let mut ev = libc::epoll_event {
        events,
        u64: fd as u64,
    };
    // SAFETY: plain syscall on descriptors this process owns.
    unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) };
}

/// Appends one canned response per complete request head in `data`; returns the bytes consumed.
fn answer(data: &[u8], canned: &Canned, out: &mut Vec<u8>) -> usize {
    let mut start = 0;
    let mut i = 3;
    while i < data.len() {
        if data[i] == b'\n' && &data[i - 3..=i] == b"\r\n\r\n" {
            let head = &data[start..i];
            let path = head
                .iter()
                .position(|&b| b == b' ')
                .map_or(&head[..0], |s| &head[s + 1..]);
            out.extend_from_slice(if path.starts_with(b"/plaintext") {
                &canned.plain
            } else if path.starts_with(b"/json") {
                &canned.json
            } else {
                &canned.missing
            });
            start = i + 1;
            i = start + 3;
        } else {
            i += 1;
        }
    }
    start
}

fn main() {
    let listener = TcpListener::bind(("127.0.0.1", port())).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    println!(
        "floor: listening on http://{}",
        listener.local_addr().unwrap()
    );
    let lfd = listener.as_raw_fd();
    // SAFETY: plain syscall.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    ctl(ep, libc::EPOLL_CTL_ADD, lfd, libc::EPOLLIN as u32);
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    let mut buf = vec![0u8; 256 * 1024];
    let mut out = Vec::with_capacity(256 * 1024);
    let mut canned = Canned::default();
    loop {
        // SAFETY: `events` is a valid buffer of its length.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, -1) };
        canned.refresh();
        for ev in &events[..n.max(0) as usize] {
            let fd = ev.u64 as RawFd;
            if fd == lfd {
                loop {
                    // SAFETY: accepting on our own listener.
                    let c = unsafe {
                        libc::accept4(
                            lfd,
                            std::ptr::null_mut(),
                            std::ptr::null_mut(),
                            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                        )
                    };
                    if c < 0 {
                        break;
                    }
                    let one: libc::c_int = 1;
                    // SAFETY: setting an int option on our own socket.
                    unsafe {
                        libc::setsockopt(
                            c,
                            libc::IPPROTO_TCP,
                            libc::TCP_NODELAY,
                            (&one as *const libc::c_int).cast(),
                            4,
                        )
                    };
                    if conns.len() <= c as usize {
                        conns.resize_with(c as usize + 1, || None);
                    }
                    conns[c as usize] = Some(Conn::default());
                    ctl(ep, libc::EPOLL_CTL_ADD, c, libc::EPOLLIN as u32);
                }
                continue;
            }
            let Some(conn) = conns.get_mut(fd as usize).and_then(Option::as_mut) else {
                continue;
            };
            let mut dead = false;
            if ev.events & libc::EPOLLOUT as u32 != 0 && !conn.unsent.is_empty() {
                // SAFETY: writing our own buffer to our own socket.
                let w = unsafe { libc::write(fd, conn.unsent.as_ptr().cast(), conn.unsent.len()) };
                if w > 0 {
                    conn.unsent.drain(..w as usize);
                    if conn.unsent.is_empty() {
                        conn.unsent = Vec::new();
                        ctl(ep, libc::EPOLL_CTL_MOD, fd, libc::EPOLLIN as u32);
                    }
                }
            }
            if ev.events & (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0 {
                // SAFETY: reading into our own buffer.
                let r = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
                if r == 0
                    || (r < 0
                        && std::io::Error::last_os_error().raw_os_error() != Some(libc::EAGAIN))
                {
                    dead = true;
                } else if r > 0 {
                    out.clear();
                    let fresh = &buf[..r as usize];
                    if conn.partial.is_empty() {
                        let used = answer(fresh, &canned, &mut out);
                        conn.partial.extend_from_slice(&fresh[used..]);
                    } else {
                        conn.partial.extend_from_slice(fresh);
                        let used = answer(&conn.partial, &canned, &mut out);
                        conn.partial.drain(..used);
                        if conn.partial.is_empty() {
                            conn.partial = Vec::new();
                        }
                    }
                    if !out.is_empty() && !conn.unsent.is_empty() {
                        conn.unsent.extend_from_slice(&out);
                    } else if !out.is_empty() {
                        // SAFETY: writing our own buffer to our own socket.
                        let w = unsafe { libc::write(fd, out.as_ptr().cast(), out.len()) };
                        let w = w.max(0) as usize;
                        if w < out.len() {
                            conn.unsent.extend_from_slice(&out[w..]);
                            ctl(
                                ep,
                                libc::EPOLL_CTL_MOD,
                                fd,
                                (libc::EPOLLIN | libc::EPOLLOUT) as u32,
                            );
                        }
                    }
                }
            }
            if dead {
                conns[fd as usize] = None;
                // SAFETY: closing a connection we accepted (closing also removes it from epoll).
                unsafe { libc::close(fd) };
            }
        }
    }
}
