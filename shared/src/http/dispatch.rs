//! The dispatch every entry point shares: request id, body limit, routing (trailing slash
//! optional, 404 and 405 with `Allow`), the handler with panics contained, one JSON log line.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures::FutureExt;
use http::Method;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};

use super::request::{ApiRequest, RequestCtx};
use super::response::ApiResponse;
use super::routes::{Group, Route};
use crate::App;
use crate::error::Error;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The answer to a request whose handler was still running at its deadline (a store that
/// stopped answering, say). Every change is one transaction, so the request applied whole
/// changes or none; like any 503, it may be sent again.
fn out_of_time() -> Error {
    Error::Unavailable {
        reason: "the request did not finish in time".into(),
        retry_after_secs: 1,
    }
}

/// The routes of some groups, ready to match. Built once per process.
pub struct Router {
    /// Normalised pattern (no trailing slash) to the routes on it, one per method.
    paths: matchit::Router<Vec<&'static Route>>,
}

impl Router {
    /// A router over the routes of the given groups (all of them for accounts-local).
    pub fn new(groups: &[Group]) -> Router {
        Router::with_routes(groups.iter().flat_map(|group| group.routes()))
    }

    /// A router over any routes (the route table's, or a test's own).
    pub fn with_routes(routes: impl IntoIterator<Item = &'static Route>) -> Router {
        let mut by_pattern: HashMap<&'static str, Vec<&'static Route>> = HashMap::new();
        for route in routes {
            by_pattern
                .entry(trim_slash(route.path))
                .or_default()
                .push(route);
        }
        let mut paths = matchit::Router::new();
        for (pattern, routes) in by_pattern {
            // The route table is static: a conflict here is a programming error caught by the
            // first test that builds a router.
            paths
                .insert(pattern, routes)
                .expect("route table patterns must not conflict");
        }
        Router { paths }
    }

    pub fn all() -> Router {
        Router::new(&Group::ALL)
    }

    /// Answers one request. Never fails: every error becomes a DRF-shaped response.
    pub async fn dispatch(&self, app: &App, request: ApiRequest) -> ApiResponse {
        let started = Instant::now();
        let request_id = request_id(&request);
        let method = request.method.clone();
        let path = request.path.clone();
        let credentialed = super::auth::presents_credentials(&request);

        let (route, mut response) = match self.options(&request) {
            Some(answered) => answered,
            None => self.answer(app, request, &request_id).await,
        };
        secure_headers(&mut response, credentialed);

        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers.insert(REQUEST_ID, value);
        }
        tracing::info!(
            request_id = %request_id,
            method = %method,
            route = route,
            path = %path,
            status = response.status.as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request"
        );
        response
    }

    /// `OPTIONS` on a known path: 204 with the `Allow` header the 405s advertise (RFC 9110);
    /// `None` for any other request, or a path no route has.
    fn options(&self, request: &ApiRequest) -> Option<(&'static str, ApiResponse)> {
        if request.method != Method::OPTIONS {
            return None;
        }
        let routes = self.paths.at(trim_slash(&request.path)).ok()?.value;
        let response = ApiResponse::no_content()
            .with_header(http::header::ALLOW, &allowed_methods(routes).join(", "));
        Some((routes.first()?.path, response))
    }

    /// Routes the request and runs its handler, with panics contained.
    async fn answer(
        &self,
        app: &App,
        request: ApiRequest,
        request_id: &str,
    ) -> (&'static str, ApiResponse) {
        match self.route(app, request, request_id) {
            Ok((route, ctx)) => {
                let handler = AssertUnwindSafe((route.handler)(app, &ctx)).catch_unwind();
                let outcome = match ctx.request.deadline {
                    Some(deadline) => tokio::time::timeout_at(deadline, handler)
                        .await
                        .unwrap_or_else(|_| Ok(Err(out_of_time()))),
                    None => handler.await,
                };
                let mut response: ApiResponse = match outcome {
                    Ok(Ok(response)) => response,
                    Ok(Err(err)) => err.into(),
                    Err(panic) => {
                        let message = panic
                            .downcast_ref::<&str>()
                            .map(|s| (*s).to_owned())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "non-string panic".into());
                        Error::Internal(format!("handler panicked: {message}")).into()
                    }
                };
                let queued = std::mem::take(
                    &mut *ctx
                        .response_headers
                        .lock()
                        .unwrap_or_else(|e| e.into_inner()),
                );
                for (name, value) in queued {
                    response.headers.append(name, value);
                }
                (route.path, response)
            }
            Err(err) => ("-", err.into()),
        }
    }

    fn route(
        &self,
        app: &App,
        request: ApiRequest,
        request_id: &str,
    ) -> Result<(&'static Route, RequestCtx), Error> {
        let matched = self
            .paths
            .at(trim_slash(&request.path))
            .map_err(|_| Error::NotFound)?;
        let routes = matched.value;
        // HEAD is answered like GET; the entry point drops the body.
        let wanted = if request.method == Method::HEAD {
            Method::GET
        } else {
            request.method.clone()
        };
        let route = routes
            .iter()
            .find(|r| r.method == wanted)
            .copied()
            .ok_or_else(|| Error::MethodNotAllowed {
                method: request.method.to_string(),
                allow: allowed_methods(routes),
            })?;

        if request.body.len() > app.config.max_body_bytes {
            return Err(Error::PayloadTooLarge {
                limit: app.config.max_body_bytes,
            });
        }
        let media = request
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if let Some(media) = media.filter(|_| !request.body.is_empty()) {
            let essence = media
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if essence != "application/json" && !essence.ends_with("+json") {
                return Err(Error::UnsupportedMediaType(essence));
            }
        }

        let params = matched
            .params
            .iter()
            .map(|(k, v)| {
                (
                    k.to_owned(),
                    percent_encoding::percent_decode_str(v)
                        .decode_utf8_lossy()
                        .into_owned(),
                )
            })
            .collect();
        let query = form_urlencoded::parse(request.query.as_bytes())
            .into_owned()
            .collect();
        let ctx = RequestCtx {
            request,
            route: route.path,
            params,
            query,
            request_id: request_id.to_owned(),
            response_headers: Default::default(),
        };
        Ok((route, ctx))
    }
}

/// The methods a path answers: its routes', HEAD where it has GET, and OPTIONS.
fn allowed_methods(routes: &[&'static Route]) -> Vec<String> {
    let mut allow: Vec<String> = routes.iter().map(|r| r.method.to_string()).collect();
    if routes.iter().any(|r| r.method == Method::GET) {
        allow.push("HEAD".into());
    }
    allow.push("OPTIONS".into());
    allow
}

fn trim_slash(path: &str) -> &str {
    match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    }
}

/// The client's `X-Request-Id` when it is a sane token, else the entry point's, else a new one.
fn request_id(request: &ApiRequest) -> String {
    let sane = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    request
        .headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|s| sane(s))
        .map(str::to_owned)
        .or_else(|| request.request_id.clone().filter(|s| sane(s)))
        .unwrap_or_else(|| ulid::Ulid::new().to_string())
}

/// The headers every answer carries, set once here: no MIME sniffing, no framing (the API is
/// JSON, never a page: `default-src 'none'`), and, for a request with credentials, no caching
/// anywhere unless the handler said otherwise on purpose (the JWKS is public).
fn secure_headers(response: &mut ApiResponse, credentialed: bool) {
    use http::header::{
        CACHE_CONTROL, CONTENT_SECURITY_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
    };
    let headers = &mut response.headers;
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    if credentialed && !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}
