//! What operations rely on (docs/operations.md), on both engines: the EMF metric lines of
//! registrations, verifications, logins, failed logins and awards (read per request with
//! `accounts::metrics::captured`, which scopes its subscriber to one future), the SES bounce
//! and complaint events that stop mail to an address, and an event the badge evaluator cannot
//! process failing loudly (so EventBridge retries it and then parks it in the dead-letter
//! queue) instead of being swallowed.

use crate::badges_core_support;

use accounts::metrics::{captured, count};
use api_tests::app::TestApp;
use api_tests::fixtures::fresh_ip;
use api_tests::{TestTable, both_engines};
use badges_core_support::*;
use serde_json::{Value as Json, json};

const PASSWORD: &str = "violet-harbour-42";

/// The lines name exactly these metrics, each once.
fn assert_metrics(lines: &[Json], expected: &[&str]) {
    let names: Vec<&str> = lines
        .iter()
        .map(|l| {
            l["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]
                .as_str()
                .unwrap_or_else(|| panic!("not an EMF line: {l}"))
        })
        .collect();
    assert_eq!(names, expected, "metric lines: {lines:?}");
    for line in lines {
        let name = names[0];
        assert!(accounts::metrics::NAMES.contains(&name));
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            accounts::metrics::DEFAULT_NAMESPACE
        );
        assert!(line["_aws"]["Timestamp"].as_i64().is_some(), "{line}");
    }
}

async fn register_verify_login(t: TestTable) {
    let app = TestApp::new(t).await;
    let register = app
        .post("/api/auth/register/")
        .ip(&fresh_ip())
        .json(json!({ "username": "jane", "email": "jane@example.com", "password": PASSWORD }));
    let (response, lines) = captured(register.send()).await;
    assert_eq!(response.status, 201, "{}", response.body_json());
    assert_metrics(&lines, &["Registrations"]);
    assert_eq!(lines[0]["Registrations"], 1);

    let code = app.last_code_for("jane@example.com").expect("a code");
    let verify = app
        .post("/api/auth/verify/")
        .json(json!({ "email": "jane@example.com", "code": code }));
    let (response, lines) = captured(verify.send()).await;
    assert!(response.status.is_success(), "{}", response.body_json());
    assert_metrics(&lines, &["Verifications"]);

    let login = |password: &str| {
        app.post("/api/auth/login/")
            .ip(&fresh_ip())
            .json(json!({ "username": "jane", "password": password }))
    };
    let (response, lines) = captured(login("not-the-password-1").send()).await;
    assert_eq!(response.status, 400, "{}", response.body_json());
    assert_metrics(&lines, &["LoginFailures"]);

    let (response, lines) = captured(login(PASSWORD).send()).await;
    assert_eq!(response.status, 200, "{}", response.body_json());
    assert_metrics(&lines, &["Logins"]);
    assert_eq!(count(&lines, "Logins"), 1);
}

async fn award(t: TestTable) {
    use accounts::badges::awards::{AwardedBy, award_by_name};
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let user = person(&app.app, 2).await;
    common_badge(&app, &root, "Beta Tester", 20).await;
    let award = || award_by_name(&app.app, user.id, "Beta Tester", "", AwardedBy::Admin);

    let (held, lines) = captured(award()).await;
    assert!(held.unwrap().is_some(), "awarded");
    assert_metrics(&lines, &["Awards"]);
    // A second award of a badge held is no award.
    let (held, lines) = captured(award()).await;
    assert!(held.unwrap().is_none());
    assert_metrics(&lines, &[]);
}

both_engines!(register_verify_login, award);
