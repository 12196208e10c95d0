//! Maps the SDK's errors onto the port's [`StoreError`]. Messages carry only the SDK's own
//! code and message (and the table name), never item values.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::CancellationReason;

use crate::store::{CancelReason, StoreError};

/// Any SDK error of any DynamoDB operation.
pub(super) fn from_sdk<E>(err: SdkError<E>, table: &str) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            from_code(service.err().code(), service.err().message(), status, table)
        }
        SdkError::TimeoutError(_) => {
            StoreError::Unavailable("DynamoDB did not answer in time".into())
        }
        SdkError::DispatchFailure(failure) if failure.is_user() => {
            StoreError::Backend(format!("DynamoDB request failed: {}", causes(&err)))
        }
        SdkError::DispatchFailure(failure) if failure.is_timeout() => {
            StoreError::Unavailable("DynamoDB did not answer in time".into())
        }
        SdkError::DispatchFailure(_) => {
            StoreError::Unavailable(format!("DynamoDB unreachable: {}", causes(&err)))
        }
        // A response that could not be read is almost always a connection cut short.
        SdkError::ResponseError(_) => {
            StoreError::Unavailable(format!("DynamoDB response unreadable: {}", causes(&err)))
        }
        _ => StoreError::Backend(format!("DynamoDB request failed: {}", causes(&err))),
    }
}

/// The error and its sources, one line (the SDK's own `DisplayErrorContext` appends a debug
/// dump, too long for a log line or a health answer).
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Wrappers often repeat their source's message; keep each once.
        if !text.ends_with(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// A service error by its code (the exception name).
pub(super) fn from_code(
    code: Option<&str>,
    message: Option<&str>,
    status: u16,
    table: &str,
) -> StoreError {
    let code = code.unwrap_or("UnknownError");
    let message = message.unwrap_or("");
    match code {
        "ConditionalCheckFailedException" => StoreError::ConditionFailed,
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "LimitExceededException"
        // With a client token: an earlier try of the same transaction is still running.
        | "TransactionInProgressException"
        // A single write that collided with a transaction on the same item; retryable.
        | "TransactionConflictException" => StoreError::Throttled(format!("{code}: {message}")),
        "InternalServerError" | "ServiceUnavailable" => {
            StoreError::Unavailable(format!("{code}: {message}"))
        }
        "ValidationException" => StoreError::Validation(format!("{code}: {message}")),
        "ResourceNotFoundException" => {
            StoreError::Backend(format!("table {table} or its index not found: {message}"))
        }
        // The transaction path reads the reasons itself; elsewhere this cannot occur.
        "TransactionCanceledException" => StoreError::TransactionCanceled { reasons: Vec::new() },
        _ if status >= 500 => StoreError::Unavailable(format!("{code}: {message}")),
        _ => StoreError::Backend(format!("{code}: {message}")),
    }
}

/// One reason per operation of a cancelled transaction. DynamoDB always lists one per
/// operation; should a response list fewer, the rest are reported as unknown rather than
/// silently dropped.
pub(super) fn cancel_reasons(reasons: &[CancellationReason], ops: usize) -> Vec<CancelReason> {
    let mut mapped: Vec<CancelReason> = reasons
        .iter()
        .take(ops)
        .map(|r| cancel_reason(r.code()))
        .collect();
    mapped.resize(ops, CancelReason::Other("Unknown".into()));
    mapped
}

pub(super) fn cancel_reason(code: Option<&str>) -> CancelReason {
    match code {
        None | Some("None") => CancelReason::None,
        Some("ConditionalCheckFailed") => CancelReason::ConditionFailed,
        Some("TransactionConflict") => CancelReason::Conflict,
        Some(other) => CancelReason::Other(other.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(c: &str) -> StoreError {
        from_code(Some(c), Some("msg"), 400, "accounts")
    }

    #[test]
    fn service_codes_map_to_port_errors() {
        assert!(matches!(
            code("ConditionalCheckFailedException"),
            StoreError::ConditionFailed
        ));
        for throttle in [
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded",
            "TransactionInProgressException",
        ] {
            let err = code(throttle);
            assert!(matches!(err, StoreError::Throttled(_)), "{throttle}");
            assert!(err.is_retryable());
        }
        assert!(matches!(
            code("ValidationException"),
            StoreError::Validation(_)
        ));
        match code("ResourceNotFoundException") {
            StoreError::Backend(m) => assert!(m.contains("accounts"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            code("AccessDeniedException"),
            StoreError::Backend(_)
        ));
        assert!(code("InternalServerError").is_retryable());
        let err = from_code(Some("SomethingNew"), None, 503, "t");
        assert!(matches!(err, StoreError::Unavailable(_)));
        assert!(matches!(
            from_code(None, None, 400, "t"),
            StoreError::Backend(_)
        ));
    }

    #[test]
    fn causes_join_the_source_chain() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("dispatch failure")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let err = Outer(std::io::Error::other("connection refused"));
        assert_eq!(causes(&err), "dispatch failure: connection refused");
    }

    #[test]
    fn cancellation_reasons_map_one_per_operation() {
        let reasons: Vec<CancellationReason> = [
            "None",
            "ConditionalCheckFailed",
            "TransactionConflict",
            "ValidationError",
        ]
        .into_iter()
        .map(|c| CancellationReason::builder().code(c).build())
        .collect();
        assert_eq!(
            cancel_reasons(&reasons, 4),
            [
                CancelReason::None,
                CancelReason::ConditionFailed,
                CancelReason::Conflict,
                CancelReason::Other("ValidationError".into()),
            ]
        );
        let short = cancel_reasons(&reasons[..1], 2);
        assert_eq!(
            short,
            [CancelReason::None, CancelReason::Other("Unknown".into())]
        );
        assert_eq!(cancel_reason(None), CancelReason::None);
    }
}
