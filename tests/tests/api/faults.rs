//! Fault injection, on both engines: with store calls failing on purpose (throttling, timeouts,
//! transaction conflicts), a workload of registrations, follows, unfollows, blocks, unblocks,
//! badge definitions, awards and revocations leaves no partial write (read back from the store
//! itself: counters equal edges, blocks have no follow edges either way, unique items and
//! accounts point at each other, badge points and aggregates equal the badges held), and every
//! request that failed was answered 503 with `Retry-After`, never 500. At 20% the retries carry
//! the requests through; at 100% every request is a clean 503 that wrote nothing. At rate 0 the
//! store stack is transparent. `docs/faults.md` has the numbers.
//!
//! Requests run one after another, so a seed gives the same faults on every run (and moto's
//! non-isolated transactions are never concurrent; see `api_tests::moto`).

use crate::social_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use accounts::accounts::UserRecord;
use accounts::badges::awards::{BadgeScore, UserBadge};
use accounts::http::ApiResponse;
use accounts::http::{ApiRequest, Router};
use accounts::model::{EmailAddress, Role, UserId, Username};
use accounts::social::{BlockEdge, FollowEdge, FollowStatus};
use accounts::store::faults::{FaultConfig, FaultRate, FaultStats, FaultyTable};
use accounts::store::retry::{RetryPolicy, RetryingTable};
use accounts::store::{
    CancelReason, Condition, Cursor, Index, Item, Key, Query, Scan, SortCondition, StoreError,
    Table, TxOp, Update, Value, from_item, keys,
};
use api_tests::app::{BROWSER_UA, TestApp, build_app};
use api_tests::fixtures::{
    NewAccount, PASSWORD, Person, admin, badge_points, client, fresh_ip, person,
};
use api_tests::{TestTable, both_engines, test_table};
use futures::future::BoxFuture;
use http::Method;
use serde_json::json;

/// The accounts the social part of the workload acts between.
const PEOPLE: usize = 8;

/// Whom and what the workload acts on: `PEOPLE` verified accounts (the first an
/// administrator, who awards and revokes badges) and the badge definitions made so far.
struct Cast {
    people: Vec<Person>,
    badges: Vec<i64>,
}

/// Badges defined before the workload starts.
const FIRST_BADGES: usize = 3;

/// The body of a badge definition: a counter criterion nobody meets here (so only the
/// workload's own awards give badges), points inside the rarity's band.
fn badge_body(n: usize) -> serde_json::Value {
    let (rarity, points) = [
        ("common", 10),
        ("rare", 50),
        ("epic", 150),
        ("legendary", 500),
    ][n % 4];
    json!({
        "name": format!("Workload badge {n}"),
        "description": "Awarded by the fault-injection workload",
        "category": "special",
        "icon": "fas fa-bolt",
        "color": "#3366FF",
        "criteria": {"type": "counter", "field": "posts_count", "threshold": 1000},
        "points": points + (n as i64 % 5),
        "rarity": rarity,
    })
}

/// The test's table behind a [`FaultyTable`] injecting `faults`, the App over it (which adds
/// its retries), and the cast, made beforehand on the same table without faults.
async fn faulty_app(t: TestTable, faults: FaultConfig) -> (TestApp, Arc<FaultyTable>, Cast) {
    let clean = build_app(&t, t.dir(), &[], t.table()).await;
    let mut people = Vec::new();
    for i in 0..PEOPLE {
        let role = if i == 0 { Role::Admin } else { Role::Normal };
        let account = NewAccount::new(&format!("person{i}"))
            .client(client())
            .role(role);
        people.push(account.signed_in(&clean).await);
    }
    let mut badges = Vec::new();
    for n in 0..FIRST_BADGES {
        let request = ApiRequest::new(Method::POST, "/api/badges/")
            .with_header("user-agent", BROWSER_UA)
            .with_header("authorization", &format!("Bearer {}", people[0].token))
            .with_json(&badge_body(n));
        let response = Router::all().dispatch(&clean, request).await;
        assert_eq!(response.status, 201, "{}", response.body_json());
        badges.push(response.body_json()["id"].as_i64().expect("a badge id"));
    }
    let faulty = Arc::new(FaultyTable::new(t.table(), faults));
    let app = TestApp::over(t, &[], faulty.clone()).await;
    (app, faulty, Cast { people, badges })
}

/// What the requests of a workload were answered.
#[derive(Default)]
struct Tally {
    requests: u32,
    /// 2xx.
    succeeded: u32,
    /// 503 with `Retry-After`.
    unavailable: u32,
    /// Other 4xx: the request was refused for what it asked (already following, blocked ...).
    refused: u32,
    /// Requests that met at least one injected fault and still succeeded (the retries' doing).
    rescued: u32,
    /// Status counts, for the report.
    statuses: BTreeMap<u16, u32>,
    /// Every status, in order (not printed).
    sequence: Vec<u16>,
}

impl std::fmt::Debug for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tally")
            .field("requests", &self.requests)
            .field("succeeded", &self.succeeded)
            .field("unavailable", &self.unavailable)
            .field("refused", &self.refused)
            .field("rescued", &self.rescued)
            .field("statuses", &self.statuses)
            .finish()
    }
}

