//! accounts-local as a person runs it: start on a free port, answer health over real TCP,
//! stop cleanly on SIGTERM, refuse a bad setting with one line naming it.

mod support;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_accounts-local");

fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to accounts-local");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

/// Starts accounts-local on a free port and returns it with its address and stdout.
fn start(
    command: &mut Command,
) -> (
    std::process::Child,
    String,
    BufReader<std::process::ChildStdout>,
) {
    let (child, addr, _ready, stdout) =
        support::spawn_ready(command.args(["--port", "0"]).env("RUST_LOG", "warn"));
    (child, addr, stdout)
}

fn stop(mut child: std::process::Child) {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(child.wait().unwrap().success());
}

#[test]
fn serves_health_and_stops_gracefully_on_sigterm() {
    let data_dir = tempfile::tempdir().unwrap();
    let (mut child, addr, mut stdout) = start(
        Command::new(BIN)
            .arg("--data-dir")
            .arg(data_dir.path())
            .env_remove("STORE"),
    );

    let (status, body) = get(&addr, "/api/health/");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(r#"{"status":"ok","store":"embedded"}"#),
        "{body}"
    );
    assert!(
        body.to_ascii_lowercase().contains("x-request-id:"),
        "{body}"
    );
    let (status, _) = get(&addr, "/api/nope/");
    assert_eq!(status, 404);
    assert!(
        data_dir.path().join("accounts.sqlite3").exists(),
        "the embedded store lives in the data dir"
    );

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful stop exits 0, got {status}");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("accounts-local stopped"), "{rest}");
}

#[test]
fn a_bad_setting_stops_startup_with_one_line_naming_it() {
    let data_dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["--port", "0", "--store", "redis", "--data-dir"])
        .arg(data_dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("STORE"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn dynamodb_store_creates_its_table_and_serves() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| {
            panic!("moto is not running: AWS_ENDPOINT_URL is unset; run scripts/test")
        });
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let table = format!("local-{}-{nanos}", std::process::id());
    let data_dir = tempfile::tempdir().unwrap();
    let command = || {
        let mut command = Command::new(BIN);
        command
            .args(["--store", "dynamodb", "--data-dir"])
            .arg(data_dir.path())
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("TABLE_NAME", &table);
        command
    };

    let (child, addr, _stdout) = start(&mut command());
    let (status, body) = get(&addr, "/api/health/");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(r#"{"status":"ok","store":"dynamodb"}"#),
        "{body}"
    );
    stop(child);

    // A second start finds the table the first one made and serves from it.
    let (child, addr, _stdout) = start(&mut command());
    assert_eq!(get(&addr, "/api/health/").0, 200);
    stop(child);
}
