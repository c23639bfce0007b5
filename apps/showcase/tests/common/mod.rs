#![allow(dead_code)] // each test binary uses its own part of these helpers

//! Shared by the in-memory tests: a showcase app on a fresh database.

use showcase::database::{self, TempDatabase};
use showcase::{Settings, Showcase};
use waitless::middleware::Layered;
use waitless::{Routes, TestClient};

pub type Client = TestClient<Layered<showcase::worker_pid::WorkerPid, Routes>>;

/// A client and the temporary database it uses (removed when the second value drops).
pub fn client() -> (Client, TempDatabase) {
    client_with(|_| {})
}

/// Like [`client`], with the settings adjusted first.
pub fn client_with(adjust: impl FnOnce(&mut Settings)) -> (Client, TempDatabase) {
    let temp = TempDatabase::create().expect("temp dir");
    database::create(&temp.path()).expect("create database");
    let mut settings = Settings::new(temp.path(), 1);
    adjust(&mut settings);
    (TestClient::new(app(settings)), temp)
}

fn app(settings: Settings) -> Showcase {
    showcase::app(settings)
}
