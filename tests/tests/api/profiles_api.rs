//! Profiles, professional profiles and settings through the HTTP API, on both engines: field
//! validation, read-only fields, `updated_at`, username and display-name search with cursors,
//! the admin's create, settings with their allowed values, professional profiles and their
//! verification, and the store calls of get and update profile.

use crate::profiles_common;

use std::collections::BTreeSet;
use std::sync::Arc;

use accounts::App;
use accounts::accounts::CredentialsRecord;
use accounts::config::{Config, Deployment};
use accounts::http::Router;
use accounts::model::{Role, UserId};
use accounts::store::counting::CountingTable;
use accounts::store::{Table, keys};
use api_tests::app::TestApp;
use api_tests::fixtures::complete_person;
use api_tests::{TestTable, both_engines};
use chrono::Duration;
use profiles_common::*;
use serde_json::{Value as Json, json};

/// Every invalid field is a 400 naming it, nothing is written; valid values are normalised.
async fn profile_validation(t: TestTable) {
    let app = TestApp::new(t).await;
    let me = complete_person(&app.app, 1, "jane", Role::Normal).await;
    let path = "/api/profiles/1/";
    assert_eq!(get(&app, &me, "/api/settings/").await.0, 200);
    let before = snapshot(&app, me.id).await;
    let invalid = [
        ("phone_number", json!("0301234567")),
        ("phone_number", json!("+1 415 555 2671")),
        // E.164 in shape, invalid by the numbering plan: no country code 999, and a US number
        // one digit short.
        ("phone_number", json!("+999999")),
        ("phone_number", json!("+1201555012")),
        ("date_of_birth", json!("2999-01-01")),
        ("date_of_birth", json!("01/02/2000")),
        ("bio", json!("x".repeat(501))),
        ("profile_picture", json!("http://example.com/a.png")),
        ("cover_media", json!("not a url")),
        ("cover_media_type", json!("gif")),
        ("country", json!("XX")),
        ("country", json!("Germany")),
        ("is_private", json!("yes")),
        ("show_email", json!(1)),
        ("nickname", json!("unknown field")),
        ("email", json!("other@example.com")),
        ("username", json!("renamed")),
        ("is_verified", json!(false)),
        ("is_suspended", json!(true)),
    ];
    for (field, value) in invalid {
        let (s, b) = patch(&app, &me, path, json!({ field: value.clone() })).await;
        assert_eq!(s, 400, "{field}={value}: {b}");
        assert!(b[field].is_array(), "{field}: {b}");
    }
    let (s, b) = patch(&app, &me, path, json!({"cover_media_type": "gif"})).await;
    assert!(
        s == 400
            && b["cover_media_type"][0]
                .as_str()
                .unwrap()
                .contains("image, video")
    );
    assert_eq!(snapshot(&app, me.id).await, before, "a refused write wrote");

    // Valid values, normalised; derived fields sent back are ignored.
    app.clock().advance(Duration::seconds(5));
    let (s, b) = patch(
        &app,
        &me,
        path,
        json!({
            "first_name": "Jane", "last_name": "Roe", "phone_number": "+442071838750",
            "date_of_birth": "1990-05-17", "bio": "x".repeat(500),
            "profile_picture": "https://cdn.example.com/p.png",
            "cover_media": "https://cdn.example.com/c.mp4", "cover_media_type": "video",
            "country": "gb", "city": "London", "follower_count": 999, "badge_points": 5,
            "is_verified": true, "email": "jane@example.com", "username": "jane",
        }),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["country"], "GB");
    assert_eq!(b["display_name"], "Jane Roe");
    assert_eq!(b["location"], "London, GB");
    assert_eq!(b["follower_count"], 0);
    assert_eq!(b["badge_points"], 0);
    assert_ne!(
        b["updated_at"], b["created_at"],
        "updated_at moves on a write"
    );
    let first_update = b["updated_at"].clone();

    // A full round trip of what GET returns is accepted (PUT), and moves updated_at again.
    app.clock().advance(Duration::seconds(5));
    let (_, mine) = get(&app, &me, path).await;
    let (s, b) = put(&app, &me, path, mine).await;
    assert_eq!(s, 200, "{b}");
    assert_ne!(b["updated_at"], first_update);
    // Clearing with null.
    let (s, b) = patch(
        &app,
        &me,
        path,
        json!({"phone_number": null, "country": ""}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["phone_number"], Json::Null);
    assert_eq!(b["country"], Json::Null);

    // The display-name index (on the name item, `accounts::names`) follows the name.
    let item = app
        .table()
        .get(&keys::unique_username("jane"), true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(item["GSI2SK"].as_str(), Some("jane roe#1"));
}

/// `?search=` matches a username prefix or a display-name prefix, case-insensitively, each
/// profile once, across cursor pages.
async fn search(t: TestTable) {
    let app = TestApp::new(t).await;
    let viewer = complete_person(&app.app, 1, "viewer", Role::Normal).await;
    let names = [
        (2, "alice", "Alan", "Smith"),
        (3, "alfred", "", ""),
        (4, "bob", "Alice", "Cooper"),
        (5, "carol", "", ""),
        (6, "dave", "ALBERT", "Z"),
        (7, "Alma", "", ""),
    ];
    for (id, name, first, last) in names {
        let u = complete_person(&app.app, id, name, Role::Normal).await;
        let (s, b) = patch(
            &app,
            &u,
            &format!("/api/profiles/{id}/"),
            json!({"first_name": first, "last_name": last}),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
    let expected: BTreeSet<&str> = ["alice", "alfred", "bob", "dave", "Alma"].into();
    for page_size in [1, 2, 25] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..20 {
            let mut path = format!("/api/profiles/?search=AL&page_size={page_size}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let (s, b) = get(&app, &viewer, &path).await;
            assert_eq!(s, 200, "{b}");
            for r in b["results"].as_array().unwrap() {
                seen.push(r["username"].as_str().unwrap().to_owned());
            }
            match b["next"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        let unique: BTreeSet<&str> = seen.iter().map(String::as_str).collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "duplicates at page size {page_size}: {seen:?}"
        );
        assert_eq!(unique, expected, "page size {page_size}");
    }
    // Without search: everyone, by username.
    let (_, b) = get(&app, &viewer, "/api/profiles/?page_size=100").await;
    assert_eq!(b["results"].as_array().unwrap().len(), 7);
    let (s, b) = get(&app, &viewer, "/api/profiles/?cursor=garbage").await;
    assert_eq!(s, 400, "{b}");
    let (s, _) = get(&app, &viewer, "/api/profiles/?page_size=101").await;
    assert_eq!(s, 400);
}

/// `POST /api/profiles/`: 400 when the profile exists; an admin recreates a missing one.
async fn create_profile(t: TestTable) {
    let app = TestApp::new(t).await;
    let me = complete_person(&app.app, 1, "jane", Role::Normal).await;
    let admin = complete_person(&app.app, 2, "root", Role::Admin).await;
    let (s, b) = post(&app, &me, "/api/profiles/", json!({"bio": "hi"})).await;
    assert_eq!(s, 400, "{b}");
    assert!(b["user"].is_array());
    // An account with credentials and no profile item.
    let now = app.app.clock.now();
    let credentials = CredentialsRecord {
        user_id: UserId(9),
        password_hash: "x".into(),
        password_changed_at: now,
    };
    app.table()
        .put(credentials.to_item().unwrap(), None)
        .await
        .unwrap();
    let body = json!({"user": 9, "username": "jane", "email": "nine@example.com"});
    let (s, b) = post(&app, &admin, "/api/profiles/", body).await;
    assert_eq!(s, 400, "username taken: {b}");
    let body = json!({"user": 10, "username": "ten", "email": "ten@example.com"});
    let (s, b) = post(&app, &admin, "/api/profiles/", body).await;
    assert_eq!(s, 400, "no such account: {b}");
    let body = json!({"user": 9, "username": "nine", "email": "nine@example.com", "bio": "b"});
    let (s, b) = post(&app, &admin, "/api/profiles/", body).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["bio"], "b");
    let (s, _) = get(&app, &admin, "/api/profiles/9/").await;
    assert_eq!(s, 200);
    let body = json!({"user": 9, "username": "nine", "email": "nine@example.com"});
    assert_eq!(post(&app, &admin, "/api/profiles/", body).await.0, 400);
}

/// Settings: defaults, every invalid value names the field and the allowed values, writes
/// move `updated_at`, and `profile_visibility` is the profile's `is_private`.
async fn settings(t: TestTable) {
    let app = TestApp::new(t).await;
    let me = complete_person(&app.app, 1, "jane", Role::Normal).await;
    let (s, b) = get(&app, &me, "/api/settings/").await;
    assert_eq!(s, 200);
    assert_eq!(b["theme"], "system");
    assert_eq!(b["language"], "en");
    let before = snapshot(&app, me.id).await;
    let invalid = [
        (
            "notification_frequency",
            json!("hourly"),
            "immediate, daily, weekly, never",
        ),
        (
            "profile_visibility",
            json!("friends"),
            "public, followers, private",
        ),
        ("theme", json!("blue"), "light, dark, system"),
        ("language", json!("xx-YY"), "pt-BR"),
        ("timezone", json!("Mars/Base"), "IANA"),
        ("email_notifications", json!("no"), "boolean"),
        ("colour", json!("red"), "Unknown"),
    ];
    for (field, value, allowed) in invalid {
        let (s, b) = patch(&app, &me, "/api/settings/", json!({ field: value })).await;
        assert_eq!(s, 400, "{field}: {b}");
        let message = b[field][0].as_str().unwrap_or_default();
        assert!(message.contains(allowed), "{field}: {message}");
    }
    assert_eq!(snapshot(&app, me.id).await, before);

    app.clock().advance(Duration::seconds(3));
    let (s, b) = put(
        &app,
        &me,
        "/api/settings/",
        json!({"theme": "dark", "language": "PT-br", "timezone": "america/sao_paulo",
               "notification_frequency": "weekly", "mature_content": true,
               "created_at": "ignored"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["language"], "pt-BR");
    // Time zones match without regard to case and are stored as the IANA database spells them.
    assert_eq!(b["timezone"], "America/Sao_Paulo");
    assert_ne!(b["updated_at"], b["created_at"]);
    let (_, b) = get(&app, &me, "/api/settings/").await;
    assert_eq!(b["timezone"], "America/Sao_Paulo");

    let (s, _) = patch(
        &app,
        &me,
        "/api/settings/",
        json!({"profile_visibility": "followers"}),
    )
    .await;
    assert_eq!(s, 200);
    let (_, profile) = get(&app, &me, "/api/profiles/1/").await;
    assert_eq!(profile["is_private"], true);
    let (s, _) = patch(&app, &me, "/api/profiles/1/", json!({"is_private": false})).await;
    assert_eq!(s, 200);
    let (_, b) = get(&app, &me, "/api/settings/").await;
    assert_eq!(b["profile_visibility"], "public");
}

/// Professional profiles: roles, one per user, validation, verification by admins only, a
/// changed company name clears it, the `is_verified` filter.
async fn professional(t: TestTable) {
    let app = TestApp::new(t).await;
    let normal = complete_person(&app.app, 1, "normal", Role::Normal).await;
    let pro = complete_person(&app.app, 2, "pro", Role::Professional).await;
    let provider = complete_person(&app.app, 3, "provider", Role::DataProvider).await;
    let admin = complete_person(&app.app, 4, "admin", Role::Admin).await;
    let create = "/api/professional-profiles/";
    let (s, _) = post(&app, &normal, create, json!({"company_name": "N"})).await;
    assert_eq!(s, 403);
    for (field, value) in [
        ("years_experience", json!(81)),
        ("years_experience", json!(-1)),
        ("website", json!("http://acme.example")),
        ("phone", json!("12345")),
        ("certifications", json!("not a list")),
        ("services_offered", json!([""])),
        ("is_verified", json!(true)),
    ] {
        let (s, b) = post(&app, &pro, create, json!({ field: value })).await;
        assert_eq!(s, 400, "{field}: {b}");
        assert!(b[field].is_array(), "{b}");
    }
    let body = json!({
        "company_name": "Acme", "job_title": "Plumber", "years_experience": 80,
        "website": "https://acme.example", "phone": "+14155552671",
        "certifications": ["Gas Safe"], "services_offered": ["boilers", "pipes"],
        "description": "We fix things", "business_address": "1 Main St",
    });
    let (s, b) = post(&app, &pro, create, body.clone()).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["id"], 2);
    assert_eq!(b["is_verified"], false);
    assert_eq!(post(&app, &pro, create, body).await.0, 400, "one per user");
    let (s, _) = post(&app, &provider, create, json!({"company_name": "Data Co"})).await;
    assert_eq!(s, 201);

    let (s, b) = post(
        &app,
        &admin,
        "/api/professional-profiles/2/verify/",
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["is_verified"], true);
    assert!(b["verification_date"].is_string());
    let ids = |b: &Json| -> Vec<i64> {
        b["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect()
    };
    let (_, b) = get(
        &app,
        &normal,
        "/api/professional-profiles/?is_verified=true",
    )
    .await;
    assert_eq!(ids(&b), [2]);
    let (_, b) = get(
        &app,
        &normal,
        "/api/professional-profiles/?is_verified=false",
    )
    .await;
    assert_eq!(ids(&b), [3]);
    let (_, b) = get(&app, &normal, "/api/professional-profiles/").await;
    assert_eq!(ids(&b).len(), 2);
    let (s, _) = get(
        &app,
        &normal,
        "/api/professional-profiles/?is_verified=maybe",
    )
    .await;
    assert_eq!(s, 400);

    // Other edits keep the verification; a new company name clears it.
    let (s, b) = patch(
        &app,
        &pro,
        "/api/professional-profiles/2/",
        json!({"job_title": "Boss"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["is_verified"], true);
    let (s, b) = patch(
        &app,
        &pro,
        "/api/professional-profiles/2/",
        json!({"is_verified": false}),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    let (s, b) = patch(
        &app,
        &pro,
        "/api/professional-profiles/2/",
        json!({"company_name": "Acme 2"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["is_verified"], false);
    assert_eq!(b["verification_date"], Json::Null);
    let (_, b) = get(
        &app,
        &normal,
        "/api/professional-profiles/?is_verified=true",
    )
    .await;
    assert_eq!(ids(&b), Vec::<i64>::new());
    let (s, _) = delete(&app, &pro, "/api/professional-profiles/2/").await;
    assert_eq!(s, 204);
    assert_eq!(
        get(&app, &pro, "/api/professional-profiles/2/").await.0,
        404
    );
}

/// The store calls of get profile (another user's, and one's own) and update profile, on a
/// counting table; the numbers are those in `docs/benchmarks.md`.
async fn store_calls(t: TestTable) {
    let counting = Arc::new(CountingTable::new(t.table()));
    let data_dir = t.dir().to_str().unwrap().to_owned();
    let config = Config::from(&[("DATA_DIR", data_dir.as_str())], Deployment::Local).unwrap();
    let inner: Arc<dyn Table> = counting.clone();
    let built = App::assemble(config, t.dyn_clock(), inner, None)
        .await
        .unwrap();
    let app = TestApp {
        app: Arc::new(built),
        router: Router::all(),
        t,
    };
    let me = complete_person(&app.app, 1, "jane", Role::Normal).await;
    let other = complete_person(&app.app, 2, "john", Role::Normal).await;
    // Warm up: the first request of a session writes its activity once.
    assert_eq!(get(&app, &me, "/api/settings/").await.0, 200);
    assert_eq!(get(&app, &other, "/api/settings/").await.0, 200);
    let measure = |label: &'static str| {
        let calls = counting.take().calls;
        println!("{label}: {calls:?}");
        calls
    };
    counting.reset();

    assert_eq!(get(&app, &me, "/api/profiles/2/").await.0, 200);
    let c = measure("get other profile");
    // Auth: session + caller's profile; then the profile, the two block edges and the follow
    // edge in one batch read.
    assert_eq!((c.get, c.batch_get, c.writes()), (2, 1, 0), "{c:?}");

    assert_eq!(get(&app, &me, "/api/profiles/1/").await.0, 200);
    let c = measure("get own profile");
    assert_eq!((c.get, c.batch_get, c.writes()), (2, 0, 0), "{c:?}");

    assert_eq!(
        patch(&app, &me, "/api/profiles/1/", json!({"bio": "b"}))
            .await
            .0,
        200
    );
    let c = measure("update profile");
    // Auth (2 gets), one update conditioned on the `updated_at` that authentication read, one
    // event put.
    assert_eq!(
        (c.get, c.update, c.put, c.transact_write),
        (2, 1, 1, 0),
        "{c:?}"
    );

    let (s, _) = patch(&app, &me, "/api/profiles/1/", json!({"is_private": true})).await;
    assert_eq!(s, 200);
    let c = measure("update profile, is_private");
    assert_eq!((c.get, c.transact_write, c.put), (3, 1, 1), "{c:?}");

    assert_eq!(get(&app, &other, "/api/profiles/1/").await.0, 200);
    let c = measure("get private profile");
    // The follow edge came in the same batch read.
    assert_eq!((c.get, c.batch_get, c.writes()), (2, 1, 0), "{c:?}");

    assert_eq!(get(&app, &other, "/api/profiles/?search=ja").await.0, 200);
    let c = measure("search profiles");
    // Auth (2 gets), the username stream and the display-name stream (each its 16 shards at
    // once, `accounts::names`), then the profiles and the block and follow edges side by side.
    assert_eq!(
        (c.get, c.query, c.batch_get, c.writes()),
        (2, 32, 2, 0),
        "{c:?}"
    );

    assert_eq!(get(&app, &other, "/api/settings/").await.0, 200);
    let c = measure("get settings");
    assert_eq!((c.get, c.writes()), (3, 0), "{c:?}");
}

both_engines!(
    profile_validation,
    search,
    create_profile,
    settings,
    professional,
    store_calls
);
