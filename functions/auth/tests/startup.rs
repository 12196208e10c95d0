//! A Lambda binary with a missing setting stops at cold start with one line naming it.

use std::process::Command;

#[test]
fn missing_table_name_fails_startup_naming_the_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_auth"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        "startup failed: invalid configuration: TABLE_NAME: must be set for the dynamodb store"
    );
}
