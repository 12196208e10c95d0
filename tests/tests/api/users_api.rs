//! `/api/users/`: the list (index, search, filters, cursors, views), administrators creating
//! accounts, username and email changes, roles, suspension.

use accounts::model::{Role, UserId};
use accounts::store::keys;
use api_tests::app::TestApp;
use api_tests::fixtures::{
    PASSWORD, Person, access_token, account, call, event_types, member, profile_item,
};
use api_tests::{TestTable, both_engines};
use http::Method;
use serde_json::{Value as Json, json};

fn usernames(body: &Json) -> Vec<String> {
    body["results"]
        .as_array()
        .expect("a results list")
        .iter()
        .map(|u| u["username"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn get(app: &TestApp, who: &Person, path: &str) -> (u16, Json) {
    call(app, who, Method::GET, path, None).await
}

both_engines!(
    async fn list_pages_searches_and_filters(t: TestTable) {
        let app = TestApp::new(t).await;
        let admin = member(&app, "zed_admin", Role::Admin).await;
        let alice = member(&app, "Alice", Role::Normal).await;
        for name in ["alicia", "bob", "carol"] {
            account(&app.app, name, Role::Normal, true).await;
        }
        account(&app.app, "unverified_ursula", Role::Normal, false).await;
        account(&app.app, "moritz", Role::Moderator, true).await;

        // Anonymous callers are refused.
        let response = app.get("/api/users/").send().await;
        assert_eq!(response.status, 401);

        // Every account, in username order, page by page, without a count.
        let mut seen = Vec::new();
        let mut path = "/api/users/?page_size=3".to_owned();
        loop {
            let (status, body) = get(&app, &admin, &path).await;
            assert_eq!(status, 200, "{body}");
            assert!(body.get("count").is_none(), "{body}");
            assert!(body["previous"].is_null());
            let page = usernames(&body);
            assert!(page.len() <= 3);
            seen.extend(page);
            match body["next"].as_str() {
                Some(next) => path = format!("/api/users/?page_size=3&cursor={next}"),
                None => break,
            }
        }
        assert_eq!(
            seen,
            [
                "Alice",
                "alicia",
                "bob",
                "carol",
                "moritz",
                "unverified_ursula",
                "zed_admin"
            ]
        );

        // Administrators see every field.
        let (_, body) = get(&app, &admin, "/api/users/?search=bob").await;
        let bob = &body["results"][0];
        assert_eq!(bob["email"], "bob@example.com");
        assert_eq!(bob["is_verified"], true);
        assert!(bob.get("password_hash").is_none() && bob.get("last_active_epoch").is_none());

        // Search is a case-insensitive username prefix.
        let (_, body) = get(&app, &admin, "/api/users/?search=ALI").await;
        assert_eq!(usernames(&body), ["Alice", "alicia"]);
        let (_, body) = get(&app, &admin, "/api/users/?search=nobody").await;
        assert_eq!(usernames(&body), Vec::<String>::new());

        // Filters for administrators.
        let (_, body) = get(&app, &admin, "/api/users/?role=moderator").await;
        assert_eq!(usernames(&body), ["moritz"]);
        let (_, body) = get(&app, &admin, "/api/users/?is_verified=false").await;
        assert_eq!(usernames(&body), ["unverified_ursula"]);
        let (status, body) = get(&app, &admin, "/api/users/?role=king").await;
        assert_eq!(status, 400);
        assert!(body["role"].is_array(), "{body}");

        // Others: the public view, only verified accounts, no filters on role or verification.
        let (status, body) = get(&app, &alice, "/api/users/").await;
        assert_eq!(status, 200);
        assert_eq!(
            usernames(&body),
            ["Alice", "alicia", "bob", "carol", "moritz", "zed_admin"]
        );
        let bob = &body["results"][2];
        assert!(bob.get("email").is_none(), "{bob}");
        assert!(bob.get("is_suspended").is_none() && bob.get("suspension_reason").is_none());
        for filter in ["role=admin", "is_verified=true"] {
            let (status, body) = get(&app, &alice, &format!("/api/users/?{filter}")).await;
            assert_eq!(status, 400, "{filter}: {body}");
        }

        // Bad paging input is a 400, not a 500.
        for bad in [
            "page_size=0",
            "page_size=101",
            "page_size=x",
            "cursor=%21%21",
        ] {
            let (status, body) = get(&app, &admin, &format!("/api/users/?{bad}")).await;
            assert_eq!(status, 400, "{bad}: {body}");
        }
    }
);

both_engines!(
    async fn list_hides_suspended_and_blocked_accounts_from_others(t: TestTable) {
        let app = TestApp::new(t).await;
        let admin = member(&app, "admin", Role::Admin).await;
        let alice = member(&app, "alice", Role::Normal).await;
        let bob = member(&app, "bob", Role::Normal).await;
        let carol = account(&app.app, "carol", Role::Normal, true).await;

        let (status, body) = call(
            &app,
            &admin,
            Method::POST,
            &format!("/api/users/{carol}/suspend/"),
            Some(json!({"reason": "spam"})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = call(
            &app,
            &alice,
            Method::POST,
            "/api/blocks/",
            Some(json!({"blocked": bob.id})),
        )
        .await;
        assert_eq!(status, 201, "{body}");

        let (_, body) = get(&app, &alice, "/api/users/").await;
        assert_eq!(usernames(&body), ["admin", "alice"]);
        let (_, body) = get(&app, &bob, "/api/users/").await;
        assert_eq!(usernames(&body), ["admin", "bob"]);
        // Administrators still see everyone, suspension included.
        let (_, body) = get(&app, &admin, "/api/users/?search=carol").await;
        assert_eq!(body["results"][0]["is_suspended"], true);
        assert_eq!(body["results"][0]["suspension_reason"], "spam");
    }
);

both_engines!(
    async fn administrators_create_accounts(t: TestTable) {
        let app = TestApp::new(t).await;
        let admin = member(&app, "admin", Role::Admin).await;
        let alice = member(&app, "alice", Role::Normal).await;

        let (status, body) = call(
            &app,
            &admin,
            Method::POST,
            "/api/users/",
            Some(json!({
                "username": "newbie", "email": "newbie@example.com", "password": PASSWORD,
                "first_name": "New", "role": "professional", "is_verified": true
            })),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["role"], "professional");
        assert_eq!(body["is_verified"], true);
        assert_eq!(body["first_name"], "New");
        let id = body["id"].as_i64().unwrap();
        // Profile, credentials and settings exist; a verified account gets no code.
        assert!(profile_item(&app.app, UserId(id)).await.is_some());
        for key in [keys::credentials(UserId(id)), keys::settings(UserId(id))] {
            assert!(
                app.table().get(&key, true).await.unwrap().is_some(),
                "{key:?}"
            );
        }
        assert!(app.last_code_for("newbie@example.com").is_none());
        access_token(&app, "newbie").await;

        // Unverified: a code goes out, and the account must verify before using the API.
        let (status, body) = call(
            &app,
            &admin,
            Method::POST,
            "/api/users/",
            Some(json!({"username": "later", "email": "later@example.com", "password": PASSWORD})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["is_verified"], false);
        assert_eq!(body["role"], "normal");
        assert!(app.last_code_for("later@example.com").is_some());

        // Registration's validation and uniqueness hold.
        let (status, body) = call(
            &app,
            &admin,
            Method::POST,
            "/api/users/",
            Some(json!({"username": "NEWBIE", "email": "x@example", "password": "short"})),
        )
        .await;
        assert_eq!(status, 400);
        for field in ["email", "password"] {
            assert!(body[field].is_array(), "{field}: {body}");
        }
        let (status, body) = call(
            &app,
            &admin,
            Method::POST,
            "/api/users/",
            Some(json!({"username": "NEWBIE", "email": "other@example.com", "password": PASSWORD})),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(
            body["username"][0],
            "A user with that username already exists."
        );

        // Only an owner makes owners; only administrators create accounts at all.
        let (status, body) = call(
            &app,
            &admin,
            Method::POST,
            "/api/users/",
            Some(json!({"username": "boss", "email": "boss@example.com", "password": PASSWORD, "role": "owner"})),
        )
        .await;
        // A permission refusal, as for every role change (`access::may_change_role`).
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["detail"], "Only an owner can grant the role owner.");
        let (status, _) = call(
            &app,
            &alice,
            Method::POST,
            "/api/users/",
            Some(
                json!({"username": "sneaky", "email": "sneaky@example.com", "password": PASSWORD}),
            ),
        )
        .await;
        assert_eq!(status, 403);
        let (_, body) = get(&app, &admin, "/api/users/?search=sneaky").await;
        assert_eq!(usernames(&body), Vec::<String>::new());
        let (_, body) = get(&app, &admin, "/api/users/?search=boss").await;
        assert_eq!(usernames(&body), Vec::<String>::new());
    }
);

both_engines!(
    async fn username_and_email_changes_move_the_unique_items(t: TestTable) {
        let app = TestApp::new(t).await;
        let alice = member(&app, "alice", Role::Normal).await;
        let bob = member(&app, "bob", Role::Normal).await;
        let path = format!("/api/users/{}/", alice.id);

        // Taken names and addresses are refused, and nothing changes.
        let (status, body) = call(
            &app,
            &alice,
            Method::PATCH,
            &path,
            Some(json!({"username": "BOB"})),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(
            body["username"][0],
            "A user with that username already exists."
        );
        let (status, body) = call(
            &app,
            &alice,
            Method::PATCH,
            &path,
            Some(json!({"username": "alice2", "email": "bob@example.com", "current_password": PASSWORD})),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(body["email"][0], "A user with that email already exists.");
        let (_, body) = get(&app, &alice, &path).await;
        assert_eq!(body["username"], "alice");

        // A new username: the index and the unique items follow it in one go.
        let (status, body) = call(
            &app,
            &alice,
            Method::PATCH,
            &path,
            Some(json!({"username": "Alicia", "first_name": "Alice"})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["username"], "Alicia");
        assert_eq!(body["first_name"], "Alice");
        assert_eq!(body["is_verified"], true);
        let (_, list) = get(&app, &bob, "/api/users/?search=ali").await;
        assert_eq!(usernames(&list), ["Alicia"]);
        assert!(
            app.table()
                .get(&keys::unique_username("alice"), true)
                .await
                .unwrap()
                .is_none()
        );
        // The old name is free at once: bob takes it; the new one is alice's.
        let (status, body) = call(
            &app,
            &bob,
            Method::PATCH,
            &format!("/api/users/{}/", bob.id),
            Some(json!({"username": "alice"})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let (status, _) = call(
            &app,
            &bob,
            Method::PATCH,
            &format!("/api/users/{}/", bob.id),
            Some(json!({"username": "alicia"})),
        )
        .await;
        assert_eq!(status, 400);
        access_token(&app, "Alicia").await;

        // A new email address is only pending (security_email_change.rs has the whole flow):
        // the account keeps its verified old address until the new one's code comes back.
        let (status, body) = call(
            &app,
            &alice,
            Method::PUT,
            &path,
            Some(json!({"username": "Alicia", "email": "new@example.org", "current_password": PASSWORD})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["email"], "alice@example.com");
        assert_eq!(body["pending_email"], "new@example.org");
        assert_eq!(body["is_verified"], true);
        let code = app
            .last_code_for("new@example.org")
            .expect("a code to the new address");
        let (status, body) = call(
            &app,
            &alice,
            Method::POST,
            &format!("/api/users/{}/email/confirm/", alice.id),
            Some(json!({"code": code})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["email"], "new@example.org");
        assert_eq!(body["is_verified"], true);
        let owner = app
            .table()
            .get(&keys::unique_email("new@example.org"), true)
            .await
            .unwrap()
            .expect("the new unique item");
        assert_eq!(owner["user_id"].as_i64(), Some(alice.id.0));

        // PUT needs both identity fields; bad values are field errors.
        let (status, body) = call(&app, &alice, Method::PUT, &path, Some(json!({}))).await;
        assert_eq!(status, 400);
        assert!(
            body["username"].is_array() && body["email"].is_array(),
            "{body}"
        );
        let (status, body) = call(
            &app,
            &alice,
            Method::PATCH,
            &path,
            Some(json!({"username": "a b", "last_name": "x".repeat(151)})),
        )
        .await;
        assert_eq!(status, 400);
        assert!(
            body["username"].is_array() && body["last_name"].is_array(),
            "{body}"
        );
    }
);

both_engines!(
    async fn roles_change_only_by_administrators_and_never_ones_own(t: TestTable) {
        let app = TestApp::new(t).await;
        let owner = member(&app, "owner", Role::Owner).await;
        let admin = member(&app, "admin", Role::Admin).await;
        let alice = member(&app, "alice", Role::Normal).await;
        let alice_path = format!("/api/users/{}/", alice.id);

        // Promoting oneself is refused as through the profile (403, `access::may_change_role`),
        // and nothing changes.
        let (status, body) = call(
            &app,
            &alice,
            Method::PATCH,
            &alice_path,
            Some(json!({"role": "admin", "is_verified": true})),
        )
        .await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["detail"], "Only administrators can change roles.");
        // Sending back the values one has is fine (a PUT of what GET returned).
        let (_, mine) = get(&app, &alice, &alice_path).await;
        let (status, body) = call(&app, &alice, Method::PUT, &alice_path, Some(mine)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["role"], "normal");

        let (status, body) = call(
            &app,
            &admin,
            Method::PATCH,
            &alice_path,
            Some(json!({"role": "moderator"})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["role"], "moderator");
        // Not one's own role, not the owner role, not an account that outranks one's own: each
        // a 403, as through the profile (`access::may_change_role`, one rule set).
        let (status, body) = call(
            &app,
            &admin,
            Method::PATCH,
            &format!("/api/users/{}/", admin.id),
            Some(json!({"role": "normal"})),
        )
        .await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["detail"], "You cannot change your own role.");
        let (profile_status, profile_body) = call(
            &app,
            &admin,
            Method::PATCH,
            &format!("/api/profiles/{}/", admin.id),
            Some(json!({"role": "normal"})),
        )
        .await;
        assert_eq!((profile_status, &profile_body), (status, &body));
        let (status, body) = call(
            &app,
            &admin,
            Method::PATCH,
            &alice_path,
            Some(json!({"role": "owner"})),
        )
        .await;
        assert_eq!(status, 403, "{body}");
        let (profile_status, profile_body) = call(
            &app,
            &admin,
            Method::PATCH,
            &format!("/api/profiles/{}/", alice.id),
            Some(json!({"role": "owner"})),
        )
        .await;
        assert_eq!((profile_status, &profile_body), (status, &body));
        let (status, _) = call(
            &app,
            &admin,
            Method::PATCH,
            &format!("/api/users/{}/", owner.id),
            Some(json!({"first_name": "Demoted"})),
        )
        .await;
        assert_eq!(status, 403);
        // Nor erase one, nor suspend one.
        let owner_path = format!("/api/users/{}/", owner.id);
        let (status, _) = call(&app, &admin, Method::DELETE, &owner_path, None).await;
        assert_eq!(status, 403);
        let (status, _) = call(
            &app,
            &admin,
            Method::POST,
            &format!("/api/users/{}/suspend/", owner.id),
            Some(json!({"reason": "coup"})),
        )
        .await;
        assert_eq!(status, 403);
        let stored = profile_item(&app.app, owner.id)
            .await
            .expect("the owner is still there");
        assert_eq!(stored["is_suspended"].as_bool(), Some(false));
        // An owner may make owners.
        let (status, body) = call(
            &app,
            &owner,
            Method::PATCH,
            &alice_path,
            Some(json!({"role": "owner"})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["role"], "owner");
        let stored = profile_item(&app.app, alice.id).await.unwrap();
        assert_eq!(stored["role"].as_str(), Some("owner"));
    }
);

both_engines!(
    async fn suspension_ends_sessions_and_is_staff_only(t: TestTable) {
        let app = TestApp::new(t).await;
        let admin = member(&app, "admin", Role::Admin).await;
        let moderator = member(&app, "moderator", Role::Moderator).await;
        let alice = member(&app, "alice", Role::Normal).await;
        let bob = member(&app, "bob", Role::Normal).await;
        let suspend = format!("/api/users/{}/suspend/", alice.id);
        let unsuspend = format!("/api/users/{}/unsuspend/", alice.id);

        // Not for ordinary users; a reason is required.
        let (status, _) = call(
            &app,
            &bob,
            Method::POST,
            &suspend,
            Some(json!({"reason": "x"})),
        )
        .await;
        assert_eq!(status, 403);
        let (status, body) = call(
            &app,
            &moderator,
            Method::POST,
            &suspend,
            Some(json!({"reason": " "})),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert!(body["reason"].is_array());
        // Moderators do not suspend administrators, nobody suspends themselves.
        let (status, _) = call(
            &app,
            &moderator,
            Method::POST,
            &format!("/api/users/{}/suspend/", admin.id),
            Some(json!({"reason": "x"})),
        )
        .await;
        assert_eq!(status, 403);
        let (status, _) = call(
            &app,
            &admin,
            Method::POST,
            &format!("/api/users/{}/suspend/", admin.id),
            Some(json!({"reason": "x"})),
        )
        .await;
        assert_eq!(status, 403);
        assert_eq!(
            profile_item(&app.app, admin.id).await.unwrap()["is_suspended"].as_bool(),
            Some(false)
        );

        let (status, body) = call(
            &app,
            &moderator,
            Method::POST,
            &suspend,
            Some(json!({"reason": "Spamming"})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["is_suspended"], true);
        assert_eq!(body["suspension_reason"], "Spamming");
        // Her session ended: the token she holds no longer works, and she cannot log in.
        let active = accounts::auth::sessions::active_session_ids(&app.app, alice.id)
            .await
            .unwrap();
        assert!(active.is_empty(), "{active:?}");
        let (status, _) = get(&app, &alice, &format!("/api/users/{}/", alice.id)).await;
        assert_eq!(status, 401);
        let response = app
            .post("/api/auth/jwt/login/")
            .json(json!({"username": "alice", "password": PASSWORD}))
            .send()
            .await;
        assert_eq!(response.status, 403);
        assert!(has_event(&app, alice.id, "account_suspended").await);

        let (status, body) = call(&app, &moderator, Method::POST, &unsuspend, None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["is_suspended"], false);
        assert_eq!(body["suspension_reason"], "");
        access_token(&app, "alice").await;
        assert!(has_event(&app, alice.id, "account_unsuspended").await);

        let (status, _) = call(
            &app,
            &admin,
            Method::POST,
            "/api/users/999/suspend/",
            Some(json!({"reason": "x"})),
        )
        .await;
        assert_eq!(status, 404);
    }
);

/// Whether the user's partition holds an event of this type.
async fn has_event(app: &TestApp, user: UserId, event_type: &str) -> bool {
    event_types(app, user).await.iter().any(|t| t == event_type)
}

both_engines!(
    async fn renaming_moves_the_display_name_search_key(t: TestTable) {
        let app = TestApp::new(t).await;
        let admin = member(&app, "zed_admin", Role::Admin).await;
        let jane = member(&app, "jane", Role::Normal).await;
        let names = |body: &Json| usernames(body);

        // No one is called Quill yet.
        let (status, body) = get(&app, &admin, "/api/profiles/?search=quill").await;
        assert_eq!(status, 200, "{body}");
        assert!(names(&body).is_empty(), "{body}");

        let path = format!("/api/users/{}/", jane.id);
        let (status, body) = call(
            &app,
            &jane,
            Method::PATCH,
            &path,
            Some(json!({"first_name": "Quill", "last_name": "Penna"})),
        )
        .await;
        assert_eq!(status, 200, "{body}");

        // The new display name finds her; the GSI2 key on her name item moved with it, and the
        // profile carries no index entry (every profile write would rewrite it).
        let (_, body) = get(&app, &admin, "/api/profiles/?search=quill").await;
        assert_eq!(names(&body), ["jane"], "{body}");
        let name_item = app
            .table()
            .get(&keys::unique_username("jane"), true)
            .await
            .unwrap()
            .expect("the name item");
        let (_, expected) = keys::displayname_index("Quill Penna", jane.id);
        assert_eq!(
            name_item[keys::attr::GSI2SK].as_str(),
            Some(expected.as_str())
        );
        let stored = profile_item(&app.app, jane.id).await.expect("profile");
        assert!(!stored.contains_key(keys::attr::GSI2SK), "{stored:?}");
        assert!(!stored.contains_key(keys::attr::GSI1SK), "{stored:?}");
    }
);
