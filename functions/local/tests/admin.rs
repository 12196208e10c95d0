//! accounts-admin as an operator runs it: against the data dir accounts-local is serving at
//! that moment, creating an administrator who then signs in through the server, and setting
//! roles; bad input fails with one line and a non-zero exit.

mod support;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value as Json, json};

const LOCAL: &str = env!("CARGO_BIN_EXE_accounts-local");
const ADMIN: &str = env!("CARGO_BIN_EXE_accounts-admin");
/// Login refuses clients without a browser's user agent.
const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const PASSWORD: &str = "a long admin passphrase 7";

/// One HTTP/1.1 request over a fresh connection: the status and the JSON body.
fn request(addr: &str, method: &str, path: &str, bearer: Option<&str>, body: &Json) -> (u16, Json) {
    let mut stream = TcpStream::connect(addr).expect("connect to accounts-local");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let body = body.to_string();
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: {UA}\r\n{auth}\
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
    let json = response
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(Json::Null);
    (status, json)
}

/// Starts accounts-local; its stdout stays open (it prints a line when it stops).
fn serve(data_dir: &Path) -> (Child, String, BufReader<std::process::ChildStdout>) {
    let (child, addr, _ready, stdout) = support::spawn_ready(
        Command::new(LOCAL)
            .args(["--port", "0", "--data-dir"])
            .arg(data_dir)
            .env_remove("STORE")
            .env("RUST_LOG", "warn"),
    );
    (child, addr, stdout)
}

/// Runs accounts-admin on the data dir with `args`, feeding `stdin`.
fn admin(data_dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(ADMIN)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("STORE")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start accounts-admin");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn login(addr: &str, username: &str) -> (u16, Json) {
    request(
        addr,
        "POST",
        "/api/auth/jwt/login/",
        None,
        &json!({"username": username, "password": PASSWORD}),
    )
}

#[test]
fn creates_an_admin_and_sets_roles_while_the_server_runs() {
    let data_dir = tempfile::tempdir().unwrap();
    let (mut server, addr, mut stdout) = serve(data_dir.path());

    // The password from stdin, while the server holds the database open.
    let out = admin(
        data_dir.path(),
        &[
            "create-admin",
            "--username",
            "root",
            "--email",
            "root@example.com",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("created admin root"),
        "{}",
        text(&out.stdout)
    );

    // The server sees the new verified administrator at once.
    let (status, body) = login(&addr, "root");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["role"], "admin");
    assert_eq!(body["user"]["is_verified"], true);
    let access = body["access"].as_str().unwrap().to_owned();

    // The administrator creates a user through the API; the command changes its role.
    let (status, body) = request(
        &addr,
        "POST",
        "/api/users/",
        Some(&access),
        &json!({"username": "mod", "email": "mod@example.com", "password": PASSWORD, "is_verified": true}),
    );
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_i64().unwrap().to_string();
    let out = admin(
        data_dir.path(),
        &["set-role", "--user", &id, "--role", "moderator"],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("is now moderator"),
        "{}",
        text(&out.stdout)
    );
    let (status, body) = request(
        &addr,
        "GET",
        &format!("/api/users/{id}/"),
        Some(&access),
        &json!({}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["role"], "moderator");

    // Bad input: one line on stderr, exit status 1, nothing changed.
    let out = admin(
        data_dir.path(),
        &[
            "create-admin",
            "--username",
            "ROOT",
            "--email",
            "x@example.com",
            "--password",
            PASSWORD,
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("username: A user with that username already exists."),
        "{}",
        text(&out.stderr)
    );
    let out = admin(
        data_dir.path(),
        &[
            "create-admin",
            "--username",
            "weak",
            "--email",
            "weak@example.com",
        ],
        "short\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("password:"),
        "{}",
        text(&out.stderr)
    );
    let (status, _) = login(&addr, "weak");
    assert_eq!(status, 400);
    let out = admin(
        data_dir.path(),
        &["set-role", "--user", &id, "--role", "king"],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("unknown role"),
        "{}",
        text(&out.stderr)
    );
    let out = admin(
        data_dir.path(),
        &["set-role", "--user", "999", "--role", "admin"],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no such user"),
        "{}",
        text(&out.stderr)
    );

    let pid = server.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(server.wait().unwrap().success());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("accounts-local stopped"), "{rest}");
}
