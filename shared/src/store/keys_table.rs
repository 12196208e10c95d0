//! The key table of `docs/architecture.md` ("The single table") held against `keys.rs`: every
//! function there that makes a table key or an index key pair is called here with sample
//! arguments, and what it makes must match a row of the table (a `<...>` in the table stands
//! for any text). The test fails on a key function with no sample (so a new key cannot go
//! undocumented), on a key no row describes (a format changed, or a row is missing), and on a
//! row no key function makes (a row left behind).

use std::collections::BTreeSet;
use std::path::Path;

use super::keys;
use super::table::Key;
use crate::model::UserId;

/// What one key function makes, for one call.
enum Made {
    Item(Key),
    IndexPair(String, String),
}

fn item(key: Key) -> Made {
    Made::Item(key)
}

fn pair((pk, sk): (String, String)) -> Made {
    Made::IndexPair(pk, sk)
}

/// Every key function of `keys.rs` by name, with what it makes for sample arguments.
fn samples() -> Vec<(&'static str, Made)> {
    let u = UserId(7);
    let v = UserId(12);
    vec![
        ("health_probe", item(keys::health_probe())),
        ("user", item(keys::user(u))),
        ("username_index", pair(keys::username_index("ada", u))),
        (
            "displayname_index",
            pair(keys::displayname_index("Ada L", u)),
        ),
        ("credentials", item(keys::credentials(u))),
        ("settings", item(keys::settings(u))),
        ("professional_profile", item(keys::professional_profile(u))),
        (
            "professional_index",
            pair(keys::professional_index(true, u)),
        ),
        ("login_failures", item(keys::login_failures(u))),
        ("mfa_factor", item(keys::mfa_factor(u, "01JF"))),
        ("recovery_code", item(keys::recovery_code(u, "ab12"))),
        ("mfa_failures", item(keys::mfa_failures(u))),
        ("mfa_challenge", item(keys::mfa_challenge("ab12"))),
        ("passkey", item(keys::passkey(u, "ab12"))),
        ("passkey_credential", item(keys::passkey_credential("ab12"))),
        ("webauthn_challenge", item(keys::webauthn_challenge("ab12"))),
        ("emailed_code", item(keys::emailed_code(u, "verify"))),
        ("email_revert", item(keys::email_revert("ab12"))),
        (
            "unknown_login_failures",
            item(keys::unknown_login_failures("ab12")),
        ),
        ("security_policy", item(keys::security_policy())),
        ("user_id_counter", item(keys::user_id_counter())),
        ("unique_username", item(keys::unique_username("ada"))),
        ("unique_email", item(keys::unique_email("ada@example.com"))),
        ("api_token", item(keys::api_token("ab12"))),
        ("api_token_index", pair(keys::api_token_index(u, "01JF"))),
        ("session", item(keys::session("01JF"))),
        ("session_index", pair(keys::session_index(u, "01JF"))),
        ("revoked_token", item(keys::revoked_token("01JF"))),
        ("event", item(keys::event(u, "01JF"))),
        (
            "anonymous_event",
            item(keys::anonymous_event(Some("0123456789abcdef"), "01JF")),
        ),
        (
            "event_type_index",
            pair(keys::event_type_index("login", "01JF")),
        ),
        (
            "rate_window",
            item(keys::rate_window("login_ip", "ab12", 42)),
        ),
        ("follow_edge", item(keys::follow_edge(u, v))),
        ("follower_index", pair(keys::follower_index(v, u))),
        (
            "follow_request_index",
            pair(keys::follow_request_index(v, u)),
        ),
        (
            "follower_count_shard",
            item(keys::follower_count_shard(v, u)),
        ),
        (
            "follower_count_shard_at",
            item(keys::follower_count_shard_at(v, 3)),
        ),
        ("large_account", item(keys::large_account(v))),
        ("block_edge", item(keys::block_edge(u, v))),
        ("blocker_index", pair(keys::blocker_index(v, u))),
        ("event_review_index", pair(keys::event_review_index("01JF"))),
        ("severe_event_index", pair(keys::severe_event_index("01JF"))),
        ("user_stats", item(keys::user_stats(u))),
        ("ingested_event", item(keys::ingested_event("src-1"))),
        ("activity_day", item(keys::activity_day(u, "2026-12-08"))),
        ("post_likes", item(keys::post_likes(u, "p1"))),
        ("badge_definition", item(keys::badge_definition(3))),
        ("badge_earned", item(keys::badge_earned(3))),
        ("badge_index", pair(keys::badge_index(3))),
        ("active_badge_index", pair(keys::active_badge_index(3))),
        ("badge_id_counter", item(keys::badge_id_counter())),
        (
            "unique_badge_name",
            item(keys::unique_badge_name("pioneer")),
        ),
        ("user_badge", item(keys::user_badge(u, 3))),
        ("badge_holder_index", pair(keys::badge_holder_index(3, u))),
        (
            "award_index",
            pair(keys::award_index(1_765_000_000_000, u, 3)),
        ),
        ("badge_score", item(keys::badge_score(u))),
        (
            "leaderboard_index",
            pair(keys::leaderboard_index(120, 4, u)),
        ),
        ("badge_stats", item(keys::badge_stats(3))),
        ("task_checkpoint", item(keys::task_checkpoint("cleanup"))),
        ("task_state", item(keys::task_state("alerts"))),
        ("task_run", item(keys::task_run("cleanup", "01JF"))),
        ("task_run_index", pair(keys::task_run_index("01JF"))),
        ("task_marker", item(keys::task_marker("security", "ab12"))),
        ("day_count", item(keys::day_count("2026-12-08", 3))),
        ("stream_batch", item(keys::stream_batch("01JF"))),
        ("daily_report", item(keys::daily_report("2026-12-08"))),
        (
            "daily_report_index",
            pair(keys::daily_report_index("2026-12-08")),
        ),
        ("session_metrics", item(keys::session_metrics("2026-12-08"))),
        ("notification", item(keys::notification(u, "01JF"))),
        ("notification_state", item(keys::notification_state(u))),
        (
            "digest_index",
            pair(keys::digest_index(1_765_000_000_000, u, "01JF")),
        ),
    ]
}

