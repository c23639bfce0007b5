//! End to end over a real TCP socket: the gateway's `Server` on 127.0.0.1:0 serving a framework
//! app, called with `ureq` (a client we did not write).

use std::sync::mpsc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use waitless::{App, Json, Path, Query};
use waitless_gateway::{Config, Server};

#[derive(Deserialize, JsonSchema)]
struct Params {
    #[serde(default = "ten")]
    #[schemars(range(min = 1, max = 100))]
    limit: u32,
}

fn ten() -> u32 {
    10
}

async fn user(Path(user_id): Path<u64>, Query(p): Query<Params>) -> Json<Value> {
    Json(json!({"user_id": user_id, "limit": p.limit}))
}

#[test]
fn ureq_talks_to_a_framework_app_over_tcp() {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        waitless_executor::block_on(async move {
            let config = Config {
                bind: "127.0.0.1:0".parse().unwrap(),
                ..Config::default()
            };
            let server = Server::bind(config).expect("bind");
            tx.send(server.local_addr().expect("a TCP address"))
                .unwrap();
            let _ = server.run(App::new().get("/users/{user_id}", user)).await;
        })
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server start");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut res = agent
        .get(&format!("http://{addr}/users/42?limit=5"))
        .call()
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("server").unwrap(), "waitless");
    let body: Value = serde_json::from_str(&res.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body, json!({"user_id": 42, "limit": 5}));

    let mut res = agent
        .get(&format!("http://{addr}/users/1?limit=0"))
        .call()
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.body_mut().read_to_string().unwrap(),
        r#"{"detail":[{"type":"greater_than_equal","loc":["query","limit"],"msg":"Input should be greater than or equal to 1","input":"0","ctx":{"ge":1}}]}"#
    );
    let res = agent.get(&format!("http://{addr}/nope")).call().unwrap();
    assert_eq!(res.status(), 404);
}
