//! `accounts-local --inject-faults RATE`: the store fails on purpose at that rate, the ready
//! line says so, failed requests are 503 with `Retry-After`; a bad rate stops startup.

mod support;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_accounts-local");
const BROWSER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// Sends one request and returns the status and the whole response (head and body).
fn send(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to accounts-local");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: {BROWSER_UA}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
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

/// accounts-local's stdout, kept open while it runs (it prints when it stops).
type Stdout = BufReader<std::process::ChildStdout>;

/// Starts accounts-local on a free port with `--inject-faults rate`; returns it, its address,
/// its ready line and its stdout.
fn start(data_dir: &std::path::Path, rate: &str) -> (Child, String, String, Stdout) {
    support::spawn_ready(
        Command::new(BIN)
            .args(["--port", "0", "--inject-faults", rate, "--data-dir"])
            .arg(data_dir)
            .env_remove("STORE")
            .env("RUST_LOG", "error"),
    )
}

fn stop(mut child: Child, _stdout: Stdout) {
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

fn registration(name: &str) -> String {
    format!(
        r#"{{"username":"{name}","email":"{name}@example.com","password":"violet-harbour-42"}}"#
    )
}

#[test]
fn every_store_call_failing_gives_503_with_retry_after() {
    let data_dir = tempfile::tempdir().unwrap();
    let (child, addr, ready, stdout) = start(data_dir.path(), "100%");
    assert!(
        ready.contains("100% of store calls failing on purpose"),
        "{ready}"
    );
    let (status, response) = send(&addr, "POST", "/api/auth/register/", &registration("jane"));
    assert_eq!(status, 503, "{response}");
    assert!(
        response.to_ascii_lowercase().contains("retry-after: 1"),
        "{response}"
    );
    stop(child, stdout);

    // Without faults the same data dir serves, and jane was never written.
    let (child, addr, ready, stdout) = start(data_dir.path(), "0");
    assert!(ready.contains("0% of store calls failing"), "{ready}");
    let (status, response) = send(&addr, "POST", "/api/auth/register/", &registration("jane"));
    assert_eq!(status, 201, "{response}");
    stop(child, stdout);
}

#[test]
fn a_bad_rate_stops_startup_naming_the_setting() {
    let data_dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["--port", "0", "--inject-faults", "150%", "--data-dir"])
        .arg(data_dir.path())
        .env_remove("STORE")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ACCOUNTS_INJECT_FAULTS"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
