//! API Gateway v2 payloads go through the same dispatch as accounts-local.

use std::sync::Arc;

use accounts::App;
use accounts::clock::SystemClock;
use accounts::config::{Config, Deployment};
use accounts::http::Router;

const SAMPLE: &str = r#"{
  "version": "2.0",
  "routeKey": "GET /api/health/auth/",
  "rawPath": "/api/health/auth/",
  "rawQueryString": "verbose=1",
  "headers": {"accept": "application/json", "x-request-id": "req-1"},
  "requestContext": {
    "accountId": "123456789012", "apiId": "api", "domainName": "example.com", "domainPrefix": "example",
    "http": {"method": "GET", "path": "/api/health/auth/", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "curl/8"},
    "requestId": "abc", "routeKey": "GET /api/health/auth/", "stage": "$default", "time": "29/Nov/2026:05:16:00 +0000", "timeEpoch": 1796016960000
  },
  "isBase64Encoded": false
}"#;

#[tokio::test]
async fn api_gateway_request_is_dispatched_and_answered() {
    let request = lambda_http::request::from_str(SAMPLE).expect("a valid API Gateway v2 payload");
    let api_request = accounts_lambda::api_request(request);
    assert_eq!(api_request.path, "/api/health/auth/");
    assert_eq!(api_request.query, "verbose=1");
    assert_eq!(api_request.source_ip, Some("203.0.113.9".parse().unwrap()));

    let dir = tempfile::tempdir().unwrap();
    let config = Config::from(
        &[("DATA_DIR", dir.path().to_str().unwrap())],
        Deployment::Local,
    )
    .unwrap();
    let app = App::build(config, Arc::new(SystemClock)).await.unwrap();
    let response = Router::new(&[accounts::http::Group::Auth])
        .dispatch(&app, api_request)
        .await;
    let response = accounts_lambda::lambda_response(response, false);
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "req-1");
    match response.body() {
        lambda_http::Body::Text(text) => assert_eq!(text, r#"{"status":"ok","store":"embedded"}"#),
        other => panic!("expected a text body, got {other:?}"),
    }
}

#[tokio::test]
async fn head_responses_have_no_body() {
    let response = accounts::http::ApiResponse::ok(&serde_json::json!({"a": 1}));
    let response = accounts_lambda::lambda_response(response, true);
    assert!(matches!(response.body(), lambda_http::Body::Empty));
}

#[tokio::test]
async fn the_answer_is_due_a_reserve_before_the_lambda_deadline() {
    use lambda_http::RequestExt as _;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    let mut context = lambda_http::Context::default();
    let deadline = SystemTime::now() + Duration::from_secs(3);
    context.deadline = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let request = lambda_http::request::from_str(SAMPLE)
        .unwrap()
        .with_lambda_context(context);
    let before = tokio::time::Instant::now();
    let due = accounts_lambda::api_request(request)
        .deadline
        .expect("a Lambda request is due by its deadline");
    let after = tokio::time::Instant::now();
    let left = Duration::from_secs(3) - accounts_lambda::HTTP_ANSWER_RESERVE;
    // The deadline travels in whole milliseconds: a millisecond of slack below.
    assert!(due >= before + left - Duration::from_millis(2), "{due:?}");
    assert!(due <= after + left, "{due:?}");

    // A request without a Lambda context (a test's) has no deadline.
    let bare = lambda_http::request::from_str(SAMPLE).unwrap();
    assert_eq!(accounts_lambda::api_request(bare).deadline, None);
}
