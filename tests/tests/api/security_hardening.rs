//! The smaller leaks a careful attacker finds: blocked users in third parties' lists, text that
//! spoofs a name or breaks a parser, personal answers without `no-store`, frameable or
//! sniffable responses, JWTs dated in the future.

use crate::social_support;

use accounts::auth::jwt::{Claims, TokenType};
use accounts::clock::Clock;
use api_tests::app::TestApp;
use api_tests::fixtures::{person, private_person};
use api_tests::{TestTable, both_engines};
use serde_json::{Value as Json, json};
use social_support::{block, follow, get_json};

fn listed_ids(body: &Json) -> Vec<i64> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["user"]["id"].as_i64().expect("a card with an id"))
        .collect()
}

both_engines!(
    async fn blocked_users_are_absent_from_third_party_lists(t: TestTable) {
        let app = TestApp::new(t).await;
        let a = person(&app.app, 1).await;
        let b = person(&app.app, 2).await;
        let c = person(&app.app, 3).await;
        let d = person(&app.app, 4).await;
        // A and D follow C; C follows A and D.
        for (who, target) in [(&a, &c), (&d, &c), (&c, &a), (&c, &d)] {
            assert_eq!(follow(&app, who, target.id).await.status, 201);
        }
        // A blocks B: B no longer sees A in C's lists, either direction, nor A sees B there.
        assert_eq!(block(&app, &a, b.id).await.status, 201);
        for direction in ["followers", "following"] {
            let path = format!("/api/follows/?user=3&direction={direction}");
            let (status, body) = get_json(&app, &b, &path).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(listed_ids(&body), [4], "{direction}: {body}");
            let (_, body) = get_json(&app, &d, &path).await;
            let mut seen = listed_ids(&body);
            seen.sort();
            assert_eq!(seen, [1, 4], "an uninvolved viewer sees everyone");
        }
        // The other way round too: B blocks nobody, but A blocked B, so B is hidden from A.
        assert_eq!(follow(&app, &b, c.id).await.status, 201);
        let (_, body) = get_json(&app, &a, "/api/follows/?user=3&direction=followers").await;
        let mut seen = listed_ids(&body);
        seen.sort();
        assert_eq!(seen, [1, 4], "A sees herself and D, not B: {body}");
        let (_, body) = get_json(&app, &d, "/api/follows/?user=3&direction=followers").await;
        assert_eq!(listed_ids(&body).len(), 3, "D sees all three: {body}");
    }
);

both_engines!(
    async fn text_that_spoofs_or_breaks_is_refused_with_its_field(t: TestTable) {
        let app = TestApp::new(t).await;
        let a = person(&app.app, 1).await;
        let cases = [
            (json!({"first_name": "\u{202e}evil"}), "first_name"),
            (json!({"last_name": "a\u{2067}b"}), "last_name"),
            (json!({"bio": "nul\u{0}byte"}), "bio"),
            (json!({"city": "bell\u{7}"}), "city"),
        ];
        for (body, field) in cases {
            let path = if field.ends_with("name") {
                "/api/users/1/"
            } else {
                "/api/profiles/1/"
            };
            let response = app
                .patch(path)
                .bearer(&a.token)
                .json(body.clone())
                .send()
                .await;
            assert_eq!(response.status, 400, "{body}: {}", response.body_json());
            assert!(
                response.body_json()[field].is_array(),
                "{}",
                response.body_json()
            );
        }
        // Nothing was stored; ordinary text with line breaks still is.
        let response = app
            .patch("/api/profiles/1/")
            .bearer(&a.token)
            .json(json!({"bio": "line one\nline two"}))
            .send()
            .await;
        assert_eq!(response.status, 200, "{}", response.body_json());
        let (_, me) = get_json(&app, &a, "/api/auth/me/").await;
        assert_eq!(me["first_name"], "");
        // Registration names too.
        let response = app
            .post("/api/auth/register/")
            .json(json!({"username": "\u{202e}nimda", "email": "x@example.com", "password": "violet-harbour-42"}))
            .send()
            .await;
        assert_eq!(response.status, 400);
        assert!(response.body_json()["username"].is_array());
    }
);

