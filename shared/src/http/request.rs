//! Requests as every entry point hands them to the dispatch, and the per-request context a
//! handler reads from.

use std::net::IpAddr;

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::store::Cursor;

/// Default and largest `?page_size=` of every list.
pub const DEFAULT_PAGE_SIZE: u32 = 25;
pub const MAX_PAGE_SIZE: u32 = 100;

/// A request as it arrived, independent of hyper or API Gateway.
#[derive(Clone, Debug)]
pub struct ApiRequest {
    pub method: Method,
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The client address as the entry point saw it (API Gateway's `sourceIp`, or the peer).
    pub source_ip: Option<IpAddr>,
    /// An id the entry point already has (Lambda's request id); otherwise one is made.
    pub request_id: Option<String>,
    /// When the answer is due: a Lambda's deadline less a reserve. A handler still running then
    /// is dropped and the request answered 503 with `Retry-After`, instead of the function being
    /// stopped mid-request with no answer (`None`: no limit).
    pub deadline: Option<tokio::time::Instant>,
}

impl ApiRequest {
    /// A request with no headers, body or client address: for tests and tools.
    pub fn new(method: Method, path_and_query: &str) -> Self {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        ApiRequest {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            source_ip: None,
            request_id: None,
            deadline: None,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(value) = value.parse() {
            self.headers.insert(name, value);
        }
        self
    }

    pub fn with_json(mut self, body: &serde_json::Value) -> Self {
        self.body = Bytes::from(body.to_string());
        self.with_header("content-type", "application/json")
    }
}

/// What a handler sees: the request, the matched route and its path parameters.
#[derive(Debug)]
pub struct RequestCtx {
    pub request: ApiRequest,
    /// The matched route pattern, e.g. `/api/users/{id}/`.
    pub route: &'static str,
    pub params: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub request_id: String,
    /// Headers the request's processing wants on whatever response goes out, success or error
    /// (`X-Renewed-Access`, `Set-Cookie`): the dispatch appends them.
    pub response_headers: std::sync::Mutex<Vec<(http::HeaderName, http::HeaderValue)>>,
}

impl RequestCtx {
    /// Queues a header for the response.
    pub fn add_response_header(&self, name: http::HeaderName, value: &str) {
        if let Ok(value) = http::HeaderValue::from_str(value) {
            self.response_headers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((name, value));
        }
    }

    /// A path parameter by name (always present when the route names it).
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// `?page_size=` of a list: 1 to [`MAX_PAGE_SIZE`], [`DEFAULT_PAGE_SIZE`] when absent.
    pub fn page_size(&self) -> Result<u32, Error> {
        match self.query_param("page_size") {
            None | Some("") => Ok(DEFAULT_PAGE_SIZE),
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                .ok_or_else(|| {
                    Error::field(
                        "page_size",
                        format!("Enter a whole number from 1 to {MAX_PAGE_SIZE}."),
                    )
                }),
        }
    }

    /// `?cursor=`: the opaque position a previous page handed out as `next`.
    /// A boolean query parameter (`true`/`false`, `True`/`False`, `1`/`0`; absent or empty is
    /// `None`); anything else is a field error on `name`. Every boolean filter reads it here.
    pub fn bool_param(&self, name: &str) -> Result<Option<bool>, Error> {
        match self.query_param(name) {
            None | Some("") => Ok(None),
            Some("true" | "True" | "1") => Ok(Some(true)),
            Some("false" | "False" | "0") => Ok(Some(false)),
            Some(_) => Err(Error::field(name, "Must be true or false.")),
        }
    }

    pub fn cursor(&self) -> Option<Cursor> {
        self.query_param("cursor")
            .filter(|c| !c.is_empty())
            .map(Cursor::from_client)
    }

    /// Both paging parameters of a list.
    pub fn paging(&self) -> Result<(u32, Option<Cursor>), Error> {
        Ok((self.page_size()?, self.cursor()))
    }

    /// The first value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated query parameter (`?id=2&id=3`).
    pub fn query_params<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.query
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.request.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The JSON body as `T`. An empty body reads as `{}` so that all-optional bodies work;
    /// malformed JSON is a 400 with DRF's "JSON parse error" detail; a body whose shape does
    /// not fit `T` is a 400 naming the field where serde can tell.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let body: &[u8] = if self.request.body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &self.request.body
        };
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| Error::BadRequest(format!("JSON parse error - {e}")))?;
        if !value.is_object() {
            return Err(Error::BadRequest(
                "Invalid data. Expected a dictionary, but got a list or a value.".into(),
            ));
        }
        let mut errors = crate::error::FieldErrors::new();
        crate::model::text::check_json_text(&value, "", &mut errors);
        errors.into_result()?;
        serde_json::from_value(value).map_err(|e| shape_error(&e.to_string()))
    }
}

/// Turns serde's "missing field `x`" / "unknown field `x`" / "invalid type ..." into a DRF
/// field error where the field can be named.
fn shape_error(message: &str) -> Error {
    let field = message.split('`').nth(1).filter(|f| !f.is_empty());
    match field {
        Some(field) if message.starts_with("missing field") => {
            Error::field(field, "This field is required.")
        }
        Some(field) if message.starts_with("unknown field") => {
            Error::field(field, "Unknown field.")
        }
        _ => Error::BadRequest(format!("Invalid data: {message}")),
    }
}
