//! The Users group: `/api/users/`.

use serde_json::{Value as Json, json};

use super::schemas::{ROLES, nullable_string, page, r, string};
use super::{Access, Op, bool_query, int_id, op, or_empty};

/// `auth::policy::SecurityPolicy`.
fn policy() -> Json {
    json!({
        "type": "object",
        "required": ["mfa_required_for_staff", "updated_at", "updated_by"],
        "properties": {
            "mfa_required_for_staff": super::schemas::boolean(),
            "updated_at": super::schemas::nullable_time(),
            "updated_by": { "type": ["integer", "null"] },
        },
    })
}

fn user_body(required: &[&str], with_password: bool) -> Json {
    // Every field is optional to serde (null reads as absent); the domain checks what is
    // required.
    let mut properties = json!({
        "username": nullable_string(),
        "email": nullable_string(),
        "first_name": nullable_string(),
        "last_name": nullable_string(),
        "role": {
            "type": ["string", "null"],
            "enum": [ROLES[0], ROLES[1], ROLES[2], ROLES[3], ROLES[4], ROLES[5], null],
            "description": "Administrators only.",
        },
        "is_verified": { "type": ["boolean", "null"] },
    });
    if !with_password {
        properties["current_password"] = json!({
            "type": ["string", "null"],
            "description": "The owner's current password: required to change `email`.",
        });
    }
    if with_password {
        properties["password"] = nullable_string();
    }
    json!({ "type": "object", "required": required, "properties": properties })
}

const EMAIL_CHANGE_NOTE: &str = "A new `email` is not set at once: the owner sends \
    `current_password` (never with an API token), a code goes to the new address (confirm it at \
    `/api/users/{id}/email/confirm/`), and the old address is told with a token that cancels \
    the change or reverts it for 7 days.";

/// `DELETE` of an account: `/api/users/{id}/` and `/api/profiles/{id}/` are one handler.
pub(super) fn erase_op(path: &'static str, group: &'static str) -> Op {
    op("DELETE", path, group)
        .path_param("id", int_id(), "The user's id.")
        .summary("Erase an account (the user, with the current password, or an administrator)")
        .access(Access::Verified)
        .body(json!({
            "type": "object",
            "properties": { "current_password": { "type": ["string", "null"] } },
        }))
        .no_content()
        .errors(&[400, 404, 409])
}

/// The user after an update: the `User` schema plus the email change it started, if any.
fn updated_user() -> Json {
    json!({
        "allOf": [r("User")],
        "properties": {
            "pending_email": { "type": ["string", "null"], "description": "The new address awaiting its code." },
        },
    })
}

