//! The permission matrix (`docs/access.md`): every route of the route table, asked by each
//! kind of caller, answers the documented status. The rows are checked against
//! `http::routes::route_table()` both ways, so a new route without a row (or a row for a route
//! that is gone) fails the test; a failure prints the whole table as it answered, in the form
//! of [`EXPECTED`], to review and paste.
//!
//! One App per engine and one set of fixtures: the owner (a private account), a follower of
//! it, an account it blocks, an unrelated account, a moderator, an administrator, an
//! unverified and a suspended account. Each request is built so that an allowed caller
//! changes nothing the later requests depend on (an empty or invalid body, an object made for
//! that one route), and the routes are asked in table order, callers in [`CALLERS`] order, so
//! the answers are the same on every run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use accounts::auth::AuthMethod;
use accounts::auth::sessions;
use accounts::http::ApiResponse;
use accounts::http::routes::route_table;
use accounts::model::{Role, UserId};
use api_tests::app::TestApp;
use api_tests::fixtures::{NewUser, client, person_with, token_for};
use api_tests::{TestTable, both_engines};
use http::Method;
use serde_json::{Value as Json, json};

/// The kinds of caller, in the order of the columns of [`EXPECTED`].
const CALLERS: [Caller; 9] = [
    Caller::Anonymous,
    Caller::Unverified,
    Caller::Owner,
    Caller::Other,
    Caller::Blocked,
    Caller::Follower,
    Caller::Moderator,
    Caller::Admin,
    Caller::Suspended,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    /// No credentials.
    Anonymous,
    /// Signed in, address not verified.
    Unverified,
    /// The account the request is about (a normal, private account).
    Owner,
    /// A normal account with no relation to the owner.
    Other,
    /// A normal account the owner blocks.
    Blocked,
    /// A normal account that actively follows the (private) owner.
    Follower,
    Moderator,
    Admin,
    /// A suspended account (each request with a new session: a suspended account's sessions
    /// end when it is refused).
    Suspended,
}

const OWNER: i64 = 1;
const OTHER: i64 = 2;
const BLOCKED: i64 = 3;
const FOLLOWER: i64 = 4;
const MODERATOR: i64 = 5;
const ADMIN: i64 = 6;
const UNVERIFIED: i64 = 7;
const SUSPENDED: i64 = 8;
/// Follow requests to the owner for the approve and reject routes, a follow of it for the
/// unfollow route, and an account it blocks for the unblock route.
const REQUESTER_APPROVE: i64 = 10;
const REQUESTER_REJECT: i64 = 11;
const UNFOLLOWER: i64 = 12;
const UNBLOCKED: i64 = 13;
/// Accounts of their own for the two erasure routes (the "owner" column is that account).
const ERASED_BY_USERS_API: i64 = 20;
const ERASED_BY_PROFILES_API: i64 = 21;
/// A ULID no event, session or notification has.
const UNKNOWN_ULID: &str = "01J0000000000000000000000Z";