impl Tally {
    /// Records one answer; panics on a 5xx other than a 503 with `Retry-After`.
    fn record(&mut self, what: &str, response: &ApiResponse, faults_met: u64) {
        let status = response.status.as_u16();
        self.requests += 1;
        *self.statuses.entry(status).or_default() += 1;
        self.sequence.push(status);
        match status {
            200..=299 => {
                self.succeeded += 1;
                if faults_met > 0 {
                    self.rescued += 1;
                }
            }
            503 => {
                let retry_after = response
                    .headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                assert!(
                    retry_after.is_some_and(|s| s >= 1),
                    "{what}: 503 without a Retry-After: {:?}",
                    response.headers
                );
                self.unavailable += 1;
            }
            400..=499 => self.refused += 1,
            _ => panic!("{what}: answered {status}: {}", response.body_json()),
        }
    }
}

/// One request of the workload.
#[derive(Clone, Debug)]
enum Step {
    Register(String),
    Follow(usize, usize),
    Unfollow(usize, usize),
    Block(usize, usize),
    Unblock(usize, usize),
    /// A new badge definition (by the administrator).
    DefineBadge(usize),
    /// The administrator awards a badge (the n-th defined, modulo) to a person.
    Award(usize, usize),
    Revoke(usize, usize),
}

/// A small deterministic generator (splitmix64), so a seed names one workload.
struct Draws(u64);

impl Draws {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A reproducible mix: registrations (one in ten re-uses a name already tried), and follows,
/// unfollows, blocks and unblocks between the people.
fn workload(seed: u64, steps: usize) -> Vec<Step> {
    let mut rng = Draws(seed);
    let mut names: Vec<String> = Vec::new();
    let mut defined = 0;
    let mut out = Vec::new();
    for _ in 0..steps {
        let a = rng.below(PEOPLE);
        let b = (a + 1 + rng.below(PEOPLE - 1)) % PEOPLE;
        out.push(match rng.below(100) {
            0..10 => {
                let name = if !names.is_empty() && rng.below(10) == 0 {
                    names[rng.below(names.len())].clone()
                } else {
                    format!("newcomer{}", names.len())
                };
                names.push(name.clone());
                Step::Register(name)
            }
            10..44 => Step::Follow(a, b),
            44..54 => Step::Unfollow(a, b),
            54..62 => Step::Block(a, b),
            62..70 => Step::Unblock(a, b),
            70..88 => Step::Award(b, rng.below(16)),
            88..95 => Step::Revoke(b, rng.below(16)),
            _ => {
                defined += 1;
                Step::DefineBadge(FIRST_BADGES + defined)
            }
        });
    }
    out
}

async fn send(app: &TestApp, cast: &Cast, step: &Step) -> ApiResponse {
    let people = &cast.people;
    let admin = || &people[0];
    // The n-th badge defined so far (an id no badge has while there is none).
    let badge = |n: usize| match cast.badges.len() {
        0 => i64::MAX,
        len => cast.badges[n % len],
    };
    match step {
        Step::Register(name) => {
            app.post("/api/auth/register/")
                .ip(&fresh_ip())
                .json(json!({
                    "username": name,
                    "email": format!("{name}@example.com"),
                    "password": PASSWORD,
                }))
                .send()
                .await
        }
        Step::Follow(a, b) => social_support::follow(app, &people[*a], people[*b].id).await,
        Step::Unfollow(a, b) => {
            social_support::unfollow(app, &people[*a], people[*a].id, people[*b].id).await
        }
        Step::Block(a, b) => social_support::block(app, &people[*a], people[*b].id).await,
        Step::Unblock(a, b) => {
            app.delete(&format!("/api/blocks/{}-{}/", people[*a].id, people[*b].id))
                .bearer(&people[*a].token)
                .send()
                .await
        }
        Step::DefineBadge(n) => {
            app.post("/api/badges/")
                .bearer(&admin().token)
                .json(badge_body(*n))
                .send()
                .await
        }
        Step::Award(u, n) => {
            app.post("/api/user-badges/")
                .bearer(&admin().token)
                .json(json!({ "user": people[*u].id, "badge": badge(*n), "notes": "workload" }))
                .send()
                .await
        }
        Step::Revoke(u, n) => {
            app.delete(&format!(
                "/api/user-badges/{}-{}/",
                people[*u].id,
                badge(*n)
            ))
            .bearer(&admin().token)
            .send()
            .await
        }
    }
}

/// Runs the steps one after another, tallying the answers and the faults each request met.
async fn run(app: &TestApp, faulty: &FaultyTable, cast: &mut Cast, steps: &[Step]) -> Tally {
    let mut tally = Tally::default();
    for step in steps {
        let before = faulty.stats().injected();
        let response = send(app, cast, step).await;
        let met = faulty.stats().injected() - before;
        tally.record(&format!("{step:?}"), &response, met);
        if matches!(step, Step::DefineBadge(_)) && response.status == 201 {
            cast.badges
                .push(response.body_json()["id"].as_i64().expect("a badge id"));
        }
    }
    tally
}

/// Every item of the table, read straight from the engine (no faults, no retries).
async fn everything(table: &dyn Table) -> Vec<Item> {
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .scan(Scan::segment(0, 1).after(cursor))
            .await
            .expect("scan the table");
        items.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return items,
        }
    }
}

fn text<'a>(item: &'a Item, attr: &str) -> &'a str {
    item.get(attr).and_then(Value::as_str).unwrap_or_default()
}

/// What the invariants were checked on, for the report.
#[derive(Debug)]
struct Checked {
    users: usize,
    active_follows: usize,
    blocks: usize,
    unique_items: usize,
    badges_held: usize,
}