both_engines!(
    async fn personal_answers_are_never_cached_and_no_answer_is_framed(t: TestTable) {
        let app = TestApp::new(t).await;
        let a = private_person(&app.app, 1).await;
        for path in [
            "/api/profiles/1/",
            "/api/settings/",
            "/api/events/",
            "/api/auth/tokens/",
            "/api/blocks/",
            "/api/users/",
            "/api/follows/",
            "/api/sessions/",
        ] {
            let response = app.get(path).bearer(&a.token).send().await;
            assert_eq!(response.status, 200, "{path}");
            assert_eq!(
                response
                    .headers
                    .get("cache-control")
                    .map(|v| v.to_str().unwrap()),
                Some("no-store"),
                "{path}"
            );
        }
        // Deliberately public answers keep their caching.
        let response = app.get("/api/auth/jwks/").send().await;
        assert_eq!(response.headers["cache-control"], "public, max-age=300");
        // Every answer, even an error or an anonymous one, is unframeable and unsniffable.
        for response in [
            app.get("/api/health/").send().await,
            app.get("/api/nowhere/").send().await,
            app.get("/api/auth/me/").send().await,
        ] {
            assert_eq!(response.headers["x-content-type-options"], "nosniff");
            assert_eq!(response.headers["x-frame-options"], "DENY");
            let csp = response.headers["content-security-policy"]
                .to_str()
                .unwrap();
            assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"));
        }
    }
);

both_engines!(
    async fn tokens_dated_in_the_future_are_refused(t: TestTable) {
        let app = TestApp::new(t).await;
        let a = person(&app.app, 1).await;
        let valid = accounts::auth::jwt::decode(&app.app, &a.token, TokenType::Access)
            .expect("the fixture's token is valid");
        let now = app.clock().now().timestamp();
        let forge = |edit: &dyn Fn(&mut Claims)| {
            let mut claims = valid.clone();
            edit(&mut claims);
            app.app.keys.sign(&claims).expect("sign")
        };
        let cases = [
            ("nbf an hour ahead", forge(&|c| c.nbf = Some(now + 3600))),
            ("iat an hour ahead", forge(&|c| c.iat = now + 3600)),
        ];
        for (what, token) in cases {
            let response = app.get("/api/auth/me/").bearer(&token).send().await;
            assert_eq!(response.status, 401, "{what}");
        }
        // A few seconds of clock skew are tolerated.
        let skewed = forge(&|c| c.iat = now + 5);
        let response = app.get("/api/auth/me/").bearer(&skewed).send().await;
        assert_eq!(response.status, 200);
    }
);

