//! What an attacker holding a token, a session or a stolen password cannot do any more: change
//! the address unseen, erase the account with an API token, outlive a password reset, or read
//! the staff member's request details in the account's own log.

use accounts::model::Role;
use accounts::store::{Value, keys};
use api_tests::app::TestApp;
use api_tests::fixtures::{
    Login, PASSWORD, Person, access_token, api_token, call, event_types, events, member,
    profile_item,
};
use api_tests::{TestTable, both_engines};
use http::Method;
use serde_json::{Value as Json, json};

async fn me_with_token(app: &TestApp, key: &str) -> u16 {
    app.get("/api/auth/me/")
        .api_token(key)
        .send()
        .await
        .status
        .as_u16()
}

async fn me_with_access(app: &TestApp, access: &str) -> u16 {
    app.get("/api/auth/me/")
        .bearer(access)
        .send()
        .await
        .status
        .as_u16()
}

/// The cancel token in the newest notice mailed to `to`.
fn cancel_token(app: &TestApp, to: &str) -> String {
    let notice = app
        .outbox()
        .into_iter()
        .rev()
        .find(|m| m.to.eq_ignore_ascii_case(to) && m.subject.contains("being changed"))
        .expect("a notice to the old address");
    notice
        .text
        .lines()
        .find_map(|line| line.trim().strip_prefix("Cancel token: "))
        .expect("the token on a line of its own")
        .to_owned()
}

both_engines!(
    async fn an_api_token_cannot_change_the_address_the_password_or_erase(t: TestTable) {
        let app = TestApp::new(t).await;
        let alice = member(&app, "alice", Role::Normal).await;
        let key = api_token(&app, &alice.token).await;
        let own = format!("/api/users/{}/", alice.id);

        let refused = [
            (
                Method::PATCH,
                own.clone(),
                json!({"email": "evil@example.com", "current_password": PASSWORD}),
            ),
            (
                Method::DELETE,
                own.clone(),
                json!({"current_password": PASSWORD}),
            ),
            (
                Method::POST,
                "/api/auth/password/change/".to_owned(),
                json!({"current_password": PASSWORD, "new_password": "an entirely new secret 9"}),
            ),
            (
                Method::POST,
                format!("/api/users/{}/email/confirm/", alice.id),
                json!({"code": "123456"}),
            ),
        ];
        for (method, path, body) in refused {
            let response = app
                .request(method.clone(), &path)
                .api_token(&key)
                .json(body)
                .send()
                .await;
            assert_eq!(
                response.status,
                403,
                "{method} {path}: {}",
                response.body_json()
            );
        }
        // Nothing moved: same address, no pending change, no mail to the attacker.
        let stored = profile_item(&app.app, alice.id).await.expect("still there");
        assert_eq!(stored["email"].as_str(), Some("alice@example.com"));
        assert!(app.last_code_for("evil@example.com").is_none());
        assert!(
            app.table()
                .get(&keys::emailed_code(alice.id, "email_change"), true)
                .await
                .unwrap()
                .is_none()
        );
        access_token(&app, "alice").await;
    }
);

