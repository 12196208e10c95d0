//! Badge definitions through the HTTP API, on both engines: typed criteria (each type, and
//! the 400s that point inside the document), rarity bands at their edges, colours, unique
//! names, who may read and write, filters and paging.

use crate::badges_core_support;

use api_tests::app::TestApp;
use api_tests::fixtures::{Person, admin, badge_points, person, person_with};
use api_tests::{TestTable, both_engines};
use badges_core_support::*;
use serde_json::{Value as Json, json};

/// POSTs a definition with these criteria; returns the response.
async fn post_criteria(app: &TestApp, admin: &Person, name: &str, criteria: Json) -> (u16, Json) {
    let mut body = badge_body(name, "common", 10);
    body["criteria"] = criteria;
    let response = app
        .post("/api/badges/")
        .bearer(&admin.token)
        .json(body)
        .send()
        .await;
    (response.status.as_u16(), response.body_json())
}

/// The five criteria types of the seed are accepted and come back normalised.
async fn each_criteria_type_is_accepted(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let valid = [
        json!({"type": "counter", "field": "posts_count", "threshold": 10, "description": "Create 10 posts"}),
        json!({"type": "consecutive_days", "action": "login", "days": 30}),
        json!({"type": "multi_criteria", "requirements": [
            {"field": "follower_count", "operator": ">=", "value": 100},
            {"field": "posts_count", "operator": "!=", "value": 0},
            {"field": "engagement_score", "operator": ">", "value": 80.5}], "logic": "OR"}),
        json!({"type": "event_based", "event_type": "review", "count": 10, "quality_threshold": 4.5}),
        json!({"type": "social_interaction", "interactions": ["like", "comment", "share"],
            "min_count": 500, "timeframe": "30d"}),
    ];
    for (i, criteria) in valid.iter().enumerate() {
        let (status, body) =
            post_criteria(&app, &root, &format!("Valid {i}"), criteria.clone()).await;
        assert_eq!(status, 201, "{criteria}: {body}");
    }
    // Normalised: defaults filled in, the seed's short event names resolved.
    let (_, body) = post_criteria(
        &app,
        &root,
        "Defaults",
        json!({"type": "multi_criteria", "requirements": [
            {"field": "posts_count", "operator": ">=", "value": 1}]}),
    )
    .await;
    assert_eq!(body["criteria"]["logic"], "AND");
    let (_, body) = post_criteria(
        &app,
        &root,
        "Short name",
        json!({"type": "event_based", "event_type": "review", "count": 3}),
    )
    .await;
    assert_eq!(body["criteria"]["event_type"], "review_create");
    assert_eq!(body["criteria"]["count"], 3);
    let id = body["id"].as_i64().unwrap();
    let read = get_json(&app, &root, &format!("/api/badges/{id}/"), 200).await;
    assert_eq!(read["criteria"], body["criteria"]);
    let (_, body) = post_criteria(
        &app,
        &root,
        "Sliding",
        json!({"type": "social_interaction", "interactions": ["like"], "min_count": 1}),
    )
    .await;
    assert_eq!(body["criteria"]["timeframe"], "all_time");
}