both_engines!(
    async fn private_accounts_are_anonymous_on_the_board_and_unfound_by_real_name(t: TestTable) {
        use crate::badges_core_support::{award_ok, common_badge};
        use api_tests::fixtures::admin;
        let app = TestApp::new(t).await;
        let root = admin(&app.app, 1).await;
        let hidden = private_person(&app.app, 2).await;
        let stranger = person(&app.app, 3).await;
        let friend = person(&app.app, 4).await;
        let badge = common_badge(&app, &root, "Ten", 10).await;
        award_ok(&app, &root, hidden.id, badge).await;
        // The friend follows the private account (request, then approval).
        assert_eq!(follow(&app, &friend, hidden.id).await.status, 201);
        let approve = app
            .post("/api/follows/4-2/approve/")
            .bearer(&hidden.token)
            .send()
            .await;
        assert_eq!(approve.status, 200, "{}", approve.body_json());

        let entry = |body: &Json| body["results"][0].clone();
        let (_, board) = get_json(&app, &stranger, "/api/badges/leaderboard/").await;
        assert_eq!(entry(&board)["anonymous"], true, "{board}");
        assert!(entry(&board)["user"].is_null(), "{board}");
        assert_eq!(entry(&board)["badge_points"], 10);
        for who in [&friend, &hidden] {
            let (_, board) = get_json(&app, who, "/api/badges/leaderboard/").await;
            assert_eq!(entry(&board)["user"]["id"], 2, "{board}");
            assert_eq!(entry(&board)["anonymous"], false);
        }

        // Display-name search: the private account's real name finds it for followers only;
        // its username (public) still finds it for everyone.
        let rename = app
            .patch("/api/users/2/")
            .bearer(&hidden.token)
            .json(json!({"first_name": "Zelda", "last_name": "Quartz"}))
            .send()
            .await;
        assert_eq!(rename.status, 200, "{}", rename.body_json());
        let found = |body: &Json| -> Vec<i64> {
            body["results"]
                .as_array()
                .expect("results")
                .iter()
                .map(|r| r["id"].as_i64().unwrap())
                .collect()
        };
        let (_, body) = get_json(&app, &stranger, "/api/profiles/?search=zelda").await;
        assert_eq!(found(&body), Vec::<i64>::new(), "{body}");
        let (_, body) = get_json(&app, &friend, "/api/profiles/?search=zelda").await;
        assert_eq!(found(&body), [2], "{body}");
        let (_, body) = get_json(&app, &stranger, "/api/profiles/?search=user2").await;
        assert_eq!(found(&body), [2], "{body}");
    }
);

both_engines!(
    async fn every_caller_has_a_write_budget_with_headers(t: TestTable) {
        let app = TestApp::with_settings(
            t,
            &[
                ("WRITE_BUDGET", "3"),
                ("EVENT_BUDGET", "2"),
                ("SERVICE_WRITE_BUDGET", "4"),
            ],
        )
        .await;
        let a = person(&app.app, 1).await;
        let write = |n: usize| {
            app.patch("/api/profiles/1/")
                .bearer(&a.token)
                .json(json!({"bio": format!("edit {n}")}))
        };
        for n in 0..3 {
            let response = write(n).send().await;
            assert_eq!(response.status, 200, "{}", response.body_json());
            assert_eq!(response.headers["x-ratelimit-limit"], "3");
            assert_eq!(
                response.headers["x-ratelimit-remaining"],
                (2 - n).to_string().as_str()
            );
        }
        let refused = write(3).send().await;
        assert_eq!(refused.status, 429);
        assert_eq!(refused.headers["x-ratelimit-remaining"], "0");
        assert_eq!(refused.headers["retry-after"], "100");
        // Nothing was written by the refused request; reads are not counted.
        let (_, me) = get_json(&app, &a, "/api/profiles/1/").await;
        assert_eq!(me["bio"], "edit 2");
        // Event ingestion has its own, smaller bucket.
        let event = || {
            app.post("/api/events/")
                .bearer(&a.token)
                .json(json!({"event_type": "page_view"}))
        };
        for _ in 0..2 {
            let response = event().send().await;
            assert_eq!(response.status, 201, "{}", response.body_json());
        }
        assert_eq!(event().send().await.status, 429);
        // The bucket refills evenly: 100 s later one more write fits.
        app.clock().advance(chrono::Duration::seconds(100));
        assert_eq!(write(4).send().await.status, 200);
        assert_eq!(write(5).send().await.status, 429);

        // An API token has a budget of its own (services: larger, configurable).
        let created = app
            .post("/api/auth/tokens/")
            .bearer(&a.token)
            .json(json!({"name": "service"}));
        app.clock().advance(chrono::Duration::seconds(100));
        let created = created.send().await;
        assert_eq!(created.status, 201, "{}", created.body_json());
        let key = created.body_json()["key"].as_str().unwrap().to_owned();
        for n in 0..4 {
            let response = app
                .patch("/api/profiles/1/")
                .api_token(&key)
                .json(json!({"bio": format!("token {n}")}))
                .send()
                .await;
            assert_eq!(response.status, 200, "{n}: {}", response.body_json());
            assert_eq!(response.headers["x-ratelimit-limit"], "4");
        }
        let response = app
            .patch("/api/profiles/1/")
            .api_token(&key)
            .json(json!({"bio": "one too many"}))
            .send()
            .await;
        assert_eq!(response.status, 429);
    }
);

