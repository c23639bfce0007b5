//! The generated OpenAPI document: its content, FastAPI's shapes, and its validity against the
//! OpenAPI 3.1 schema as checked by a validator we did not write (`openapi-spec-validator`).

mod common;

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};
use waitless::TestClient;

use common::{demo_app, skip};

fn doc() -> Value {
    demo_app().openapi()
}

#[test]
fn operations_carry_parameters_with_their_constraints() {
    let doc = doc();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"], json!({"title": "Demo", "version": "1.2.3"}));
    let list = &doc["paths"]["/items"]["get"];
    assert_eq!(list["operationId"], "list_items_items_get");
    assert_eq!(list["summary"], "List Items");
    assert_eq!(list["tags"], json!(["items"]));
    let params = list["parameters"].as_array().unwrap();
    let by_name = |n: &str| params.iter().find(|p| p["name"] == n).unwrap().clone();
    let limit = by_name("limit");
    assert_eq!(limit["in"], "query");
    assert_eq!(limit["required"], false);
    assert_eq!(limit["schema"]["minimum"], 1);
    assert_eq!(limit["schema"]["maximum"], 100);
    assert_eq!(limit["schema"]["default"], 10);
    assert_eq!(by_name("q")["schema"]["maxLength"], 50);
    assert_eq!(by_name("user-agent")["in"], "header");

    let read = &doc["paths"]["/items/{item_id}"]["get"];
    assert_eq!(read["parameters"][0]["name"], "item_id");
    assert_eq!(read["parameters"][0]["in"], "path");
    assert_eq!(read["parameters"][0]["required"], true);
    assert_eq!(read["parameters"][0]["schema"]["type"], "integer");

    let post = &doc["paths"]["/users/{user}/posts/{post}"]["post"];
    let names: Vec<&str> = post["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["user", "post", "session"]);
    assert_eq!(post["parameters"][2]["in"], "cookie");
    assert_eq!(post["tags"], json!(["users"]));
}

#[test]
fn bodies_responses_and_components() {
    let doc = doc();
    let create = &doc["paths"]["/items"]["post"];
    assert_eq!(create["summary"], "Create an item");
    assert_eq!(
        create["requestBody"],
        json!({"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}, "required": true})
    );
    assert_eq!(
        create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Created"
    );
    assert_eq!(
        create["responses"]["422"],
        json!({"description": "Validation Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}})
    );
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["Item"]["properties"]["name"]["maxLength"], 100);
    assert_eq!(
        schemas["Item"]["properties"]["name"]["description"],
        "The item's name."
    );
    assert_eq!(
        schemas["Owner"]["properties"]["login"]["pattern"],
        "^[a-z]+$"
    );
    assert_eq!(
        schemas["ValidationError"]["required"],
        json!(["loc", "msg", "type"])
    );
    assert_eq!(
        schemas["HTTPValidationError"]["properties"]["detail"]["items"]["$ref"],
        "#/components/schemas/ValidationError"
    );
    let text = doc.to_string();
    assert!(!text.contains("$defs"), "no schemars $defs left: {text}");
    assert!(!text.contains("$schema"));

    let read = &doc["paths"]["/items/{item_id}"]["get"];
    assert_eq!(read["responses"]["404"]["description"], "Item not found");
    let delete = &doc["paths"]["/items/{item_id}"]["delete"];
    assert_eq!(
        delete["responses"]["204"],
        json!({"description": "Successful Response"})
    );
    let login = &doc["paths"]["/login"]["post"];
    assert!(login["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object());
    assert_eq!(doc["paths"]["/old"]["get"]["deprecated"], true);
    assert!(doc["paths"].get("/hidden").is_none());
    // A route without parameters or body cannot fail validation: no 422 (FastAPI's rule).
    assert!(doc["paths"]["/old"]["get"]["responses"]
        .get("422")
        .is_none());
}

#[test]
fn security_schemes_are_declared_and_required() {
    let doc = doc();
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        schemes["OAuth2PasswordBearer"],
        json!({"type": "oauth2", "flows": {"password": {"scopes": {}, "tokenUrl": "token"}}})
    );
    assert_eq!(
        schemes["HTTPBasic"],
        json!({"type": "http", "scheme": "basic"})
    );
    assert_eq!(
        schemes["APIKeyHeader"],
        json!({"type": "apiKey", "in": "header", "name": "X-API-Key"})
    );
    assert_eq!(
        doc["paths"]["/users/me"]["get"]["security"],
        json!([{"OAuth2PasswordBearer": []}])
    );
    assert_eq!(
        doc["paths"]["/admin"]["get"]["security"],
        json!([{"APIKeyHeader": []}, {"HTTPBasic": []}])
    );
    let token = &doc["paths"]["/token"]["post"]["requestBody"]["content"];
    assert!(token["application/x-www-form-urlencoded"]["schema"]["$ref"].is_string());
}

#[test]
fn served_with_root_path_servers_and_can_be_edited_or_disabled() {
    let client = TestClient::new(demo_app());
    let res = client.get("/openapi.json").send();
    assert_eq!(res.status.as_u16(), 200);
    assert_eq!(res.header("content-type"), Some("application/json"));
    let served: Value = res.json();
    assert_eq!(served, doc());
    assert!(served.get("servers").is_none());

    let config = waitless_gateway::Config {
        root_path: "/api/v1".into(),
        ..Default::default()
    };
    let client = TestClient::try_new(demo_app(), config).unwrap();
    let served: Value = client.get("/openapi.json").send().json();
    assert_eq!(served["servers"], json!([{"url": "/api/v1"}]));
    let page = client.get("/docs").send().text();
    assert!(page.contains(r#"url: "/api/v1/openapi.json""#), "{page}");
    assert!(page.contains("/api/v1/docs/swagger-ui-bundle.js"));

    let edited = demo_app().openapi_mut(|doc| {
        doc["info"]["x-logo"] = json!({"url": "/static/logo.png"});
        doc["paths"]["/old"]["get"]["summary"] = json!("Old, by hand");
    });
    let doc = edited.openapi();
    assert_eq!(doc["info"]["x-logo"]["url"], "/static/logo.png");
    assert_eq!(doc["paths"]["/old"]["get"]["summary"], "Old, by hand");

    let client = TestClient::new(demo_app().openapi_url(None));
    assert_eq!(client.get("/openapi.json").send().status.as_u16(), 404);
    assert_eq!(client.get("/docs").send().status.as_u16(), 404);
    let client = TestClient::new(demo_app().openapi_url(Some("/api.json")).docs_url(None));
    assert_eq!(client.get("/api.json").send().status.as_u16(), 200);
    assert_eq!(client.get("/docs").send().status.as_u16(), 404);
    assert_eq!(client.get("/redoc").send().status.as_u16(), 200);
}

#[test]
fn docs_pages_load_only_from_the_app() {
    let client = TestClient::new(demo_app());
    for page in ["/docs", "/redoc", "/docs/oauth2-redirect"] {
        let res = client.get(page).send();
        assert_eq!(res.status.as_u16(), 200, "{page}");
        assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
        let html = res.text();
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{page}: {html}"
        );
        assert!(!html.contains("fonts.googleapis"), "{page}");
    }
    for (asset, ct) in [
        (
            "/docs/swagger-ui-bundle.js",
            "text/javascript; charset=utf-8",
        ),
        ("/docs/swagger-ui.css", "text/css; charset=utf-8"),
        ("/docs/oauth2-redirect.js", "text/javascript; charset=utf-8"),
        (
            "/redoc/redoc.standalone.js",
            "text/javascript; charset=utf-8",
        ),
    ] {
        let res = client.get(asset).send();
        assert_eq!(res.status.as_u16(), 200, "{asset}");
        assert_eq!(res.header("content-type"), Some(ct));
        assert!(res.body.len() > 1000);
        let etag = res.header("etag").unwrap().to_owned();
        let again = client.get(asset).header("if-none-match", &etag).send();
        assert_eq!(again.status.as_u16(), 304);
    }
}

#[test]
fn security_extractors_answer_like_fastapi() {
    let client = TestClient::new(demo_app());
    let res = client.get("/users/me").send();
    assert_eq!(res.status.as_u16(), 401);
    assert_eq!(res.text(), r#"{"detail":"Not authenticated"}"#);
    assert_eq!(res.header("www-authenticate"), Some("Bearer"));
    let res = client
        .get("/users/me")
        .header("authorization", "Bearer forged")
        .send();
    assert_eq!(res.status.as_u16(), 401);
    assert_eq!(res.text(), r#"{"detail":"Could not validate credentials"}"#);

    let res = client
        .post("/token")
        .form(&[("username", "alice"), ("password", "secret")])
        .send();
    assert_eq!(res.status.as_u16(), 200);
    let token: Value = res.json();
    assert_eq!(token["token_type"], "bearer");
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    let res = client
        .get("/users/me")
        .header("authorization", &bearer)
        .send();
    assert_eq!(res.text(), r#"{"username":"alice"}"#);
    let res = client
        .post("/token")
        .form(&[("username", "alice"), ("password", "nope")])
        .send();
    assert_eq!(res.status.as_u16(), 400);
    assert_eq!(res.text(), r#"{"detail":"Incorrect username or password"}"#);
    let res = client.post("/token").form(&[("username", "alice")]).send();
    assert_eq!(res.status.as_u16(), 422);
    let body: Value = res.json();
    assert_eq!(body["detail"][0]["loc"], json!(["body", "password"]));

    let res = client.get("/admin").send();
    assert_eq!(res.status.as_u16(), 401);
    assert_eq!(res.header("www-authenticate"), Some("APIKey"));
    let res = client.get("/admin").header("x-api-key", "k1").send();
    assert_eq!(res.header("www-authenticate"), Some("Basic"));
    let res = client
        .get("/admin")
        .header("x-api-key", "k1")
        .header("authorization", "Basic !!!")
        .send();
    assert_eq!(
        res.text(),
        r#"{"detail":"Invalid authentication credentials"}"#
    );
    let res = client
        .get("/admin")
        .header("x-api-key", "k1")
        .header("authorization", "Basic YWxpY2U6c2VjcmV0") // alice:secret
        .send();
    assert_eq!(res.text(), "k1 alice");
}

/// A virtual environment with `openapi-spec-validator`, made once per target directory.
fn validator_python() -> Result<PathBuf, String> {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("openapi-venv");
    let python = venv.join("bin/python");
    let ready = venv.join(".ready");
    if ready.exists() {
        return Ok(python);
    }
    let run = |cmd: &mut Command, what: &str| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{what} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    run(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 -m venv",
    )?;
    run(
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "openapi-spec-validator>=0.7,<0.9",
        ]),
        "pip install openapi-spec-validator",
    )?;
    std::fs::write(&ready, b"").map_err(|e| e.to_string())?;
    Ok(python)
}

#[test]
fn document_is_valid_openapi_3_1() {
    let python = match validator_python() {
        Ok(p) => p,
        Err(reason) => return skip("document_is_valid_openapi_3_1", &reason),
    };
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("demo-openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&doc()).unwrap()).unwrap();
    let script = "import json, sys\n\
                  from openapi_spec_validator import validate\n\
                  from openapi_spec_validator.validation import OpenAPIV31SpecValidator\n\
                  doc = json.load(open(sys.argv[1]))\n\
                  validate(doc, cls=OpenAPIV31SpecValidator)\n\
                  print('valid')\n";
    let out = Command::new(&python)
        .args(["-c", script])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator rejected {}:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A return type that documents its own response (here a `418`).
struct Teapot;

impl waitless::IntoResponse for Teapot {
    fn into_response(self) -> waitless::Response {
        waitless::StatusCode(418).into_response()
    }

    fn openapi(op: &mut waitless::openapi::Operation<'_>) {
        op.response("418", "I'm a teapot", None);
    }
}

/// Tuples with extra headers pass their body's documentation on, as `(StatusCode, T)` and
/// `Result` do (they dropped it before).
#[test]
fn tuple_responses_with_headers_keep_their_bodys_documentation() {
    use waitless::{App, StatusCode};
    let app = App::new()
        .get("/bare", || async { Teapot })
        .get("/status", || async { (StatusCode(418), Teapot) })
        .get("/headers", || async { ([("x-a", "1")], Teapot) })
        .get("/both", || async {
            (StatusCode(418), [("x-a", "1")], Teapot)
        });
    let doc = app.openapi();
    for path in ["/bare", "/status", "/headers", "/both"] {
        let responses = &doc["paths"][path]["get"]["responses"];
        assert_eq!(
            responses["418"]["description"], "I'm a teapot",
            "{path}: {responses}"
        );
    }
}
