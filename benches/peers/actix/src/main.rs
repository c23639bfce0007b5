//! actix-web peer: one worker (`HttpServer::workers(1)`). actix adds `Date` itself; `Server` is
//! set per handler.

use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

#[derive(Serialize)]
struct Slept {
    slept_ms: u64,
}

#[derive(Deserialize)]
struct SleepQuery {
    ms: u64,
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

async fn plaintext() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Server", "actix"))
        .content_type("text/plain")
        .body("Hello, World!")
}

async fn json() -> HttpResponse {
    let body = serde_json::to_vec(&Message {
        message: "Hello, World!",
    })
    .unwrap();
    HttpResponse::Ok()
        .insert_header(("Server", "actix"))
        .content_type("application/json")
        .body(body)
}

async fn sleep(q: web::Query<SleepQuery>) -> HttpResponse {
    actix_web::rt::time::sleep(Duration::from_millis(q.ms)).await;
    let body = serde_json::to_vec(&Slept { slept_ms: q.ms }).unwrap();
    HttpResponse::Ok()
        .insert_header(("Server", "actix"))
        .content_type("application/json")
        .body(body)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port = port();
    let server = HttpServer::new(|| {
        App::new()
            .route("/plaintext", web::get().to(plaintext))
            .route("/json", web::get().to(json))
            .route("/sleep", web::get().to(sleep))
    })
    .workers(1)
    .bind(("127.0.0.1", port))?;
    println!("actix: listening on http://{:?}", server.addrs());
    server.run().await
}