both_engines!(
    async fn an_email_change_is_pending_until_confirmed_and_revertible(t: TestTable) {
        let app = TestApp::new(t).await;
        let alice = member(&app, "alice", Role::Normal).await;
        let key = api_token(&app, &alice.token).await;
        let own = format!("/api/users/{}/", alice.id);
        let confirm = format!("/api/users/{}/email/confirm/", alice.id);

        // A session alone is not enough: the current password is required, and checked.
        for body in [
            json!({"email": "mallory@example.com"}),
            json!({"email": "mallory@example.com", "current_password": "not her password 1"}),
        ] {
            let (status, answer) = call(&app, &alice, Method::PATCH, &own, Some(body)).await;
            assert_eq!(status, 400, "{answer}");
            assert!(answer["current_password"].is_array(), "{answer}");
        }
        assert!(app.last_code_for("mallory@example.com").is_none());

        // With it, the change is pending: the old address stays the verified one.
        let (status, body) = call(
            &app,
            &alice,
            Method::PATCH,
            &own,
            Some(json!({"email": "mallory@example.com", "current_password": PASSWORD})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["email"], "alice@example.com");
        assert_eq!(body["is_verified"], true);
        assert_eq!(body["pending_email"], "mallory@example.com");
        let code = app.last_code_for("mallory@example.com").expect("a code");
        // The old address was told at once, with a way to stop it.
        let token = cancel_token(&app, "alice@example.com");
        assert!(token.len() >= 32, "{token}");
        // Meanwhile login and reset still go by the old address.
        let response = app
            .post("/api/auth/jwt/login/")
            .json(json!({"username": "alice@example.com", "password": PASSWORD}))
            .send()
            .await;
        assert_eq!(response.status, 200);

        // A wrong code changes nothing; the right one moves the address in one go.
        let (status, answer) = call(
            &app,
            &alice,
            Method::POST,
            &confirm,
            Some(json!({"code": "000000"})),
        )
        .await;
        assert_eq!(status, 400, "{answer}");
        let (status, body) = call(
            &app,
            &alice,
            Method::POST,
            &confirm,
            Some(json!({"code": code})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["email"], "mallory@example.com");
        assert_eq!(body["is_verified"], true);
        // The old address names no account now (no login, no reset through it), but it is held.
        let response = app
            .post("/api/auth/jwt/login/")
            .json(json!({"username": "alice@example.com", "password": PASSWORD}))
            .send()
            .await;
        assert_eq!(response.status, 400);
        let held = app
            .table()
            .get(&keys::unique_email("alice@example.com"), true)
            .await
            .unwrap()
            .expect("the old address is held for a revert");
        assert_eq!(held.get("held_for_revert"), Some(&Value::Bool(true)));
        let response = app
            .post("/api/auth/register/")
            .json(
                json!({"username": "squatter", "email": "alice@example.com", "password": PASSWORD}),
            )
            .send()
            .await;
        assert_eq!(response.status, 400, "{}", response.body_json());

        // Within 7 days the token from the old address reverts it, and every credential ends.
        app.clock().advance(chrono::Duration::days(6));
        let fresh = access_token(&app, "alice").await;
        let response = app
            .post("/api/auth/email/cancel/")
            .json(json!({"token": token}))
            .send()
            .await;
        assert_eq!(response.status, 200, "{}", response.body_json());
        assert_eq!(response.body_json()["outcome"], "reverted");
        let stored = profile_item(&app.app, alice.id).await.expect("the profile");
        assert_eq!(stored["email"].as_str(), Some("alice@example.com"));
        assert_eq!(stored["is_verified"].as_bool(), Some(true));
        assert_eq!(me_with_access(&app, &fresh).await, 401);
        assert_eq!(me_with_access(&app, &alice.token).await, 401);
        assert_eq!(me_with_token(&app, &key).await, 401);
        assert!(
            app.table()
                .get(&keys::unique_email("mallory@example.com"), true)
                .await
                .unwrap()
                .is_none()
        );
        let events = event_types(&app, alice.id).await;
        assert!(
            events.contains(&"email_change_reverted".to_owned()),
            "{events:?}"
        );
        // The token works once.
        let response = app
            .post("/api/auth/email/cancel/")
            .json(json!({"token": token}))
            .send()
            .await;
        assert_eq!(response.status, 400);
        access_token(&app, "alice@example.com").await;
    }
);

both_engines!(
    async fn a_pending_change_is_cancelled_from_the_old_address_and_expires(t: TestTable) {
        let app = TestApp::new(t).await;
        let alice = member(&app, "alice", Role::Normal).await;
        let own = format!("/api/users/{}/", alice.id);
        let confirm = format!("/api/users/{}/email/confirm/", alice.id);
        let ask = |email: &'static str| Some(json!({"email": email, "current_password": PASSWORD}));

        let (status, _) = call(&app, &alice, Method::PATCH, &own, ask("one@example.com")).await;
        assert_eq!(status, 200);
        let code = app.last_code_for("one@example.com").expect("a code");
        let token = cancel_token(&app, "alice@example.com");
        let response = app
            .post("/api/auth/email/cancel/")
            .json(json!({"token": token}))
            .send()
            .await;
        assert_eq!(response.status, 200);
        assert_eq!(response.body_json()["outcome"], "cancelled");
        let (status, _) = call(
            &app,
            &alice,
            Method::POST,
            &confirm,
            Some(json!({"code": code})),
        )
        .await;
        assert_eq!(status, 400, "a cancelled change cannot be confirmed");

        // A pending change not confirmed in time expires.
        let (status, body) = call(&app, &alice, Method::PATCH, &own, ask("two@example.com")).await;
        assert_eq!(status, 200, "{body}");
        let code = app.last_code_for("two@example.com").expect("a code");
        app.clock().advance(chrono::Duration::hours(1));
        let alice = Person {
            token: access_token(&app, "alice").await,
            ..alice
        };
        let (status, _) = call(
            &app,
            &alice,
            Method::POST,
            &confirm,
            Some(json!({"code": code})),
        )
        .await;
        assert_eq!(status, 400);
        let stored = profile_item(&app.app, alice.id).await.expect("the profile");
        assert_eq!(stored["email"].as_str(), Some("alice@example.com"));

        // Nobody else confirms it, and a bad token is a 400.
        let bob = member(&app, "bob", Role::Normal).await;
        let (status, _) = call(
            &app,
            &bob,
            Method::POST,
            &confirm,
            Some(json!({"code": "123456"})),
        )
        .await;
        assert_eq!(status, 404);
        let response = app
            .post("/api/auth/email/cancel/")
            .json(json!({"token": "nonsense"}))
            .send()
            .await;
        assert_eq!(response.status, 400);
    }
);

both_engines!(
    async fn a_reset_ends_every_credential_and_a_change_the_api_tokens_on_request(t: TestTable) {
        let app = TestApp::new(t).await;
        let alice = member(&app, "alice", Role::Normal).await;
        let kept = api_token(&app, &alice.token).await;

        // A change keeps the API tokens unless asked, and says so.
        let (status, body) = call(
            &app,
            &alice,
            Method::POST,
            "/api/auth/password/change/",
            Some(json!({"current_password": PASSWORD, "new_password": "second secret phrase 22"})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["api_tokens_revoked"], 0);
        assert_eq!(me_with_token(&app, &kept).await, 200);
        let (status, body) = call(
            &app,
            &alice,
            Method::POST,
            "/api/auth/password/change/",
            Some(json!({
                "current_password": "second secret phrase 22",
                "new_password": "third secret phrase 333",
                "revoke_api_tokens": true,
            })),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["api_tokens_revoked"], 1);
        assert_eq!(me_with_token(&app, &kept).await, 401);

        // A reset ends everything: sessions, refresh tokens and API tokens.
        let relogin = Login::new("alice")
            .password("third secret phrase 333")
            .tokens(&app)
            .await;
        let (access, refresh) = (relogin.access, relogin.refresh);
        let signed_in = Person {
            token: access.clone(),
            ..alice.clone()
        };
        let key = api_token(&app, &signed_in.token).await;
        assert_eq!(me_with_token(&app, &key).await, 200);
        let response = app
            .post("/api/auth/password/reset/")
            .json(json!({"email": "alice@example.com"}))
            .send()
            .await;
        assert_eq!(response.status, 200);
        let code = app
            .last_code_for("alice@example.com")
            .expect("a reset code");
        let response = app
            .post("/api/auth/password/reset/confirm/")
            .json(json!({"email": "alice@example.com", "code": code, "new_password": "fourth secret phrase 4444"}))
            .send()
            .await;
        assert_eq!(response.status, 200, "{}", response.body_json());
        assert_eq!(response.body_json()["api_tokens_revoked"], 1);
        assert_eq!(me_with_token(&app, &key).await, 401);
        assert_eq!(me_with_access(&app, &access).await, 401);
        let response = app
            .post("/api/auth/jwt/refresh/")
            .json(json!({"refresh": refresh}))
            .send()
            .await;
        assert_eq!(response.status, 401);
    }
);

both_engines!(
    async fn staff_request_details_stay_out_of_the_moderated_accounts_log(t: TestTable) {
        let app = TestApp::new(t).await;
        let admin = member(&app, "admin", Role::Admin).await;
        let alice = member(&app, "alice", Role::Normal).await;
        let staff_ip = "198.51.100.77";
        for (path, body) in [
            (
                format!("/api/users/{}/suspend/", alice.id),
                json!({"reason": "spam"}),
            ),
            (format!("/api/users/{}/unsuspend/", alice.id), json!({})),
        ] {
            let response = app
                .post(&path)
                .bearer(&admin.token)
                .ip(staff_ip)
                .json(body)
                .send()
                .await;
            assert_eq!(response.status, 200, "{}", response.body_json());
        }
        let response = app
            .patch(&format!("/api/users/{}/", alice.id))
            .bearer(&admin.token)
            .ip(staff_ip)
            .json(json!({"role": "moderator"}))
            .send()
            .await;
        assert_eq!(response.status, 200, "{}", response.body_json());

        // What alice reads: what happened and when, nothing of who or from where.
        let alice_access = access_token(&app, "alice").await;
        let response = app
            .get("/api/events/?page_size=100")
            .bearer(&alice_access)
            .send()
            .await;
        assert_eq!(response.status, 200);
        let body = response.body_json();
        let results = body["results"].as_array().expect("results");
        let mut seen = Vec::new();
        for event in results {
            let kind = event["event_type"].as_str().unwrap_or_default();
            if ["account_suspended", "account_unsuspended", "role_change"].contains(&kind) {
                seen.push(kind.to_owned());
                let text = event.to_string();
                assert!(!text.contains(staff_ip), "{event}");
                assert!(event["metadata"].get("by").is_none(), "{event}");
                assert!(!text.contains(&format!("user {}", admin.id)), "{event}");
                assert!(event["ip_address"].is_null(), "{event}");
            }
        }
        seen.sort();
        assert_eq!(
            seen,
            ["account_suspended", "account_unsuspended", "role_change"]
        );

        // The admin's own log has the actions with their request details.
        let actions: Vec<Json> = events(&app.app, admin.id)
            .await
            .iter()
            .map(|e| serde_json::to_value(e).expect("an event serialises"))
            .collect();
        let mine: Vec<&Json> = actions
            .iter()
            .filter(|e| e["event_type"] == "admin_action")
            .collect();
        assert_eq!(mine.len(), 3, "{actions:?}");
        for event in mine {
            assert_eq!(event["ip_address"], staff_ip, "{event}");
            assert_eq!(event["metadata"]["target"], alice.id.0, "{event}");
        }
    }
);
