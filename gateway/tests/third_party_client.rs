//! The server seen by an HTTP client we did not write (ureq).

mod support;

use support::*;

#[test]
fn ureq_gets_plaintext_json_like_bodies_and_posts() {
    let addr = start_default();
    let agent = ureq::Agent::new_with_defaults();
    let base = format!("http://{addr}");
    for _ in 0..3 {
        // Same agent: keep-alive connections are reused.
        let mut resp = agent.get(&format!("{base}/plaintext")).call().unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers().get("server").unwrap(), "waitless");
        assert!(resp.headers().get("date").is_some());
        assert_eq!(resp.body_mut().read_to_string().unwrap(), "Hello, World!");
    }
    let mut resp = agent
        .post(&format!("{base}/echo"))
        .send("payload from ureq")
        .unwrap();
    assert_eq!(
        resp.body_mut().read_to_string().unwrap(),
        "payload from ureq"
    );
    let mut resp = agent.get(&format!("{base}/stream?n=4")).call().unwrap();
    assert_eq!(
        resp.body_mut().read_to_string().unwrap(),
        "part 0\npart 1\npart 2\npart 3\n"
    );
    let err = agent.get(&format!("{base}/missing")).call().unwrap_err();
    assert!(matches!(err, ureq::Error::StatusCode(404)));
}