/// Fails the check with a message unless the condition holds.
macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

/// Reads the whole table and asserts that no request left a partial write.
async fn assert_no_partial_writes(table: &dyn Table) -> Checked {
    check_store(table)
        .await
        .unwrap_or_else(|why| panic!("partial write in the store: {why}"))
}

/// Reads the whole table and checks that no request left a partial write: every account has
/// its credentials, settings and both unique items and every unique item points at the account
/// that holds that name; every edge joins two accounts; every follower and following counter
/// equals the active edges; no follow edge exists either way between a blocker and the blocked.
async fn check_store(table: &dyn Table) -> Result<Checked, String> {
    let items = everything(table).await;
    let mut users: BTreeMap<UserId, UserRecord> = BTreeMap::new();
    let mut parts: BTreeSet<(String, String)> = BTreeSet::new();
    let mut follows: Vec<FollowEdge> = Vec::new();
    let mut blocks: Vec<BlockEdge> = Vec::new();
    let mut unique: BTreeMap<Key, UserId> = BTreeMap::new();
    let mut held: Vec<UserBadge> = Vec::new();
    let mut scores: BTreeMap<i64, BadgeScore> = BTreeMap::new();
    let mut earned_counts: BTreeMap<i64, i64> = BTreeMap::new();
    // The holder count items (`keys::badge_earned`), added to what a definition carries.
    let mut count_items: BTreeMap<i64, i64> = BTreeMap::new();
    let mut badge_stats = (0, 0);
    let mut badge_names: BTreeMap<Key, i64> = BTreeMap::new();
    let mut definitions: BTreeMap<i64, String> = BTreeMap::new();
    let number = |item: &Item, attr: &str| item.get(attr).and_then(Value::as_i64).unwrap_or(0);
    for item in &items {
        let (pk, sk) = (text(item, "PK"), text(item, "SK"));
        let shape = |e: accounts::store::ItemShapeError| format!("{pk} {sk}: {e}");
        if pk.starts_with("UNIQUE#BADGENAME#") {
            let badge = item.get("badge_id").and_then(Value::as_i64);
            let badge = badge.ok_or_else(|| format!("unique item {pk} names no badge"))?;
            badge_names.insert(Key::new(pk, sk), badge);
        } else if pk.starts_with("UNIQUE#") {
            let owner = item.get("user_id").and_then(Value::as_i64).map(UserId);
            let owner = owner.ok_or_else(|| format!("unique item {pk} names no user"))?;
            unique.insert(Key::new(pk, sk), owner);
        } else if pk.starts_with("BADGE#") && sk == "DEFINITION" {
            let id = pk
                .trim_start_matches("BADGE#")
                .parse()
                .map_err(|_| pk.to_owned())?;
            earned_counts.insert(id, number(item, "earned_count"));
            definitions.insert(id, text(item, "name").to_owned());
        } else if pk.starts_with("BADGE#") && sk == "EARNED" {
            let id = pk
                .trim_start_matches("BADGE#")
                .parse()
                .map_err(|_| pk.to_owned())?;
            count_items.insert(id, number(item, "count"));
        } else if keys::is_badge_stats(&Key::new(pk, sk)) {
            badge_stats.0 += number(item, "total_awards");
            badge_stats.1 += number(item, "unique_holders");
        } else if pk.starts_with("USER#") {
            if sk == "PROFILE" {
                let user: UserRecord = from_item(item).map_err(shape)?;
                users.insert(user.id, user);
            } else if sk.starts_with(keys::FOLLOWS_PREFIX) {
                follows.push(FollowEdge::from_item(item).map_err(shape)?);
            } else if sk.starts_with(keys::BLOCKS_PREFIX) {
                blocks.push(BlockEdge::from_item(item).map_err(shape)?);
            } else if sk.starts_with(keys::USER_BADGE_PREFIX) {
                held.push(UserBadge::from_item(item).map_err(shape)?);
            } else if sk == keys::badge_score(UserId(0)).sk {
                let score = BadgeScore::from_item(item).map_err(shape)?;
                scores.insert(score.user_id, score);
            } else {
                parts.insert((pk.to_owned(), sk.to_owned()));
            }
        }
    }

    // Registration is one transaction: all five items or none.
    let names_of = |user: &UserRecord| -> Result<[Key; 2], String> {
        let username = Username::parse(&user.username)?;
        let email = EmailAddress::parse(&user.email)?;
        Ok([
            keys::unique_username(&username.key()),
            keys::unique_email(&email.key()),
        ])
    };
    for (id, user) in &users {
        for part in [keys::credentials(*id), keys::settings(*id)] {
            ensure!(
                parts.contains(&(part.pk.clone(), part.sk.clone())),
                "user {id} has no {} item",
                part.sk
            );
        }
        for key in names_of(user)? {
            ensure!(
                unique.get(&key) == Some(id),
                "{key:?} of user {id} points at {:?}",
                unique.get(&key)
            );
        }
    }
    for (key, owner) in &unique {
        let user = users
            .get(owner)
            .ok_or_else(|| format!("orphan unique item {key:?}: user {owner} does not exist"))?;
        ensure!(
            names_of(user)?.contains(key),
            "{key:?} is not a name of user {owner}"
        );
    }
    // Credentials and settings of no account would be leftovers of a half registration.
    for (pk, sk) in &parts {
        if sk == "CREDENTIALS" || sk == "SETTINGS" {
            let id = pk.trim_start_matches("USER#").parse().map(UserId);
            ensure!(
                id.is_ok_and(|id| users.contains_key(&id)),
                "{pk} {sk} of no account"
            );
        }
    }

    let mut followers: BTreeMap<UserId, i64> = BTreeMap::new();
    let mut following: BTreeMap<UserId, i64> = BTreeMap::new();
    for edge in &follows {
        ensure!(
            users.contains_key(&edge.follower) && users.contains_key(&edge.following),
            "{edge:?} joins a missing account"
        );
        if edge.status == FollowStatus::Active {
            *following.entry(edge.follower).or_default() += 1;
            *followers.entry(edge.following).or_default() += 1;
        }
    }
    for (id, user) in &users {
        let expected = (
            followers.get(id).copied().unwrap_or(0),
            following.get(id).copied().unwrap_or(0),
        );
        let stored = (user.follower_count, user.following_count);
        ensure!(
            stored == expected,
            "(follower_count, following_count) of user {id} is {stored:?}, its edges say {expected:?}"
        );
    }
    let edges: BTreeSet<(UserId, UserId)> =
        follows.iter().map(|e| (e.follower, e.following)).collect();
    for block in &blocks {
        ensure!(
            users.contains_key(&block.blocker) && users.contains_key(&block.blocked),
            "{block:?} joins a missing account"
        );
        for (a, b) in [
            (block.blocker, block.blocked),
            (block.blocked, block.blocker),
        ] {
            ensure!(
                !edges.contains(&(a, b)),
                "{} blocks {} yet {a} follows {b}",
                block.blocker,
                block.blocked
            );
        }
    }

    // Badges: each award is one transaction moving the holder's points, score and the
    // aggregates; every one of them must agree with the badges actually held.
    let mut holdings: BTreeMap<UserId, Vec<&UserBadge>> = BTreeMap::new();
    let mut holders: BTreeMap<i64, i64> = BTreeMap::new();
    for badge in &held {
        ensure!(
            users.contains_key(&badge.user),
            "{badge:?} of a missing account"
        );
        ensure!(
            earned_counts.contains_key(&badge.badge.0),
            "{badge:?} of a missing definition"
        );
        holdings.entry(badge.user).or_default().push(badge);
        *holders.entry(badge.badge.0).or_default() += 1;
    }
    for (id, user) in &users {
        let mine = holdings.get(id).map(Vec::as_slice).unwrap_or_default();
        let points: i64 = mine.iter().map(|b| b.points).sum();
        ensure!(
            user.badge_points == points,
            "badge_points of user {id} is {}, its {} badges give {points}",
            user.badge_points,
            mine.len()
        );
        let ids: BTreeSet<String> = mine.iter().map(|b| b.badge.0.to_string()).collect();
        match scores.get(&id.0) {
            None => ensure!(mine.is_empty(), "user {id} holds badges but has no score"),
            Some(score) => {
                let scored: BTreeSet<String> = score.held.keys().cloned().collect();
                ensure!(
                    (score.points, score.badge_count, &scored) == (points, mine.len() as i64, &ids),
                    "score of user {id} is {score:?}, the badges held are {ids:?} for {points}"
                );
            }
        }
    }
    for (badge, stored) in &earned_counts {
        let earned = stored + count_items.get(badge).copied().unwrap_or(0);
        let holding = holders.get(badge).copied().unwrap_or(0);
        ensure!(
            earned == holding,
            "earned_count of badge {badge} is {earned}, {holding} hold it"
        );
    }
    // A definition and its name item are written together.
    for (id, name) in &definitions {
        let key = keys::unique_badge_name(&name.trim().to_lowercase());
        ensure!(
            badge_names.get(&key) == Some(id),
            "badge {id} ({name:?}): its name item is {:?}",
            badge_names.get(&key)
        );
    }
    ensure!(
        badge_names.len() == definitions.len(),
        "{} badge name items for {} definitions",
        badge_names.len(),
        definitions.len()
    );
    let totals = (held.len() as i64, holdings.len() as i64);
    ensure!(
        badge_stats == totals,
        "badge stats (total_awards, unique_holders) are {badge_stats:?}, the store holds {totals:?}"
    );

    Ok(Checked {
        users: users.len(),
        badges_held: held.len(),
        active_follows: follows.iter().filter(|e| e.is_active()).count(),
        blocks: blocks.len(),
        unique_items: unique.len(),
    })
}

