//! What operations rely on (docs/operations.md), on both engines: the EMF metric lines of
//! registrations, verifications, logins, failed logins and awards (read per request with
//! `accounts::metrics::captured`, which scopes its subscriber to one future), the SES bounce
//! and complaint events that stop mail to an address, and an event the badge evaluator cannot
//! process failing loudly (so EventBridge retries it and then parks it in the dead-letter
//! queue) instead of being swallowed.

use crate::badges_core_support;

use accounts::metrics::{captured, count};
use api_tests::app::TestApp;
use api_tests::fixtures::{PASSWORD, Signup, admin, fresh_ip, person};
use api_tests::{TestTable, both_engines};
use badges_core_support::*;
use serde_json::{Value as Json, json};

/// The lines name exactly these metrics, each once, apart from store retries: a busy moto
/// (CI runs the whole suite against one) answers some calls slowly or with a throttle, and the
/// retry that follows is counted, as it should be, but is the engine's weather, not the flow's.
fn assert_metrics(lines: &[Json], expected: &[&str]) {
    fn metric_name(l: &Json) -> &str {
        l["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]
            .as_str()
            .unwrap_or_else(|| panic!("not an EMF line: {l}"))
    }
    let lines: Vec<&Json> = lines
        .iter()
        .filter(|l| metric_name(l) != "StoreRetries")
        .collect();
    let names: Vec<&str> = lines.iter().map(|l| metric_name(l)).collect();
    assert_eq!(names, expected, "metric lines: {lines:?}");
    for (line, name) in lines.iter().zip(&names) {
        assert!(accounts::metrics::NAMES.contains(name));
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
    use accounts::access::Admin;
    use accounts::badges::awards::{AwardedBy, award_by_name};
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let user = person(&app.app, 2).await;
    common_badge(&app, &root, "Beta Tester", 20).await;
    let award = || {
        award_by_name(
            &app.app,
            Admin::SYSTEM,
            user.id,
            "Beta Tester",
            "",
            AwardedBy::Admin,
        )
    };

    let (held, lines) = captured(award()).await;
    assert!(held.unwrap().is_some(), "awarded");
    assert_metrics(&lines, &["Awards"]);
    // A second award of a badge held is no award.
    let (held, lines) = captured(award()).await;
    assert!(held.unwrap().is_none());
    assert_metrics(&lines, &[]);
}

/// An SES event as EventBridge delivers it from the default bus.
fn ses_event(detail_type: &str, detail: Json) -> Json {
    json!({
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": detail_type,
        "source": "aws.ses",
        "account": "123456789012",
        "time": "2026-12-07T16:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    })
}

fn bounce(kind: &str, to: &str) -> Json {
    ses_event(
        "Email Bounced",
        json!({
            "eventType": "Bounce",
            "bounce": {
                "bounceType": kind,
                "bounceSubType": "General",
                "bouncedRecipients": [{ "emailAddress": to }],
            },
            "mail": { "destination": [to] },
        }),
    )
}

/// Registers (unverified) from an address of its own: the id.
async fn registered(app: &TestApp, name: &str) -> i64 {
    Signup::new(name)
        .ip(&fresh_ip())
        .unverified()
        .register(app)
        .await
        .0
}

async fn suppressed(app: &TestApp, id: i64) -> Json {
    let user = accounts::accounts::get_user(&app.app, accounts::model::UserId(id))
        .await
        .unwrap()
        .expect("the user");
    json!(user.email_suppressed)
}

async fn mail_feedback_suppresses_the_address(t: TestTable) {
    use accounts::triggers::handle_domain_event;
    let app = TestApp::new(t).await;
    let jane = registered(&app, "jane").await;
    let john = registered(&app, "john").await;

    // A soft bounce changes nothing; a hard one marks the account.
    let answer = handle_domain_event(&app.app, bounce("Transient", "jane@example.com")).await;
    assert_eq!(answer.unwrap()["suppressed"], json!([]));
    assert_eq!(suppressed(&app, jane).await, Json::Null);
    let answer =
        handle_domain_event(&app.app, bounce("Permanent", "Jane <jane@example.com>")).await;
    assert_eq!(answer.unwrap()["suppressed"], json!([jane]));
    assert_eq!(suppressed(&app, jane).await, "bounce");

    let complaint = ses_event(
        "Email Complaint Received",
        json!({
            "eventType": "Complaint",
            "complaint": { "complainedRecipients": [{ "emailAddress": "john@example.com" }] },
        }),
    );
    handle_domain_event(&app.app, complaint).await.unwrap();
    assert_eq!(suppressed(&app, john).await, "complaint");

    // An address with no account is left alone.
    let answer = handle_domain_event(&app.app, bounce("Permanent", "nobody@example.com")).await;
    assert_eq!(answer.unwrap()["suppressed"], json!([]));

    // The service mails the address no more: a resend sends nothing.
    let before = app.outbox().len();
    let response = app
        .post("/api/auth/resend-code/")
        .json(json!({ "email": "jane@example.com" }))
        .send()
        .await;
    assert!(response.status.is_success(), "{}", response.body_json());
    assert_eq!(app.outbox().len(), before, "mailed a suppressed address");

    // The owner's full view shows it.
    let user = accounts::accounts::get_user(&app.app, accounts::model::UserId(jane))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        accounts::profiles::views::full_view(&user)["email_suppressed"],
        "bounce"
    );
    assert!(
        accounts::profiles::views::public_view(&user)
            .get("email_suppressed")
            .is_none()
    );
}

/// Events the badge evaluator cannot process answer an error (the function fails, EventBridge
/// and Lambda retry, then the dead-letter queue holds it) instead of an empty success.
async fn a_poisoned_event_fails(t: TestTable) {
    use accounts::triggers::handle_domain_event;
    let app = TestApp::new(t).await;
    let poisoned = [
        json!({ "not": "an envelope" }),
        json!({ "source": "accounts", "detail-type": "UserFollowed", "detail": {}, "time": "yesterday" }),
        ses_event("Email Bounced", json!({ "bounce": "garbled" })),
        ses_event("Email Delivered", json!({})),
        json!({
            "source": "platform.content",
            "detail-type": "PostCreated",
            "detail": { "event_type": "no_such_type", "user": "nobody" },
            "time": "2026-12-07T16:00:00Z",
        }),
    ];
    for event in poisoned {
        let answer = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            handle_domain_event(&app.app, event.clone()),
        )
        .await
        .unwrap_or_else(|_| panic!("{event} loops"));
        assert!(answer.is_err(), "{event} was swallowed: {answer:?}");
    }
}

both_engines!(
    register_verify_login,
    award,
    mail_feedback_suppresses_the_address,
    a_poisoned_event_fails
);
