//! Request authentication for handlers: what the request presents ([`credentials`]), who sent
//! it ([`client_info`]), and who the caller is ([`caller`] and its variants), with the
//! `X-Renewed-Access` header queued whenever the access token was renewed; [`caller_with`]
//! starts a request's first reads beside the authentication's.
//!
//! Handlers call one of the three caller functions first thing; the domain never sees headers.

use std::future::Future;
use std::net::IpAddr;

use http::Method;
use http::header::{ACCEPT_LANGUAGE, AUTHORIZATION, COOKIE, HeaderName, USER_AGENT};

use super::request::RequestCtx;
use crate::App;
use crate::auth::budget::{self, WriteKind};
use crate::auth::client::ClientInfo;
use crate::auth::{Credentials, Principal, principal};
use crate::error::Error;
use crate::model::UserId;

/// The session cookie: `<session id>.<secret>`.
pub const SESSION_COOKIE: &str = "sessionid";
/// The CSRF double-submit cookie, readable by the page's scripts.
pub const CSRF_COOKIE: &str = "csrftoken";
/// The header that must echo the CSRF cookie on unsafe cookie-authenticated requests.
pub const CSRF_HEADER: &str = "x-csrftoken";
/// The response header carrying a fresh access token when the presented one was near expiry.
pub const RENEWED_ACCESS: HeaderName = HeaderName::from_static("x-renewed-access");

pub const NOT_AUTHENTICATED: &str = "Authentication credentials were not provided.";
pub const NOT_VERIFIED: &str = "Email address not verified.";