/// The workload at `rate` (faults seeded with `seed`), then the whole store checked.
async fn faulty_run(
    t: TestTable,
    rate: FaultRate,
    seed: u64,
    steps: usize,
) -> (Tally, FaultStats, Checked) {
    let engine = t.engine();
    let (app, faulty, mut cast) = faulty_app(t, FaultConfig::seeded(rate, seed)).await;
    let started = std::time::Instant::now();
    let tally = run(&app, &faulty, &mut cast, &workload(WORKLOAD_SEED, steps)).await;
    let took = started.elapsed();
    let stats = faulty.stats();
    let checked = assert_no_partial_writes(app.table()).await;
    println!(
        "{engine}, {rate} faults: {tally:?} in {took:.2?}\n  store: {stats}\n  checked: {checked:?}"
    );
    (tally, stats, checked)
}

const WORKLOAD_SEED: u64 = 9;
const STEPS: usize = 160;

/// 20% of store calls fail: the requests are answered as they are without faults (or, rarely,
/// 503 with Retry-After), so most succeed thanks to the retries, and the store is consistent
/// afterwards.
async fn twenty_percent_faults_leave_no_partial_writes(t: TestTable) {
    let engine = t.engine();
    let (tally, stats, checked) = faulty_run(t, FaultRate::parse("20%").unwrap(), 20, STEPS).await;
    // The same workload on a store that never fails.
    let control_table = test_table(engine).await;
    let (control_app, control_faults, mut cast) =
        faulty_app(control_table, FaultConfig::seeded(FaultRate::NEVER, 0)).await;
    let steps = workload(WORKLOAD_SEED, STEPS);
    let started = std::time::Instant::now();
    let control = run(&control_app, &control_faults, &mut cast, &steps).await;
    let took = started.elapsed();

    // The faults were real: about one call in five failed, of every kind.
    let share = stats.injected() as f64 / stats.calls as f64;
    assert!((0.15..=0.25).contains(&share), "{stats}");
    assert!(stats.throttled > 0 && stats.timed_out > 0 && stats.conflicts > 0);
    // Some writes were applied and then answered "no answer in time".
    assert!(stats.answers_lost > 0, "{stats}");
    // Most requests succeeded, many of them after meeting a fault on the way.
    assert_eq!(tally.requests as usize, STEPS);
    assert!(
        tally.unavailable * 10 <= tally.requests,
        "more than 10% answered 503: {tally:?}"
    );
    assert!(
        tally.rescued * 3 >= tally.succeeded,
        "fewer than a third of the successes met a fault on the way: {tally:?}"
    );
    // Up to the first 503 (after which the two stores may differ), every request got the
    // answer it gets from a store that never fails: the retries hid every fault.
    let same = tally
        .sequence
        .iter()
        .position(|s| *s == 503)
        .unwrap_or(STEPS);
    assert_eq!(tally.sequence[..same], control.sequence[..same]);
    println!(
        "{engine}, no faults: {control:?} in {took:.2?}; identical answers: {same} of {STEPS}"
    );
    // The workload did something worth checking.
    assert!(checked.users > PEOPLE, "{checked:?}");
    assert_eq!(checked.unique_items, 2 * checked.users, "{checked:?}");
    assert!(checked.badges_held > 0, "{checked:?}");
    assert!(
        checked.active_follows > 0 && checked.blocks > 0,
        "{checked:?}"
    );
}

