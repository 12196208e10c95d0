//! What the seed asks for (issue 23), on both engines: `count` on the badge list, `DELETE
//! /api/profiles/{id}/` as `DELETE /api/users/{id}/`, and the professional sign-up in one step.

use crate::badges_core_support;

use accounts::model::Role;
use api_tests::app::TestApp;
use api_tests::fixtures::{
    NewAccount, PASSWORD, admin, call, client, member, person, profile_item,
};
use api_tests::{TestTable, both_engines};
use badges_core_support::{badge_body, create_badge, get_json};
use http::Method;
use serde_json::json;

// Evaluated in process as accounts-local does: `badges_engine::evaluating_app`'s setting.

/// `GET /api/badges/` counts what matches its filters, not the page: active ones for everyone,
/// inactive ones too for administrators.
async fn badge_count(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let user = person(&app.app, 2).await;
    for (name, rarity, points, category, active) in [
        ("A", "common", 10, "achievement", true),
        ("B", "rare", 50, "achievement", true),
        ("C", "common", 20, "activity", true),
        ("D", "epic", 200, "special", false),
    ] {
        let mut body = badge_body(name, rarity, points);
        body["category"] = json!(category);
        body["is_active"] = json!(active);
        create_badge(&app, &root, body).await;
    }
    let page = get_json(&app, &user, "/api/badges/?page_size=1", 200).await;
    assert_eq!(page["count"], 3, "{page}");
    assert_eq!(page["results"].as_array().unwrap().len(), 1);
    assert!(page["next"].is_string());
    for (query, user_count, admin_count) in [
        ("category=achievement", 2, 2),
        ("rarity=common", 2, 2),
        ("category=achievement&rarity=common", 1, 1),
        ("category=special", 0, 1),
        ("is_active=false", 0, 1),
        ("is_active=true", 3, 3),
        ("", 3, 4),
    ] {
        let path = format!("/api/badges/?{query}");
        let as_user = get_json(&app, &user, &path, 200).await;
        assert_eq!(as_user["count"], user_count, "{query}: {as_user}");
        let as_admin = get_json(&app, &root, &path, 200).await;
        assert_eq!(as_admin["count"], admin_count, "{query}: {as_admin}");
    }
    // Signed out too.
    let response = app.get("/api/badges/").send().await;
    assert_eq!(response.body_json()["count"], 3);
}

/// `DELETE /api/profiles/{id}/` erases the account like `DELETE /api/users/{id}/`: the owner
/// with the current password, an administrator without; anyone else hears 404.
async fn profile_delete(t: TestTable) {
    let app = TestApp::new(t).await;
    let alice = member(&app, "alice", Role::Normal).await;
    let bob = member(&app, "bob", Role::Normal).await;
    let root = member(&app, "root", Role::Admin).await;
    let own = format!("/api/profiles/{}/", alice.id);
    let (status, body) = call(&app, &alice, Method::DELETE, &own, None).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["current_password"].is_array(), "{body}");
    let (status, body) = call(&app, &bob, Method::DELETE, &own, None).await;
    assert_eq!(status, 404, "{body}");
    assert!(profile_item(&app.app, alice.id).await.is_some());
    let proof = Some(json!({"current_password": PASSWORD}));
    let (status, body) = call(&app, &alice, Method::DELETE, &own, proof).await;
    assert_eq!(status, 204, "{body}");
    assert!(profile_item(&app.app, alice.id).await.is_none());

    let bobs = format!("/api/profiles/{}/", bob.id);
    let (status, body) = call(&app, &root, Method::DELETE, &bobs, None).await;
    assert_eq!(status, 204, "{body}");
    assert!(profile_item(&app.app, bob.id).await.is_none());
    let (status, _) = call(&app, &root, Method::GET, &bobs, None).await;
    assert_eq!(status, 404);
    let (status, _) = call(&app, &root, Method::DELETE, "/api/profiles/abc/", None).await;
    assert_eq!(status, 404);
}

