//! The pool process side: what [`init`](crate::init) does in a pool process. It never returns.
//!
//! A pool process is single-threaded and blocking on purpose: it has exactly one thing to wait for
//! (the next request on its socket) and one thing to do (run it), so an event loop would add
//! nothing. It answers every request in order with one `write`, which is what lets the parent tell
//! which job was running when the pool process died: the first one without an answer.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::frame;
use super::registry::{Failed, Registry};

/// Longest error or panic message sent back (the rest is cut).
const MAX_MESSAGE: usize = 64 * 1024;

/// Serves requests on `fd` until the parent closes its end, then exits the process.
pub(crate) fn serve(registry: &Registry, fd: RawFd, max_frame: usize) -> ! {
    // SAFETY: the parent made `fd` (its socketpair end) for this process alone and named it in
    // the environment; nothing else in this fresh process owns or closes it.
    let sock = unsafe { File::from_raw_fd(fd) };
    let code = match serve_on(registry, &sock, &sock, max_frame) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("waitless-pool: pool process {}: {e}", std::process::id());
            1
        }
    };
    std::process::exit(code)
}

/// The request loop, over any byte stream (a socket in a pool process, memory in the fuzz
/// target).
pub(crate) fn serve_on(
    registry: &Registry,
    input: impl Read,
    mut writer: impl Write,
    max_frame: usize,
) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    let mut out = Vec::with_capacity(4096);
    let pid = std::process::id().to_string();
    frame::encode_response(&mut out, max_frame, frame::HELLO, |o| {
        o.extend_from_slice(pid.as_bytes());
        Ok::<_, io::Error>(())
    })
    .map_err(io::Error::other)?;
    writer.write_all(&out)?;

    let mut body = Vec::new();
    loop {
        let mut header = [0u8; frame::HEADER];
        if !read_header(&mut reader, &mut header)? {
            // The parent closed its end (dropped the pool, retired us, or died).
            return Ok(());
        }
        let len = frame::body_len(&header, max_frame)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?
            .unwrap_or(0);
        body.clear();
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
        out.clear();
        run_one(registry, &body, &mut out, max_frame);
        writer.write_all(&out)?;
        // Do not keep a 16 MiB buffer around because one job was large.
        if body.capacity() > 1 << 20 {
            body = Vec::new();
        }
        if out.capacity() > 1 << 20 {
            out = Vec::with_capacity(4096);
        }
    }
}

/// Reads a frame header; `false` on a clean end of stream before its first byte.
fn read_header(reader: &mut impl Read, header: &mut [u8; frame::HEADER]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < header.len() {
        match reader.read(&mut header[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Runs one request and appends exactly one response frame to `out`.
fn run_one(registry: &Registry, body: &[u8], out: &mut Vec<u8>, max_frame: usize) {
    let failed = match frame::decode_request(body) {
        Err(e) => Failed(frame::CODEC, e.to_string()),
        Ok((name, args)) => match registry.get(name) {
            None => Failed(
                frame::UNKNOWN_JOB,
                String::from_utf8_lossy(name).into_owned(),
            ),
            Some(job) => match catch_unwind(AssertUnwindSafe(|| job(args, out, max_frame))) {
                Ok(Ok(())) => return,
                Ok(Err(failed)) => failed,
                Err(payload) => Failed(frame::PANICKED, crate::error::panic_message(&*payload)),
            },
        },
    };
    // A panic may have left half a frame behind.
    out.clear();
    let Failed(status, mut msg) = failed;
    if msg.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !msg.is_char_boundary(cut) {
            cut -= 1;
        }
        msg.truncate(cut);
    }
    let encoded = frame::encode_response(out, max_frame, status, |o| {
        o.extend_from_slice(msg.as_bytes());
        Ok::<_, io::Error>(())
    });
    if encoded.is_err() {
        // Only possible with an absurdly small frame limit: answer with an empty payload.
        out.clear();
        let _ = frame::encode_response(out, usize::MAX, status, |_| Ok::<_, io::Error>(()));
    }
}
