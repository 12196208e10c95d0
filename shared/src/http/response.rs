//! Responses, and the one place where a domain [`Error`] becomes an HTTP status and body.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::json;

use crate::error::Error;

#[derive(Clone, Debug)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl ApiResponse {
    /// A JSON response. Serialising our own types cannot fail; if it ever did, the client gets
    /// a 500 rather than a half-written body.
    pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => {
                let mut headers = HeaderMap::new();
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                ApiResponse {
                    status,
                    headers,
                    body: Bytes::from(bytes),
                }
            }
            Err(e) => Error::Internal(format!("response serialisation: {e}")).into(),
        }
    }

    pub fn ok<T: Serialize>(body: &T) -> Self {
        Self::json(StatusCode::OK, body)
    }

    pub fn created<T: Serialize>(body: &T) -> Self {
        Self::json(StatusCode::CREATED, body)
    }

    pub fn no_content() -> Self {
        ApiResponse {
            status: StatusCode::NO_CONTENT,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    pub fn detail(status: StatusCode, detail: &str) -> Self {
        Self::json(status, &json!({ "detail": detail }))
    }

    pub fn with_header(mut self, name: http::header::HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.append(name, value);
        }
        self
    }

    /// The body as JSON, for tests and tools.
    pub fn body_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

impl From<Error> for ApiResponse {
    fn from(err: Error) -> Self {
        match err {
            Error::Invalid(fields) => ApiResponse::json(StatusCode::BAD_REQUEST, &fields.0),
            Error::BadRequest(detail) => ApiResponse::detail(StatusCode::BAD_REQUEST, &detail),
            Error::Unauthenticated(detail) => {
                ApiResponse::detail(StatusCode::UNAUTHORIZED, &detail)
                    .with_header(http::header::WWW_AUTHENTICATE, "Bearer realm=\"api\"")
            }
            Error::Forbidden(detail) => ApiResponse::detail(StatusCode::FORBIDDEN, &detail),
            Error::PermissionDenied => ApiResponse::detail(
                StatusCode::FORBIDDEN,
                "You do not have permission to perform this action.",
            ),
            Error::StepUpRequired {
                code,
                detail,
                methods,
            } => ApiResponse::json(
                StatusCode::FORBIDDEN,
                &json!({ "detail": detail, "code": code, "methods": methods }),
            ),
            Error::NotFound => ApiResponse::detail(StatusCode::NOT_FOUND, "Not found."),
            Error::MethodNotAllowed { method, allow } => ApiResponse::detail(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("Method \"{method}\" not allowed."),
            )
            .with_header(http::header::ALLOW, &allow.join(", ")),
            Error::UnsupportedMediaType(media) => ApiResponse::detail(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &format!("Unsupported media type \"{media}\" in request."),
            ),
            Error::Conflict(detail) => ApiResponse::detail(StatusCode::CONFLICT, &detail),
            Error::PayloadTooLarge { limit } => ApiResponse::detail(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("Request body too large: at most {limit} bytes."),
            ),
            Error::RateLimited { retry_after_secs } => ApiResponse::detail(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "Request was throttled. Expected available in {retry_after_secs} seconds."
                ),
            )
            .with_header(RETRY_AFTER, &retry_after_secs.to_string()),
            Error::Unavailable {
                reason,
                retry_after_secs,
            } => {
                tracing::warn!(reason = %reason, "dependency unavailable");
                ApiResponse::detail(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service temporarily unavailable, try again shortly.",
                )
                .with_header(RETRY_AFTER, &retry_after_secs.to_string())
            }
            Error::Internal(message) => {
                tracing::error!(error = %message, "internal error");
                ApiResponse::detail(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error.")
            }
        }
    }
}

/// The one page envelope of every list (the `Page` schema of the OpenAPI document): `next` is
/// the cursor of the following page (`null` on the last), `previous` is always `null` (lists
/// are walked forwards), and `count` is there only where the list knows its total.
pub fn page<T: Serialize>(
    results: &[T],
    next: Option<&str>,
    count: Option<i64>,
) -> serde_json::Value {
    let mut view = serde_json::json!({ "next": next, "previous": null, "results": results });
    if let (Some(count), Some(fields)) = (count, view.as_object_mut()) {
        fields.insert("count".into(), serde_json::json!(count));
    }
    view
}