/// Half the store calls fail: many requests fail after their retries, each one a 503 with
/// Retry-After, and none of them leaves a partial write.
async fn fifty_percent_faults_fail_cleanly(t: TestTable) {
    let (tally, stats, checked) = faulty_run(t, FaultRate::parse("0.5").unwrap(), 50, 120).await;
    let share = stats.injected() as f64 / stats.calls as f64;
    assert!((0.45..=0.55).contains(&share), "{stats}");
    assert!(tally.unavailable >= 10, "{tally:?}");
    assert!(tally.succeeded >= 10, "{tally:?}");
    assert!(checked.users > PEOPLE, "{checked:?}");
}

/// Every call fails before the engine: every request is answered 503 with Retry-After, each
/// store call was tried exactly the policy's number of times, and the table is exactly as
/// before.
async fn all_faults_give_clean_503s_and_write_nothing(t: TestTable) {
    let engine = t.engine();
    let faults = FaultConfig::seeded(FaultRate::ALWAYS, 100).answers_never_lost();
    let (app, faulty, cast) = faulty_app(t, faults).await;
    let before = everything(app.table()).await;
    let tally = every_request_unavailable(&app, &faulty, &cast).await;
    assert_eq!(everything(app.table()).await, before, "a request wrote");
    assert_no_partial_writes(app.table()).await;
    let stats = faulty.stats();
    assert_eq!(stats.passed(), 0, "{stats}");
    println!("{engine}, 100% faults: {tally:?}\n  store: {stats}");
}

/// Every call fails, and some writes applied before their answer was lost: still every request
/// is answered 503 with Retry-After (no request can confirm what it wrote), and what was written
/// is whole.
async fn all_faults_with_lost_answers_give_clean_503s_and_whole_writes(t: TestTable) {
    let engine = t.engine();
    let (app, faulty, cast) = faulty_app(t, FaultConfig::seeded(FaultRate::ALWAYS, 101)).await;
    let before = everything(app.table()).await;
    let tally = every_request_unavailable(&app, &faulty, &cast).await;
    let checked = assert_no_partial_writes(app.table()).await;
    let stats = faulty.stats();
    assert!(stats.answers_lost > 0, "{stats}");
    assert_ne!(
        everything(app.table()).await,
        before,
        "no lost answer wrote"
    );
    assert_eq!(stats.passed(), 0, "{stats}");
    println!(
        "{engine}, 100% faults, answers lost: {tally:?}\n  store: {stats}\n  checked: {checked:?}"
    );
}