/// Every malformed document is a 400 naming the path inside `criteria`, and writes nothing.
async fn bad_criteria_point_at_the_path(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let cases = [
        (json!({"type": "points"}), "criteria.type"),
        (
            json!({"field": "posts_count", "threshold": 1}),
            "criteria.type",
        ),
        (json!("counter"), "criteria"),
        (
            json!({"type": "counter", "field": "posts_count", "threshold": 1, "extra": 1}),
            "criteria.extra",
        ),
        (
            json!({"type": "counter", "field": "karma", "threshold": 1}),
            "criteria.field",
        ),
        (
            json!({"type": "counter", "field": "posts_count"}),
            "criteria.threshold",
        ),
        (
            json!({"type": "counter", "field": "posts_count", "threshold": 0}),
            "criteria.threshold",
        ),
        (
            json!({"type": "counter", "field": "posts_count", "threshold": "ten"}),
            "criteria.threshold",
        ),
        (
            json!({"type": "consecutive_days", "action": "login", "days": 0}),
            "criteria.days",
        ),
        (
            json!({"type": "consecutive_days", "action": "sleep", "days": 3}),
            "criteria.action",
        ),
        (
            json!({"type": "multi_criteria", "requirements": []}),
            "criteria.requirements",
        ),
        (
            json!({"type": "multi_criteria", "requirements": [
            {"field": "posts_count", "operator": ">=", "value": 1},
            {"field": "posts_count", "operator": "=>", "value": 1}]}),
            "criteria.requirements[1].operator",
        ),
        (
            json!({"type": "multi_criteria", "requirements": [
            {"field": "posts_count", "operator": ">=", "value": 1, "weight": 2}]}),
            "criteria.requirements[0].weight",
        ),
        (
            json!({"type": "multi_criteria", "requirements": [
            {"field": "posts_count", "operator": ">=", "value": 1}], "logic": "XOR"}),
            "criteria.logic",
        ),
        (
            json!({"type": "event_based", "event_type": "teleport", "count": 1}),
            "criteria.event_type",
        ),
        (
            json!({"type": "event_based", "event_type": "review", "count": 0}),
            "criteria.count",
        ),
        (
            json!({"type": "event_based", "event_type": "review", "count": 1, "quality_threshold": 9}),
            "criteria.quality_threshold",
        ),
        (
            json!({"type": "social_interaction", "interactions": [], "min_count": 1}),
            "criteria.interactions",
        ),
        (
            json!({"type": "social_interaction", "interactions": ["like", "poke"], "min_count": 1}),
            "criteria.interactions[1]",
        ),
        (
            json!({"type": "social_interaction", "interactions": ["like"], "min_count": 1, "timeframe": "1y"}),
            "criteria.timeframe",
        ),
    ];
    for (i, (criteria, path)) in cases.iter().enumerate() {
        let (status, body) =
            post_criteria(&app, &root, &format!("Bad {i}"), criteria.clone()).await;
        assert_eq!(status, 400, "{criteria}: {body}");
        assert!(
            body.get(*path).is_some(),
            "{criteria}: expected {path} in {body}"
        );
    }
    let list = get_json(&app, &root, "/api/badges/", 200).await;
    assert_eq!(list["results"], json!([]), "nothing was written");
    let stats = analytics(&app, &root).await;
    assert_eq!(stats["total_badges_defined"], 0);
}

/// Points must lie in the rarity's band, inclusive at both ends; colours are `#RRGGBB`.
async fn rarity_bands_and_colours(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let cases = [
        ("common", 10, 201),
        ("common", 25, 201),
        ("common", 9, 400),
        ("common", 26, 400),
        ("rare", 50, 201),
        ("rare", 100, 201),
        ("rare", 49, 400),
        ("rare", 101, 400),
        ("epic", 150, 201),
        ("epic", 300, 201),
        ("epic", 149, 400),
        ("epic", 301, 400),
        ("legendary", 500, 201),
        ("legendary", 5000, 201),
        ("legendary", 499, 400),
    ];
    for (rarity, points, want) in cases {
        let response = app
            .post("/api/badges/")
            .bearer(&root.token)
            .json(badge_body(&format!("{rarity} {points}"), rarity, points))
            .send()
            .await;
        assert_eq!(
            response.status,
            want,
            "{rarity} {points}: {:?}",
            response.body_json()
        );
        if want == 400 {
            assert!(response.body_json()["points"].is_array());
        }
    }
    // PATCH keeps the band too: a common badge cannot be raised to 30, nor made epic at 20.
    let id = common_badge(&app, &root, "Patchable", 20).await;
    for patch in [json!({"points": 30}), json!({"rarity": "epic"})] {
        let response = app
            .patch(&format!("/api/badges/{id}/"))
            .bearer(&root.token)
            .json(patch.clone())
            .send()
            .await;
        assert_eq!(response.status, 400, "{patch}");
    }
    let response = app
        .patch(&format!("/api/badges/{id}/"))
        .bearer(&root.token)
        .json(json!({"rarity": "rare", "points": 75}))
        .send()
        .await;
    assert_eq!(response.status, 200, "{:?}", response.body_json());
    assert_eq!(response.body_json()["points"], 75);

    for color in ["#FFD70", "FFD700", "#GGGGGG", "#FFD7000"] {
        let mut body = badge_body(&format!("Colour {color}"), "common", 10);
        body["color"] = json!(color);
        let response = app
            .post("/api/badges/")
            .bearer(&root.token)
            .json(body)
            .send()
            .await;
        assert_eq!(response.status, 400, "{color}");
        assert!(response.body_json()["color"].is_array());
    }
    let mut body = badge_body("Lower case colour", "common", 10);
    body["color"] = json!("#ffd700");
    let response = app
        .post("/api/badges/")
        .bearer(&root.token)
        .json(body)
        .send()
        .await;
    assert_eq!(response.status, 201);
    assert_eq!(response.body_json()["color"], "#FFD700");
}

