//! The dispatch's behaviour, through `Router::dispatch` with the real route table and a few
//! test routes: response shapes, routing rules, limits, request ids, contained panics.

use std::sync::Arc;

use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::routes::{Handler, HandlerFuture};
use super::*;
use crate::App;
use crate::clock::SystemClock;
use crate::config::{Config, Deployment};
use crate::error::{Error, FieldErrors};

async fn test_app(dir: &tempfile::TempDir) -> App {
    let data_dir = dir.path().to_str().unwrap();
    let config = Config::from(&[("DATA_DIR", data_dir)], Deployment::Local).unwrap();
    App::build(config, Arc::new(SystemClock)).await.unwrap()
}

async fn panics(_: &App, _: &RequestCtx) -> Result<ApiResponse, Error> {
    panic!("secret internals")
}

async fn invalid(_: &App, _: &RequestCtx) -> Result<ApiResponse, Error> {
    Err(Error::Invalid(
        FieldErrors::new().with("username", "This field is required."),
    ))
}

async fn throttled(_: &App, _: &RequestCtx) -> Result<ApiResponse, Error> {
    Err(Error::RateLimited {
        retry_after_secs: 42,
    })
}

#[derive(Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct Greeting {
    name: String,
}

async fn echo(_: &App, ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let greeting: Greeting = ctx.json()?;
    Ok(ApiResponse::created(
        &json!({ "name": greeting.name, "id": ctx.param("id") }),
    ))
}

fn route(method: Method, path: &'static str, f: Handler) -> &'static Route {
    Box::leak(Box::new(Route {
        method,
        path,
        group: Group::Auth,
        handler: f,
    }))
}

macro_rules! h {
    ($f:path) => {{
        fn boxed<'a>(app: &'a App, ctx: &'a RequestCtx) -> HandlerFuture<'a> {
            Box::pin($f(app, ctx))
        }
        boxed as Handler
    }};
}

fn test_router() -> Router {
    let mut routes: Vec<&'static Route> = route_table().collect();
    routes.push(route(Method::GET, "/test/panic/", h!(panics)));
    routes.push(route(Method::GET, "/test/invalid/", h!(invalid)));
    routes.push(route(Method::GET, "/test/throttled/", h!(throttled)));
    routes.push(route(Method::POST, "/test/echo/{id}/", h!(echo)));
    Router::with_routes(routes)
}

#[tokio::test]
async fn health_answers_with_the_engine_with_or_without_trailing_slash() {
    let dir = tempfile::tempdir().unwrap();
    let app = test_app(&dir).await;
    let router = Router::all();
    for path in ["/api/health/", "/api/health", "/api/health/social/"] {
        let response = router
            .dispatch(&app, ApiRequest::new(Method::GET, path))
            .await;
        assert_eq!(response.status, StatusCode::OK, "{path}");
        assert_eq!(
            response.body_json(),
            json!({"status": "ok", "store": "embedded"})
        );
        assert_eq!(response.headers["content-type"], "application/json");
    }
}

#[tokio::test]
async fn each_group_router_serves_only_its_own_routes() {
    let dir = tempfile::tempdir().unwrap();
    let app = test_app(&dir).await;
    let social = Router::new(&[Group::Social]);
    let own = social
        .dispatch(&app, ApiRequest::new(Method::GET, "/api/health/social/"))
        .await;
    assert_eq!(own.status, StatusCode::OK);
    let other = social
        .dispatch(&app, ApiRequest::new(Method::GET, "/api/health/auth/"))
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_route_is_a_json_404() {
    let dir = tempfile::tempdir().unwrap();
    let app = test_app(&dir).await;
    let response = Router::all()
        .dispatch(&app, ApiRequest::new(Method::GET, "/api/nope/"))
        .await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert_eq!(response.body_json(), json!({"detail": "Not found."}));
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let dir = tempfile::tempdir().unwrap();
    let app = test_app(&dir).await;
    let response = Router::all()
        .dispatch(&app, ApiRequest::new(Method::DELETE, "/api/health/"))
        .await;
    assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers["allow"], "GET, HEAD, OPTIONS");
    assert_eq!(
        response.body_json(),
        json!({"detail": "Method \"DELETE\" not allowed."})
    );
}

#[tokio::test]
async fn options_lists_the_allowed_methods() {
    let dir = tempfile::tempdir().unwrap();
    let app = test_app(&dir).await;
    let router = Router::all();
    let response = router
        .dispatch(&app, ApiRequest::new(Method::OPTIONS, "/api/users/"))
        .await;
    // The 405s advertise OPTIONS in `Allow`, so OPTIONS itself must be answered.
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert_eq!(response.headers["allow"], "GET, POST, HEAD, OPTIONS");
    let unknown = router
        .dispatch(&app, ApiRequest::new(Method::OPTIONS, "/api/nope/"))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn head_is_answered_like_get() {
    let dir = tempfile::tempdir().unwrap();
    let app = test_app(&dir).await;
    let response = Router::all()
        .dispatch(&app, ApiRequest::new(Method::HEAD, "/api/health/"))
        .await;
    assert_eq!(response.status, StatusCode::OK);
}

#[tokio::test]
async fn request_id_is_echoed_when_sane_and_made_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let app = test_app(&dir).await;
    let router = Router::all();
    let sane = ApiRequest::new(Method::GET, "/api/health/").with_header("x-request-id", "abc-123");
    assert_eq!(
        router.dispatch(&app, sane).await.headers["x-request-id"],
        "abc-123"
    );
    let insane =
        ApiRequest::new(Method::GET, "/api/health/").with_header("x-request-id", "a b<script>");
    let made = router.dispatch(&app, insane).await;
    let id = made.headers["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 26, "a ULID, got {id}");
    let plain = router
        .dispatch(&app, ApiRequest::new(Method::GET, "/api/nope/"))
        .await;
    assert!(
        plain.headers.contains_key("x-request-id"),
        "errors carry the id too"
    );
}

#[tokio::test]
async fn a_panicking_handler_is_a_bare_500() {
    let dir = tempfile::tempdir().unwrap();
    let app = test_app(&dir).await;
    let response = test_router()
        .dispatch(&app, ApiRequest::new(Method::GET, "/test/panic/"))
        .await;
    assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        response.body_json(),
        json!({"detail": "Internal server error."})
    );
    assert!(!String::from_utf8_lossy(&response.body).contains("secret"));
}

#[tokio::test]
async fn domain_errors_map_to_drf_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let app = test_app(&dir).await;
    let router = test_router();
    let invalid = router
        .dispatch(&app, ApiRequest::new(Method::GET, "/test/invalid/"))
        .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        invalid.body_json(),
        json!({"username": ["This field is required."]})
    );
    let throttled = router
        .dispatch(&app, ApiRequest::new(Method::GET, "/test/throttled/"))
        .await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.headers["retry-after"], "42");
}