/// The median of some durations, in milliseconds.
fn median_ms(mut samples: Vec<std::time::Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

both_engines!(
    async fn reset_and_resend_do_the_same_work_for_every_address(t: TestTable) {
        use accounts::store::counting::CountingTable;
        use std::sync::Arc;
        let counting = Arc::new(CountingTable::new(t.table()));
        let app = TestApp::over(t, &[("RATE_LIMIT_SCALE", "1000")], counting.clone()).await;
        let response = app
            .post("/api/auth/register/")
            .json(json!({"username": "known", "email": "known@example.com", "password": "violet-harbour-42"}))
            .send()
            .await;
        assert_eq!(response.status, 201, "{}", response.body_json());
        let mails_before = app.outbox().len();

        for path in ["/api/auth/password/reset/", "/api/auth/resend-code/"] {
            let mut known = Vec::new();
            let mut unknown = Vec::new();
            for round in 0..9 {
                let mut calls = Vec::new();
                for (address, samples) in [
                    ("known@example.com", &mut known),
                    ("nobody@example.com", &mut unknown),
                ] {
                    app.clock().advance(chrono::Duration::seconds(61));
                    let request = app.post(path).json(json!({"email": address})).build();
                    counting.reset();
                    let started = std::time::Instant::now();
                    let response = app.send_unsettled(request).await;
                    samples.push(started.elapsed());
                    // The work after the answer is held until the test settles, so these are
                    // the request path's own calls.
                    calls.push(counting.take().calls);
                    assert_eq!(response.status, 200, "{path} {round}");
                    app.settled().await;
                }
                // The same store calls for both addresses, and no lookup among them.
                assert_eq!(calls[0], calls[1], "{path}: known and unknown differ");
                assert_eq!(
                    (calls[0].get, calls[0].batch_get, calls[0].query),
                    (0, 0, 0),
                    "{path}: the request path looks nothing up: {:?}",
                    calls[0]
                );
            }
            // The calls above are the proof: the same store calls and no lookup, so nothing in
            // the request path depends on the address. Timings on a shared machine are only
            // printed: a full CI run on a loaded machine measured 19.9 ms against 8.3 ms with
            // identical calls, so a bound on them would test the machine, not the code.
            let (known, unknown) = (median_ms(known), median_ms(unknown));
            println!("{path}: known address {known:.2} ms, unknown {unknown:.2} ms (medians)");
        }
        // The known address did get its mails, after the answers: 9 resets and 9 codes.
        let mails: Vec<_> = app.outbox().into_iter().skip(mails_before).collect();
        assert_eq!(mails.len(), 18, "{mails:?}");
        assert!(mails.iter().all(|m| m.to == "known@example.com"));
    }
);

both_engines!(
    async fn a_login_for_an_unknown_name_spends_one_verification_like_a_known_one(t: TestTable) {
        use accounts::auth::passwords::count_verifications;
        let app = TestApp::new(t).await;
        let response = app
            .post("/api/auth/register/")
            .json(json!({"username": "known", "email": "known@example.com", "password": "violet-harbour-42"}))
            .send()
            .await;
        assert_eq!(response.status, 201);
        for (name, password) in [
            ("known", "wrong-password-1"),
            ("nobody", "wrong-password-1"),
            ("nobody@example.com", "wrong-password-1"),
            ("not a valid name!", "wrong-password-1"),
        ] {
            let login = app
                .post("/api/auth/jwt/login/")
                .json(json!({"username": name, "password": password}));
            let (response, verified) = count_verifications(login.send()).await;
            assert_eq!(response.status, 400, "{name}");
            assert_eq!(verified, 1, "{name}: one Argon2 verification, known or not");
        }
    }
);