/// Names are unique in the store, case-insensitively, across create and rename; a freed name
/// can be used again.
async fn names_are_unique(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let first = common_badge(&app, &root, "First Post", 10).await;
    for name in ["First Post", "first post", "  FIRST POST "] {
        let response = app
            .post("/api/badges/")
            .bearer(&root.token)
            .json(badge_body(name, "common", 10))
            .send()
            .await;
        assert_eq!(response.status, 400, "{name}");
        assert_eq!(
            response.body_json()["name"],
            json!(["A badge with that name already exists."])
        );
    }
    let second = common_badge(&app, &root, "Second", 10).await;
    let response = app
        .patch(&format!("/api/badges/{second}/"))
        .bearer(&root.token)
        .json(json!({"name": "FIRST post"}))
        .send()
        .await;
    assert_eq!(response.status, 400);
    // Renaming frees the old name.
    let response = app
        .patch(&format!("/api/badges/{first}/"))
        .bearer(&root.token)
        .json(json!({"name": "Opening Post"}))
        .send()
        .await;
    assert_eq!(response.status, 200, "{:?}", response.body_json());
    common_badge(&app, &root, "First Post", 10).await;
    // A case-only rename of itself is fine.
    let response = app
        .patch(&format!("/api/badges/{first}/"))
        .bearer(&root.token)
        .json(json!({"name": "OPENING POST"}))
        .send()
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(analytics(&app, &root).await["total_badges_defined"], 3);
}

/// Everyone reads active badges (signed in or not); administrators read all and alone write.
async fn permissions_and_visibility(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let user = person(&app.app, 2).await;
    let moderator = person_with(&app.app, 3, accounts::model::Role::Moderator, false).await;
    let active = common_badge(&app, &root, "Visible", 10).await;
    let mut hidden = badge_body("Hidden", "rare", 60);
    hidden["is_active"] = json!(false);
    let inactive = create_badge(&app, &root, hidden).await;

    // Reads.
    let anon = app.get("/api/badges/").send().await;
    assert_eq!(anon.status, 200);
    let ids: Vec<i64> = anon.body_json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [active]);
    let user_list = get_json(&app, &user, "/api/badges/?is_active=false", 200).await;
    assert_eq!(user_list["results"], json!([]));
    get_json(&app, &user, &format!("/api/badges/{inactive}/"), 404).await;
    get_json(&app, &user, &format!("/api/badges/{active}/"), 200).await;
    assert_eq!(
        app.get(&format!("/api/badges/{inactive}/"))
            .send()
            .await
            .status,
        404
    );
    let all = get_json(&app, &root, "/api/badges/", 200).await;
    assert_eq!(all["results"].as_array().unwrap().len(), 2);
    let only_inactive = get_json(&app, &root, "/api/badges/?is_active=false", 200).await;
    assert_eq!(only_inactive["results"][0]["id"], inactive);
    get_json(&app, &root, &format!("/api/badges/{inactive}/"), 200).await;
    get_json(&app, &root, "/api/badges/999/", 404).await;
    get_json(&app, &root, "/api/badges/abc/", 404).await;

    // Writes: 401 without credentials, 403 for anyone but administrators.
    let body = badge_body("Nope", "common", 10);
    assert_eq!(
        app.post("/api/badges/")
            .json(body.clone())
            .send()
            .await
            .status,
        401
    );
    for who in [&user, &moderator] {
        let response = app
            .post("/api/badges/")
            .bearer(&who.token)
            .json(body.clone())
            .send()
            .await;
        assert_eq!(response.status, 403);
        let path = format!("/api/badges/{active}/");
        let response = app
            .patch(&path)
            .bearer(&who.token)
            .json(json!({"points": 20}))
            .send()
            .await;
        assert_eq!(response.status, 403);
        let response = app
            .put(&path)
            .bearer(&who.token)
            .json(body.clone())
            .send()
            .await;
        assert_eq!(response.status, 403);
        assert_eq!(
            app.delete(&path).bearer(&who.token).send().await.status,
            403
        );
    }
    // PUT needs every field without a default; PATCH does not.
    let path = format!("/api/badges/{active}/");
    let response = app
        .put(&path)
        .bearer(&root.token)
        .json(json!({"name": "Visible"}))
        .send()
        .await;
    assert_eq!(response.status, 400);
    assert!(response.body_json()["description"].is_array());
    let mut replacement = badge_body("Visible again", "epic", 200);
    replacement["category"] = json!("special");
    let response = app
        .put(&path)
        .bearer(&root.token)
        .json(replacement)
        .send()
        .await;
    assert_eq!(response.status, 200, "{:?}", response.body_json());
    assert_eq!(response.body_json()["category"], "special");
    let response = app
        .patch(&path)
        .bearer(&root.token)
        .json(json!({"surprise": 1}))
        .send()
        .await;
    assert_eq!(response.status, 400);
    // Deactivating hides it from everyone but administrators.
    let response = app
        .patch(&path)
        .bearer(&root.token)
        .json(json!({"is_active": false}))
        .send()
        .await;
    assert_eq!(response.status, 200);
    let anon = app.get("/api/badges/").send().await.body_json();
    assert_eq!(anon["results"], json!([]));
    let stats = analytics(&app, &root).await;
    assert_eq!(stats["total_badges_defined"], 2);
    assert_eq!(stats["active_badges"], 0);
}