/// One row of the documented table: its item name, the patterns of its base key, and the
/// `A / B` pairs of index keys it names (in the GSI1 column, or as `GSI2 A / B` anywhere).
struct Row {
    item: String,
    partition: Vec<String>,
    sort: Vec<String>,
    index_pairs: Vec<(String, String)>,
}

/// The backticked spans of a cell.
fn spans(cell: &str) -> Vec<String> {
    cell.split('`')
        .enumerate()
        .filter(|(n, _)| n % 2 == 1)
        .map(|(_, s)| s.to_string())
        .collect()
}

/// `` `A` / `B` `` pairs of a cell.
fn pairs(cell: &str) -> Vec<(String, String)> {
    let parts: Vec<&str> = cell.split('`').collect();
    let mut found = Vec::new();
    let mut n = 1;
    while n + 2 < parts.len() {
        if parts[n + 1].trim() == "/" {
            found.push((parts[n].to_string(), parts[n + 2].to_string()));
            n += 4;
        } else {
            n += 2;
        }
    }
    found
}

fn documented_rows() -> Vec<Row> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/architecture.md");
    let text = std::fs::read_to_string(&path).expect("docs/architecture.md is readable");
    let section = text
        .split("## The single table")
        .nth(1)
        .expect("architecture.md has 'The single table'");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter(|line| {
            line.starts_with("| ") && !line.starts_with("| item") && !line.starts_with("|---")
        })
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
            let cell = |n: usize| cells.get(n).copied().unwrap_or_default();
            let mut index_pairs = pairs(cell(3));
            for other in [cell(1), cell(2), cell(4)] {
                for chunk in other.split("GSI2").skip(1) {
                    index_pairs.extend(pairs(chunk).into_iter().take(1));
                }
            }
            Row {
                item: cell(0).trim().to_string(),
                partition: spans(cell(1)),
                sort: spans(cell(2)),
                index_pairs,
            }
        })
        .collect()
}

