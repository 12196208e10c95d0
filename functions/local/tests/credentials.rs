//! accounts-admin (and accounts-local, which loads its AWS configuration the same way) with the
//! credentials an operator's machine has: a profile in `~/.aws/config` that runs a
//! `credential_process`, or one that signs in through IAM Identity Center (`aws sso login`).
//! aws-config refuses both kinds unless built with the matching feature, so these tests run the
//! real binary against moto with nothing but the profile to go on.

use std::path::Path;
use std::process::{Command, Output};

const ADMIN: &str = env!("CARGO_BIN_EXE_accounts-admin");

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn moto_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .expect("moto is not running: AWS_ENDPOINT_URL is unset; run scripts/test")
}

/// Runs one task on DynamoDB (one table, made for the test) with `home` as the home directory
/// (and the data dir, where the local signing key goes) and `profile` from `home/.aws/config`:
/// the key variables scripts/test exports are removed, so the profile is the only place
/// credentials can come from.
fn run_task_with_profile(home: &Path, profile: &str, table: &str) -> Output {
    Command::new(ADMIN)
        .arg("--data-dir")
        .arg(home.join("data"))
        .args(["--store", "dynamodb", "run-task", "update_user_counters"])
        .env("TABLE_NAME", table)
        .env("AWS_ENDPOINT_URL", moto_endpoint())
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join(".aws/config"))
        .env("AWS_PROFILE", profile)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "warn")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_DEFAULT_REGION")
        .output()
        .expect("start accounts-admin")
}

fn write_config(home: &Path, config: &str) {
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(home.join(".aws/config"), config).unwrap();
}

#[test]
fn a_credential_process_profile_supplies_the_keys() {
    let home = tempfile::tempdir().unwrap();
    let called = home.path().join("process-ran");
    // The process leaves a mark, then prints credentials in the format the AWS CLI documents.
    let script = home.path().join("credentials.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ntouch '{}'\necho '{{\"Version\": 1, \"AccessKeyId\": \"AKIDPROCESS\", \
             \"SecretAccessKey\": \"process-secret\"}}'\n",
            called.display()
        ),
    )
    .unwrap();
    write_config(
        home.path(),
        &format!(
            "[profile ops]\ncredential_process = /bin/sh {}\n",
            script.display()
        ),
    );
    let table = format!("credentials-process-{}", std::process::id());
    let out = run_task_with_profile(home.path(), "ops", &table);
    assert!(
        out.status.success(),
        "run-task with a credential_process profile: {}",
        text(&out.stderr)
    );
    assert!(called.exists(), "the credential process never ran");
    // The run record is the last line of stdout (log lines, if any, come before it).
    let stdout = text(&out.stdout);
    let last = stdout.trim().lines().last().unwrap_or_default();
    let record: serde_json::Value = serde_json::from_str(last).expect(&stdout);
    assert_eq!(record["status"], "completed", "{record}");
}

#[test]
fn an_sso_profile_asks_for_a_sign_in_rather_than_a_feature() {
    // No cached token: `aws sso login` has not been run. The chain must get as far as looking
    // for the token in the SSO cache (and say so), not stop at a profile kind it was built
    // without ("This behavior requires following cargo feature(s) enabled: sso").
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        "[profile sso-ops]\nsso_start_url = https://example.awsapps.com/start\n\
         sso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = Operator\n",
    );
    let table = format!("credentials-sso-{}", std::process::id());
    let out = run_task_with_profile(home.path(), "sso-ops", &table);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "no credentials, yet: {stderr}");
    assert!(!stderr.contains("feature"), "{stderr}");
    assert!(stderr.contains(".aws/sso/cache/"), "{stderr}");
}
