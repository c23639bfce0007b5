//! A framework app served by the gateway's `Server` on 127.0.0.1:0 in its own thread, stopped
//! gracefully by an event (a connection to a control listener ends `run_until`), no polling.

#![allow(dead_code)]

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use waitless::middleware::Endpoint;
use waitless::App;
use waitless_gateway::{Config, Server};

/// The longest any single wait in these tests may take.
pub const DEADLINE: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub addr: SocketAddr,
    control: SocketAddr,
    done: mpsc::Receiver<()>,
}

impl TestServer {
    pub fn start<E, F>(make_app: F) -> TestServer
    where
        E: Endpoint,
        F: FnOnce() -> App<E> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        std::thread::spawn(move || {
            waitless_executor::block_on(async move {
                let config = Config {
                    bind: "127.0.0.1:0".parse().unwrap(),
                    graceful_timeout: Duration::from_secs(20),
                    ..Config::default()
                };
                let server = Server::bind(config).expect("bind");
                let control =
                    waitless_reactor::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
                tx.send((server.local_addr().unwrap(), control.local_addr().unwrap()))
                    .unwrap();
                let stop = async move {
                    let _ = control.accept().await;
                };
                let _ = server.run_until(make_app(), stop).await;
                let _ = done_tx.send(());
            })
        });
        let (addr, control) = rx.recv_timeout(DEADLINE).expect("server did not start");
        TestServer {
            addr,
            control,
            done,
        }
    }

    /// Starts the graceful shutdown.
    pub fn stop(&self) {
        let _ = TcpStream::connect(self.control);
    }

    /// Whether the server finished within `within`.
    pub fn finished_within(&self, within: Duration) -> bool {
        self.done.recv_timeout(within).is_ok()
    }
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s.set_write_timeout(Some(DEADLINE)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Reads until `needle` has arrived (or the connection ends); returns everything read.
pub fn read_until(s: &mut TcpStream, needle: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(needle) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Reads to the end of the connection.
pub fn read_to_end(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    String::from_utf8_lossy(&got).into_owned()
}
