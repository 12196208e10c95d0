//! The web console's built files (`web/dist`, made by `npm run build` in `web/`), served by
//! accounts-local beside the API so that the browser sees one origin, as CloudFront gives it in
//! AWS (`template.yaml`).
//!
//! The rule is small on purpose: `GET` and `HEAD` of a path outside the API (`/api/...` and
//! `/.well-known/...` always go to the router) are answered from the console directory. A file
//! that exists is sent with its content type; a path whose last segment has no extension is a
//! client-side route and gets `index.html`; anything else (a missing `/assets/x.js`) goes on to
//! the router, which answers its JSON 404. Hashed files under `/assets/` may be cached for a
//! year, `index.html` must be revalidated, so a rebuilt console is seen at the next load.
//!
//! Without a console directory (a checkout where the console was never built) every request
//! goes to the router, as before.

use std::path::{Component, Path, PathBuf};

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::Full;

/// The directory of the built console.
#[derive(Debug, Clone)]
pub struct Console {
    root: PathBuf,
}

impl Console {
    /// The console in `dir`, when it holds an `index.html`; `None` (API only) otherwise.
    pub fn open(dir: &Path) -> Option<Console> {
        dir.join("index.html").is_file().then(|| Console {
            root: dir.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The console's answer to this request, or `None` when the router should answer it.
    pub async fn answer(
        &self,
        method: &Method,
        path: &str,
    ) -> Option<hyper::Response<Full<Bytes>>> {
        if method != Method::GET && method != Method::HEAD {
            return None;
        }
        let file = self.resolve(path)?;
        let body = tokio::fs::read(&file).await.ok()?;
        let is_index = file == self.root.join("index.html");
        let length = body.len();
        let mut response = hyper::Response::new(Full::new(if method == Method::HEAD {
            Bytes::new()
        } else {
            Bytes::from(body)
        }));
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(&file)),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        let cache = if path.starts_with("/assets/") && !is_index {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        if is_index {
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        }
        Some(response)
    }

    /// The file that answers `path`: the file itself when it exists, `index.html` for a
    /// client-side route (no extension in the last segment), `None` for API paths, paths that
    /// try to leave the directory, and missing files with an extension.
    pub fn resolve(&self, path: &str) -> Option<PathBuf> {
        if is_api(path) {
            return None;
        }
        let relative = path.trim_start_matches('/');
        let candidate = Path::new(relative);
        if relative.contains('\\')
            || candidate
                .components()
                .any(|c| !matches!(c, Component::Normal(_)))
        {
            return None;
        }
        if !relative.is_empty() {
            let file = self.root.join(candidate);
            if file.is_file() {
                return Some(file);
            }
        }
        let last = relative.rsplit('/').next().unwrap_or("");
        if last.contains('.') {
            return None;
        }
        Some(self.root.join("index.html"))
    }
}

/// Paths that always belong to the API, whether or not a route matches them.
fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/") || path.starts_with("/.well-known/")
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn console() -> (tempfile::TempDir, Console) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<!doctype html>").unwrap();
        std::fs::create_dir(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("assets/app-1.js"), "x").unwrap();
        let console = Console::open(dir.path()).unwrap();
        (dir, console)
    }

    #[test]
    fn routes_files_and_fallbacks() {
        let (dir, console) = console();
        let index = dir.path().join("index.html");
        assert_eq!(console.resolve("/"), Some(index.clone()));
        assert_eq!(console.resolve("/u/jane"), Some(index.clone()));
        assert_eq!(console.resolve("/u/jane/badges/3/"), Some(index.clone()));
        assert_eq!(
            console.resolve("/assets/app-1.js"),
            Some(dir.path().join("assets/app-1.js"))
        );
        assert_eq!(console.resolve("/assets/missing.js"), None);
        assert_eq!(console.resolve("/api/health/"), None);
        assert_eq!(console.resolve("/api"), None);
        assert_eq!(console.resolve("/.well-known/jwks.json"), None);
        assert_eq!(console.resolve("/../etc/passwd"), None);
        assert_eq!(console.resolve("/assets/..%2f..%2fx"), None);
        assert_eq!(console.resolve("/a\\b"), None);
    }

    #[test]
    fn no_index_no_console() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Console::open(dir.path()).is_none());
    }
}