#[tokio::test]
async fn json_bodies_are_parsed_with_drf_errors() {
    let dir = tempfile::tempdir().unwrap();
    let app = test_app(&dir).await;
    let router = test_router();
    let post = |body: &str| {
        let mut request = ApiRequest::new(Method::POST, "/test/echo/a%20b/");
        request.body = bytes::Bytes::from(body.to_owned());
        request.with_header("content-type", "application/json; charset=utf-8")
    };

    let ok = router.dispatch(&app, post(r#"{"name": "jane"}"#)).await;
    assert_eq!(ok.status, StatusCode::CREATED);
    assert_eq!(ok.body_json(), json!({"name": "jane", "id": "a b"}));

    let malformed = router.dispatch(&app, post("{not json")).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(
        malformed.body_json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error")
    );

    let missing = router.dispatch(&app, post("{}")).await;
    assert_eq!(
        missing.body_json(),
        json!({"name": ["This field is required."]})
    );

    let unknown = router
        .dispatch(&app, post(r#"{"name": "x", "admin": true}"#))
        .await;
    assert_eq!(unknown.body_json(), json!({"admin": ["Unknown field."]}));

    let list = router.dispatch(&app, post("[1, 2]")).await;
    assert_eq!(list.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn oversized_and_non_json_bodies_are_refused_before_the_handler() {
    let dir = tempfile::tempdir().unwrap();
    let app = test_app(&dir).await;
    let router = test_router();

    let mut big = ApiRequest::new(Method::POST, "/test/echo/1/");
    big.body = bytes::Bytes::from(vec![b' '; 64 * 1024 + 1]);
    let response = router.dispatch(&app, big).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);

    let mut text =
        ApiRequest::new(Method::POST, "/test/echo/1/").with_header("content-type", "text/plain");
    text.body = bytes::Bytes::from_static(b"name=jane");
    let response = router.dispatch(&app, text).await;
    assert_eq!(response.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[test]
fn route_table_patterns_build_without_conflicts() {
    // Router::new panics on a conflicting pattern; every group and the whole table must build.
    let _ = Router::all();
    for group in Group::ALL {
        let _ = Router::new(&[group]);
    }
}