/// Whether `text` fits `pattern`, where each `<...>` of the pattern stands for any non-empty
/// text.
fn fits(pattern: &str, text: &str) -> bool {
    match pattern.find('<') {
        None => pattern == text,
        Some(open) => {
            let Some(close) = pattern[open..].find('>').map(|c| open + c) else {
                return pattern == text;
            };
            let (literal, rest) = (&pattern[..open], &pattern[close + 1..]);
            let Some(after) = text.strip_prefix(literal) else {
                return false;
            };
            (1..=after.len())
                .filter(|n| after.is_char_boundary(*n))
                .any(|n| fits(rest, &after[n..]))
        }
    }
}

fn any_fits(patterns: &[String], text: &str) -> bool {
    patterns.iter().any(|p| fits(p, text))
}

/// The names of `keys.rs`'s functions that make a table key or an index key pair.
fn key_functions() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/keys.rs");
    let text = std::fs::read_to_string(&path).expect("keys.rs is readable");
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("pub fn ")?;
            let makes_key = line.ends_with("-> Key {") || line.ends_with("-> (String, String) {");
            makes_key.then(|| rest.split('(').next().unwrap_or_default().to_string())
        })
        .collect()
}

#[test]
fn patterns_fit_as_documented() {
    assert!(fits("USER#<id>", "USER#7"));
    assert!(fits("<user id, 20 digits>", "00000000000000000007"));
    assert!(!fits("USER#<id>", "USER#"));
    assert!(!fits("USER#<id>", "USERS#7"));
    assert!(fits("<lower display name>#<id>", "ada l#7"));
    assert_eq!(
        pairs("`A#<x>` / `<y>` while active"),
        [("A#<x>".into(), "<y>".into())]
    );
}

#[test]
fn every_key_function_is_sampled() {
    let sampled: BTreeSet<String> = samples().iter().map(|(n, _)| n.to_string()).collect();
    let missing: Vec<_> = key_functions().difference(&sampled).cloned().collect();
    assert!(
        missing.is_empty(),
        "keys.rs functions without a sample here: {missing:?}"
    );
    let gone: Vec<_> = sampled.difference(&key_functions()).cloned().collect();
    assert!(
        gone.is_empty(),
        "samples of functions keys.rs no longer has: {gone:?}"
    );
}

#[test]
fn the_documented_key_table_is_the_one_in_keys_rs() {
    let rows = documented_rows();
    assert!(
        rows.len() > 30,
        "the table was not found: {} rows",
        rows.len()
    );
    let mut used = BTreeSet::new();
    let mut problems = Vec::new();
    for (name, made) in samples() {
        let matching: Vec<usize> = rows
            .iter()
            .enumerate()
            .filter(|(_, row)| match &made {
                Made::Item(key) => {
                    any_fits(&row.partition, &key.pk) && any_fits(&row.sort, &key.sk)
                }
                Made::IndexPair(pk, sk) => row
                    .index_pairs
                    .iter()
                    .any(|(p, s)| fits(p, pk) && fits(s, sk)),
            })
            .map(|(n, _)| n)
            .collect();
        if matching.is_empty() {
            let shown = match &made {
                Made::Item(key) => format!("{} / {}", key.pk, key.sk),
                Made::IndexPair(pk, sk) => format!("index {pk} / {sk}"),
            };
            problems.push(format!(
                "keys::{name} makes {shown}, which no row describes"
            ));
        }
        used.extend(matching);
    }
    for (n, row) in rows.iter().enumerate() {
        if !used.contains(&n) {
            problems.push(format!(
                "the row '{}' describes no key keys.rs makes",
                row.item
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