/// Statuses for anonymous, unverified, owner, other, blocked, follower, moderator, admin,
/// suspended: what `docs/access.md` documents for each route.
#[rustfmt::skip]
const EXPECTED: &[(&str, &str, [u16; 9])] = &[
    ("GET", "/api/health/", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/health/auth/", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST", "/api/auth/register/", [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST", "/api/auth/jwt/register/", [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST", "/api/auth/register/professional/", [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST", "/api/auth/verify/", [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST", "/api/auth/resend-code/", [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST", "/api/auth/password/change/", [401, 403, 400, 400, 400, 400, 400, 400, 403]),
    ("POST", "/api/auth/password/reset/", [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST", "/api/auth/password/reset/confirm/", [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST", "/api/auth/email/cancel/", [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST", "/api/auth/login/", [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST", "/api/auth/logout/", [200, 200, 200, 200, 200, 200, 200, 200, 403]),
    ("GET", "/api/auth/me/", [401, 200, 200, 200, 200, 200, 200, 200, 403]),
    // Second factors: a verified, unsuspended caller's own (the ids asked are nobody's
    // factor: 404, or 400 for a body the fixture leaves empty); the pending sign-in's token
    // is its credential, so anyone may try it (400 without one).
    ("GET", "/api/auth/mfa/factors/", [401, 403, 200, 200, 200, 200, 200, 200, 403]),
    ("POST", "/api/auth/mfa/factors/", [401, 403, 201, 201, 201, 201, 201, 201, 403]),
    ("PATCH", "/api/auth/mfa/factors/{id}/", [401, 403, 400, 400, 400, 400, 400, 400, 403]),
    ("DELETE", "/api/auth/mfa/factors/{id}/", [401, 403, 404, 404, 404, 404, 404, 404, 403]),
    ("POST", "/api/auth/mfa/factors/{id}/confirm/", [401, 403, 400, 400, 400, 400, 400, 400, 403]),
    ("POST", "/api/auth/mfa/recovery-codes/", [401, 403, 400, 400, 400, 400, 400, 400, 403]),
    ("POST", "/api/auth/mfa/verify/", [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST", "/api/auth/mfa/verify/passkey/", [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST", "/api/auth/mfa/step-up/", [401, 403, 400, 400, 400, 400, 400, 400, 403]),
    // No caller here has a passkey: 400 for the verified ones.
    ("POST", "/api/auth/mfa/step-up/passkey/", [401, 403, 400, 400, 400, 400, 400, 400, 403]),
    // Passkeys: a verified, unsuspended caller's own (the ids asked are nobody's passkey: 404,
    // or 400 for a body the fixture leaves empty); the sign-in is open to anyone (its
    // credential is the assertion: 400 without one).
    ("GET", "/api/auth/passkeys/", [401, 403, 200, 200, 200, 200, 200, 200, 403]),
    ("PATCH", "/api/auth/passkeys/{id}/", [401, 403, 400, 400, 400, 400, 400, 400, 403]),
    ("DELETE", "/api/auth/passkeys/{id}/", [401, 403, 404, 404, 404, 404, 404, 404, 403]),
    ("POST", "/api/auth/passkeys/register/begin/", [401, 403, 200, 200, 200, 200, 200, 200, 403]),
    ("POST", "/api/auth/passkeys/register/finish/", [401, 403, 400, 400, 400, 400, 400, 400, 403]),
    ("POST", "/api/auth/passkeys/sign-in/begin/", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST", "/api/auth/passkeys/sign-in/finish/", [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    // An administrator resets another account's factors; moderators are refused, others are
    // not told the route exists.
    ("DELETE", "/api/users/{id}/mfa/", [401, 403, 404, 404, 404, 404, 403, 204, 403]),
    // The security policy: staff read it; administrators change it (an empty body: 400).
    ("GET", "/api/security-policy/", [401, 403, 404, 404, 404, 404, 200, 200, 403]),
    ("PATCH", "/api/security-policy/", [401, 403, 404, 404, 404, 404, 403, 400, 403]),
    ("GET", "/api/auth/session/check/", [200, 200, 200, 200, 200, 200, 200, 200, 403]),
    ("POST", "/api/auth/session/refresh/", [401, 200, 200, 200, 200, 200, 200, 200, 403]),
    ("POST", "/api/auth/jwt/login/", [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST", "/api/auth/jwt/refresh/", [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST", "/api/auth/jwt/logout/", [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("POST", "/api/auth/jwt/verify/", [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("GET", "/api/auth/jwt/user-info/", [401, 200, 200, 200, 200, 200, 200, 200, 403]),
    ("GET", "/api/auth/jwks/", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/.well-known/jwks.json", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST", "/api/auth/tokens/", [401, 403, 400, 400, 400, 400, 400, 400, 403]),
    ("GET", "/api/auth/tokens/", [401, 403, 200, 200, 200, 200, 200, 200, 403]),
    ("DELETE", "/api/auth/tokens/{id}/", [401, 403, 404, 404, 404, 404, 404, 404, 403]),
    ("GET", "/api/schema/", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/health/users/", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/users/", [401, 403, 200, 200, 200, 200, 200, 200, 403]),
    ("POST", "/api/users/", [401, 403, 403, 403, 403, 403, 403, 400, 403]),
    ("GET", "/api/users/{id}/", [401, 403, 200, 404, 404, 404, 404, 200, 403]),
    ("PUT", "/api/users/{id}/", [401, 403, 400, 404, 404, 404, 404, 400, 403]),
    ("PATCH", "/api/users/{id}/", [401, 403, 200, 404, 404, 404, 404, 200, 403]),
    ("DELETE", "/api/users/{id}/", [401, 403, 400, 404, 404, 404, 404, 204, 403]),
    ("GET", "/api/users/{id}/export/", [401, 403, 200, 404, 404, 404, 404, 200, 403]),
    ("POST", "/api/users/{id}/email/confirm/", [401, 403, 400, 404, 404, 404, 404, 404, 403]),
    ("POST", "/api/users/{id}/suspend/", [401, 403, 403, 403, 403, 403, 400, 400, 403]),
    ("POST", "/api/users/{id}/unsuspend/", [401, 403, 403, 403, 403, 403, 200, 200, 403]),
    ("GET", "/api/health/profiles/", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/profiles/", [401, 403, 200, 200, 200, 200, 200, 200, 403]),
    ("POST", "/api/profiles/", [401, 403, 400, 400, 400, 400, 400, 400, 403]),
    ("GET", "/api/profiles/{id}/", [401, 403, 200, 200, 404, 200, 200, 200, 403]),
    ("PUT", "/api/profiles/{id}/", [401, 403, 200, 403, 404, 403, 403, 200, 403]),
    ("PATCH", "/api/profiles/{id}/", [401, 403, 200, 403, 404, 403, 403, 200, 403]),
    ("DELETE", "/api/profiles/{id}/", [401, 403, 400, 404, 404, 404, 404, 204, 403]),
    ("GET", "/api/professional-profiles/", [401, 403, 200, 200, 200, 200, 200, 200, 403]),
    ("POST", "/api/professional-profiles/", [401, 403, 403, 403, 403, 403, 403, 403, 403]),
    ("GET", "/api/professional-profiles/{id}/", [401, 403, 404, 404, 404, 404, 404, 404, 403]),
    ("PUT", "/api/professional-profiles/{id}/", [401, 403, 404, 403, 404, 403, 403, 404, 403]),
    ("PATCH", "/api/professional-profiles/{id}/", [401, 403, 404, 403, 404, 403, 403, 404, 403]),
    ("DELETE", "/api/professional-profiles/{id}/", [401, 403, 404, 403, 404, 403, 403, 404, 403]),
    ("POST", "/api/professional-profiles/{id}/verify/", [401, 403, 403, 403, 403, 403, 403, 404, 403]),
    ("GET", "/api/settings/", [401, 403, 200, 200, 200, 200, 200, 200, 403]),
    ("PUT", "/api/settings/", [401, 403, 200, 200, 200, 200, 200, 200, 403]),
    ("PATCH", "/api/settings/", [401, 403, 200, 200, 200, 200, 200, 200, 403]),
    ("GET", "/api/health/social/", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST", "/api/follows/", [401, 403, 400, 400, 400, 400, 400, 400, 403]),
    ("GET", "/api/follows/", [401, 403, 200, 403, 404, 200, 200, 200, 403]),
    ("GET", "/api/follows/{id}/", [401, 403, 200, 404, 404, 200, 200, 200, 403]),
    ("DELETE", "/api/follows/{id}/", [401, 403, 204, 404, 404, 404, 404, 404, 403]),
    ("POST", "/api/follows/{id}/approve/", [401, 403, 200, 404, 404, 404, 404, 404, 403]),
    ("POST", "/api/follows/{id}/reject/", [401, 403, 204, 404, 404, 404, 404, 404, 403]),
    ("POST", "/api/blocks/", [401, 403, 400, 400, 400, 400, 400, 400, 403]),
    ("GET", "/api/blocks/", [401, 403, 200, 200, 200, 200, 200, 200, 403]),
    ("DELETE", "/api/blocks/{id}/", [401, 403, 204, 404, 404, 404, 404, 404, 403]),
    ("GET", "/api/relationships/", [401, 403, 200, 200, 200, 200, 200, 200, 403]),
    ("GET", "/api/health/activity/", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/sessions/", [401, 200, 200, 200, 200, 200, 200, 200, 403]),
    ("POST", "/api/sessions/", [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("DELETE", "/api/sessions/", [401, 200, 200, 200, 200, 200, 200, 200, 403]),
    ("GET", "/api/sessions/{id}/", [401, 404, 200, 404, 404, 404, 404, 200, 403]),
    ("DELETE", "/api/sessions/{id}/", [401, 404, 204, 404, 404, 404, 404, 204, 403]),
    ("GET", "/api/events/", [401, 403, 200, 200, 200, 200, 200, 200, 403]),
    ("POST", "/api/events/", [401, 403, 400, 400, 400, 400, 400, 400, 403]),
    ("POST", "/api/events/{id}/review/", [401, 403, 403, 403, 403, 403, 404, 404, 403]),
    ("GET", "/api/tasks/runs/", [401, 403, 403, 403, 403, 403, 403, 200, 403]),
    ("GET", "/api/reports/", [401, 403, 403, 403, 403, 403, 403, 200, 403]),
    ("GET", "/api/notifications/", [401, 403, 200, 200, 200, 200, 200, 200, 403]),
    ("POST", "/api/notifications/read-all/", [401, 403, 200, 200, 200, 200, 200, 200, 403]),
    ("POST", "/api/notifications/{id}/read/", [401, 403, 404, 404, 404, 404, 404, 404, 403]),
    ("GET", "/api/health/badges/", [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/api/badges/", [200, 200, 200, 200, 200, 200, 200, 200, 403]),
    ("POST", "/api/badges/", [401, 403, 403, 403, 403, 403, 403, 400, 403]),
    ("GET", "/api/badges/leaderboard/", [401, 403, 200, 200, 200, 200, 200, 200, 403]),
    ("GET", "/api/badges/analytics/", [401, 403, 403, 403, 403, 403, 403, 200, 403]),
    ("GET", "/api/badges/{id}/", [200, 200, 200, 200, 200, 200, 200, 200, 403]),
    ("PUT", "/api/badges/{id}/", [401, 403, 403, 403, 403, 403, 403, 400, 403]),
    ("PATCH", "/api/badges/{id}/", [401, 403, 403, 403, 403, 403, 403, 200, 403]),
    ("DELETE", "/api/badges/{id}/", [401, 403, 403, 403, 403, 403, 403, 204, 403]),
    ("GET", "/api/user-badges/", [401, 403, 200, 403, 404, 200, 200, 200, 403]),
    ("POST", "/api/user-badges/", [401, 403, 403, 403, 403, 403, 403, 400, 403]),
    ("GET", "/api/user-badges/{id}/", [401, 403, 200, 403, 404, 200, 200, 200, 403]),
    ("PATCH", "/api/user-badges/{id}/", [401, 403, 400, 403, 404, 403, 403, 403, 403]),
    ("DELETE", "/api/user-badges/{id}/", [401, 403, 403, 403, 403, 403, 403, 204, 403]),
    ("GET", "/api/users/{id}/badge-progress/", [401, 403, 200, 403, 403, 403, 200, 200, 403]),
];

struct Fixtures {
    tokens: BTreeMap<i64, String>,
    /// The badge the owner holds, and one made to be deleted.
    badge: i64,
    doomed_badge: i64,
    /// Sessions of the owner besides the one its token names: one to read, one to end.
    owner_session: String,
    ended_session: String,
}

impl Fixtures {
    fn token(&self, id: i64) -> &str {
        &self.tokens[&id]
    }
}

async fn ok(response: ApiResponse, what: &str) -> Json {
    assert!(
        response.status.as_u16() < 300,
        "{what}: {} {}",
        response.status,
        response.body_json()
    );
    response.body_json()
}

async fn fixtures(app: &TestApp) -> Fixtures {
    let mut tokens = BTreeMap::new();
    for (id, role) in [
        (OWNER, Role::Normal),
        (OTHER, Role::Normal),
        (BLOCKED, Role::Normal),
        (FOLLOWER, Role::Normal),
        (MODERATOR, Role::Moderator),
        (ADMIN, Role::Admin),
        (REQUESTER_APPROVE, Role::Normal),
        (REQUESTER_REJECT, Role::Normal),
        (UNFOLLOWER, Role::Normal),
        (UNBLOCKED, Role::Normal),
        (ERASED_BY_USERS_API, Role::Normal),
        (ERASED_BY_PROFILES_API, Role::Normal),
    ] {
        tokens.insert(id, person_with(&app.app, id, role, false).await.token);
    }
    let unverified = NewUser::new(UNVERIFIED)
        .unverified()
        .signed_in(&app.app)
        .await;
    tokens.insert(UNVERIFIED, unverified.token);
    NewUser::new(SUSPENDED).suspended().store(&app.app).await;
    let bearer = |id: i64| tokens[&id].clone();

    // The follows while the owner is public (active at once), then the owner goes private and
    // the two requests wait for it.
    for follower in [FOLLOWER, UNFOLLOWER] {
        let r = app
            .post("/api/follows/")
            .bearer(&bearer(follower))
            .json(json!({ "following": OWNER }))
            .send()
            .await;
        ok(r, "follow").await;
    }
    let r = app
        .patch(&format!("/api/profiles/{OWNER}/"))
        .bearer(&bearer(OWNER))
        .json(json!({ "is_private": true }))
        .send()
        .await;
    ok(r, "go private").await;
    for requester in [REQUESTER_APPROVE, REQUESTER_REJECT] {
        let r = app
            .post("/api/follows/")
            .bearer(&bearer(requester))
            .json(json!({ "following": OWNER }))
            .send()
            .await;
        assert_eq!(ok(r, "request").await["status"], "pending");
    }
    for blocked in [BLOCKED, UNBLOCKED] {
        let r = app
            .post("/api/blocks/")
            .bearer(&bearer(OWNER))
            .json(json!({ "blocked": blocked }))
            .send()
            .await;
        ok(r, "block").await;
    }

    let mut badges = Vec::new();
    for name in ["Matrix", "Doomed"] {
        let r = app
            .post("/api/badges/")
            .bearer(&bearer(ADMIN))
            .json(json!({
                "name": name,
                "description": "A badge of the permission matrix",
                "category": "achievement",
                "icon": "fas fa-star",
                "color": "#FFD700",
                "criteria": {"type": "counter", "field": "posts_count", "threshold": 10},
            }))
            .send()
            .await;
        badges.push(ok(r, "badge").await["id"].as_i64().unwrap());
    }
    let r = app
        .post("/api/user-badges/")
        .bearer(&bearer(ADMIN))
        .json(json!({ "user": OWNER, "badge": badges[0] }))
        .send()
        .await;
    ok(r, "award").await;

    let owner = accounts::accounts::get_user_consistent(&app.app, UserId(OWNER))
        .await
        .unwrap()
        .unwrap();
    let mut extra = Vec::new();
    for _ in 0..2 {
        let started = sessions::start_session(&app.app, &owner, &client(), AuthMethod::Jwt)
            .await
            .unwrap();
        extra.push(started.record.session_id);
    }
    Fixtures {
        tokens,
        badge: badges[0],
        doomed_badge: badges[1],
        owner_session: extra[0].clone(),
        ended_session: extra[1].clone(),
    }
}

/// The request a route's row is about: the concrete path, the body, the account the "owner"
/// column is, and whether each request needs a session of its own (the route ends the one
/// it is sent with).
struct Ask {
    path: String,
    body: Option<Json>,
    owner: i64,
    own_session: bool,
}

fn ask(method: &Method, pattern: &str, f: &Fixtures) -> Ask {
    let mut owner = OWNER;
    let mut own_session = false;
    let id: String = match pattern {
        "/api/users/{id}/" if *method == Method::DELETE => {
            owner = ERASED_BY_USERS_API;
            owner.to_string()
        }
        "/api/profiles/{id}/" if *method == Method::DELETE => {
            owner = ERASED_BY_PROFILES_API;
            owner.to_string()
        }
        "/api/badges/{id}/" if *method == Method::DELETE => f.doomed_badge.to_string(),
        "/api/badges/{id}/" => f.badge.to_string(),
        "/api/user-badges/{id}/" => format!("{OWNER}-{}", f.badge),
        "/api/follows/{id}/" if *method == Method::DELETE => format!("{UNFOLLOWER}-{OWNER}"),
        "/api/follows/{id}/" => format!("{FOLLOWER}-{OWNER}"),
        "/api/follows/{id}/approve/" => format!("{REQUESTER_APPROVE}-{OWNER}"),
        "/api/follows/{id}/reject/" => format!("{REQUESTER_REJECT}-{OWNER}"),
        "/api/blocks/{id}/" => format!("{OWNER}-{UNBLOCKED}"),
        "/api/sessions/{id}/" if *method == Method::DELETE => f.ended_session.clone(),
        "/api/sessions/{id}/" => f.owner_session.clone(),
        "/api/events/{id}/review/" | "/api/notifications/{id}/read/" => UNKNOWN_ULID.into(),
        "/api/auth/tokens/{id}/" => "0123456789abcdef".into(),
        _ => OWNER.to_string(),
    };
    let mut path = pattern.replace("{id}", &id);
    // Lists about the owner, where the visibility answers show.
    match pattern {
        "/api/follows/" if *method == Method::GET => {
            path.push_str(&format!("?user={OWNER}&direction=followers"))
        }
        "/api/user-badges/" if *method == Method::GET => path.push_str(&format!("?user={OWNER}")),
        "/api/relationships/" => path.push_str(&format!("?id={OWNER}")),
        _ => {}
    }
    if matches!(
        pattern,
        "/api/auth/logout/" | "/api/auth/jwt/logout/" | "/api/auth/session/refresh/"
    ) {
        own_session = true;
    }
    let body = match *method {
        Method::GET | Method::HEAD => None,
        // Empty bodies: an allowed caller gets as far as validation, or changes nothing.
        _ => Some(json!({})),
    };
    Ask {
        path,
        body,
        owner,
        own_session,
    }
}

fn caller_id(caller: Caller, ask: &Ask) -> Option<i64> {
    match caller {
        Caller::Anonymous => None,
        Caller::Unverified => Some(UNVERIFIED),
        Caller::Owner => Some(ask.owner),
        Caller::Other => Some(OTHER),
        Caller::Blocked => Some(BLOCKED),
        Caller::Follower => Some(FOLLOWER),
        Caller::Moderator => Some(MODERATOR),
        Caller::Admin => Some(ADMIN),
        Caller::Suspended => Some(SUSPENDED),
    }
}

async fn answer(app: &TestApp, f: &Fixtures, method: &Method, ask: &Ask, caller: Caller) -> u16 {
    let mut request = app.request(method.clone(), &ask.path);
    if let Some(body) = &ask.body {
        request = request.json(body.clone());
    }
    if let Some(id) = caller_id(caller, ask) {
        let token = if caller == Caller::Suspended || ask.own_session {
            token_for(&app.app, UserId(id)).await
        } else {
            f.token(id).to_owned()
        };
        request = request.bearer(&token);
    }
    let response = request.send().await;
    // Every answer to a request with credentials is `no-store`, but the documents that are the
    // same for everyone and say so (`public`: the key set, the OpenAPI document).
    if caller != Caller::Anonymous {
        let cache = response
            .headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            cache.contains("no-store") || cache.starts_with("public"),
            "{method} {} as {caller:?}: an authenticated answer without no-store",
            ask.path
        );
    }
    response.status.as_u16()
}

both_engines!(
    async fn every_route_answers_every_caller_as_documented(t: TestTable) {
        let app = TestApp::new(t).await;
        let f = fixtures(&app).await;
        let started = Instant::now();
        let expected: BTreeMap<(&str, &str), [u16; 9]> = EXPECTED
            .iter()
            .map(|(m, p, row)| ((*m, *p), *row))
            .collect();
        let mut problems = Vec::new();
        let mut table = String::new();
        let mut asked = 0;
        for route in route_table() {
            let method = route.method.as_str();
            let ask = ask(&route.method, route.path, &f);
            let mut got = [0u16; 9];
            if route.method == Method::GET {
                // A read changes nothing the others see: its nine callers ask at once.
                let answers = futures::future::join_all(
                    CALLERS.map(|caller| answer(&app, &f, &route.method, &ask, caller)),
                )
                .await;
                got.copy_from_slice(&answers);
            } else {
                for (i, caller) in CALLERS.into_iter().enumerate() {
                    got[i] = answer(&app, &f, &route.method, &ask, caller).await;
                }
            }
            asked += CALLERS.len();
            let row = got.map(|s| format!("{s}")).join(", ");
            let _ = writeln!(table, "    ({method:?}, {:?}, [{row}]),", route.path);
            match expected.get(&(method, route.path)) {
                None => problems.push(format!("{method} {}: no expected row", route.path)),
                Some(want) if *want != got => problems.push(format!(
                    "{method} {}: expected {want:?}, answered {got:?}",
                    route.path
                )),
                Some(_) => {}
            }
        }
        for (method, path) in expected.keys() {
            if !route_table().any(|r| r.method.as_str() == *method && r.path == *path) {
                problems.push(format!("{method} {path}: a row for no route"));
            }
        }
        eprintln!(
            "access matrix: {asked} requests in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        assert!(
            problems.is_empty(),
            "{}\n\nThe table as it answered:\n{table}",
            problems.join("\n")
        );
    }
);
