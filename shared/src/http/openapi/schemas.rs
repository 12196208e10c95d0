//! The component schemas: the shapes the handlers answer with (the views in `profiles::views`,
//! `activity::*::*_view`, the records the handlers serialise) and the request bodies.

use serde_json::{Value as Json, json};

/// A `$ref` to a component schema.
pub(crate) fn r(name: &str) -> Json {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

pub(crate) fn string() -> Json {
    json!({ "type": "string" })
}

pub(crate) fn nullable_string() -> Json {
    json!({ "type": ["string", "null"] })
}

pub(crate) fn time() -> Json {
    json!({ "type": "string", "format": "date-time" })
}

pub(crate) fn nullable_time() -> Json {
    json!({ "type": ["string", "null"], "format": "date-time" })
}

pub(crate) fn integer() -> Json {
    json!({ "type": "integer" })
}

pub(crate) fn boolean() -> Json {
    json!({ "type": "boolean" })
}

/// A cursor page: `{next, previous, results}`, with `count` where the list has a cheap one.
pub(crate) fn page(item: Json, with_count: bool) -> Json {
    let mut schema = json!({
        "type": "object",
        "required": ["next", "previous", "results"],
        "properties": {
            "next": { "type": ["string", "null"], "description": "Pass as `?cursor=` for the next page." },
            "previous": { "type": "null" },
            "results": { "type": "array", "items": item },
        },
    });
    if with_count {
        schema["required"] = json!(["count", "next", "previous", "results"]);
        schema["properties"]["count"] = json!({ "type": "integer", "minimum": 0 });
    }
    schema
}

pub(crate) const ROLES: [&str; 6] = [
    "owner",
    "normal",
    "data_provider",
    "professional",
    "admin",
    "moderator",
];

pub(crate) const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

/// The user fields every view of a user has (`profiles::views::public_card`).
fn card_properties() -> Json {
    json!({
        "id": { "type": "integer", "minimum": 1 },
        "username": string(),
        "display_name": string(),
        "profile_picture": nullable_string(),
        "is_private": boolean(),
        "follower_count": integer(),
        "following_count": integer(),
        "posts_count": integer(),
    })
}

const CARD_REQUIRED: [&str; 8] = [
    "id",
    "username",
    "display_name",
    "profile_picture",
    "is_private",
    "follower_count",
    "following_count",
    "posts_count",
];

fn merge(mut base: Json, extra: Json) -> Json {
    if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    base
}

fn user_full() -> Json {
    let properties = merge(
        card_properties(),
        json!({
            "email": string(),
            "first_name": string(),
            "last_name": string(),
            "full_name": string(),
            "role": { "type": "string", "enum": ROLES },
            "is_verified": boolean(),
            "is_suspended": boolean(),
            "suspension_reason": string(),
            "deleting": { "type": "boolean", "description": "Present (true) while the account is being erased." },
            "email_suppressed": { "type": ["string", "null"], "enum": ["bounce", "complaint", null], "description": "The address hard-bounced or its owner complained: the service mails it no more." },
            "phone_number": nullable_string(),
            "date_of_birth": nullable_string(),
            "bio": string(),
            "cover_media": nullable_string(),
            "cover_media_type": { "type": ["string", "null"], "enum": ["image", "video", null] },
            "country": nullable_string(),
            "city": nullable_string(),
            "location": nullable_string(),
            "show_email": boolean(),
            "show_phone": boolean(),
            "show_location": boolean(),
            "badge_points": integer(),
            "engagement_score": { "type": "number" },
            "content_quality_score": { "type": "number" },
            "interaction_frequency": { "type": "number" },
            "created_at": time(),
            "updated_at": time(),
            "last_active": nullable_time(),
        }),
    );
    let mut required: Vec<&str> = CARD_REQUIRED.to_vec();
    required.extend([
        "email",
        "first_name",
        "last_name",
        "full_name",
        "role",
        "is_verified",
        "is_suspended",
        "bio",
        "show_email",
        "show_phone",
        "show_location",
        "badge_points",
        "created_at",
        "updated_at",
    ]);
    json!({
        "type": "object",
        "description": "Every field of a user: what the user, admins and moderators see.",
        "required": required,
        "properties": properties,
    })
}

fn user_public() -> Json {
    let properties = merge(
        card_properties(),
        json!({
            "first_name": string(),
            "last_name": string(),
            "full_name": string(),
            "bio": string(),
            "cover_media": nullable_string(),
            "cover_media_type": nullable_string(),
            "role": { "type": "string", "enum": ROLES },
            "is_verified": boolean(),
            "badge_points": integer(),
            "created_at": time(),
            "email": { "type": "string", "description": "Only when the owner shows it." },
            "phone_number": { "type": ["string", "null"], "description": "Only when the owner shows it." },
            "country": { "type": ["string", "null"], "description": "Only when the owner shows the location." },
            "city": nullable_string(),
            "location": nullable_string(),
        }),
    );
    json!({
        "type": "object",
        "description": "Another user's profile: the full public view of a public profile (or \
            a private one the caller follows), else just the card.",
        "required": CARD_REQUIRED,
        "properties": properties,
    })
}

fn new_user() -> Json {
    json!({
        "type": "object",
        "required": ["id", "username", "email", "first_name", "last_name", "is_verified", "role", "created_at"],
        "properties": {
            "id": { "type": "integer", "minimum": 1 },
            "username": string(),
            "email": string(),
            "first_name": string(),
            "last_name": string(),
            "is_verified": boolean(),
            "role": { "type": "string", "enum": ROLES },
            "created_at": time(),
        },
    })
}

fn token_pair() -> Json {
    json!({
        "type": "object",
        "required": ["access", "refresh", "access_expires_at", "refresh_expires_at"],
        "properties": {
            "access": string(),
            "refresh": string(),
            "access_expires_at": time(),
            "refresh_expires_at": time(),
        },
    })
}

fn session() -> Json {
    json!({
        "type": "object",
        "required": ["session_id", "user", "auth_method", "started_at", "last_activity",
                     "ended_at", "expires_at", "is_active", "is_deleted", "time_spent", "is_current"],
        "properties": {
            "session_id": string(),
            "user": { "type": "integer", "minimum": 1 },
            "auth_method": string(),
            "aal": { "type": "integer", "enum": [1, 2], "description": "Assurance level: 2 after a second factor." },
            "amr": { "type": "array", "items": string(), "description": "Authentication methods (`pwd`, `otp`, `recovery`, `webauthn`)." },
            "ip_address": nullable_string(),
            "user_agent": string(),
            "device_info": {
                "type": "object",
                "properties": {
                    "browser": string(), "browser_version": string(), "os": string(),
                    "os_version": string(), "device_type": string(),
                },
            },
            "location_data": {
                "type": "object",
                "properties": { "country": nullable_string(), "city": nullable_string() },
            },
            "device_fingerprint": string(),
            "pages_visited": integer(),
            "started_at": time(),
            "last_activity": time(),
            "ended_at": nullable_time(),
            "expires_at": nullable_time(),
            "is_active": boolean(),
            "is_deleted": boolean(),
            "time_spent": { "type": "integer", "minimum": 0, "description": "Seconds." },
            "is_current": boolean(),
        },
    })
}

fn event() -> Json {
    json!({
        "type": "object",
        "required": ["id", "user", "event_type", "group", "severity", "description", "metadata",
                     "success", "is_security_event", "risk_score", "requires_review", "created_at"],
        "properties": {
            "id": string(),
            "user": { "type": ["integer", "null"] },
            "session": nullable_string(),
            "event_type": string(),
            "group": string(),
            "severity": { "type": "string", "enum": SEVERITIES },
            "description": string(),
            "metadata": {},
            "success": boolean(),
            "error_message": nullable_string(),
            "target_user": { "type": ["integer", "null"] },
            "ip_address": nullable_string(),
            "user_agent": nullable_string(),
            "is_security_event": boolean(),
            "risk_score": { "type": "integer", "minimum": 0, "maximum": 100 },
            "requires_review": boolean(),
            "reviewed_at": nullable_time(),
            "reviewed_by": { "type": ["integer", "null"] },
            "created_at": time(),
            "expires_at": { "type": "integer", "description": "Epoch seconds when the event expires." },
        },
    })
}

fn settings() -> Json {
    json!({
        "type": "object",
        "required": ["user_id", "email_notifications", "push_notifications",
                     "notification_frequency", "profile_visibility", "language", "theme",
                     "timezone", "created_at", "updated_at"],
        "properties": {
            "user_id": { "type": "integer", "minimum": 1 },
            "email_notifications": boolean(),
            "push_notifications": boolean(),
            "warranty_expiry_notifications": boolean(),
            "maintenance_reminder_notifications": boolean(),
            "notification_frequency": { "type": "string", "enum": ["immediate", "daily", "weekly", "never"] },
            "profile_visibility": { "type": "string", "enum": ["public", "followers", "private"] },
            "language": string(),
            "theme": { "type": "string", "enum": ["light", "dark", "system"] },
            "timezone": string(),
            "mature_content": boolean(),
            "auto_play_videos": boolean(),
            "created_at": time(),
            "updated_at": time(),
        },
    })
}

fn professional() -> Json {
    json!({
        "type": "object",
        "required": ["id", "user", "user_id", "description", "business_address", "company_name",
                     "job_title", "years_experience", "certifications", "services_offered",
                     "is_verified", "created_at", "updated_at"],
        "properties": {
            "id": { "type": "integer", "minimum": 1 },
            "user": { "type": "integer", "minimum": 1 },
            "user_id": { "type": "integer", "minimum": 1 },
            "description": string(),
            "phone": nullable_string(),
            "website": nullable_string(),
            "business_address": string(),
            "company_name": string(),
            "job_title": string(),
            "years_experience": { "type": "integer", "minimum": 0 },
            "certifications": { "type": "array", "items": string() },
            "services_offered": { "type": "array", "items": string() },
            "is_verified": boolean(),
            "verification_date": nullable_time(),
            "created_at": time(),
            "updated_at": time(),
        },
    })
}

fn follow() -> Json {
    json!({
        "type": "object",
        "required": ["id", "follower", "following", "status", "created_at", "approved_at"],
        "properties": {
            "id": { "type": "string", "pattern": "^[0-9]+-[0-9]+$" },
            "follower": { "type": "integer", "minimum": 1 },
            "following": { "type": "integer", "minimum": 1 },
            "status": { "type": "string", "enum": ["active", "pending"] },
            "created_at": time(),
            "approved_at": nullable_time(),
            "user": r("UserCard"),
        },
    })
}

fn block() -> Json {
    json!({
        "type": "object",
        "required": ["id", "blocker", "blocked", "reason", "created_at"],
        "properties": {
            "id": { "type": "string", "pattern": "^[0-9]+-[0-9]+$" },
            "blocker": { "type": "integer", "minimum": 1 },
            "blocked": { "type": "integer", "minimum": 1 },
            "reason": string(),
            "created_at": time(),
            "user": r("UserCard"),
        },
    })
}

fn session_status() -> Json {
    json!({
        "type": "object",
        "required": ["valid", "expires_at", "absolute_expires_at", "last_activity", "idle_timeout_seconds"],
        "properties": {
            "valid": boolean(),
            "expires_at": nullable_time(),
            "absolute_expires_at": nullable_time(),
            "last_activity": nullable_time(),
            "idle_timeout_seconds": { "type": "integer", "minimum": 1 },
        },
    })
}

/// The schemas of the second-factor routes.
fn mfa_schemas() -> Json {
    json!({
        "MfaFactor": {
            "type": "object",
            "required": ["id", "type", "name", "status", "created_at", "activated_at", "last_used_at"],
            "properties": {
                "id": string(),
                "type": { "type": "string", "enum": ["totp"] },
                "name": string(),
                "status": { "type": "string", "enum": ["pending", "active"] },
                "created_at": time(),
                "activated_at": nullable_time(),
                "last_used_at": nullable_time(),
            },
        },
        "Passkey": {
            "type": "object",
            "required": ["id", "type", "name", "credential_id", "algorithm", "created_at", "last_used_at"],
            "properties": {
                "id": { "type": "string", "pattern": "^[0-9a-f]{64}$", "description": "SHA-256 of the credential id, hex." },
                "type": { "type": "string", "enum": ["webauthn"] },
                "name": string(),
                "credential_id": { "type": "string", "description": "base64url." },
                "algorithm": { "type": "string", "enum": ["ES256", "EdDSA"] },
                "created_at": time(),
                "last_used_at": nullable_time(),
            },
        },
        "SecondFactorRequired": {
            "type": "object",
            "required": ["mfa_required", "mfa_token", "expires_at", "methods"],
            "properties": {
                "mfa_required": { "type": "boolean", "enum": [true] },
                "mfa_token": { "type": "string", "description": "Send to `POST /api/auth/mfa/verify/` with a code or a passkey's assertion." },
                "expires_at": time(),
                "methods": { "type": "array", "items": { "type": "string", "enum": ["totp", "webauthn", "recovery_code"] } },
            },
        },
    })
}

/// Every component schema.
pub(crate) fn all() -> Json {
    merge(all_but_mfa(), mfa_schemas())
}

fn all_but_mfa() -> Json {
    json!({
        "Detail": {
            "type": "object",
            "required": ["detail"],
            "properties": { "detail": string() },
        },
        "FieldErrors": {
            "type": "object",
            "description": "DRF field errors: each field with its messages.",
            "minProperties": 1,
            "additionalProperties": { "type": "array", "items": string(), "minItems": 1 },
        },
        "BadRequest": { "anyOf": [r("Detail"), r("FieldErrors")] },
        "UserCard": {
            "type": "object",
            "required": CARD_REQUIRED,
            "properties": card_properties(),
        },
        "User": user_full(),
        "PublicUser": user_public(),
        "UserView": {
            "description": "The full view (the caller themself, or staff) or the public view.",
            "anyOf": [r("User"), r("PublicUser")],
        },
        "NewUser": new_user(),
        "TokenPair": token_pair(),
        "Session": session(),
        "SessionStatus": session_status(),
        "Event": event(),
        "Settings": settings(),
        "ProfessionalProfile": professional(),
        "Follow": follow(),
        "Block": block(),
        "Relationship": {
            "type": "object",
            "required": ["id", "following", "followed_by", "requested", "requested_by", "blocking", "blocked_by"],
            "properties": {
                "id": { "type": "integer", "minimum": 1 },
                "following": boolean(),
                "followed_by": boolean(),
                "requested": boolean(),
                "requested_by": boolean(),
                "blocking": boolean(),
                "blocked_by": boolean(),
            },
        },
        "ApiToken": {
            "type": "object",
            "required": ["id", "name", "prefix", "created_at", "last_used_at"],
            "properties": {
                "id": string(),
                "name": string(),
                "prefix": string(),
                "created_at": time(),
                "last_used_at": nullable_time(),
            },
        },
        "CreatedApiToken": {
            "type": "object",
            "required": ["id", "name", "prefix", "key", "created_at"],
            "properties": {
                "id": string(),
                "name": string(),
                "prefix": string(),
                "key": { "type": "string", "description": "Shown this once; send as `Authorization: Token <key>`." },
                "created_at": time(),
            },
        },
        "Jwks": {
            "type": "object",
            "required": ["keys"],
            "properties": {
                "keys": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["kty", "crv", "x", "kid", "alg", "use"],
                        "properties": {
                            "kty": { "const": "OKP" },
                            "crv": { "const": "Ed25519" },
                            "x": string(),
                            "kid": string(),
                            "alg": { "const": "EdDSA" },
                            "use": { "const": "sig" },
                        },
                    },
                },
            },
        },
        "Health": {
            "type": "object",
            "required": ["status", "store"],
            "properties": {
                "status": { "type": "string", "enum": ["ok", "unavailable"] },
                "store": string(),
            },
        },
        "LoginBody": {
            "type": "object",
            "description": "A username or an email address, and the password. `website` is \
                the hidden honeypot field that people leave empty.",
            "properties": {
                "username": nullable_string(),
                "email": nullable_string(),
                "password": nullable_string(),
                "website": nullable_string(),
            },
        },
        "Notification": {
            "type": "object",
            "required": ["id", "kind", "created_at", "read", "actor", "badge", "message"],
            "properties": {
                "id": string(),
                "kind": { "type": "string", "enum": ["badge_earned", "new_follower", "follow_request", "request_approved"] },
                "created_at": time(),
                "read": boolean(),
                "actor": {
                    "anyOf": [r("UserCard"), { "type": "null" }],
                    "description": "Who did it, as the card anyone may see; null across a block, for a suspended or erased account, and for badges.",
                },
                "badge": {
                    "type": ["object", "null"],
                    "required": ["id", "name", "description", "points"],
                    "properties": { "id": { "type": "integer" }, "name": string(), "description": string(), "points": { "type": "integer" } },
                },
                "message": string(),
            },
        },
        "RegisterBody": {
            "type": "object",
            "required": ["username", "email", "password"],
            "properties": {
                "username": { "type": "string", "description": "3-30 letters, digits, `_`, `.`, `-`." },
                "email": { "type": "string", "format": "email" },
                "password": { "type": "string", "description": "Rejected when weak, common or like the username or email." },
                "first_name": nullable_string(),
                "last_name": nullable_string(),
                "website": { "type": ["string", "null"], "description": "Honeypot: leave empty." },
            },
        },
    })
}