/// `POST /api/auth/register/professional/`: the account, the professional role and the
/// professional profile in one step; errors of both parts together and nothing written on an
/// error; an administrator verifies the profile as before.
async fn pro_signup(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = member(&app, "root", Role::Admin).await;
    let path = "/api/auth/register/professional/";
    let signup = |body: serde_json::Value| {
        app.post(path)
            .ip(&api_tests::fixtures::fresh_ip())
            .json(body)
            .send()
    };
    // Field errors of both parts at once; nothing is written.
    let response = signup(json!({
        "username": "acme", "email": "not an address", "password": "violet-harbour-42",
        "professional": {"years_experience": 900, "website": "http://plain.example"},
    }))
    .await;
    assert_eq!(response.status, 400);
    let body = response.body_json();
    for field in [
        "email",
        "professional.years_experience",
        "professional.website",
        "professional.company_name",
    ] {
        assert!(body[field].is_array(), "{field}: {body}");
    }
    let response = signup(
        json!({"username": "acme", "email": "acme@example.com", "password": "violet-harbour-42"}),
    )
    .await;
    assert_eq!(response.status, 400);
    assert!(response.body_json()["professional"].is_array());
    let response = signup(json!({"username": "acme", "email": "acme@example.com", "password": "violet-harbour-42", "professional": "Acme"})).await;
    assert_eq!(response.status, 400);
    assert!(response.body_json()["professional"].is_array());

    let response = signup(json!({
        "username": "acme", "email": "acme@example.com", "password": "violet-harbour-42",
        "first_name": "Ada",
        "professional": {"company_name": "Acme Analytics", "job_title": "Data engineer", "website": "https://acme.example"},
    }))
    .await;
    assert_eq!(response.status, 201, "{}", response.body_json());
    let body = response.body_json();
    let id = body["id"].as_i64().unwrap();
    assert_eq!(body["role"], "professional");
    assert_eq!(body["is_verified"], false);
    assert_eq!(body["professional_profile"]["id"], id);
    assert_eq!(
        body["professional_profile"]["company_name"],
        "Acme Analytics"
    );
    assert_eq!(body["professional_profile"]["is_verified"], false);

    // The same username again: the whole sign-up fails, the first profile is untouched.
    let again = signup(json!({
        "username": "ACME", "email": "other@example.com", "password": "violet-harbour-42",
        "professional": {"company_name": "Other"},
    }))
    .await;
    assert_eq!(again.status, 400);
    assert!(again.body_json()["username"].is_array());

    // Verify the address, sign in: the profile is there, unverified until an admin says so.
    api_tests::fixtures::verify_email(&app, "acme@example.com").await;
    let response = app
        .post("/api/auth/jwt/login/")
        .json(json!({"username": "acme", "password": "violet-harbour-42"}))
        .send()
        .await;
    assert_eq!(response.status, 200, "{}", response.body_json());
    let token = response.body_json()["access"].as_str().unwrap().to_owned();
    let own = format!("/api/professional-profiles/{id}/");
    let response = app.get(&own).bearer(&token).send().await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body_json()["job_title"], "Data engineer");
    let verify = format!("/api/professional-profiles/{id}/verify/");
    let (status, body) = call(&app, &root, Method::POST, &verify, Some(json!({}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["is_verified"], true);
    let types = api_tests::fixtures::event_types(&app, accounts::model::UserId(id)).await;
    assert!(types.iter().any(|t| t == "register"), "{types:?}");
}

/// The `login` marks on the user's day items of these UTC days (one per recorded visit).
async fn login_marks(app: &TestApp, user: accounts::model::UserId, days: &[&str]) -> usize {
    let mut marks = 0;
    for day in days {
        let key = accounts::store::keys::activity_day(user, day);
        if let Some(item) = app.table().get(&key, true).await.unwrap() {
            marks += item.keys().filter(|k| k.starts_with("login#")).count();
        }
    }
    marks
}

/// A day counts for "Daily Visitor" (`consecutive_days` of `login`) whenever the user is
/// authenticated that day, by a password login, an API token, a refresh, a JWT or a session;
/// one write per user per day, the day in the user's time zone (Auckland is UTC+13 in March).
async fn daily_visits(t: TestTable) {
    use chrono::{Duration, TimeZone, Utc};
    let app = TestApp::with_settings(
        t,
        &[
            ("BADGES_EVALUATE_ON_BUS", "true"),
            ("SESSION_IDLE_TIMEOUT", "259200"),
        ],
    )
    .await;
    let a = &app.app;
    let four = crate::badges_engine::badge(
        a,
        "Four day visitor",
        json!({"type": "consecutive_days", "action": "login", "days": 4}),
        50,
    )
    .await;
    let two = crate::badges_engine::badge(
        a,
        "Two day visitor",
        json!({"type": "consecutive_days", "action": "login", "days": 2}),
        10,
    )
    .await;
    app.clock()
        .set(Utc.with_ymd_and_hms(2026, 3, 10, 8, 0, 0).unwrap());
    let mut ids = Vec::new();
    for name in ["vera", "sam"] {
        let user = NewAccount::new(name)
            .client(client())
            .in_zone("Pacific/Auckland")
            .create(a)
            .await;
        ids.push(user.id);
    }
    let (vera, sam) = (ids[0], ids[1]);
    let held = |user| async move { crate::badges_engine::held(a, user).await };

    // 10 March, 21:00 in Auckland: a password login.
    let response = app
        .post("/api/auth/jwt/login/")
        .json(json!({"username": "vera", "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(response.status, 200, "{}", response.body_json());
    let pair = response.body_json();
    let access = pair["access"].as_str().unwrap().to_owned();
    let refresh = pair["refresh"].as_str().unwrap().to_owned();
    let response = app
        .post("/api/auth/tokens/")
        .bearer(&access)
        .json(json!({"name": "script"}))
        .send()
        .await;
    assert_eq!(response.status, 201, "{}", response.body_json());
    let key = response.body_json()["key"].as_str().unwrap().to_owned();
    // More requests the same local day write no visit again.
    for minutes in [5, 20, 30] {
        app.clock().advance(Duration::minutes(minutes));
        let me = app.get("/api/auth/me/").bearer(&access).send().await;
        assert_eq!(me.status, 200);
    }
    assert_eq!(login_marks(&app, vera, &["2026-03-10"]).await, 1);

    // 12:00 UTC is 01:00 on 11 March in Auckland (still 10 March in UTC): an API token.
    app.clock()
        .set(Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap());
    for _ in 0..3 {
        let me = app.get("/api/auth/me/").api_token(&key).send().await;
        assert_eq!(me.status, 200);
    }
    assert_eq!(login_marks(&app, vera, &["2026-03-10"]).await, 2);
    // 12 March (01:00 there): a refresh only.
    app.clock().advance(Duration::days(1));
    let refresh_at = |refresh: String| {
        let app = &app;
        async move {
            let response = app
                .post("/api/auth/jwt/refresh/")
                .json(json!({"refresh": refresh}))
                .send()
                .await;
            assert_eq!(response.status, 200, "{}", response.body_json());
            let pair = response.body_json();
            (
                pair["access"].as_str().unwrap().to_owned(),
                pair["refresh"].as_str().unwrap().to_owned(),
            )
        }
    };
    let (_, refresh) = refresh_at(refresh).await;
    assert!(!held(vera).await.contains(&four.id));
    // 23:45 on 12 March there: another refresh, the same local day.
    app.clock()
        .set(Utc.with_ymd_and_hms(2026, 3, 12, 10, 45, 0).unwrap());
    let (access, _) = refresh_at(refresh).await;
    assert!(!held(vera).await.contains(&four.id));
    // 00:15 on 13 March there: that access token (a JWT) is the fourth day.
    app.clock()
        .set(Utc.with_ymd_and_hms(2026, 3, 12, 11, 15, 0).unwrap());
    let me = app.get("/api/auth/me/").bearer(&access).send().await;
    assert_eq!(me.status, 200);
    assert_eq!(
        login_marks(&app, vera, &["2026-03-10", "2026-03-11", "2026-03-12"]).await,
        4,
        "one visit per local day"
    );
    assert!(held(vera).await.contains(&four.id));

    // A browser session: a login on one day, the cookie alone on the next.
    let response = app
        .post("/api/auth/login/")
        .json(json!({"username": "sam", "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(response.status, 200, "{}", response.body_json());
    let cookie = api_tests::app::set_cookie(&response, "sessionid").unwrap();
    assert!(!held(sam).await.contains(&two.id));
    app.clock().advance(Duration::days(1));
    let me = app
        .get("/api/auth/me/")
        .cookies(&[("sessionid", &cookie)])
        .send()
        .await;
    assert_eq!(me.status, 200);
    assert!(held(sam).await.contains(&two.id));
}

/// Names of the badges a user holds, through the API (as an administrator).
async fn held_names(app: &TestApp, root: &api_tests::fixtures::Person, user: i64) -> Vec<String> {
    let path = format!("/api/user-badges/?user={user}");
    let page = get_json(app, root, &path, 200).await;
    let mut names: Vec<String> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["badge"]["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// Counter criteria over every numeric field of the seed's profile (`content_quality_score`,
/// `interaction_frequency`), and `event_based` quality thresholds for any event type whose
/// events carry a `metadata.quality`, not only reviews.
async fn scores_and_quality(t: TestTable) {
    let app = TestApp::with_settings(t, &[("BADGES_EVALUATE_ON_BUS", "true")]).await;
    let root = admin(&app.app, 1).await;
    let ada = person(&app.app, 2).await;
    let criteria = [
        (
            "Quality writer",
            "rare",
            50,
            json!({"type": "counter", "field": "content_quality_score", "threshold": 3.5}),
        ),
        (
            "Regular",
            "rare",
            60,
            json!({"type": "multi_criteria", "requirements": [
            {"field": "interaction_frequency", "operator": ">=", "value": 2},
            {"field": "content_quality_score", "operator": ">=", "value": 1}], "logic": "AND"}),
        ),
        (
            "Fine posts",
            "rare",
            70,
            json!({"type": "event_based", "event_type": "post_create", "count": 2, "quality_threshold": 4.0}),
        ),
        (
            "Fine comment",
            "rare",
            80,
            json!({"type": "event_based", "event_type": "comment_create", "count": 1, "quality_threshold": 3.0}),
        ),
    ];
    for (name, rarity, points, criteria) in criteria {
        let mut body = badge_body(name, rarity, points);
        body["criteria"] = criteria;
        create_badge(&app, &root, body).await;
    }
    // An unknown field is still a 400 on its path.
    let mut bad = badge_body("Bad", "common", 10);
    bad["criteria"] = json!({"type": "counter", "field": "quality_points", "threshold": 1});
    let response = app
        .post("/api/badges/")
        .bearer(&root.token)
        .json(bad)
        .send()
        .await;
    assert_eq!(response.status, 400);
    assert!(
        response.body_json()["criteria.field"].is_array(),
        "{}",
        response.body_json()
    );

    let response = app
        .post("/api/auth/tokens/")
        .bearer(&root.token)
        .json(json!({"name": "content service"}))
        .send()
        .await;
    assert_eq!(response.status, 201);
    let key = response.body_json()["key"].as_str().unwrap().to_owned();
    let event = |event_type: &str, quality: f64| {
        app.post("/api/events/")
            .api_token(&key)
            .json(json!({"event_type": event_type, "user": ada.n(), "metadata": {"quality": quality}}))
            .send()
    };
    for (event_type, quality) in [
        ("post_create", 4.5),
        ("post_create", 3.5),
        ("comment_create", 2.5),
    ] {
        let response = event(event_type, quality).await;
        assert_eq!(response.status, 201, "{}", response.body_json());
    }
    app.settled().await;
    assert!(held_names(&app, &root, ada.n()).await.is_empty());
    for (event_type, quality) in [("post_create", 4.0), ("comment_create", 3.0)] {
        let response = event(event_type, quality).await;
        assert_eq!(response.status, 201, "{}", response.body_json());
    }
    // A quality out of range is refused on any type.
    let response = event("comment_create", 9.0).await;
    assert_eq!(response.status, 400);
    app.settled().await;
    assert_eq!(
        held_names(&app, &root, ada.n()).await,
        ["Fine comment", "Fine posts"]
    );

    // The daily engagement task's scores: re-checked at the next login's evaluation.
    let progress = format!("/api/users/{}/badge-progress/", ada.n());
    let before = get_json(&app, &ada, &progress, 200).await;
    assert!(
        before.to_string().contains("content quality points"),
        "{before}"
    );
    app.app
        .table
        .update(
            &accounts::store::keys::user(ada.id),
            accounts::store::Update::new()
                .set("content_quality_score", accounts::store::Value::Float(3.75))
                .set("interaction_frequency", accounts::store::Value::Float(2.5)),
            None,
        )
        .await
        .unwrap();
    accounts::badges::stats::announce_login(&app.app, ada.id).await;
    app.settled().await;
    assert_eq!(
        held_names(&app, &root, ada.n()).await,
        ["Fine comment", "Fine posts", "Quality writer", "Regular"]
    );
}

/// Badge tiers: a series with bronze, silver and gold; progress shows the next tier, the
/// showcase the highest held, the leaderboard and analytics count tiers.
async fn badge_tiers(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let ada = person(&app.app, 2).await;
    let tiered = |name: &str, tier: &str, points: i64, rarity: &str, posts: i64| {
        let mut body = badge_body(name, rarity, points);
        body["series"] = json!("Poster");
        body["tier"] = json!(tier);
        body["criteria"] = json!({"type": "counter", "field": "posts_count", "threshold": posts});
        body
    };
    let bronze = create_badge(
        &app,
        &root,
        tiered("Poster: Bronze", "bronze", 10, "common", 1),
    )
    .await;
    let silver = create_badge(
        &app,
        &root,
        tiered("Poster: Silver", "silver", 50, "rare", 5),
    )
    .await;
    let gold = create_badge(&app, &root, tiered("Poster: Gold", "gold", 150, "epic", 20)).await;
    let plain = create_badge(&app, &root, badge_body("Plain", "common", 10)).await;
    let one = get_json(&app, &ada, &format!("/api/badges/{gold}/"), 200).await;
    assert_eq!(
        (one["series"].clone(), one["tier"].clone()),
        (json!("Poster"), json!("gold"))
    );
    // Bad tiers are 400s on their fields; one definition per tier of a series.
    let with = |name: &str, series: Option<&str>, tier: Option<&str>| {
        let mut b = badge_body(name, "common", 10);
        if let Some(s) = series {
            b["series"] = json!(s);
        }
        if let Some(t) = tier {
            b["tier"] = json!(t);
        }
        b
    };
    for (body, field) in [
        (with("X1", None, Some("gold")), "series"),
        (with("X2", Some("Poster"), None), "tier"),
        (with("X3", Some("Poster"), Some("wood")), "tier"),
        (
            tiered("Poster: Gold again", "gold", 150, "epic", 30),
            "tier",
        ),
    ] {
        let response = app
            .post("/api/badges/")
            .bearer(&root.token)
            .json(body)
            .send()
            .await;
        assert_eq!(response.status, 400, "{field}");
        assert!(
            response.body_json()[field].is_array(),
            "{field}: {}",
            response.body_json()
        );
    }

    let progress_path = format!("/api/users/{}/badge-progress/", ada.n());
    let series_entries = |p: &serde_json::Value| -> Vec<(i64, serde_json::Value)> {
        p["eligible_badges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["series"] == "Poster")
            .map(|e| {
                (
                    e["badge"]["id"].as_i64().unwrap(),
                    e["current_tier"].clone(),
                )
            })
            .collect()
    };
    let progress = get_json(&app, &ada, &progress_path, 200).await;
    assert_eq!(
        series_entries(&progress),
        [(bronze, json!(null))],
        "{progress}"
    );
    for badge in [bronze, silver, plain] {
        crate::badges_core_support::award_ok(&app, &root, ada.id, badge).await;
    }
    let progress = get_json(&app, &ada, &progress_path, 200).await;
    assert_eq!(
        series_entries(&progress),
        [(gold, json!("silver"))],
        "{progress}"
    );

    let ids = |page: &serde_json::Value| -> Vec<i64> {
        page["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["badge"]["id"].as_i64().unwrap())
            .collect()
    };
    let showcase = get_json(&app, &ada, "/api/user-badges/?showcase=true", 200).await;
    assert_eq!(ids(&showcase), [silver, plain]);
    assert_eq!(showcase["count"], 2);
    // Featuring the bronze tier shows the series' highest tier held.
    let response = app
        .patch(&format!("/api/user-badges/{}-{bronze}/", ada.n()))
        .bearer(&ada.token)
        .json(json!({"is_featured": true}))
        .send()
        .await;
    assert_eq!(response.status, 200);
    let path = "/api/user-badges/?showcase=true&is_featured=true";
    let featured = get_json(&app, &ada, path, 200).await;
    assert_eq!(ids(&featured), [silver]);
    let all = get_json(&app, &ada, "/api/user-badges/", 200).await;
    assert_eq!(all["count"], 3);

    let board = get_json(&app, &ada, "/api/badges/leaderboard/", 200).await;
    assert_eq!(
        board["results"][0]["tiers"],
        json!({"bronze": 1, "silver": 1, "gold": 0, "platinum": 0}),
        "{board}"
    );
    let month = get_json(&app, &ada, "/api/badges/leaderboard/?timeframe=30d", 200).await;
    assert_eq!(month["results"][0]["tiers"]["silver"], 1, "{month}");
    let stats = crate::badges_core_support::analytics(&app, &root).await;
    assert_eq!(
        stats["tier_distribution"],
        json!([
            {"tier": "bronze", "count": 1, "earned_count": 1},
            {"tier": "silver", "count": 1, "earned_count": 1},
            {"tier": "gold", "count": 1, "earned_count": 0},
            {"tier": "platinum", "count": 0, "earned_count": 0},
        ])
    );
    // Out of the series again: a PATCH with nulls.
    let response = app
        .patch(&format!("/api/badges/{gold}/"))
        .bearer(&root.token)
        .json(json!({"series": null, "tier": null}))
        .send()
        .await;
    assert_eq!(response.status, 200, "{}", response.body_json());
    assert_eq!(response.body_json()["tier"], json!(null));
}

/// `GET /api/users/{id}/export/`: everything stored about the user, no secrets, no scan; the
/// owner or an administrator, never with an API token; logged as `data_export`.
async fn data_export(t: TestTable) {
    let (app, table) = crate::users_support::counting_app(t).await;
    let alice = member(&app, "alice", Role::Normal).await;
    let bob = member(&app, "bob", Role::Normal).await;
    let carol = member(&app, "carol", Role::Normal).await;
    let root = member(&app, "root", Role::Admin).await;
    for (who, body, path) in [
        (&alice, json!({"following": bob.id}), "/api/follows/"),
        (&carol, json!({"following": alice.id}), "/api/follows/"),
        (&alice, json!({"blocked": carol.id}), "/api/blocks/"),
        (&alice, json!({"name": "laptop"}), "/api/auth/tokens/"),
    ] {
        let (status, answer) = call(&app, who, Method::POST, path, Some(body)).await;
        assert_eq!(status, 201, "{path}: {answer}");
    }
    let (_, token) = call(&app, &alice, Method::GET, "/api/auth/tokens/", None).await;
    assert_eq!(token["results"][0]["name"], "laptop", "{token}");
    let (_, created) = call(
        &app,
        &alice,
        Method::POST,
        "/api/auth/tokens/",
        Some(json!({"name": "script"})),
    )
    .await;
    let key = created["key"].as_str().unwrap().to_owned();

    let path = format!("/api/users/{}/export/", alice.id);
    table.reset();
    let (status, doc) = call(&app, &alice, Method::GET, &path, None).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(table.take().calls.scan, 0, "no scan");
    assert_eq!(doc["user"]["username"], "alice");
    assert_eq!(doc["settings"]["timezone"], "UTC");
    assert_eq!(doc["following"].as_array().unwrap().len(), 1, "{doc}");
    // Carol's follow went with the block; the block is alice's.
    assert_eq!(doc["blocks"].as_array().unwrap().len(), 1, "{doc}");
    let names: Vec<&str> = doc["api_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{doc}");
    assert!(names.contains(&"laptop") && names.contains(&"script"));
    assert!(!doc["sessions"].as_array().unwrap().is_empty());
    assert!(!doc["events"].as_array().unwrap().is_empty());
    let text = doc.to_string();
    for secret in [
        "$argon2",
        key.as_str(),
        "secret_hash",
        "csrf_hash",
        "password_hash",
    ] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
    // Bob's view of alice's followers: hers, not his.
    let (status, bobs) = call(
        &app,
        &bob,
        Method::GET,
        &format!("/api/users/{}/export/", bob.id),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(bobs["followers"].as_array().unwrap().len(), 1, "{bobs}");
    assert_eq!(bobs["followers"][0]["follower"], alice.id.0, "{bobs}");

    // Someone else: 404; an administrator: 200; an API token: 403.
    let (status, _) = call(&app, &bob, Method::GET, &path, None).await;
    assert_eq!(status, 404);
    let (status, _) = call(&app, &root, Method::GET, &path, None).await;
    assert_eq!(status, 200);
    let response = app.get(&path).api_token(&key).send().await;
    assert_eq!(response.status, 403);
    let (status, _) = call(&app, &root, Method::GET, "/api/users/999/export/", None).await;
    assert_eq!(status, 404);
    let types = api_tests::fixtures::event_types(&app, alice.id).await;
    assert!(types.iter().any(|t| t == "data_export"), "{types:?}");
}

both_engines!(
    badge_count,
    profile_delete,
    pro_signup,
    daily_visits,
    scores_and_quality,
    badge_tiers,
    data_export
);
