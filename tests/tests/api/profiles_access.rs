//! Who may do what with profiles, professional profiles and settings (the permission matrix),
//! and what privacy lets each viewer see (the privacy test), through the HTTP API on both
//! engines.

use crate::profiles_common;

use accounts::activity::events::EventType;
use accounts::model::Role;
use api_tests::app::TestApp;
use api_tests::fixtures::{Person, complete_person, events_of};
use api_tests::{TestTable, both_engines};
use profiles_common::*;
use serde_json::{Value as Json, json};

/// The documented refusal of a write to a profile one may see but not write
/// (docs/profiles.md, `profile::check_write`): 403; 404 is only for a user one may not see at
/// all (blocked either way), which the block section below checks.
fn denied(status: u16) -> bool {
    status == 403
}

/// A second ordinary user, a moderator and an admin act on the first user's profile,
/// professional profile and settings with every method of every endpoint; the ordinary user and
/// the moderator are refused writes (403, as documented) and nothing of the first user changes; the admin
/// has exactly the documented rights.
async fn permission_matrix(t: TestTable) {
    let app = TestApp::new(t).await;
    let owner = complete_person(&app.app, 1, "owner1", Role::Professional).await;
    let other = complete_person(&app.app, 2, "other2", Role::Normal).await;
    let moderator = complete_person(&app.app, 3, "mod3", Role::Moderator).await;
    let admin = complete_person(&app.app, 4, "admin4", Role::Admin).await;
    let (status, body) = post(
        &app,
        &owner,
        "/api/professional-profiles/",
        json!({"company_name": "Acme", "years_experience": 5}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // Warm every token up (the first request of a session may write its activity).
    for u in [&owner, &other, &moderator, &admin] {
        assert_eq!(get(&app, u, "/api/settings/").await.0, 200);
    }

    let profile = format!("/api/profiles/{}/", owner.id);
    let pro = format!("/api/professional-profiles/{}/", owner.id);
    let verify = format!("/api/professional-profiles/{}/verify/", owner.id);
    let before = snapshot(&app, owner.id).await;

    for actor in [&other, &moderator] {
        let name = &actor.username;
        let change = json!({"bio": "hijacked", "show_email": true});
        let (s, b) = put(&app, actor, &profile, change.clone()).await;
        assert!(denied(s), "{name} PUT profile: {s} {b}");
        let (s, b) = patch(&app, actor, &profile, change).await;
        assert!(denied(s), "{name} PATCH profile: {s} {b}");
        let (s, b) = post(&app, actor, "/api/profiles/", json!({"user": owner.id.0})).await;
        assert!(denied(s), "{name} POST profile for another: {s} {b}");
        let (s, b) = put(&app, actor, &pro, json!({"company_name": "Evil"})).await;
        assert!(denied(s), "{name} PUT professional: {s} {b}");
        let (s, b) = patch(&app, actor, &pro, json!({"company_name": "Evil"})).await;
        assert!(denied(s), "{name} PATCH professional: {s} {b}");
        let (s, b) = delete(&app, actor, &pro).await;
        assert!(denied(s), "{name} DELETE professional: {s} {b}");
        let (s, b) = post(&app, actor, &verify, json!({})).await;
        assert!(denied(s), "{name} verify: {s} {b}");
        // Settings are always the caller's own: naming another user changes nothing of theirs.
        let (s, b) = patch(
            &app,
            actor,
            "/api/settings/",
            json!({"user_id": owner.id.0, "theme": "dark"}),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["user_id"], json!(actor.id.0));
        let (s, b) = put(&app, actor, "/api/settings/", json!({"language": "de"})).await;
        assert_eq!(s, 200, "{b}");
        // Reads: the profile and professional profile are readable, the private fields not.
        let (s, b) = get(&app, &other, &profile).await;
        assert_eq!(s, 200);
        assert!(
            b.get("email").is_none() && b.get("date_of_birth").is_none(),
            "{b}"
        );
        assert_eq!(get(&app, actor, &pro).await.0, 200);
    }
    // The owner may not verify their own professional profile.
    let (s, b) = post(&app, &owner, &verify, json!({})).await;
    assert_eq!(s, 403, "{b}");
    assert_eq!(
        snapshot(&app, owner.id).await,
        before,
        "a refused request wrote something"
    );

    // Moderators see every field; ordinary users do not.
    let (_, b) = get(&app, &moderator, &profile).await;
    assert_eq!(b["email"], "owner1@example.com");

    // Blocked either way: the profile and the professional profile are 404, writes too.
    block(&app, &owner, &other).await;
    let before = snapshot(&app, owner.id).await;
    assert_eq!(get(&app, &other, &profile).await.0, 404);
    assert_eq!(get(&app, &other, &pro).await.0, 404);
    assert_eq!(
        patch(&app, &other, &profile, json!({"bio": "x"})).await.0,
        404
    );
    assert_eq!(
        patch(&app, &other, &pro, json!({"job_title": "x"})).await.0,
        404
    );
    assert_eq!(delete(&app, &other, &pro).await.0, 404);
    let (_, list) = get(&app, &other, "/api/profiles/?search=owner").await;
    assert_eq!(list["results"], json!([]), "blocked users are not listed");
    assert_eq!(snapshot(&app, owner.id).await, before);

    // Admins: edit the profile and the professional profile, verify, delete.
    let (s, b) = patch(&app, &admin, &profile, json!({"bio": "edited by admin"})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["bio"], "edited by admin");
    let (s, b) = post(&app, &admin, &verify, json!({})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["is_verified"], true);
    let (s, b) = patch(&app, &admin, &pro, json!({"job_title": "CEO"})).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = post(&app, &admin, "/api/profiles/", json!({"user": owner.id.0})).await;
    assert_eq!(s, 400, "the profile exists: {b}");
    let (s, _) = delete(&app, &admin, &pro).await;
    assert_eq!(s, 204);
    assert_eq!(get(&app, &owner, &pro).await.0, 404);
}

/// Roles: only admins and owners change roles, nobody their own, only an owner grants or
/// removes the owner role; a refused change writes nothing.
async fn role_changes(t: TestTable) {
    let app = TestApp::new(t).await;
    let normal = complete_person(&app.app, 1, "normal1", Role::Normal).await;
    let moderator = complete_person(&app.app, 2, "mod2", Role::Moderator).await;
    let admin = complete_person(&app.app, 3, "admin3", Role::Admin).await;
    let owner = complete_person(&app.app, 4, "owner4", Role::Owner).await;
    let path = |u: &Person| format!("/api/profiles/{}/", u.id);

    let before = snapshot(&app, normal.id).await;
    let (s, b) = patch(&app, &normal, &path(&normal), json!({"role": "admin"})).await;
    assert_eq!(s, 403, "self-promotion: {b}");
    let (s, _) = patch(
        &app,
        &moderator,
        &path(&normal),
        json!({"role": "moderator"}),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = patch(&app, &admin, &path(&normal), json!({"role": "owner"})).await;
    assert_eq!(s, 403, "an admin does not make owners");
    let (s, b) = patch(&app, &admin, &path(&normal), json!({"role": "wizard"})).await;
    assert_eq!(s, 400);
    assert!(
        b["role"][0].as_str().unwrap().contains("data_provider"),
        "{b}"
    );
    assert_eq!(snapshot(&app, normal.id).await, before);

    let (s, b) = patch(&app, &admin, &path(&admin), json!({"role": "owner"})).await;
    assert_eq!(s, 403, "nobody promotes themselves: {b}");
    let (s, _) = patch(&app, &owner, &path(&owner), json!({"role": "admin"})).await;
    assert_eq!(s, 403, "nor changes their own role");
    let (s, _) = patch(&app, &admin, &path(&owner), json!({"role": "normal"})).await;
    assert_eq!(s, 403, "an admin does not demote an owner");

    // The users API answers each of these refusals alike, status and detail (one rule set,
    // `access::may_change_role`), and writes nothing either.
    let refusals = [
        (&normal, &normal, "admin"),
        (&admin, &normal, "owner"),
        (&admin, &admin, "owner"),
        (&owner, &owner, "admin"),
        (&admin, &owner, "normal"),
    ];
    for (who, whom, role) in refusals {
        let through_profile = patch(&app, who, &path(whom), json!({ "role": role })).await;
        let users_path = format!("/api/users/{}/", whom.id);
        let through_users = patch(&app, who, &users_path, json!({ "role": role })).await;
        assert_eq!(through_profile.0, 403, "{:?}", through_profile.1);
        assert_eq!(
            (through_users.0, &through_users.1["detail"]),
            (through_profile.0, &through_profile.1["detail"]),
            "{role} for {} by {}",
            whom.id,
            who.id
        );
    }
    assert_eq!(snapshot(&app, normal.id).await, before);

    // Sending the current role back is a round trip, not a change.
    let (s, _) = patch(&app, &normal, &path(&normal), json!({"role": "normal"})).await;
    assert_eq!(s, 200);
    let (s, b) = patch(&app, &admin, &path(&normal), json!({"role": "moderator"})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["role"], "moderator");
    // The same security event as the users API logs: `role_change` on the account, the
    // staff member's `admin_action` on theirs; no `profile_update` for a role alone.
    let changes = events_of(&app.app, normal.id, EventType::RoleChange).await;
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].metadata["from"], "normal");
    assert_eq!(changes[0].metadata["to"], "moderator");
    let actions = events_of(&app.app, admin.id, EventType::AdminAction).await;
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0].metadata["action"], "role_change");
    assert!(
        events_of(&app.app, admin.id, EventType::ProfileUpdate)
            .await
            .is_empty()
    );
    let (s, b) = patch(&app, &owner, &path(&normal), json!({"role": "owner"})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["role"], "owner");
}

