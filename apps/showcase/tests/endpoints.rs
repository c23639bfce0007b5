//! Every showcase endpoint and every error shape of the contract, in memory through
//! `TestClient` (the gateway's real connection code over a pipe; no socket, no process).

mod common;

use serde_json::{json, Value};

use common::client;

fn json_of(res: &waitless::TestResponse) -> Value {
    res.json()
}

#[test]
fn healthz() {
    let (c, _db) = client();
    let res = c.get("/healthz").send();
    assert_eq!(res.status.as_u16(), 200);
    assert_eq!(res.text(), r#"{"status":"ok"}"#);
    assert_eq!(res.header("content-type"), Some("application/json"));
    let pid = std::process::id().to_string();
    assert_eq!(res.header("x-worker-pid"), Some(pid.as_str()));
}

#[test]
fn items_lifecycle() {
    let (c, _db) = client();
    let res = c
        .post("/items")
        .json(&json!({"name": "apple", "price": 1.5, "tags": ["fruit", "red"]}))
        .send();
    assert_eq!(res.status.as_u16(), 201);
    assert_eq!(
        json_of(&res),
        json!({"id": 1, "name": "apple", "price": 1.5, "tags": ["fruit", "red"]})
    );
    // tags default to [], price may be an integer and 0.
    let res = c
        .post("/items")
        .json(&json!({"name": "b", "price": 0}))
        .send();
    assert_eq!(res.status.as_u16(), 201);
    assert_eq!(
        json_of(&res),
        json!({"id": 2, "name": "b", "price": 0.0, "tags": []})
    );

    let res = c.get("/items/1").send();
    assert_eq!(res.status.as_u16(), 200);
    assert_eq!(json_of(&res)["name"], "apple");

    let res = c.get("/items").send();
    assert_eq!(res.status.as_u16(), 200);
    let ids: Vec<u64> = res
        .json::<Vec<Value>>()
        .iter()
        .filter_map(|i| i["id"].as_u64())
        .collect();
    assert_eq!(ids, [1, 2]);

    let res = c.delete("/items/1").send();
    assert_eq!(res.status.as_u16(), 204);
    assert!(res.body.is_empty());
    let res = c.get("/items/1").send();
    assert_eq!(res.status.as_u16(), 404);
    assert_eq!(res.text(), r#"{"detail":"Item not found"}"#);
    let res = c.delete("/items/1").send();
    assert_eq!(res.status.as_u16(), 404);
    assert_eq!(res.text(), r#"{"detail":"Item not found"}"#);
}

#[test]
fn ids_increase_and_are_never_reused() {
    let (c, _db) = client();
    let create = |name: &str| {
        let res = c
            .post("/items")
            .json(&json!({"name": name, "price": 1}))
            .send();
        json_of(&res)["id"].as_u64().expect("id")
    };
    let a = create("a");
    let b = create("b");
    assert!(b > a);
    assert_eq!(c.delete(&format!("/items/{b}")).send().status.as_u16(), 204);
    let d = create("d");
    assert!(d > b, "the deleted id {b} came back as {d}");
}

#[test]
fn list_pages_with_skip_and_limit() {
    let (c, _db) = client();
    for i in 0..15 {
        let res = c
            .post("/items")
            .json(&json!({"name": format!("item {i}"), "price": i}))
            .send();
        assert_eq!(res.status.as_u16(), 201);
    }
    let ids = |query: &str| -> Vec<u64> {
        let res = c.get(&format!("/items{query}")).send();
        assert_eq!(res.status.as_u16(), 200, "{query}: {}", res.text());
        res.json::<Vec<Value>>()
            .iter()
            .filter_map(|i| i["id"].as_u64())
            .collect()
    };
    assert_eq!(ids(""), (1..=10).collect::<Vec<_>>(), "default limit 10");
    assert_eq!(ids("?skip=10"), (11..=15).collect::<Vec<_>>());
    assert_eq!(ids("?skip=2&limit=3"), [3, 4, 5]);
    assert_eq!(ids("?limit=100").len(), 15);
    assert_eq!(ids("?skip=18446744073709551615"), Vec::<u64>::new());
}

#[test]
fn unknown_ids_are_404_not_errors() {
    let (c, _db) = client();
    // Larger than any SQLite rowid (i64::MAX + 1): still a plain 404.
    for id in ["999", "9223372036854775808", "18446744073709551615"] {
        let res = c.get(&format!("/items/{id}")).send();
        assert_eq!(res.status.as_u16(), 404, "{id}");
        assert_eq!(res.text(), r#"{"detail":"Item not found"}"#);
        assert_eq!(
            c.delete(&format!("/items/{id}")).send().status.as_u16(),
            404
        );
    }
}

#[test]
fn item_body_errors_come_all_at_once_in_fastapis_shape() {
    let (c, _db) = client();
    let res = c
        .post("/items")
        .json(&json!({"name": "", "price": -1, "tags": ["ok", 7]}))
        .send();
    assert_eq!(res.status.as_u16(), 422);
    assert_eq!(
        json_of(&res),
        json!({"detail": [
            {"type": "string_too_short", "loc": ["body", "name"],
             "msg": "String should have at least 1 character", "input": "", "ctx": {"min_length": 1}},
            {"type": "greater_than_equal", "loc": ["body", "price"],
             "msg": "Input should be greater than or equal to 0", "input": -1, "ctx": {"ge": 0}},
            {"type": "string_type", "loc": ["body", "tags", 1],
             "msg": "Input should be a valid string", "input": 7},
        ]})
    );

    let long = "x".repeat(101);
    let res = c
        .post("/items")
        .json(&json!({"name": long, "price": 1}))
        .send();
    assert_eq!(res.status.as_u16(), 422);
    let detail = &json_of(&res)["detail"][0];
    assert_eq!(detail["type"], "string_too_long");
    assert_eq!(detail["loc"], json!(["body", "name"]));
    assert_eq!(detail["ctx"], json!({"max_length": 100}));

    let res = c.post("/items").json(&json!({"tags": "red"})).send();
    assert_eq!(res.status.as_u16(), 422);
    let types: Vec<(String, Value)> = json_of(&res)["detail"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or("").to_owned(),
                e["loc"].clone(),
            )
        })
        .collect();
    assert_eq!(
        types,
        [
            ("missing".to_owned(), json!(["body", "name"])),
            ("missing".to_owned(), json!(["body", "price"])),
            ("list_type".to_owned(), json!(["body", "tags"])),
        ]
    );

    let res = c
        .post("/items")
        .json(&json!(["not", "an", "object"]))
        .send();
    assert_eq!(res.status.as_u16(), 422);
    assert_eq!(json_of(&res)["detail"][0]["loc"], json!(["body"]));
}

#[test]
fn malformed_json_is_422_json_invalid() {
    let (c, _db) = client();
    let res = c
        .post("/items")
        .header("content-type", "application/json")
        .body(r#"{"name": "#)
        .send();
    assert_eq!(res.status.as_u16(), 422);
    let detail = &json_of(&res)["detail"][0];
    assert_eq!(detail["type"], "json_invalid");
    assert_eq!(detail["loc"][0], "body");
    assert_eq!(detail["msg"], "JSON decode error");
}

#[test]
fn path_and_query_errors_name_their_location() {
    let (c, _db) = client();
    let res = c.get("/items/abc").send();
    assert_eq!(res.status.as_u16(), 422);
    assert_eq!(
        res.text(),
        r#"{"detail":[{"type":"int_parsing","loc":["path","item_id"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"abc"}]}"#
    );
    assert_eq!(c.delete("/items/-1").send().status.as_u16(), 422);

    for (query, kind, ctx) in [
        ("limit=0", "greater_than_equal", json!({"ge": 1})),
        ("limit=101", "less_than_equal", json!({"le": 100})),
    ] {
        let res = c.get(&format!("/items?{query}")).send();
        assert_eq!(res.status.as_u16(), 422, "{query}");
        let detail = &json_of(&res)["detail"][0];
        assert_eq!(detail["type"], kind);
        assert_eq!(detail["loc"], json!(["query", "limit"]));
        assert_eq!(detail["ctx"], ctx);
    }
    let res = c.get("/items?skip=-1&limit=x").send();
    let locs: Vec<Value> = json_of(&res)["detail"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["loc"].clone())
        .collect();
    assert_eq!(locs, [json!(["query", "skip"]), json!(["query", "limit"])]);
}

#[test]
fn unknown_path_is_404_and_wrong_method_is_405_with_allow() {
    let (c, _db) = client();
    let res = c.get("/nope").send();
    assert_eq!(res.status.as_u16(), 404);
    assert_eq!(res.text(), r#"{"detail":"Not Found"}"#);

    for (method, path, allow) in [
        ("PUT", "/items", "POST, GET, HEAD"),
        ("POST", "/items/1", "GET, HEAD, DELETE"),
        ("POST", "/healthz", "GET, HEAD"),
        ("DELETE", "/cpu/fib/3", "GET, HEAD"),
    ] {
        let res = c.request(method, path).send();
        assert_eq!(res.status.as_u16(), 405, "{method} {path}");
        assert_eq!(res.text(), r#"{"detail":"Method Not Allowed"}"#);
        let mut got: Vec<&str> = res.header("allow").unwrap_or("").split(", ").collect();
        let mut want: Vec<&str> = allow.split(", ").collect();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "{method} {path}");
    }
}

#[test]
fn io_sleep_waits_and_validates_ms() {
    let (c, _db) = client();
    let start = std::time::Instant::now();
    let res = c.get("/io/sleep?ms=30").send();
    assert_eq!(res.status.as_u16(), 200);
    assert_eq!(res.text(), r#"{"slept_ms":30}"#);
    assert!(start.elapsed() >= std::time::Duration::from_millis(30));
    assert_eq!(c.get("/io/sleep?ms=0").send().text(), r#"{"slept_ms":0}"#);

    for (path, kind) in [
        ("/io/sleep?ms=10001", "less_than_equal"),
        ("/io/sleep?ms=-1", "greater_than_equal"),
        ("/io/sleep?ms=soon", "int_parsing"),
        ("/io/sleep", "missing"),
        ("/io/blocking?ms=10001", "less_than_equal"),
    ] {
        let res = c.get(path).send();
        assert_eq!(res.status.as_u16(), 422, "{path}");
        let detail = &json_of(&res)["detail"][0];
        assert_eq!(detail["type"], kind, "{path}");
        assert_eq!(detail["loc"], json!(["query", "ms"]), "{path}");
    }
}

#[test]
fn io_blocking_blocks_and_answers() {
    let (c, _db) = client();
    let start = std::time::Instant::now();
    let res = c.get("/io/blocking?ms=20").send();
    assert_eq!(res.status.as_u16(), 200);
    assert_eq!(res.text(), r#"{"slept_ms":20}"#);
    assert!(start.elapsed() >= std::time::Duration::from_millis(20));
}

#[test]
fn fib_inline_and_on_the_thread_pool() {
    let (c, _db) = client();
    for (n, value) in [
        (0u32, 0u64),
        (1, 1),
        (20, 6765),
        (35, 9_227_465),
        (92, 7_540_113_804_746_346_429),
    ] {
        for mode in ["inline", "thread"] {
            let res = c.get(&format!("/cpu/fib/{n}?mode={mode}")).send();
            assert_eq!(res.status.as_u16(), 200, "{n} {mode}: {}", res.text());
            assert_eq!(json_of(&res), json!({"n": n, "value": value, "mode": mode}));
        }
    }
    // mode defaults to inline.
    assert_eq!(
        c.get("/cpu/fib/10").send().text(),
        r#"{"n":10,"value":55,"mode":"inline"}"#
    );
}

#[test]
fn fib_errors() {
    let (c, _db) = client();
    let res = c.get("/cpu/fib/93").send();
    assert_eq!(res.status.as_u16(), 422);
    assert_eq!(
        res.text(),
        r#"{"detail":[{"type":"less_than_equal","loc":["path","n"],"msg":"Input should be less than or equal to 92","input":"93","ctx":{"le":92}}]}"#
    );
    let res = c.get("/cpu/fib/x?mode=gpu").send();
    assert_eq!(res.status.as_u16(), 422);
    let detail = json_of(&res)["detail"].clone();
    assert_eq!(detail[0]["loc"], json!(["path", "n"]));
    assert_eq!(detail[0]["type"], "int_parsing");
    assert_eq!(
        detail[1],
        json!({"type": "enum", "loc": ["query", "mode"],
               "msg": "Input should be 'inline', 'thread', 'process' or 'queue'", "input": "gpu",
               "ctx": {"expected": "'inline', 'thread', 'process' or 'queue'"}})
    );
}

#[test]
fn queue_mode_without_a_broker_says_so() {
    // No `--broker`: a 503 whose detail says what to start (tests/queue_mode.rs runs the tier).
    let (c, _db) = client();
    let res = c.get("/cpu/fib/10?mode=queue").send();
    assert_eq!(res.status.as_u16(), 503);
    assert_eq!(json_of(&res), json!({"detail": showcase::cpu::NO_BROKER}));
    assert!(showcase::cpu::NO_BROKER.contains("--broker"));
    assert_eq!(c.get("/healthz").send().status.as_u16(), 200);
}

#[test]
fn process_mode_without_pool_init_is_a_clean_500() {
    // This test binary never called `waitless_pool::init` (tests/process_mode.rs does): the
    // pool cannot start, and the request gets FastAPI's 500 body, not a dead worker.
    let (c, _db) = client();
    let res = c.get("/cpu/fib/10?mode=process").send();
    assert_eq!(res.status.as_u16(), 500);
    assert_eq!(res.text(), r#"{"detail":"Internal Server Error"}"#);
    assert_eq!(c.get("/healthz").send().status.as_u16(), 200);
}

#[test]
fn the_diagnostic_on_loop_driver_answers_the_same() {
    let (c, _db) = common::client_with(|s| s.db_on_loop = true);
    let res = c
        .post("/items")
        .json(&json!({"name": "n", "price": 2}))
        .send();
    assert_eq!(res.status.as_u16(), 201);
    assert_eq!(json_of(&c.get("/items/1").send())["name"], "n");
}
