//! `accounts-admin award-badge` as the seed's `award_badge` command answers: its three
//! messages on stdout, and a non-zero exit status for the two failures.

use std::path::Path;
use std::process::{Command, Output};

const ADMIN: &str = env!("CARGO_BIN_EXE_accounts-admin");

fn admin(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(ADMIN)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--store", "embedded"])
        .args(args)
        .env("TABLE_NAME", "award-badge")
        .env("RUST_LOG", "warn")
        .output()
        .expect("start accounts-admin")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn award_badge_prints_the_seed_messages() {
    let dir = tempfile::tempdir().unwrap();
    let out = admin(
        dir.path(),
        &[
            "create-admin",
            "--username",
            "root",
            "--email",
            "root@example.com",
            "--password",
            "violet-harbour-42",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let created = text(&out.stdout);
    let id = created
        .split("(id ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .expect("the new id")
        .to_owned();
    let out = admin(dir.path(), &["install-badges"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let award = |user: &str, badge: &str| {
        admin(
            dir.path(),
            &["award-badge", "--user", user, "--badge", badge],
        )
    };
    let out = award(&id, "beta tester");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        "Badge 'Beta Tester' awarded to user root"
    );

    // Held already, or no such badge: the award failed.
    for badge in ["Beta Tester", "No Such Badge"] {
        let out = award(&id, badge);
        assert!(!out.status.success(), "{badge}");
        assert_eq!(text(&out.stdout).trim(), "Badge award failed", "{badge}");
    }
    for user in ["999", "0"] {
        let out = award(user, "Beta Tester");
        assert!(!out.status.success(), "{user}");
        assert_eq!(text(&out.stdout).trim(), "User not found", "{user}");
    }
}
