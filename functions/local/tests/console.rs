//! accounts-local serving the built web console beside the API (`--console-dir`, default
//! `web/dist`): files with their content types and cache headers, client-side routes falling
//! back to index.html, and every `/api/...` path still the API's, JSON 404s included.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_accounts-local");

struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }
}

fn request(addr: &str, method: &str, path: &str) -> Answer {
    let mut stream = TcpStream::connect(addr).expect("connect to accounts-local");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

fn start(console_dir: &std::path::Path, data_dir: &std::path::Path) -> (Child, String) {
    let (child, addr, _ready, _stdout) = support::spawn_ready(
        Command::new(BIN)
            .args(["--port", "0", "--console-dir"])
            .arg(console_dir)
            .arg("--data-dir")
            .arg(data_dir)
            .env_remove("STORE")
            .env("RUST_LOG", "warn"),
    );
    (child, addr)
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

const INDEX: &str = "<!doctype html><title>console</title><div id=root></div>";

#[test]
fn serves_the_console_at_the_root_and_keeps_the_api() {
    let console = tempfile::tempdir().unwrap();
    std::fs::write(console.path().join("index.html"), INDEX).unwrap();
    std::fs::create_dir(console.path().join("assets")).unwrap();
    std::fs::write(
        console.path().join("assets/index-abc123.js"),
        "console.log(1)",
    )
    .unwrap();
    std::fs::write(console.path().join("favicon.svg"), "<svg/>").unwrap();
    let data = tempfile::tempdir().unwrap();
    let (child, addr) = start(console.path(), data.path());

    // The console and its client-side routes.
    for path in [
        "/",
        "/u/jane",
        "/u/jane/badges/3",
        "/staff/badges/new",
        "/login?next=%2Fbadges",
    ] {
        let page = request(&addr, "GET", path);
        assert_eq!(page.status, 200, "{path}: {}", page.head);
        assert_eq!(page.body, INDEX, "{path}");
        assert_eq!(
            page.header("content-type").as_deref(),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(page.header("cache-control").as_deref(), Some("no-cache"));
        assert_eq!(
            page.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
    }
    let head = request(&addr, "HEAD", "/u/jane");
    assert_eq!(head.status, 200);
    assert_eq!(head.body, "");
    assert_eq!(
        head.header("content-length").as_deref(),
        Some(INDEX.len().to_string().as_str())
    );

    // Hashed assets are cached for a year; other files are revalidated.
    let script = request(&addr, "GET", "/assets/index-abc123.js");
    assert_eq!(script.status, 200);
    assert_eq!(script.body, "console.log(1)");
    assert_eq!(
        script.header("content-type").as_deref(),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        script.header("cache-control").as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    let icon = request(&addr, "GET", "/favicon.svg");
    assert_eq!(
        icon.header("content-type").as_deref(),
        Some("image/svg+xml")
    );

    // A missing file is the API's JSON 404, not the page; so is a path out of the directory.
    for path in [
        "/assets/missing.js",
        "/../../etc/passwd",
        "/assets/../../secret.txt",
    ] {
        let missing = request(&addr, "GET", path);
        assert_eq!(missing.status, 404, "{path}");
        assert!(
            missing.body.contains("\"detail\""),
            "{path}: {}",
            missing.body
        );
    }

    // The API keeps every /api path, known or not, and every method.
    let health = request(&addr, "GET", "/api/health/");
    assert_eq!(health.status, 200);
    assert!(health.body.contains("\"status\":\"ok\""), "{}", health.body);
    let unknown = request(&addr, "GET", "/api/nope/");
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.contains("\"detail\""), "{}", unknown.body);
    let jwks = request(&addr, "GET", "/.well-known/jwks.json");
    assert_eq!(jwks.status, 200);
    assert!(jwks.body.contains("\"keys\""), "{}", jwks.body);
    let post = request(&addr, "POST", "/u/jane");
    assert_ne!(post.status, 200);
    assert!(post.body.contains("\"detail\""), "{}", post.body);

    stop(child);
}

#[test]
fn without_a_built_console_only_the_api_answers() {
    let empty = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let (child, addr) = start(empty.path(), data.path());
    let root = request(&addr, "GET", "/");
    assert_eq!(root.status, 404);
    assert!(root.body.contains("\"detail\""), "{}", root.body);
    assert_eq!(request(&addr, "GET", "/api/health/").status, 200);
    stop(child);
}
