//! `accounts-admin seed` and `accounts-admin run-task` as an operator runs them, on the
//! embedded store (`--data-dir`) and on DynamoDB (`--store dynamodb`, moto through
//! AWS_ENDPOINT_URL, as scripts/test sets it).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value as Json;

const ADMIN: &str = env!("CARGO_BIN_EXE_accounts-admin");

fn admin(data_dir: &Path, store: &str, table: &str, args: &[&str]) -> Output {
    Command::new(ADMIN)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--store", store])
        .args(args)
        .env("TABLE_NAME", table)
        .env("RUST_LOG", "warn")
        .output()
        .expect("start accounts-admin")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn seeds_and_runs_tasks(store: &str) {
    let data_dir = tempfile::tempdir().unwrap();
    let table = format!("tasks-admin-{}", std::process::id());
    // moto is not safe for concurrent transactions: one at a time there.
    let parallel = if store == "dynamodb" { "1" } else { "8" };
    let seed = ["seed", "--users", "30", "--parallel", parallel];
    let out = admin(data_dir.path(), store, &table, &seed);
    assert!(out.status.success(), "seed: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("seeded users"),
        "{}",
        text(&out.stdout)
    );
    // Not a terminal: the progress is plain lines on stderr, the last one at the end.
    assert!(
        text(&out.stderr).contains("30 users done"),
        "{}",
        text(&out.stderr)
    );

    let out = admin(data_dir.path(), store, &table, &["run-task", "list"]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout).lines().collect::<Vec<_>>(),
        accounts::tasks::TASKS,
        "every scheduled task, one a line"
    );

    // Seeded counters are right: nothing to fix; the run record comes back as JSON.
    let out = admin(
        data_dir.path(),
        store,
        &table,
        &["run-task", "update_user_counters"],
    );
    assert!(out.status.success(), "run-task: {}", text(&out.stderr));
    let record: Json = serde_json::from_str(text(&out.stdout).trim()).expect("a JSON run record");
    assert_eq!(record["status"], "completed", "{record}");
    assert_eq!(record["items_fixed"], 0, "{record}");
    assert!(record["items_read"].as_u64().unwrap() >= 30, "{record}");
    // And a summary for the operator on stderr.
    assert!(
        text(&out.stderr).contains("update_user_counters: Completed in"),
        "{}",
        text(&out.stderr)
    );

    // A page budget stops the walk; the next run carries on from the checkpoint.
    let args = [
        "run-task",
        "update_user_session_analytics",
        "--max-pages",
        "1",
        "--page-size",
        "5",
    ];
    let out = admin(data_dir.path(), store, &table, &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let first: Json = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(first["status"], "checkpointed", "{first}");
    let out = admin(
        data_dir.path(),
        store,
        &table,
        &["run-task", "update_user_session_analytics"],
    );
    let second: Json = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(second["status"], "completed", "{second}");
    assert_eq!(second["resumed_from"], first["run_id"]);

    let out = admin(data_dir.path(), store, &table, &["run-task", "nope"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("Unknown task"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn seeds_and_runs_tasks_on_the_embedded_store() {
    seeds_and_runs_tasks("embedded");
}

#[test]
fn seeds_and_runs_tasks_on_dynamodb() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok_and(|v| !v.is_empty()),
        "moto is not running: AWS_ENDPOINT_URL is unset; run scripts/test"
    );
    seeds_and_runs_tasks("dynamodb");
}