/// `category`, `rarity` filters and cursor paging.
async fn filters_and_paging(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    for (name, category, rarity, points) in [
        ("A", "achievement", "common", 10),
        ("B", "activity", "common", 15),
        ("C", "activity", "rare", 60),
        ("D", "special", "legendary", 900),
        ("E", "activity", "rare", 70),
    ] {
        let mut body = badge_body(name, rarity, points);
        body["category"] = json!(category);
        create_badge(&app, &root, body).await;
    }
    let names = |body: &Json| -> Vec<String> {
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let user = person(&app.app, 2).await;
    let activity = get_json(&app, &user, "/api/badges/?category=activity", 200).await;
    assert_eq!(names(&activity), ["B", "C", "E"]);
    let rare = get_json(
        &app,
        &user,
        "/api/badges/?category=activity&rarity=rare",
        200,
    )
    .await;
    assert_eq!(names(&rare), ["C", "E"]);
    get_json(&app, &user, "/api/badges/?category=fun", 400).await;
    get_json(&app, &user, "/api/badges/?rarity=mythic", 400).await;

    let mut seen = Vec::new();
    let mut path = "/api/badges/?page_size=2".to_owned();
    loop {
        let page = get_json(&app, &user, &path, 200).await;
        assert!(page["results"].as_array().unwrap().len() <= 2);
        seen.extend(names(&page));
        match page["next"].as_str() {
            Some(next) => path = format!("/api/badges/?page_size=2&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen, ["A", "B", "C", "D", "E"]);
}

/// Deleting a definition revokes its awards, gives back their points, and fixes the
/// aggregates; the name is free afterwards; a second DELETE is 404.
async fn delete_removes_awards_and_points(t: TestTable) {
    let app = TestApp::new(t).await;
    let root = admin(&app.app, 1).await;
    let doomed = create_badge(&app, &root, badge_body("Doomed", "rare", 80)).await;
    let kept = common_badge(&app, &root, "Kept", 20).await;
    let users = [
        person(&app.app, 2).await,
        person(&app.app, 3).await,
        person(&app.app, 4).await,
    ];
    for u in &users {
        award_ok(&app, &root, u.id, doomed).await;
    }
    award_ok(&app, &root, users[0].id, kept).await;
    assert_eq!(badge_points(&app.app, users[0].id).await, 100);

    let response = app
        .delete(&format!("/api/badges/{doomed}/"))
        .bearer(&root.token)
        .send()
        .await;
    assert_eq!(response.status, 204, "{:?}", response.body_json());
    assert_eq!(badge_points(&app.app, users[0].id).await, 20);
    assert_eq!(badge_points(&app.app, users[1].id).await, 0);
    let held = get_json(&app, &users[1], "/api/user-badges/", 200).await;
    assert_eq!(held["count"], 0);
    assert_eq!(held["results"], json!([]));
    let stats = analytics(&app, &root).await;
    assert_eq!(stats["total_badges_defined"], 1);
    assert_eq!(stats["active_badges"], 1);
    assert_eq!(stats["total_awards"], 1);
    assert_eq!(stats["unique_badge_holders"], 1);
    assert_eq!(
        stats["rarity_distribution"][1],
        json!({"rarity": "rare", "count": 0})
    );
    let board = get_json(&app, &root, "/api/badges/leaderboard/", 200).await;
    assert_eq!(board["results"].as_array().unwrap().len(), 1);
    assert_eq!(board["results"][0]["badge_points"], 20);
    assert_eq!(
        app.delete(&format!("/api/badges/{doomed}/"))
            .bearer(&root.token)
            .send()
            .await
            .status,
        404
    );
    create_badge(&app, &root, badge_body("Doomed", "rare", 80)).await;
}

both_engines!(
    each_criteria_type_is_accepted,
    bad_criteria_point_at_the_path,
    rarity_bands_and_colours,
    names_are_unique,
    permissions_and_visibility,
    filters_and_paging,
    delete_removes_awards_and_points
);
