//! The domain layer's one error enum. Capabilities return it; `http::response` maps it to a
//! status and a DRF-shaped body, once, for every route.

use std::collections::BTreeMap;

use crate::store::StoreError;

/// DRF's field errors: `{"field": ["message", ...]}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(pub BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn new() -> Self {
        FieldErrors::default()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    pub fn with(mut self, field: &str, message: impl Into<String>) -> Self {
        self.add(field, message);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was added, otherwise the errors as [`Error::Invalid`].
    pub fn into_result(self) -> Result<(), Error> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(self))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400 with field errors.
    #[error("invalid input: {0:?}")]
    Invalid(FieldErrors),
    /// 400 with a detail.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 401.
    #[error("not authenticated: {0}")]
    Unauthenticated(String),
    /// 403 with a reason of its own.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 403: the caller's role or relation to the object does not allow the action
    /// (`crate::access`).
    #[error("permission denied")]
    PermissionDenied,
    /// 403 with `code`: the action needs a recent strong authentication (`step_up_required`,
    /// with the `methods` that satisfy it) or a second factor the account has not set up
    /// (`mfa_enrolment_required`).
    #[error("step-up required: {code}")]
    StepUpRequired {
        code: &'static str,
        detail: String,
        methods: Vec<&'static str>,
    },
    /// 404.
    #[error("not found")]
    NotFound,
    /// 405 with `Allow`.
    #[error("method {method} not allowed")]
    MethodNotAllowed { method: String, allow: Vec<String> },
    /// 415.
    #[error("unsupported media type {0}")]
    UnsupportedMediaType(String),
    /// 409.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 413.
    #[error("payload too large: {limit} bytes at most")]
    PayloadTooLarge { limit: usize },
    /// 429 with `Retry-After`.
    #[error("rate limited for {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// 503 with `Retry-After`: a dependency is throttling or unreachable; the request changed
    /// nothing and may be sent again.
    #[error("temporarily unavailable: {reason}")]
    Unavailable {
        reason: String,
        retry_after_secs: u64,
    },
    /// 500. The message is logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Error::Invalid(FieldErrors::new().with(field, message))
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        if err.is_retryable() {
            return Error::Unavailable {
                reason: err.to_string(),
                retry_after_secs: 1,
            };
        }
        match err {
            // A cursor the client sent back that does not decode is the client's mistake.
            StoreError::BadCursor(_) => Error::field("cursor", "Invalid cursor."),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<crate::store::ItemShapeError> for Error {
    fn from(err: crate::store::ItemShapeError) -> Self {
        Error::Internal(err.to_string())
    }
}
