//! `GET /api/health/` (and each group's `/api/health/<group>/`): answers once the store does.

use http::StatusCode;
use serde_json::json;

use crate::App;
use crate::error::Error;
use crate::http::{ApiResponse, RequestCtx};

pub async fn service(app: &App, _ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    let store = app.table.engine();
    Ok(match app.table.health().await {
        Ok(()) => ApiResponse::ok(&json!({ "status": "ok", "store": store })),
        Err(e) => {
            tracing::warn!(error = %e, "health check: store not answering");
            // Like every other 503: a load balancer or client may try again in a second.
            ApiResponse::json(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({ "status": "unavailable", "store": store }),
            )
            .with_header(http::header::RETRY_AFTER, "1")
        }
    })
}