/// Sends a workload to a store where every call fails: asserts that each request is answered
/// 503 with Retry-After after trying each of its store calls the policy's number of times.
async fn every_request_unavailable(app: &TestApp, faulty: &FaultyTable, cast: &Cast) -> Tally {
    let attempts = u64::from(RetryPolicy::STORE.max_attempts);
    let steps = workload(5, 60);
    let mut tally = Tally::default();
    for step in &steps {
        let calls = faulty.stats().calls;
        let response = send(app, cast, step).await;
        let made = faulty.stats().calls - calls;
        tally.record(&format!("{step:?}"), &response, made);
        assert_eq!(response.status, 503, "{step:?}: {}", response.body_json());
        // Each store call the request made was tried `attempts` times, then given up.
        assert!(
            made >= attempts && made.is_multiple_of(attempts),
            "{step:?}: {made} store calls"
        );
    }
    assert_eq!(tally.unavailable, 60);
    tally
}

/// `ACCOUNTS_INJECT_FAULTS` switches the faults on through the configuration (as
/// `accounts-local --inject-faults` does).
async fn the_setting_injects_faults(t: TestTable) {
    let app = TestApp::with_settings(
        t,
        &[
            ("ACCOUNTS_INJECT_FAULTS", "100%"),
            ("ACCOUNTS_INJECT_FAULTS_SEED", "3"),
        ],
    )
    .await;
    let health = app.get("/api/health/").send().await;
    assert_eq!(health.status, 503, "{}", health.body_json());
    assert!(
        health.headers.get("retry-after").is_some(),
        "the health 503 says when to try again"
    );
    let nobody = Cast {
        people: Vec::new(),
        badges: Vec::new(),
    };
    let registered = send(&app, &nobody, &Step::Register("jane".into())).await;
    assert_eq!(registered.status, 503, "{}", registered.body_json());
    assert_eq!(registered.headers.get("retry-after").unwrap(), "1");
    // No account: an applied write whose answer was lost may leave the user id counter
    // moved on, never part of an account.
    let checked = assert_no_partial_writes(app.table()).await;
    assert_eq!(checked.users, 0, "{checked:?}");
}

/// Asserts that the consistency check fails on the table as it is now, for the reason named.
async fn assert_check_fails(table: &dyn Table, because: &str) {
    match check_store(table).await {
        Err(why) => assert!(why.contains(because), "failed for another reason: {why}"),
        Ok(_) => panic!("the check missed it: {because}"),
    }
}

/// The consistency check is not vacuous: each kind of partial write it looks for makes it fail.
async fn the_check_catches_partial_writes(t: TestTable) {
    let table = t.table();
    let (app, _faults, cast) = faulty_app(t, FaultConfig::seeded(FaultRate::NEVER, 0)).await;
    let people = &cast.people;
    let followed = social_support::follow(&app, &people[0], people[1].id).await;
    assert_eq!(followed.status, 201);
    let blocked = social_support::block(&app, &people[2], people[3].id).await;
    assert_eq!(blocked.status, 201);
    check_store(&*table)
        .await
        .expect("the store starts consistent");

    // A counter moved without its edge.
    let profile = keys::user(people[1].id);
    let bump = |n: i64| Update::new().add("follower_count", n);
    table.update(&profile, bump(1), None).await.unwrap();
    assert_check_fails(&*table, "(follower_count, following_count) of user").await;
    table.update(&profile, bump(-1), None).await.unwrap();

    // Points without the badge that gives them.
    let points = Update::new().add("badge_points", 10);
    table.update(&profile, points, None).await.unwrap();
    assert_check_fails(&*table, "badge_points of user").await;
    let points = Update::new().add("badge_points", -10);
    table.update(&profile, points, None).await.unwrap();

    // A unique item of no account, and an account without its credentials.
    let orphan = keys::unique_username("ghost");
    let mut item = orphan.to_item();
    item.insert("user_id".into(), Value::Int(999));
    table.put(item, None).await.unwrap();
    assert_check_fails(&*table, "orphan unique item").await;
    table.delete(&orphan, None).await.unwrap();
    let credentials = keys::credentials(people[4].id);
    let saved = table.delete(&credentials, None).await.unwrap().unwrap();
    assert_check_fails(&*table, "has no CREDENTIALS item").await;
    table.put(saved, None).await.unwrap();

    // A follow request against a block (pending: no counter moves).
    let edge = FollowEdge {
        follower: people[3].id,
        following: people[2].id,
        status: FollowStatus::Pending,
        created_at: chrono::Utc::now(),
        approved_at: None,
    };
    table.put(edge.to_item().unwrap(), None).await.unwrap();
    assert_check_fails(&*table, "yet 4 follows 3").await;
    let edge_key = keys::follow_edge(people[3].id, people[2].id);
    table.delete(&edge_key, None).await.unwrap();

    check_store(&*table)
        .await
        .expect("consistent again once repaired");
}

/// A table that throttles every transaction while reads go through: the follow is a 503 after
/// the store's own tries, not after the social loop's 10 rounds of them on top; nothing moved.
async fn a_throttled_transaction_is_not_retried_on_top(t: TestTable) {
    let (app, store) = api_tests::lost_answers::LosesAnswers::under_app(t).await;
    let a = person(&app.app, 1).await;
    let b = person(&app.app, 2).await;
    // The day's visit (a transaction of the first request) is recorded before the throttling.
    let me = app.get("/api/auth/me/").bearer(&a.token).send().await;
    assert_eq!(me.status, 200);
    store.throttle_transactions(true);
    let response = social_support::follow(&app, &a, b.id).await;
    store.throttle_transactions(false);
    assert_eq!(response.status, 503, "{}", response.body_json());
    assert!(response.headers.get("retry-after").is_some());
    assert_eq!(
        store.throttled(),
        u64::from(RetryPolicy::STORE.max_attempts),
        "the store's tries, once"
    );
    assert_eq!(social_support::counters(&app.app, a.id).await, (0, 0));
    assert_eq!(social_support::counters(&app.app, b.id).await, (0, 0));

    let response = social_support::follow(&app, &a, b.id).await;
    assert_eq!(response.status, 201, "{}", response.body_json());
    assert_eq!(social_support::counters(&app.app, b.id).await, (1, 0));
}

