#![allow(dead_code)] // each test binary uses its own part of these helpers

//! Shared by the in-memory tests: a showcase app on a fresh database.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;

use showcase::database::{self, TempDatabase};
use showcase::{Settings, Showcase};
use waitless::gateway::{Config, Server};
use waitless::middleware::Layered;
use waitless::{Routes, TestClient};

pub type Client = TestClient<Layered<showcase::worker_pid::WorkerPid, Routes>>;

/// A client and the temporary database it uses (removed when the second value drops).
pub fn client() -> (Client, TempDatabase) {
    client_with(|_| {})
}

/// Like [`client`], with the settings adjusted first.
pub fn client_with(adjust: impl FnOnce(&mut Settings)) -> (Client, TempDatabase) {
    let (mut settings, temp) = settings();
    adjust(&mut settings);
    let client = TestClient::try_new(app(settings), config()).expect("startup");
    (client, temp)
}

/// One worker's settings on a fresh database (removed when the second value drops).
pub fn settings() -> (Settings, TempDatabase) {
    let temp = TempDatabase::create().expect("temp dir");
    database::create(&temp.path()).expect("create database");
    let settings = Settings::new(temp.path(), 1).expect("token secret");
    (settings, temp)
}

/// As `main` configures the server: the body cap lets a 50 MiB upload through.
pub fn config() -> Config {
    Config {
        max_body_size: showcase::files::UPLOAD_LIMIT,
        ..Config::default()
    }
}

/// The showcase on a real socket at 127.0.0.1 (one worker: a thread running the gateway as a
/// worker process would); it stops when the test process exits.
pub fn serve() -> (SocketAddr, TempDatabase) {
    let (settings, temp) = settings();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        waitless_executor::block_on(async move {
            let config = Config {
                bind: "127.0.0.1:0".parse().expect("address"),
                ..config()
            };
            let server = Server::bind(config).expect("bind");
            let _ = tx.send(server.local_addr().expect("a TCP address"));
            let _ = server.run(app(settings)).await;
        })
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server start");
    (addr, temp)
}

fn app(settings: Settings) -> Showcase {
    showcase::app(settings)
}
