//! Lifespan hooks, per-worker state, background tasks after the response, dependencies.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use waitless::{
    App, BackgroundTasks, FromRequest, HttpError, Rejection, RequestContext, State, TestClient,
};

#[derive(Clone, Default)]
struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    fn push(&self, s: &str) {
        self.0.borrow_mut().push(s.to_owned());
    }
}

#[test]
fn startup_builds_state_and_shutdown_runs_once() {
    let log = Log::default();
    let shut = Rc::new(Cell::new(0));
    let (l, s) = (log.clone(), shut.clone());
    let app = App::new()
        .on_startup(move || {
            let l = l.clone();
            async move {
                l.push("startup");
                Ok::<_, String>(l)
            }
        })
        .on_shutdown(move |_| s.set(s.get() + 1))
        .get("/hit", |State(log): State<Log>| async move {
            log.push("hit");
            "ok"
        });
    {
        let client = TestClient::new(app);
        assert_eq!(client.get("/hit").send().text(), "ok");
        assert_eq!(shut.get(), 0);
    }
    assert_eq!(shut.get(), 1);
    assert_eq!(*log.0.borrow(), ["startup", "hit"]);
}

#[test]
fn a_failing_startup_hook_stops_the_app() {
    let app = App::new()
        .on_startup(|| async { Err::<(), _>("database unreachable") })
        .get("/", || async { "never" });
    let err = TestClient::try_new(app, Default::default()).err().unwrap();
    assert!(err.to_string().contains("database unreachable"), "{err}");
}

#[test]
fn background_tasks_run_after_the_response_is_sent() {
    let log = Log::default();
    let l = log.clone();
    let app = App::new().post("/signup", move |tasks: BackgroundTasks| {
        let l = l.clone();
        async move {
            let l2 = l.clone();
            tasks.add(async move {
                waitless_reactor::sleep(std::time::Duration::from_millis(5)).await;
                l2.push("mail sent");
            });
            l.push("handler done");
            "ok"
        }
    });
    let client = TestClient::new(app);
    waitless_executor::block_on(async {
        // The response arrives before the task finishes: the app flushed it first.
        let req = waitless_gateway::testing::TestRequest::post("/signup");
        let res = client.server().call(req).await.unwrap();
        assert_eq!(res.text(), "ok");
        assert_eq!(*log.0.borrow(), ["handler done"]);
    });
    // TestClient::send waits for background tasks, as FastAPI's does.
    let res = client.post("/signup").send();
    assert_eq!(res.text(), "ok");
    let entries = log.0.borrow().clone();
    assert_eq!(
        entries.iter().filter(|e| *e == "mail sent").count(),
        2,
        "{entries:?}"
    );
}

/// A dependency that depends on another extractor (FastAPI's `Depends`).
struct Token(String);

impl FromRequest for Token {
    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        match req
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
        {
            Some(t) => Ok(Token(t.to_owned())),
            None => Err(HttpError::new(401, "Not authenticated")
                .with_header("www-authenticate", "Bearer")
                .into()),
        }
    }
}

struct User(String);

impl FromRequest for User {
    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        let Token(t) = Token::from_request(req).await?;
        if t == "secret" {
            Ok(User("alice".into()))
        } else {
            Err(HttpError::new(401, "Could not validate credentials").into())
        }
    }
}

#[test]
fn dependencies_chain_through_extractors() {
    let app = App::new().get("/users/me", |User(name): User| async move { name });
    let client = TestClient::new(app);
    let res = client.get("/users/me").send();
    assert_eq!(res.status.as_u16(), 401);
    assert_eq!(res.text(), r#"{"detail":"Not authenticated"}"#);
    assert_eq!(res.header("www-authenticate"), Some("Bearer"));
    let res = client
        .get("/users/me")
        .header("authorization", "Bearer nope")
        .send();
    assert_eq!(res.text(), r#"{"detail":"Could not validate credentials"}"#);
    let res = client
        .get("/users/me")
        .header("authorization", "Bearer secret")
        .send();
    assert_eq!(res.text(), "alice");
}