/// What the three viewers see of one profile.
async fn views(app: &TestApp, viewers: [&Person; 3], path: &str) -> [Json; 3] {
    [
        get(app, viewers[0], path).await.1,
        get(app, viewers[1], path).await.1,
        get(app, viewers[2], path).await.1,
    ]
}

/// Each `show_*` flag and `is_private`, seen by a stranger, a follower and the owner.
async fn privacy(t: TestTable) {
    let app = TestApp::new(t).await;
    let owner = complete_person(&app.app, 1, "owner1", Role::Normal).await;
    let stranger = complete_person(&app.app, 2, "stranger2", Role::Normal).await;
    let follower = complete_person(&app.app, 3, "follower3", Role::Normal).await;
    let path = format!("/api/profiles/{}/", owner.id);
    let (s, b) = patch(
        &app,
        &owner,
        &path,
        json!({
            "first_name": "Olga", "phone_number": "+14155552671", "country": "de",
            "city": "Berlin", "show_email": false, "show_phone": false,
            "show_location": false, "bio": "hello"
        }),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    follow(&app, &follower, &owner).await;

    // Every flag off: neither the stranger nor the follower sees email, phone or location.
    let [s_view, f_view, o_view] = views(&app, [&stranger, &follower, &owner], &path).await;
    for v in [&s_view, &f_view] {
        for hidden in [
            "email",
            "phone_number",
            "country",
            "city",
            "location",
            "date_of_birth",
        ] {
            assert!(v.get(hidden).is_none(), "{hidden} leaked: {v}");
        }
        assert_eq!(v["bio"], "hello");
    }
    assert_eq!(o_view["email"], "owner1@example.com");
    assert_eq!(o_view["phone_number"], "+14155552671");
    assert_eq!(o_view["location"], "Berlin, DE");

    // Each flag on its own shows exactly its fields.
    let cases: [(&str, &[(&str, Json)]); 3] = [
        ("show_email", &[("email", json!("owner1@example.com"))]),
        ("show_phone", &[("phone_number", json!("+14155552671"))]),
        (
            "show_location",
            &[
                ("country", json!("DE")),
                ("city", json!("Berlin")),
                ("location", json!("Berlin, DE")),
            ],
        ),
    ];
    for (flag, shown) in cases {
        let all_off = json!({"show_email": false, "show_phone": false, "show_location": false});
        assert_eq!(patch(&app, &owner, &path, all_off).await.0, 200);
        assert_eq!(
            patch(&app, &owner, &path, json!({ flag: true })).await.0,
            200
        );
        let [s_view, f_view, _] = views(&app, [&stranger, &follower, &owner], &path).await;
        for v in [&s_view, &f_view] {
            for (field, value) in shown {
                assert_eq!(v.get(*field), Some(value), "{flag}: {field} in {v}");
            }
            for other in ["email", "phone_number", "location"] {
                if !shown.iter().any(|(f, _)| *f == other) {
                    assert!(v.get(other).is_none(), "{flag} showed {other}: {v}");
                }
            }
        }
    }

    // Private: the stranger sees the card only, the follower the public view, the owner all.
    let on =
        json!({"is_private": true, "show_email": true, "show_phone": true, "show_location": true});
    assert_eq!(patch(&app, &owner, &path, on).await.0, 200);
    let [s_view, f_view, o_view] = views(&app, [&stranger, &follower, &owner], &path).await;
    let mut card_keys: Vec<&String> = s_view.as_object().unwrap().keys().collect();
    card_keys.sort();
    assert_eq!(
        card_keys,
        [
            "display_name",
            "follower_count",
            "following_count",
            "id",
            "is_private",
            "posts_count",
            "profile_picture",
            "username"
        ],
        "{s_view}"
    );
    assert_eq!(s_view["display_name"], "Olga");
    assert_eq!(f_view["email"], "owner1@example.com");
    assert_eq!(f_view["bio"], "hello");
    assert_eq!(o_view["is_private"], true);
    assert_eq!(o_view["date_of_birth"], Json::Null);
    // Lists answer as the profile does (`access::profile_visibility`): the card to the
    // stranger, the public view to the follower.
    let (_, list) = get(&app, &stranger, "/api/profiles/?search=owner").await;
    assert!(list["results"][0].get("bio").is_none(), "{list}");
    let (_, list) = get(&app, &follower, "/api/profiles/?search=owner").await;
    assert_eq!(list["results"][0]["bio"], "hello", "{list}");
    assert_eq!(list["results"][0]["email"], "owner1@example.com", "{list}");
    let (_, list) = get(&app, &stranger, "/api/users/?search=owner").await;
    assert!(list["results"][0].get("bio").is_none(), "{list}");
    let (_, list) = get(&app, &follower, "/api/users/?search=owner").await;
    assert_eq!(list["results"][0]["bio"], "hello", "{list}");

    // A pending request is approved when the account turns public again.
    let (s, b) = post(
        &app,
        &stranger,
        "/api/follows/",
        json!({"following": owner.id.0}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["status"], "pending");
    assert_eq!(
        patch(&app, &owner, &path, json!({"is_private": false}))
            .await
            .0,
        200
    );
    assert!(
        accounts::social::is_following(&app.app, stranger.id, owner.id)
            .await
            .unwrap()
    );
    let (_, settings) = get(&app, &owner, "/api/settings/").await;
    assert_eq!(settings["profile_visibility"], "public");

    // Blocked either way: 404 to the blocked one, and to the one who blocked.
    block(&app, &stranger, &owner).await;
    assert_eq!(get(&app, &stranger, &path).await.0, 404);
    let back = format!("/api/profiles/{}/", stranger.id);
    assert_eq!(get(&app, &owner, &back).await.0, 404);
}

both_engines!(permission_matrix, role_changes, privacy);