/// The badge changes (award, revoke, featuring, definition update and delete) under the same
/// throttling: each is a 503 after the store's tries once, not after its loop's 10 rounds of
/// them; nothing moved, and each goes through once the table recovers.
async fn throttled_badge_changes_are_not_retried_on_top(t: TestTable) {
    use crate::badges_core_support as badges;
    let (app, store) = api_tests::lost_answers::LosesAnswers::under_app(t).await;
    let root = admin(&app.app, 1).await;
    let user = person(&app.app, 2).await;
    let held = badges::common_badge(&app, &root, "Held", 20).await;
    let other = badges::common_badge(&app, &root, "Other", 10).await;
    let unheld = badges::common_badge(&app, &root, "Unheld", 15).await;
    badges::award_ok(&app, &root, user.id, held).await;

    let award = || badges::award(&app, &root, user.id, other);
    let feature = || {
        app.patch(&format!("/api/user-badges/{}-{held}/", user.id))
            .bearer(&user.token)
            .json(json!({"is_featured": true}))
            .send()
    };
    let revoke = || {
        app.delete(&format!("/api/user-badges/{}-{held}/", user.id))
            .bearer(&root.token)
            .send()
    };
    let rename = || {
        app.patch(&format!("/api/badges/{unheld}/"))
            .bearer(&root.token)
            .json(json!({"description": "Renamed"}))
            .send()
    };
    let delete = || {
        app.delete(&format!("/api/badges/{unheld}/"))
            .bearer(&root.token)
            .send()
    };

    // Futures do nothing until awaited: each change is sent in the loop, one after another.
    let changes: [(&str, BoxFuture<'_, ApiResponse>); 5] = [
        ("award", Box::pin(award())),
        ("feature", Box::pin(feature())),
        ("revoke", Box::pin(revoke())),
        ("update the definition", Box::pin(rename())),
        ("delete the definition", Box::pin(delete())),
    ];
    let tries = u64::from(RetryPolicy::STORE.max_attempts);
    // The day's visit (a transaction of the first request) is recorded before the throttling.
    for who in [&root, &user] {
        let me = app.get("/api/auth/me/").bearer(&who.token).send().await;
        assert_eq!(me.status, 200);
    }
    store.throttle_transactions(true);
    for (change, send) in changes {
        let before = store.throttled();
        let response = send.await;
        assert_eq!(response.status, 503, "{change}: {}", response.body_json());
        assert!(response.headers.get("retry-after").is_some(), "{change}");
        let calls = store.throttled() - before;
        assert_eq!(calls, tries, "{change}: the store's tries, once");
    }
    store.throttle_transactions(false);

    // Nothing moved: the one badge still held, not featured, the definition as it was.
    assert_eq!(badge_points(&app.app, user.id).await, 20);
    let path = format!("/api/user-badges/{}-{held}/", user.id);
    let mine = badges::get_json(&app, &user, &path, 200).await;
    assert_eq!(mine["is_featured"], false, "{mine}");
    let definition = badges::get_json(&app, &root, &format!("/api/badges/{unheld}/"), 200).await;
    assert_eq!(
        definition["description"], "The Unheld badge",
        "{definition}"
    );

    // And every change goes through once the table answers.
    assert_eq!(award().await.status, 201);
    assert_eq!(feature().await.status, 200);
    assert_eq!(revoke().await.status, 204);
    assert_eq!(rename().await.status, 200);
    assert_eq!(delete().await.status, 204);
    assert_eq!(badge_points(&app.app, user.id).await, 10);
}

both_engines!(
    a_throttled_transaction_is_not_retried_on_top,
    throttled_badge_changes_are_not_retried_on_top,
    the_check_catches_partial_writes,
    twenty_percent_faults_leave_no_partial_writes,
    fifty_percent_faults_fail_cleanly,
    all_faults_give_clean_503s_and_write_nothing,
    all_faults_with_lost_answers_give_clean_503s_and_whole_writes,
    the_setting_injects_faults,
    store_stack_at_rate_zero_is_transparent,
);

/// One result as text: items are ordered maps, errors carry the engine's message, so two runs
/// that behave alike print alike.
fn shown<T: std::fmt::Debug, E: std::fmt::Debug>(result: &Result<T, E>) -> String {
    format!("{result:?}")
}

fn item(pk: &str, sk: &str, attrs: &[(&str, Value)]) -> Item {
    let mut item = Key::new(pk, sk).to_item();
    for (name, value) in attrs {
        item.insert((*name).into(), value.clone());
    }
    item
}

/// The same script of calls on a plain table and through the App's store stack at rate 0
/// (`RetryingTable` over `FaultyTable`): every result, value and error, is the same.
async fn run_script(table: &dyn Table) -> Vec<String> {
    let mut out = Vec::new();
    let a = Key::new("USER#1", "A");
    let indexed = |sk: &str, n: i64| {
        item(
            "USER#1",
            sk,
            &[
                ("n", Value::Int(n)),
                ("GSI1PK", Value::S("LIST".into())),
                ("GSI1SK", Value::S(format!("{n:03}"))),
            ],
        )
    };
    for n in 0..12 {
        out.push(shown(
            &table.put(indexed(&format!("I{n:02}"), n), None).await,
        ));
    }
    out.push(shown(
        &table
            .put(item("USER#1", "A", &[("n", Value::Int(1))]), None)
            .await,
    ));
    out.push(shown(
        &table
            .put(item("USER#1", "A", &[]), Some(Condition::item_absent()))
            .await,
    ));
    out.push(shown(&table.get(&a, true).await));
    out.push(shown(
        &table.get(&Key::new("USER#1", "missing"), false).await,
    ));
    out.push(shown(
        &table
            .update(
                &a,
                Update::new().add("n", 2).set("s", "x"),
                Some(Condition::item_present()),
            )
            .await,
    ));
    out.push(shown(
        &table.update(&a, Update::new().add("s", 1), None).await,
    ));
    out.push(shown(
        &table
            .update(&a, Update::new().remove("s"), Some(Condition::eq("n", 9)))
            .await,
    ));
    out.push(shown(
        &table
            .batch_get(&[
                a.clone(),
                Key::new("USER#1", "none"),
                Key::new("USER#1", "I03"),
            ])
            .await,
    ));
    let put = |sk: &str, condition: Option<Condition>| TxOp::Put {
        item: item("USER#2", sk, &[]),
        condition,
    };
    out.push(shown(
        &table
            .transact_write(vec![
                put("T1", None),
                put("T2", Some(Condition::item_absent())),
                TxOp::Update {
                    key: a.clone(),
                    update: Update::new().add("n", 1),
                    condition: None,
                },
            ])
            .await,
    ));
    out.push(shown(
        &table
            .transact_write(vec![
                put("T3", None),
                put("T2", Some(Condition::item_absent())),
                TxOp::Check {
                    key: a.clone(),
                    condition: Condition::eq("n", 4),
                },
            ])
            .await,
    ));
    // The cancellation reasons survive the stack.
    let cancelled = table
        .transact_write(vec![
            put("T4", None),
            put("T1", Some(Condition::item_absent())),
        ])
        .await;
    if let Err(e) = &cancelled {
        out.push(format!("failed index {:?}", e.failed_condition_index()));
        assert!(!e.is_retryable());
    }
    out.push(shown(&cancelled));
    out.push(shown(
        &table
            .transact_write(vec![put("T5", None), put("T5", None)])
            .await
            .map_err(|e| matches!(e, StoreError::Validation(_))),
    ));
    // Pages, cursors and filters: main key and GSI, both directions.
    let mut cursor = None;
    loop {
        let page = table
            .query(
                Query::new(Index::Primary, "USER#1")
                    .sort(SortCondition::BeginsWith("I".into()))
                    .limit(5)
                    .after(cursor),
            )
            .await;
        out.push(shown(&page));
        match page.ok().and_then(|p| p.next) {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    out.push(shown(
        &table
            .query(
                Query::new(Index::Gsi1, "LIST")
                    .descending()
                    .limit(4)
                    .filter(Condition::Gt("n".into(), Value::Int(5))),
            )
            .await,
    ));
    out.push(shown(
        &table
            .query(Query::new(Index::Primary, "USER#1").after(Some(Cursor::from_client("@@"))))
            .await
            .map_err(|e| matches!(e, StoreError::Validation(_))),
    ));
    out.push(shown(&table.delete(&a, Some(Condition::eq("n", 0))).await));
    out.push(shown(&table.delete(&a, None).await));
    out.push(shown(&table.delete(&a, None).await));
    let mut all = Vec::new();
    for segment in 0..3 {
        all.extend(everything_in(table, segment).await);
    }
    all.sort_by_key(Key::of);
    out.push(format!("{all:?}"));
    out.push(shown(&table.health().await));
    out
}

async fn everything_in(table: &dyn Table, segment: u32) -> Vec<Item> {
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .scan(Scan::segment(segment, 3).limit(4).after(cursor))
            .await
            .expect("scan a segment");
        items.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return items,
        }
    }
}

async fn store_stack_at_rate_zero_is_transparent(t: TestTable) {
    let plain = test_table(t.engine()).await;
    let faulty = Arc::new(FaultyTable::new(
        t.table(),
        FaultConfig::seeded(FaultRate::NEVER, 1),
    ));
    let stack = RetryingTable::new(faulty.clone(), RetryPolicy::STORE);
    let through = run_script(&stack).await;
    let direct = run_script(&*plain).await;
    assert_eq!(through.len(), direct.len());
    for (i, (a, b)) in through.iter().zip(&direct).enumerate() {
        assert_eq!(a, b, "call {i} differs through the stack");
    }
    // The script met each kind of answer, and nothing was retried or injected.
    let joined = direct.join("\n");
    for expected in [
        "ConditionFailed",
        "TransactionCanceled",
        "Ok(Some(",
        "next: Some(",
    ] {
        assert!(joined.contains(expected), "the script never saw {expected}");
    }
    assert!(joined.contains(&format!("{:?}", CancelReason::ConditionFailed)));
    let stats: FaultStats = faulty.stats();
    assert_eq!(stats.injected(), 0);
    assert!(stats.calls as usize >= direct.len(), "{stats}");
    assert_eq!(stack.stats().retries, 0);
}