/// What we know of the client: the address the entry point saw, the user agent, the
/// languages, and the viewer location headers CloudFront (or a proxy in front) adds.
///
/// `X-Forwarded-For` is deliberately ignored: a client can set it, and per-IP limits must not
/// be escapable by a header.
pub fn client_info(ctx: &RequestCtx) -> ClientInfo {
    let text = |name: &str| {
        ctx.header(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let country = ["cloudfront-viewer-country", "x-country"]
        .into_iter()
        .filter_map(|name| ctx.header(name))
        .map(str::trim)
        .find(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(str::to_ascii_uppercase);
    // CloudFront percent-encodes non-ASCII city names.
    let city = ctx
        .header("cloudfront-viewer-city")
        .map(|c| {
            percent_encoding::percent_decode_str(c.trim())
                .decode_utf8_lossy()
                .into_owned()
        })
        .filter(|c| !c.is_empty() && c.chars().count() <= 100);
    ClientInfo {
        ip: ctx.request.source_ip.map(canonical_ip),
        user_agent: text(USER_AGENT.as_str()).map(|ua| truncate(ua, 512)),
        country,
        city,
        accept_language: text(ACCEPT_LANGUAGE.as_str()).map(|al| truncate(al, 256)),
    }
}

/// An IPv4 client seen through an IPv6 socket is still the IPv4 client (one rate-limit key).
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn truncate(mut s: String, max_chars: usize) -> String {
    if let Some((at, _)) = s.char_indices().nth(max_chars) {
        s.truncate(at);
    }
    s
}

/// What the request presents, in order of precedence: an `Authorization` header (`Bearer` or
/// `Token`; any other scheme is [`Credentials::Malformed`]), else the `sessionid` cookie with
/// the CSRF cookie and header, else nothing.
pub fn credentials(ctx: &RequestCtx) -> Credentials {
    let headers = &ctx.request.headers;
    if let Some(value) = headers.get(AUTHORIZATION) {
        let Ok(value) = value.to_str() else {
            return Credentials::Malformed;
        };
        let mut parts = value.split_whitespace();
        return match (parts.next(), parts.next(), parts.next()) {
            (Some(scheme), Some(token), None) if scheme.eq_ignore_ascii_case("bearer") => {
                Credentials::Bearer(token.to_owned())
            }
            (Some(scheme), Some(token), None) if scheme.eq_ignore_ascii_case("token") => {
                Credentials::ApiToken(token.to_owned())
            }
            _ => Credentials::Malformed,
        };
    }

    let (session, csrf_cookie) = session_cookies(headers);
    match session {
        Some(cookie) => Credentials::SessionCookie {
            cookie,
            csrf_cookie: csrf_cookie.filter(|c| !c.is_empty()),
            csrf_header: ctx
                .header(CSRF_HEADER)
                .map(str::to_owned)
                .filter(|h| !h.is_empty()),
            unsafe_method: !is_safe(&ctx.request.method),
        },
        None => Credentials::None,
    }
}

/// The `sessionid` (when not empty) and `csrftoken` cookies of a request. The first of
/// duplicated cookies wins, as browsers send the most specific first.
fn session_cookies(headers: &http::HeaderMap) -> (Option<String>, Option<String>) {
    let mut session = None;
    let mut csrf_cookie = None;
    for header in headers.get_all(COOKIE) {
        let Ok(header) = header.to_str() else {
            continue;
        };
        for cookie in cookie::Cookie::split_parse(header).flatten() {
            match cookie.name() {
                SESSION_COOKIE if session.is_none() => session = Some(cookie.value().to_owned()),
                CSRF_COOKIE if csrf_cookie.is_none() => {
                    csrf_cookie = Some(cookie.value().to_owned())
                }
                _ => {}
            }
        }
    }
    (session.filter(|s| !s.is_empty()), csrf_cookie)
}

/// Whether a request presents credentials at all (its answer may hold personal data): an
/// `Authorization` header or a session cookie, as [`credentials`] reads them.
pub(crate) fn presents_credentials(request: &super::ApiRequest) -> bool {
    request.headers.contains_key(AUTHORIZATION) || session_cookies(&request.headers).0.is_some()
}

/// RFC 9110's safe methods: they change nothing, so they need no CSRF proof.
fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// The caller, if any credentials were presented; credentials that fail are an error (401,
/// or 403 for CSRF and suspended accounts), never anonymity. Unverified callers are returned
/// as they are: endpoints that act on the caller's behalf use [`caller`].
pub async fn optional_caller(app: &App, ctx: &RequestCtx) -> Result<Option<Principal>, Error> {
    let credentials = credentials(ctx);
    let outcome = principal::begin(app, &credentials).outcome.await;
    settle(app, ctx, outcome)
}

/// The answer's headers for an authentication that ended: the renewed access token, and the
/// write budget an unsafe method spends.
fn settle(
    app: &App,
    ctx: &RequestCtx,
    outcome: Result<Option<Principal>, Error>,
) -> Result<Option<Principal>, Error> {
    let principal = outcome?;
    if let Some(token) = principal.as_ref().and_then(|p| p.renewed_access.as_deref()) {
        ctx.add_response_header(RENEWED_ACCESS, token);
    }
    if let Some(principal) = &principal
        && !is_safe(&ctx.request.method)
    {
        spend_budget(app, ctx, principal)?;
    }
    Ok(principal)
}

/// The authenticated, verified caller and what `reads` returned for them, in the fewest round
/// trips: where the credentials name their user before any read (a JWT, a session cookie),
/// `reads` starts with that user beside the authentication's own reads
/// ([`principal::Authentication`]), so a request that needs the caller's identity and one
/// wave of reads takes one round trip, not two.
///
/// `reads` must only read: it may run for credentials that then fail, and what it returned is
/// dropped then (the authentication's error is the answer). Its result is used only for the
/// user who authenticated; if that is not the user the credentials named, it runs again.
pub async fn caller_with<T, F, Fut>(
    app: &App,
    ctx: &RequestCtx,
    reads: F,
) -> Result<(Principal, T), Error>
where
    F: Fn(UserId) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let credentials = credentials(ctx);
    let authentication = principal::begin(app, &credentials);
    let authenticated = async { verified(settle(app, ctx, authentication.outcome.await)?) };
    let Some(claimed) = authentication.claimed else {
        let principal = authenticated.await?;
        let read = reads(principal.id()).await?;
        return Ok((principal, read));
    };
    let (principal, read) = tokio::join!(authenticated, reads(claimed));
    let principal = principal?;
    let read = if principal.id() == claimed {
        read?
    } else {
        reads(principal.id()).await?
    };
    Ok((principal, read))
}

pub const RATE_LIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
pub const RATE_LIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
pub const RATE_LIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// Takes one write from the caller's budget (`auth/budget.rs`), with the `X-RateLimit-*`
/// headers on the answer either way; 429 with `Retry-After` when it is spent.
fn spend_budget(app: &App, ctx: &RequestCtx, principal: &Principal) -> Result<(), Error> {
    let kind = if ctx.route == EVENT_INGESTION_ROUTE {
        WriteKind::EventIngestion
    } else {
        WriteKind::Other
    };
    let (allowance, refused) = match budget::spend(app, principal, kind) {
        Ok(allowance) => (allowance, None),
        Err(exhausted) => (exhausted.allowance, Some(exhausted.retry_after_secs)),
    };
    ctx.add_response_header(RATE_LIMIT_LIMIT, &allowance.limit.to_string());
    ctx.add_response_header(RATE_LIMIT_REMAINING, &allowance.remaining.to_string());
    ctx.add_response_header(RATE_LIMIT_RESET, &allowance.reset_secs.to_string());
    match refused {
        Some(retry_after_secs) => Err(Error::RateLimited { retry_after_secs }),
        None => Ok(()),
    }
}

/// The route of event ingestion, which users spend from a budget of its own.
const EVENT_INGESTION_ROUTE: &str = "/api/events/";

/// The authenticated caller, verified or not: for the endpoints an unverified account may use
/// (me, user-info, verify, resend-code, logout, the session endpoints).
pub async fn caller_allow_unverified(app: &App, ctx: &RequestCtx) -> Result<Principal, Error> {
    optional_caller(app, ctx)
        .await?
        .ok_or_else(|| Error::Unauthenticated(NOT_AUTHENTICATED.into()))
}

/// The authenticated, verified caller: every other authenticated endpoint.
pub async fn caller(app: &App, ctx: &RequestCtx) -> Result<Principal, Error> {
    verified(optional_caller(app, ctx).await?)
}

/// A caller who presented credentials and verified their address.
fn verified(principal: Option<Principal>) -> Result<Principal, Error> {
    let principal = principal.ok_or_else(|| Error::Unauthenticated(NOT_AUTHENTICATED.into()))?;
    if !principal.user.is_verified {
        return Err(Error::Forbidden(NOT_VERIFIED.into()));
    }
    Ok(principal)
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;
    use crate::http::ApiRequest;

    fn ctx(request: ApiRequest) -> RequestCtx {
        RequestCtx {
            request,
            route: "/test/",
            params: vec![],
            query: vec![],
            request_id: "r".into(),
            response_headers: Default::default(),
        }
    }

    #[test]
    fn authorization_schemes() {
        let get = |value: &str| {
            credentials(&ctx(
                ApiRequest::new(Method::GET, "/").with_header("authorization", value)
            ))
        };
        assert!(matches!(get("Bearer abc"), Credentials::Bearer(t) if t == "abc"));
        assert!(matches!(get("bearer abc"), Credentials::Bearer(t) if t == "abc"));
        assert!(matches!(get("Token k1"), Credentials::ApiToken(t) if t == "k1"));
        assert!(matches!(get("Basic dXNlcjpwdw=="), Credentials::Malformed));
        assert!(matches!(get("Bearer"), Credentials::Malformed));
        assert!(matches!(get("Bearer a b"), Credentials::Malformed));
    }

    #[test]
    fn session_cookie_with_csrf() {
        let request = ApiRequest::new(Method::POST, "/")
            .with_header("cookie", "theme=dark; sessionid=sid.secret; csrftoken=c1")
            .with_header("x-csrftoken", "c1");
        match credentials(&ctx(request)) {
            Credentials::SessionCookie {
                cookie,
                csrf_cookie,
                csrf_header,
                unsafe_method,
            } => {
                assert_eq!(cookie, "sid.secret");
                assert_eq!(csrf_cookie.as_deref(), Some("c1"));
                assert_eq!(csrf_header.as_deref(), Some("c1"));
                assert!(unsafe_method);
            }
            other => panic!("unexpected {other:?}"),
        }
        let safe = ApiRequest::new(Method::GET, "/").with_header("cookie", "sessionid=x.y");
        assert!(matches!(
            credentials(&ctx(safe)),
            Credentials::SessionCookie {
                unsafe_method: false,
                csrf_cookie: None,
                ..
            }
        ));
        let none = ApiRequest::new(Method::GET, "/").with_header("cookie", "sessionid=");
        assert!(matches!(credentials(&ctx(none)), Credentials::None));
    }

    #[test]
    fn client_headers() {
        let mut request = ApiRequest::new(Method::GET, "/")
            .with_header("user-agent", "Mozilla/5.0")
            .with_header("cloudfront-viewer-country", "de")
            .with_header("cloudfront-viewer-city", "M%C3%BCnchen")
            .with_header("x-forwarded-for", "203.0.113.9");
        request.source_ip = Some("::ffff:198.51.100.7".parse().unwrap());
        let client = client_info(&ctx(request));
        assert_eq!(client.ip_string().as_deref(), Some("198.51.100.7"));
        assert_eq!(client.user_agent.as_deref(), Some("Mozilla/5.0"));
        assert_eq!(client.country.as_deref(), Some("DE"));
        assert_eq!(client.city.as_deref(), Some("München"));
        let bad = ApiRequest::new(Method::GET, "/").with_header("x-country", "Germany");
        assert_eq!(client_info(&ctx(bad)).country, None);
    }
}
