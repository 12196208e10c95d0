//! The Activity group: sessions and the event log (and, below, task runs and reports).

use serde_json::json;

use super::schemas::{SEVERITIES, boolean, page, r, string};
use super::{Access, Op, bool_query, op, or_empty};

pub(super) fn operations() -> Vec<Op> {
    let session_id = |o: Op| o.path_param("id", string(), "The session id (a ULID).");
    let user = || or_empty(json!({ "type": "integer", "minimum": 1 }));
    vec![
        op("GET", "/api/sessions/", "activity")
            .summary("The caller's sessions, newest first (administrators: `?user=`)")
            .access(Access::Authenticated)
            .query("user", user(), "Administrators: whose sessions.")
            .paged()
            .respond(200, "A page of sessions, the current one marked.", page(r("Session"), false))
            .links_to(
                200,
                "/api/sessions/{id}/",
                &["GET", "DELETE"],
                "$response.body#/results/0/session_id",
            )
            .errors(&[400]),
        op("POST", "/api/sessions/", "activity")
            .summary("Session login, answering with the new session (sets the cookies)")
            .body(r("LoginBody"))
            .respond(
                201,
                "The new session with the user.",
                json!({
                    "allOf": [r("Session")],
                    "required": ["user"],
                    "properties": { "user": r("User") },
                }),
            )
            .errors(&[400, 403, 429]),
        op("DELETE", "/api/sessions/", "activity")
            .summary("End every session of the caller but the current one")
            .access(Access::Authenticated)
            .respond(
                200,
                "How many ended.",
                json!({
                    "type": "object",
                    "required": ["ended"],
                    "properties": { "ended": { "type": "integer", "minimum": 0 } },
                }),
            ),
        session_id(op("GET", "/api/sessions/{id}/", "activity"))
            .summary("One of the caller's sessions (anyone's for administrators)")
            .access(Access::Authenticated)
            .respond(200, "The session.", r("Session"))
            .errors(&[404]),
        session_id(op("DELETE", "/api/sessions/{id}/", "activity"))
            .summary("End a session: its cookie and tokens stop working at once")
            .access(Access::Authenticated)
            .no_content()
            .errors(&[404]),
        op("GET", "/api/events/", "activity")
            .summary("The caller's events, newest first (staff: `?user=`, `?requires_review=true`)")
            .access(Access::Verified)
            .query("event_type", string(), "One event type (`login`, `follow`, ...).")
            .query("severity", or_empty(json!({ "type": "string", "enum": SEVERITIES })), "One severity.")
            .query("success", or_empty(bool_query()), "Only successful (or failed) events.")
            .query("since", or_empty(json!({ "type": "string", "format": "date-time" })), "RFC 3339, inclusive.")
            .query("until", or_empty(json!({ "type": "string", "format": "date-time" })), "RFC 3339; not before `since`.")
            .query("user", user(), "Staff: whose events.")
            .query("requires_review", or_empty(bool_query()), "Staff: the review queue.")
            .paged()
            .respond(200, "A page of events.", page(r("Event"), false))
            .links_to(
                200,
                "/api/events/{id}/review/",
                &["POST"],
                "$response.body#/results/0/id",
            )
            .errors(&[400]),
        op("POST", "/api/events/", "activity")
            .summary("Log an event (content events by the caller; services and staff more)")
            .access(Access::Verified)
            .body(json!({
                "type": "object",
                "required": ["event_type"],
                "additionalProperties": false,
                "properties": {
                    "event_type": string(),
                    "user": { "type": ["integer", "null"], "minimum": 1 },
                    "target_user": { "type": ["integer", "null"], "minimum": 1 },
                    "severity": { "type": ["string", "null"], "enum": ["low", "medium", "high", "critical", null] },
                    "description": { "type": ["string", "null"] },
                    "metadata": { "description": "Any JSON object." },
                    "success": { "type": ["boolean", "null"] },
                    "error_message": { "type": ["string", "null"] },
                    "idempotency_key": { "type": ["string", "null"], "description": "A repeat answers 200 with `duplicate: true`." },
                },
            }))
            .example(json!({ "event_type": "page_view", "metadata": { "page": "/home" } }))
            .respond(
                201,
                "The event.",
                json!({
                    "allOf": [r("Event")],
                    "required": ["duplicate", "counted"],
                    "properties": { "duplicate": boolean(), "counted": boolean() },
                }),
            )
            .respond(
                200,
                "A repeated idempotency key: the first event, `duplicate: true`.",
                json!({
                    "allOf": [r("Event")],
                    "required": ["duplicate", "counted"],
                    "properties": { "duplicate": { "const": true }, "counted": boolean() },
                }),
            )
            .errors(&[404]),
        op("POST", "/api/events/{id}/review/", "activity")
            .path_param("id", string(), "The event id.")
            .summary("Mark an event reviewed (staff)")
            .access(Access::Verified)
            .body(json!({
                "type": "object",
                "additionalProperties": false,
                "properties": { "notes": { "type": ["string", "null"] } },
            }))
            .respond(200, "The event with `reviewed_at` and `reviewed_by`.", r("Event"))
            .errors(&[404, 409]),
        op("GET", "/api/notifications/", "activity")
            .summary("The caller's notifications, newest first, with `unread_count`")
            .access(Access::Verified)
            .paged()
            .respond(
                200,
                "A page of notifications.",
                json!({
                    "type": "object",
                    "required": ["next", "previous", "unread_count", "results"],
                    "properties": {
                        "next": { "type": ["string", "null"], "description": "Pass as `?cursor=` for the next page." },
                        "previous": { "type": "null" },
                        "unread_count": { "type": "integer", "minimum": 0, "maximum": 500, "description": "Unread notifications (counted up to 500)." },
                        "results": { "type": "array", "items": r("Notification") },
                    },
                }),
            )
            .links_to(
                200,
                "/api/notifications/{id}/read/",
                &["POST"],
                "$response.body#/results/0/id",
            )
            .errors(&[400]),
        op("POST", "/api/notifications/read-all/", "activity")
            .summary("Mark every notification of the caller read")
            .access(Access::Verified)
            .respond(
                200,
                "Nothing is unread any more.",
                json!({
                    "type": "object",
                    "required": ["unread_count", "read_through"],
                    "properties": { "unread_count": { "const": 0 }, "read_through": string() },
                }),
            )
            .errors(&[]),
        op("POST", "/api/notifications/{id}/read/", "activity")
            .path_param("id", json!({ "type": "string", "pattern": "^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$" }), "The notification id (a ULID).")
            .summary("Mark one of the caller's notifications read")
            .access(Access::Verified)
            .respond(200, "The notification, read.", r("Notification"))
            .errors(&[404]),
    ]
}