pub(super) fn operations() -> Vec<Op> {
    let id = |o: Op| o.path_param("id", int_id(), "The user's id.");
    vec![
        op("GET", "/api/users/", "users")
            .summary("List and search users")
            .access(Access::Verified)
            .query(
                "search",
                string(),
                "Prefix of the username or display name.",
            )
            .query(
                "role",
                or_empty(json!({ "type": "string", "enum": ROLES })),
                "Only this role.",
            )
            .query(
                "is_verified",
                or_empty(bool_query()),
                "Only verified (or unverified) users.",
            )
            .paged()
            .respond(
                200,
                "Administrators get every field; others the public view or card.",
                page(r("UserView"), false),
            )
            .errors(&[400]),
        op("POST", "/api/users/", "users")
            .summary("Create an account (administrators)")
            .access(Access::Verified)
            .body(user_body(&["username", "email", "password"], true))
            .respond(201, "The new user.", r("User")),
        id(op("GET", "/api/users/{id}/", "users"))
            .summary("A user: themself or an administrator")
            .access(Access::Verified)
            .respond(200, "The user.", r("User"))
            .errors(&[404]),
        id(op("PUT", "/api/users/{id}/", "users"))
            .summary("Replace a user's account fields (username and email required)")
            .access(Access::Verified)
            .body(user_body(&["username", "email"], false))
            .respond(
                200,
                "The user, with `pending_email` when an email change started.",
                updated_user(),
            )
            .errors(&[404, 409])
            .describe(EMAIL_CHANGE_NOTE),
        id(op("PATCH", "/api/users/{id}/", "users"))
            .summary("Change some of a user's account fields")
            .access(Access::Verified)
            .body(user_body(&[], false))
            .respond(
                200,
                "The user, with `pending_email` when an email change started.",
                updated_user(),
            )
            .errors(&[404, 409])
            .describe(EMAIL_CHANGE_NOTE),
        erase_op("/api/users/{id}/", "users"),
        id(op("GET", "/api/users/{id}/export/", "users"))
            .summary("Everything stored about the user, in one document (the user, or an administrator; never with an API token)")
            .access(Access::Verified)
            .respond(
                200,
                "The export: the user, settings, professional profile, follows, blocks, sessions, API token names, events, badges, notifications, activity and second factors; no secrets.",
                json!({
                    "type": "object",
                    "required": ["exported_at", "user", "settings", "professional_profile", "following", "followers",
                                 "follow_requests_received", "blocks", "sessions", "api_tokens", "events", "badges",
                                 "notifications", "activity_counters", "activity_days", "badge_score",
                                 "second_factors", "passkeys", "recovery_codes_remaining"],
                    "properties": {
                        "exported_at": { "type": "string", "format": "date-time" },
                        "user": r("User"),
                        "settings": { "type": ["object", "null"] },
                        "professional_profile": { "type": ["object", "null"] },
                        "following": { "type": "array", "items": { "type": "object" } },
                        "followers": { "type": "array", "items": { "type": "object" } },
                        "follow_requests_received": { "type": "array", "items": { "type": "object" } },
                        "blocks": { "type": "array", "items": { "type": "object" } },
                        "sessions": { "type": "array", "items": { "type": "object" } },
                        "api_tokens": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["name", "prefix", "created_at"],
                                "properties": { "name": string(), "prefix": string() },
                            },
                        },
                        "events": { "type": "array", "items": { "type": "object" } },
                        "badges": { "type": "array", "items": { "type": "object" } },
                        "notifications": { "type": "array", "items": { "type": "object" } },
                        "activity_counters": { "type": ["object", "null"] },
                        "activity_days": { "type": "array", "items": { "type": "object" } },
                        "badge_score": { "type": ["object", "null"] },
                        "second_factors": { "type": "array", "items": r("MfaFactor") },
                        "passkeys": { "type": "array", "items": r("Passkey") },
                        "recovery_codes_remaining": { "type": "integer", "minimum": 0 },
                        "second_factor_failures": { "type": "object" },
                    },
                }),
            )
            .errors(&[403, 404]),
        id(op("POST", "/api/users/{id}/email/confirm/", "users"))
            .summary("Confirm a pending email change with the code mailed to the new address")
            .access(Access::Verified)
            .body(json!({
                "type": "object",
                "properties": { "code": { "type": ["string", "null"] } },
            }))
            .respond(200, "The user with the new address.", r("User"))
            .errors(&[400, 404, 409]),
        id(op("POST", "/api/users/{id}/suspend/", "users"))
            .summary("Suspend an account (staff)")
            .access(Access::Verified)
            .body(json!({
                "type": "object",
                "additionalProperties": false,
                "properties": { "reason": { "type": ["string", "null"] } },
            }))
            .respond(200, "The suspended user.", r("User"))
            .errors(&[404, 409]),
        id(op("POST", "/api/users/{id}/unsuspend/", "users"))
            .summary("Lift a suspension (staff)")
            .access(Access::Verified)
            .respond(200, "The user.", r("User"))
            .errors(&[400, 404, 409]),
        id(op("DELETE", "/api/users/{id}/mfa/", "users"))
            .summary("Remove every second factor and recovery code of an account (administrators)")
            .access(Access::Verified)
            .no_content()
            .errors(&[400, 404, 409])
            .describe(
                "Administrators, on accounts of lower rank, never their own; logged on both \
                 accounts (`mfa_reset`, `admin_action`) and the owner is told by mail. Needs a \
                 recent step-up of the administrator (403 `step_up_required`). 409 when the \
                 account has no factor.",
            ),
        op("GET", "/api/security-policy/", "users")
            .summary("The platform's security policy (staff)")
            .access(Access::Verified)
            .respond(200, "The policy in force.", policy())
            .errors(&[404])
            .describe("Staff only; others 404."),
        op("PATCH", "/api/security-policy/", "users")
            .summary("Change the platform's security policy (administrators)")
            .access(Access::Verified)
            .body(json!({
                "type": "object",
                "additionalProperties": false,
                "properties": { "mfa_required_for_staff": { "type": ["boolean", "null"] } },
            }))
            .respond(200, "The policy now.", policy())
            .errors(&[400, 404])
            .describe(
                "Administrators, after a recent step-up (403 `step_up_required`); moderators \
                 403, others 404. `mfa_required_for_staff: true` makes moderators, \
                 administrators and owners without a second factor refused every sensitive \
                 action with `code: mfa_enrolment_required` until they enrol one. Logged as a \
                 high-severity `admin_action` (`metadata.action: security_policy_change`).",
            ),
    ]
}
