//! Abuse limits, login throttling, bot detection and device parsing, through the domain
//! functions (the HTTP tests of register and login check that the routes apply them).

use accounts::activity::events::EventType;
use accounts::auth::bots::{self, BotSignal};
use accounts::auth::client::ClientInfo;
use accounts::auth::limits::{self, Limit};
use accounts::error::Error;
use accounts::model::UserId;
use accounts::store::keys;
use api_tests::app::{BROWSER_UA, TestApp};
use api_tests::fixtures::events_of;
use api_tests::{TestTable, both_engines};
use chrono::{DateTime, Duration};

/// An epoch second on every window boundary of the rules (a multiple of 3600).
const ALIGNED: i64 = 1_800_000_000;

/// Sets the clock `offset` seconds after an aligned instant.
fn set_clock(app: &TestApp, offset: i64) {
    app.clock()
        .set(DateTime::from_timestamp(ALIGNED + offset, 0).expect("valid instant"));
}

fn advance(app: &TestApp, secs: i64) {
    app.clock().advance(Duration::seconds(secs));
}

/// The `Retry-After` of a refusal; panics on anything else.
fn retry_after<T: std::fmt::Debug>(result: Result<T, Error>) -> u64 {
    match result {
        Err(Error::RateLimited { retry_after_secs }) => retry_after_secs,
        other => panic!("expected 429, got {other:?}"),
    }
}

#[test]
fn the_rules_are_the_documented_ones() {
    let rules: Vec<_> = Limit::ALL
        .iter()
        .map(|l| (l.rule().max, l.rule().window_secs))
        .collect();
    assert_eq!(
        rules,
        [
            (1, 60),
            (5, 3600),
            (5, 1800),
            (300, 900),
            (10, 900),
            (3, 3600)
        ]
    );
}

async fn each_window_allows_exactly_max_then_refuses_until_it_ends(t: TestTable) {
    let app = TestApp::new(t).await;
    for limit in Limit::ALL {
        let rule = limit.rule();
        let subject = format!("subject of {limit:?}");
        // 10 s into a window, whatever its length.
        set_clock(&app, 10);
        for n in 1..=rule.max {
            limits::hit(&app.app, limit, &subject)
                .await
                .unwrap_or_else(|e| panic!("{limit:?}: hit {n} of {} refused: {e}", rule.max));
        }
        let left = (rule.window_secs - 10) as u64;
        assert_eq!(
            retry_after(limits::hit(&app.app, limit, &subject).await),
            left,
            "{limit:?}"
        );
        assert_eq!(
            retry_after(limits::check(&app.app, limit, &subject).await),
            left
        );
        // Another subject has its own window.
        limits::hit(&app.app, limit, "someone else")
            .await
            .expect("other subject");

        advance(&app, 30);
        assert_eq!(
            retry_after(limits::hit(&app.app, limit, &subject).await),
            left - 30
        );

        // The window ends: exactly `max` more, the refused hits were not counted.
        advance(&app, left as i64 - 30);
        for _ in 0..rule.max {
            limits::check(&app.app, limit, &subject)
                .await
                .expect("check does not count");
            limits::hit(&app.app, limit, &subject)
                .await
                .expect("a new window");
        }
        assert_eq!(
            retry_after(limits::hit(&app.app, limit, &subject).await),
            rule.window_secs as u64
        );
    }
}

