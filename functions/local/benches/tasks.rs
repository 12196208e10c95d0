//! The scheduled tasks' benchmark (not a test): seeds N users into a fresh embedded data dir
//! with `accounts-admin seed`, then runs every task once with `accounts-admin run-task`, each
//! in its own process under `/usr/bin/time`, and prints a Markdown table of wall time, items
//! read and written, and the process's peak RSS.
//!
//! ```text
//! cargo bench -p accounts-local --bench tasks                      # 10k and 100k users
//! TASK_BENCH_SIZES=1000,10000 cargo bench -p accounts-local --bench tasks
//! ```

use std::path::Path;
use std::process::Command;
use std::time::Instant;

const ADMIN: &str = env!("CARGO_BIN_EXE_accounts-admin");
const TIME: &str = "/usr/bin/time";

/// Runs accounts-admin under `/usr/bin/time`: (stdout, wall seconds, peak RSS in KiB).
fn measured(data_dir: &Path, args: &[&str]) -> (String, f64, u64) {
    let out = Command::new(TIME)
        .args(["-f", "TIME %e %M", ADMIN, "--data-dir"])
        .arg(data_dir)
        .args(["--store", "embedded"])
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap_or_else(|e| panic!("run {TIME} (GNU time is needed): {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "accounts-admin {args:?} failed: {stderr}"
    );
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("TIME "))
        .unwrap_or_else(|| panic!("no timing line in {stderr}"));
    let mut parts = line.split_whitespace().skip(1);
    let secs = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0.0);
    let kib = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    (String::from_utf8_lossy(&out.stdout).into_owned(), secs, kib)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the command line.
    let sizes: Vec<u64> = std::env::var("TASK_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let tasks: Vec<String> = {
        let scratch = tempfile::tempdir().expect("a temporary directory");
        let out = Command::new(ADMIN)
            .arg("--data-dir")
            .arg(scratch.path())
            .args(["run-task", "list"])
            .env("RUST_LOG", "warn")
            .output()
            .expect("run accounts-admin");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    };
    println!("| users | task | wall s | items read | items written | peak RSS MiB |");
    println!("|---:|---|---:|---:|---:|---:|");
    for users in sizes {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let started = Instant::now();
        let n = users.to_string();
        let (_, secs, kib) = measured(dir.path(), &["seed", "--users", &n]);
        println!(
            "| {users} | seed | {secs:.2} | | | {:.1} |",
            kib as f64 / 1024.0
        );
        for task in &tasks {
            let (stdout, secs, kib) = measured(dir.path(), &["run-task", task]);
            // Log lines (warnings) share stdout: the record is the line with a run id.
            let line = stdout
                .lines()
                .rev()
                .find(|l| l.starts_with("{\"run_id\""))
                .unwrap_or_else(|| panic!("no run record in {stdout}"));
            let record: serde_json::Value = serde_json::from_str(line).expect("a JSON run record");
            assert_eq!(record["status"], "completed", "{record}");
            println!(
                "| {users} | {task} | {secs:.2} | {} | {} | {:.1} |",
                record["items_read"],
                record["items_written"],
                kib as f64 / 1024.0
            );
        }
        eprintln!(
            "{users} users: {:.1} s in all",
            started.elapsed().as_secs_f64()
        );
    }
}