async fn concurrent_hits_never_exceed_the_limit(t: TestTable) {
    // moto's conditional ADD is a read and a write (two at once can both pass the condition);
    // DynamoDB's is atomic, and the embedded engine keeps the race.
    let app = TestApp::one_call_at_a_time(t).await;
    let max = Limit::RegisterPerIp.rule().max;
    assert_eq!(max, 5);
    set_clock(&app, 10);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let app = app.app.clone();
            tokio::spawn(
                async move { limits::hit(&app, Limit::RegisterPerIp, "203.0.113.5").await },
            )
        })
        .collect();
    let mut passed = 0;
    for task in tasks {
        match task.await.expect("task ran") {
            Ok(()) => passed += 1,
            Err(Error::RateLimited { retry_after_secs }) => assert_eq!(retry_after_secs, 1790),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(passed, max);
}

async fn subjects_with_any_characters_are_kept_apart(t: TestTable) {
    let app = TestApp::new(t).await;
    let subjects = ["a#b", "a#b#60", "", "RATE#x", "é/\n\u{0}", "2001:db8::1"];
    for subject in subjects {
        limits::hit(&app.app, Limit::ResendCodeMinute, subject)
            .await
            .expect("first hit");
    }
    for subject in subjects {
        retry_after(limits::hit(&app.app, Limit::ResendCodeMinute, subject).await);
    }
}

async fn failed_logins_wait_exponentially_up_to_fifteen_minutes(t: TestTable) {
    let app = TestApp::new(t).await;
    let user = UserId(7);
    let allowed = |app: &TestApp| {
        let app = app.app.clone();
        async move { limits::check_login_allowed(&app, user).await }
    };
    allowed(&app).await.expect("no failures yet");
    for _ in 0..4 {
        limits::record_login_failure(&app.app, user)
            .await
            .expect("record");
        allowed(&app).await.expect("four failures do not throttle");
    }
    limits::record_login_failure(&app.app, user)
        .await
        .expect("record");
    assert_eq!(retry_after(allowed(&app).await), 1, "5 failures wait 1 s");
    advance(&app, 1);
    allowed(&app).await.expect("after 1 s");

    limits::record_login_failure(&app.app, user)
        .await
        .expect("record");
    assert_eq!(retry_after(allowed(&app).await), 2, "6 failures wait 2 s");
    advance(&app, 1);
    assert_eq!(retry_after(allowed(&app).await), 1);
    advance(&app, 1);
    allowed(&app).await.expect("after 2 s");

    for n in 7..=20i64 {
        limits::record_login_failure(&app.app, user)
            .await
            .expect("record");
        let expected = (1u64 << (n - 5).min(20)).min(900);
        assert_eq!(retry_after(allowed(&app).await), expected, "{n} failures");
    }
    assert_eq!(limits::login_failures(&app.app, user).await.unwrap(), 20);
    advance(&app, 899);
    assert_eq!(retry_after(allowed(&app).await), 1);
    advance(&app, 1);
    allowed(&app).await.expect("after the 15 min cap");

    // One account_locked event for the whole run of failures.
    assert_eq!(
        events_of(&app.app, user, EventType::AccountLocked)
            .await
            .len(),
        1
    );

    // A successful login clears: the count starts again from zero.
    limits::clear_login_failures(&app.app, user)
        .await
        .expect("clear");
    assert_eq!(limits::login_failures(&app.app, user).await.unwrap(), 0);
    assert!(
        app.table()
            .get(&keys::login_failures(user), true)
            .await
            .unwrap()
            .is_none()
    );
    for _ in 0..4 {
        limits::record_login_failure(&app.app, user)
            .await
            .expect("record");
    }
    allowed(&app)
        .await
        .expect("four failures after a clear do not throttle");
    limits::record_login_failure(&app.app, user)
        .await
        .expect("record");
    assert_eq!(retry_after(allowed(&app).await), 1);
    let locked = events_of(&app.app, user, EventType::AccountLocked).await;
    assert_eq!(
        locked.len(),
        2,
        "a new lockout after a clear is a new event"
    );
    assert_eq!(
        locked[0].severity,
        accounts::activity::events::Severity::Medium
    );
    assert_eq!(locked[0].user_id, Some(user));

    // Other accounts are not affected.
    limits::check_login_allowed(&app.app, UserId(8))
        .await
        .expect("another account");
}

async fn concurrent_failures_log_exactly_one_lockout(t: TestTable) {
    // moto's ADD is a read and a write (two at once can lose one); DynamoDB's is atomic.
    let app = TestApp::one_call_at_a_time(t).await;
    let user = UserId(21);
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let app = app.app.clone();
            tokio::spawn(async move { limits::record_login_failure(&app, user).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("task ran").expect("recorded");
    }
    assert_eq!(limits::login_failures(&app.app, user).await.unwrap(), 12);
    assert_eq!(
        events_of(&app.app, user, EventType::AccountLocked)
            .await
            .len(),
        1
    );
}

async fn failures_are_forgotten_a_day_after_the_last(t: TestTable) {
    let app = TestApp::new(t).await;
    let user = UserId(33);
    for _ in 0..6 {
        limits::record_login_failure(&app.app, user)
            .await
            .expect("record");
    }
    advance(&app, 24 * 3600 - 1);
    assert_eq!(
        limits::login_failures(&app.app, user).await.unwrap(),
        6,
        "still counted"
    );
    advance(&app, 1);
    limits::check_login_allowed(&app.app, user)
        .await
        .expect("expired counter");
    assert_eq!(limits::login_failures(&app.app, user).await.unwrap(), 0);
    // The expired item may still be stored (DynamoDB removes it late, moto never): a new
    // failure starts from one, not from seven.
    limits::record_login_failure(&app.app, user)
        .await
        .expect("record");
    assert_eq!(limits::login_failures(&app.app, user).await.unwrap(), 1);
    for _ in 0..4 {
        limits::record_login_failure(&app.app, user)
            .await
            .expect("record");
    }
    assert_eq!(
        retry_after(limits::check_login_allowed(&app.app, user).await),
        1
    );
    assert_eq!(
        events_of(&app.app, user, EventType::AccountLocked)
            .await
            .len(),
        2
    );
}

both_engines!(
    each_window_allows_exactly_max_then_refuses_until_it_ends,
    concurrent_hits_never_exceed_the_limit,
    subjects_with_any_characters_are_kept_apart,
    failed_logins_wait_exponentially_up_to_fifteen_minutes,
    concurrent_failures_log_exactly_one_lockout,
    failures_are_forgotten_a_day_after_the_last,
);

fn client(ua: Option<&str>) -> ClientInfo {
    ClientInfo {
        ip: Some([198, 51, 100, 7].into()),
        user_agent: ua.map(str::to_owned),
        accept_language: Some("en-GB,en;q=0.8".into()),
        ..ClientInfo::default()
    }
}

#[test]
fn each_bot_signal_is_detected() {
    assert_eq!(bots::detect(Some(BROWSER_UA), None), None);
    assert_eq!(bots::detect(Some(BROWSER_UA), Some("")), None);
    assert_eq!(
        bots::detect(Some(BROWSER_UA), Some("me@x.io")),
        Some(BotSignal::Honeypot)
    );
    assert_eq!(bots::detect(None, None), Some(BotSignal::MissingUserAgent));
    assert_eq!(
        bots::detect(Some(""), None),
        Some(BotSignal::MissingUserAgent)
    );
    let known = [
        ("curl/8.5.0", "curl"),
        ("python-requests/2.31.0", "python-requests"),
        ("Go-http-client/1.1", "Go-http-client"),
        (
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Googlebot",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36",
            "HeadlessChrome",
        ),
    ];
    for (ua, name) in known {
        assert_eq!(
            bots::detect(Some(ua), None),
            Some(BotSignal::KnownBot(name.into())),
            "{ua}"
        );
    }
    assert_eq!(
        bots::detect(Some("AcmeApp/2.3 (+https://acme.example)"), None),
        None
    );
}

#[test]
fn devices_are_parsed_from_real_user_agents() {
    let cases = [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            ("Chrome", "131.0.0.0", "Windows 10", "desktop"),
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
            ("Safari", "17.2", "iPhone", "mobile"),
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
            ("Chrome", "120.0.6099.144", "Android", "mobile"),
        ),
        (
            "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            ("Chrome", "120.0.0.0", "Android", "tablet"),
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
            ("Safari", "16.6", "iPad", "tablet"),
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0",
            ("Firefox", "121.0", "Mac OSX", "desktop"),
        ),
        (
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            ("Googlebot", "", "Other", "bot"),
        ),
        ("curl/8.5.0", ("HTTP Library", "curl", "Other", "bot")),
    ];
    for (ua, (browser, version, os, device_type)) in cases {
        let info = client(Some(ua)).device_info();
        assert_eq!(
            (
                info.browser.as_str(),
                info.browser_version.as_str(),
                info.os.as_str(),
                info.device_type.as_str()
            ),
            (browser, version, os, device_type),
            "{ua}"
        );
    }
    let iphone = client(Some(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    ))
    .device_info();
    assert_eq!(iphone.os_version, "17.2");
}

#[test]
fn the_fingerprint_follows_the_device_not_the_address() {
    let home = client(Some(BROWSER_UA));
    let travelling = ClientInfo {
        ip: Some([203, 0, 113, 40].into()),
        ..home.clone()
    };
    assert_eq!(home.fingerprint(), travelling.fingerprint());
    let other_browser = client(Some(
        "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    ));
    assert_ne!(home.fingerprint(), other_browser.fingerprint());
    assert_eq!(home.fingerprint().len(), 32);
}
