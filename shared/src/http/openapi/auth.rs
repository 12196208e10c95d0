//! The Auth group: health, registration and verification, passwords, session and JWT login,
//! API tokens, the key set and this document.

use serde_json::{Value as Json, json};

use super::schemas::{boolean, nullable_string, r, string, time};
use super::{Access, Op, op};

fn health(path: &'static str, tag: &'static str) -> Op {
    op("GET", path, tag)
        .summary("Health: answers once the store does")
        .respond(200, "The store answers.", r("Health"))
        .respond(503, "The store does not answer.", r("Health"))
}

/// The health check of every group (the group modules' own health routes are here too, so
/// they read alike).
pub(super) fn health_checks() -> Vec<Op> {
    [
        "/api/health/",
        "/api/health/auth/",
        "/api/health/users/",
        "/api/health/profiles/",
        "/api/health/social/",
        "/api/health/activity/",
        "/api/health/badges/",
    ]
    .into_iter()
    .map(|path| health(path, "health"))
    .collect()
}

fn detail_with(extra: Json) -> Json {
    let mut properties = json!({ "detail": string() });
    let mut required = vec![json!("detail")];
    if let (Some(props), Some(extra)) = (properties.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            props.insert(k.clone(), v.clone());
            required.push(json!(k));
        }
    }
    json!({ "type": "object", "required": required, "properties": properties })
}

fn object(properties: Json, required: &[&str]) -> Json {
    json!({ "type": "object", "required": required, "properties": properties })
}

fn no_store_cookies() -> Json {
    json!({
        "Set-Cookie": {
            "description": "`sessionid` (HttpOnly) and `csrftoken` (readable: echo it in \
                X-CSRFToken), SameSite=Lax, for SESSION_MAX_AGE seconds.",
            "schema": { "type": "string" },
        },
    })
}

pub(super) fn operations() -> Vec<Op> {
    let login_pair = object(
        json!({
            "access": string(), "refresh": string(),
            "access_expires_at": time(), "refresh_expires_at": time(),
            "user": r("User"),
        }),
        &[
            "access",
            "refresh",
            "access_expires_at",
            "refresh_expires_at",
            "user",
        ],
    );
    let register_pair = object(
        json!({
            "access": string(), "refresh": string(),
            "access_expires_at": time(), "refresh_expires_at": time(),
            "user": r("NewUser"),
        }),
        &[
            "access",
            "refresh",
            "access_expires_at",
            "refresh_expires_at",
            "user",
        ],
    );
    let email_body = object(json!({ "email": nullable_string() }), &[]);
    let refresh_body = json!({
        "type": "object",
        "required": ["refresh"],
        "additionalProperties": false,
        "properties": { "refresh": string() },
    });

    let mut ops = health_checks();
    ops.extend([
        op("GET", "/api/schema/", "auth")
            .summary("This OpenAPI 3.1 document")
            .respond(
                200,
                "The document.",
                json!({ "type": "object", "required": ["openapi", "paths"] }),
            ),
        op("POST", "/api/auth/register/", "auth")
            .summary("Register an unverified account; the code goes out by mail")
            .body(r("RegisterBody"))
            .respond(201, "The new, unverified user.", r("NewUser"))
            .errors(&[400, 429])
            .describe(
                "400 also when the request looks automated (honeypot field filled, no \
                or a bot user agent). 429 past the per-IP registration limit.",
            ),
        op("POST", "/api/auth/register/professional/", "auth")
            .summary("Register as a professional: the account, the professional role and the professional profile in one step")
            .body(json!({
                "type": "object",
                "required": ["username", "email", "password", "professional"],
                "properties": {
                    "username": { "type": "string", "description": "3-30 letters, digits, `_`, `.`, `-`." },
                    "email": { "type": "string", "format": "email" },
                    "password": { "type": "string", "description": "Rejected when weak, common or like the username or email." },
                    "first_name": nullable_string(),
                    "last_name": nullable_string(),
                    "website": { "type": ["string", "null"], "description": "Honeypot: leave empty (the profile's own website goes in `professional`)." },
                    "professional": super::profiles::professional_body(),
                },
            }))
            .example(json!({
                "username": "acme", "email": "acme@example.com", "password": "violet-harbour-42",
                "professional": { "company_name": "Acme Analytics", "job_title": "Data engineer" },
            }))
            .respond(
                201,
                "The new, unverified professional, with `professional_profile` (unverified until an administrator verifies it).",
                json!({
                    "allOf": [r("NewUser")],
                    "type": "object",
                    "required": ["professional_profile"],
                    "properties": { "professional_profile": r("ProfessionalProfile") },
                }),
            )
            .errors(&[400, 429])
            .describe(
                "`company_name` is required in `professional`; errors of its fields are named                 `professional.<field>`. 400 also when the request looks automated.",
            ),
        op("POST", "/api/auth/jwt/register/", "auth")
            .summary("Register and get a token pair at once")
            .body(r("RegisterBody"))
            .respond(201, "The user and the tokens.", register_pair)
            .errors(&[400, 429]),
        op("POST", "/api/auth/verify/", "auth")
            .summary("Verify the email address with the mailed code")
            .body(object(
                json!({ "email": nullable_string(), "code": nullable_string() }),
                &[],
            ))
            .respond(
                200,
                "Verified.",
                detail_with(json!({ "user": r("NewUser") })),
            )
            .errors(&[400, 429]),
        op("POST", "/api/auth/resend-code/", "auth")
            .summary("Send a new verification code (same answer for every address)")
            .body(email_body.clone())
            .respond(200, "Accepted.", r("Detail"))
            .errors(&[400, 429]),
        op("POST", "/api/auth/password/change/", "auth")
            .summary("Change the password; every other session ends")
            .access(Access::Verified)
            .body(object(
                json!({
                    "current_password": nullable_string(),
                    "new_password": nullable_string(),
                    "revoke_api_tokens": { "type": ["boolean", "null"], "description": "Also revoke every API token of the account." },
                }),
                &[],
            ))
            .respond(
                200,
                "Changed.",
                detail_with(json!({
                    "other_sessions_ended": { "type": "integer", "minimum": 0 },
                    "api_tokens_revoked": { "type": "integer", "minimum": 0 },
                })),
            )
            .errors(&[400, 429])
            .describe("Not with an API token (403)."),
        op("POST", "/api/auth/password/reset/", "auth")
            .summary("Mail a reset code (same answer for every address)")
            .body(email_body)
            .respond(200, "Accepted.", r("Detail"))
            .errors(&[400, 429]),
        op("POST", "/api/auth/password/reset/confirm/", "auth")
            .summary("Set a new password with the mailed code; every session ends")
            .body(object(
                json!({
                    "email": nullable_string(),
                    "code": nullable_string(),
                    "new_password": nullable_string(),
                }),
                &[],
            ))
            .respond(
                200,
                "Reset: every session, refresh token and API token of the account ended.",
                detail_with(json!({
                    "sessions_ended": { "type": "integer", "minimum": 0 },
                    "api_tokens_revoked": { "type": "integer", "minimum": 0 },
                })),
            )
            .errors(&[400, 429]),
        op("POST", "/api/auth/email/cancel/", "auth")
            .summary("Cancel a pending email change, or revert a completed one within 7 days, with the token mailed to the old address")
            .body(object(json!({ "token": nullable_string() }), &[]))
            .respond(
                200,
                "Cancelled, or reverted with every session and token ended.",
                detail_with(json!({
                    "outcome": { "type": "string", "enum": ["cancelled", "reverted"] },
                })),
            )
            .errors(&[400, 409]),
        op("POST", "/api/auth/login/", "auth")
            .summary("Session login: sets the sessionid and csrftoken cookies")
            .body(r("LoginBody"))
            .respond_with_headers(200, "The user.", r("User"), no_store_cookies())
            .respond(202, "The account has a second factor: no session yet; complete the sign-in at `POST /api/auth/mfa/verify/` within 5 minutes.", r("SecondFactorRequired"))
            .errors(&[400, 403, 429])
            .describe(
                "400 for a wrong username or password (one message for both) and for \
                an automated-looking request; 403 for a suspended account; 429 while the \
                account's login backoff or the per-IP failure limit holds.",
            ),
        op("POST", "/api/auth/logout/", "auth")
            .summary("End the caller's session (if any) and clear the cookies")
            .access(Access::Optional)
            .respond(200, "Logged out.", r("Detail")),
        op("GET", "/api/auth/me/", "auth")
            .summary("The caller, with their profile and the session's assurance")
            .access(Access::Authenticated)
            .respond(
                200,
                "The caller, with `aal` and `amr` (null for API tokens).",
                json!({
                    "allOf": [r("User")],
                    "required": ["aal", "amr"],
                    "properties": {
                        "aal": { "type": ["integer", "null"], "enum": [1, 2, null] },
                        "amr": { "type": ["array", "null"], "items": string() },
                    },
                }),
            ),
        op("GET", "/api/auth/session/check/", "auth")
            .summary("Whether the caller's session is live, and until when")
            .access(Access::Optional)
            .respond(
                200,
                "The session's status (`valid: false` without one).",
                r("SessionStatus"),
            ),
        op("POST", "/api/auth/session/refresh/", "auth")
            .summary("Restart the session's idle window")
            .access(Access::Authenticated)
            .respond(200, "The refreshed status.", r("SessionStatus"))
            .errors(&[400])
            .describe("400 for callers without a session (API tokens)."),
        op("POST", "/api/auth/jwt/login/", "auth")
            .summary("JWT login: a token pair bound to a new session")
            .body(r("LoginBody"))
            .respond(200, "The tokens and the user.", login_pair.clone())
            .respond(202, "The account has a second factor: no tokens yet; complete the sign-in at `POST /api/auth/mfa/verify/` within 5 minutes.", r("SecondFactorRequired"))
            .errors(&[400, 403, 429]),
        op("POST", "/api/auth/jwt/refresh/", "auth")
            .summary("Rotate a refresh token")
            .body(refresh_body.clone())
            .respond(200, "A new pair.", r("TokenPair"))
            .errors(&[400, 401]),
        op("POST", "/api/auth/jwt/logout/", "auth")
            .summary("Revoke a refresh token and end its session")
            .body(refresh_body)
            .no_content()
            .errors(&[400, 401]),
        op("POST", "/api/auth/jwt/verify/", "auth")
            .summary("Check a token's signature and lifetime")
            .body(json!({
                "type": "object",
                "required": ["token"],
                "additionalProperties": false,
                "properties": { "token": string() },
            }))
            .respond(
                200,
                "Valid.",
                object(
                    json!({
                        "valid": boolean(),
                        "token_type": { "type": "string", "enum": ["access", "refresh"] },
                        "expires_at": time(),
                    }),
                    &["valid", "token_type", "expires_at"],
                ),
            )
            .errors(&[400, 401]),
        op("GET", "/api/auth/jwt/user-info/", "auth")
            .summary("The caller and how they authenticated")
            .access(Access::Authenticated)
            .respond(
                200,
                "The caller with `auth_method`.",
                json!({
                    "allOf": [r("User")],
                    "required": ["auth_method"],
                    "properties": { "auth_method": string() },
                }),
            ),
        op("GET", "/api/auth/jwks/", "auth")
            .summary("The public keys that verify access tokens")
            .respond(200, "The key set.", r("Jwks")),
        op("GET", "/.well-known/jwks.json", "auth")
            .summary("The public keys (well-known location)")
            .respond(200, "The key set.", r("Jwks")),
        op("POST", "/api/auth/tokens/", "auth")
            .summary("Create an API token; the key is shown once")
            .access(Access::Verified)
            .body(json!({
                "type": "object",
                "required": ["name"],
                "additionalProperties": false,
                "properties": { "name": { "type": "string", "minLength": 1, "maxLength": 100 } },
            }))
            .example(json!({ "name": "CI deploys" }))
            .respond(201, "The token with its key.", r("CreatedApiToken"))
            .links_to(
                201,
                "/api/auth/tokens/{id}/",
                &["DELETE"],
                "$response.body#/id",
            ),
        op("GET", "/api/auth/tokens/", "auth")
            .summary("The caller's API tokens")
            .access(Access::Verified)
            .respond(
                200,
                "Every token (never the keys).",
                super::schemas::page(r("ApiToken"), true),
            ),
        op("DELETE", "/api/auth/tokens/{id}/", "auth")
            .summary("Revoke one of the caller's API tokens")
            .access(Access::Verified)
            .path_param("id", string(), "The token's id.")
            .no_content()
            .errors(&[404]),
    ]);
    ops.extend(mfa_operations(login_pair.clone()));
    ops.extend(passkey_operations(login_pair));
    ops
}

fn b64() -> Json {
    json!({ "type": ["string", "null"], "description": "base64url" })
}

/// `{publicKey: PublicKeyCredentialCreationOptions | PublicKeyCredentialRequestOptions}`.
fn ceremony_options() -> Json {
    json!({
        "type": "object",
        "required": ["publicKey"],
        "properties": { "publicKey": { "type": "object" } },
    })
}

/// The `response` of a `PublicKeyCredential` from `navigator.credentials.get`.
fn assertion_response() -> Json {
    json!({
        "type": ["object", "null"],
        "properties": {
            "clientDataJSON": b64(),
            "authenticatorData": b64(),
            "signature": b64(),
            "userHandle": b64(),
        },
    })
}

/// A passkey's assertion as the proof of a second step or a step-up.
fn passkey_proof() -> Json {
    json!({
        "type": ["object", "null"],
        "description": "A `PublicKeyCredential` from `navigator.credentials.get` (bytes base64url) for the challenge of the matching `passkey/` route.",
        "properties": {
            "id": b64(),
            "rawId": b64(),
            "type": { "type": ["string", "null"] },
            "response": assertion_response(),
        },
    })
}

/// The passkey routes (`auth/passkeys.rs`, `auth/webauthn.rs`).
fn passkey_operations(login_pair: Json) -> Vec<Op> {
    let passkey_id = || json!({ "type": "string", "pattern": "^[0-9a-f]{64}$" });
    let options = ceremony_options;
    let credential = |response: Json| {
        json!({
            "type": "object",
            "properties": {
                "id": b64(),
                "rawId": b64(),
                "type": { "type": ["string", "null"] },
                "response": response,
                "name": { "type": ["string", "null"], "maxLength": 64 },
                "mode": { "type": ["string", "null"], "enum": ["session", "jwt", null] },
            },
        })
    };
    let refusals = "400 on `credential` when the ceremony is refused: a wrong type or origin, \
                    an unknown, expired or spent challenge (5 minutes, single use; a refused \
                    finish spends it too), another RP id, no user presence or verification, a \
                    bad signature, a sign counter that did not grow; logged as \
                    `mfa_challenge_failed`.";
    vec![
        op("GET", "/api/auth/passkeys/", "auth")
            .summary("The caller's passkeys")
            .access(Access::Verified)
            .respond(
                200,
                "Every passkey (never a public key).",
                super::schemas::page(r("Passkey"), true),
            ),
        op("PATCH", "/api/auth/passkeys/{id}/", "auth")
            .summary("Rename one of the caller's passkeys")
            .access(Access::Verified)
            .path_param("id", passkey_id(), "The passkey's id.")
            .body(json!({
                "type": "object",
                "additionalProperties": false,
                "properties": { "name": { "type": ["string", "null"], "maxLength": 64 } },
            }))
            .respond(200, "The passkey.", r("Passkey"))
            .errors(&[400, 404]),
        op("DELETE", "/api/auth/passkeys/{id}/", "auth")
            .summary("Remove one of the caller's passkeys (a sensitive action)")
            .access(Access::Verified)
            .path_param("id", passkey_id(), "The passkey's id.")
            .no_content()
            .errors(&[404])
            .describe("Needs a recent strong authentication, as removing a factor does."),
        op("POST", "/api/auth/passkeys/register/begin/", "auth")
            .summary("Start registering a passkey: the options for navigator.credentials.create")
            .access(Access::Verified)
            .respond(200, "`PublicKeyCredentialCreationOptions` as JSON (ES256 and EdDSA, a discoverable credential, user verification required, attestation none).", options())
            .errors(&[400])
            .describe("Needs a recent strong authentication, as adding a factor does."),
        op("POST", "/api/auth/passkeys/register/finish/", "auth")
            .summary("Finish registering a passkey with the authenticator's answer")
            .access(Access::Verified)
            .body(credential(json!({
                "type": ["object", "null"],
                "properties": {
                    "clientDataJSON": b64(),
                    "attestationObject": b64(),
                    "transports": { "type": "array", "items": string() },
                },
            })))
            .respond(
                201,
                "The passkey; with `recovery_codes` (ten, shown this once) when it is the account's first second factor.",
                json!({ "allOf": [r("Passkey"), {
                    "type": "object",
                    "properties": { "recovery_codes": { "type": "array", "items": string() } },
                }] }),
            )
            .errors(&[400, 409])
            .describe(refusals),
        op("POST", "/api/auth/passkeys/sign-in/begin/", "auth")
            .summary("Start a usernameless sign-in with a passkey: the options for navigator.credentials.get")
            .respond(200, "`PublicKeyCredentialRequestOptions` as JSON (no allow list).", options()),
        op("POST", "/api/auth/passkeys/sign-in/finish/", "auth")
            .summary("Sign in with a passkey alone: answers like a login, at aal2 with amr webauthn")
            .body(credential(assertion_response()))
            .respond_with_headers(
                200,
                "Signed in: for `mode: session` (the default) the user with the cookies, for \
                 `mode: jwt` the token pair and the user.",
                json!({ "anyOf": [r("User"), login_pair] }),
                no_store_cookies(),
            )
            .errors(&[400, 403])
            .describe(refusals),
    ]
}

/// The second-factor routes (`auth/mfa.rs`).
fn mfa_operations(login_pair: Json) -> Vec<Op> {
    let factor_id = || json!({ "type": "string", "pattern": "^[0-9A-HJKMNP-TV-Z]{26}$" });
    let name_body = json!({
        "type": "object",
        "additionalProperties": false,
        "properties": { "name": { "type": ["string", "null"], "maxLength": 64 } },
    });
    let codes = json!({ "type": "array", "items": string(), "minItems": 10, "maxItems": 10 });
    let step_up = "Needs a recent strong authentication: a second factor within 10 minutes when \
                   the account has one, else a password within 10 minutes; otherwise 403 with \
                   `code: step_up_required` and the `methods` that satisfy it (`POST \
                   /api/auth/mfa/step-up/`).";
    vec![
        op("GET", "/api/auth/mfa/factors/", "auth")
            .summary("The caller's second factors, and how many recovery codes are left")
            .access(Access::Verified)
            .respond(
                200,
                "Every factor (never a secret).",
                json!({
                    "allOf": [super::schemas::page(r("MfaFactor"), true)],
                    "type": "object",
                    "required": ["recovery_codes_remaining"],
                    "properties": {
                        "recovery_codes_remaining": { "type": "integer", "minimum": 0 },
                    },
                }),
            ),
        op("POST", "/api/auth/mfa/factors/", "auth")
            .summary("Enrol a TOTP factor: the secret, otpauth URI and QR code are shown once")
            .access(Access::Verified)
            .body(name_body.clone())
            .example(json!({ "name": "Phone" }))
            .respond(
                201,
                "The pending factor (active once confirmed with a code within 15 minutes).",
                object(
                    json!({
                        "factor": r("MfaFactor"),
                        "secret": { "type": "string", "description": "base32 (RFC 4648), shown this once." },
                        "otpauth_uri": { "type": "string", "description": "`otpauth://totp/...`: SHA1, 6 digits, 30 s." },
                        "qr_svg": { "type": "string", "description": "The URI as a QR code, an SVG document." },
                    }),
                    &["factor", "secret", "otpauth_uri", "qr_svg"],
                ),
            )
            .errors(&[400])
            .describe(step_up)
            .links_to(
                201,
                "/api/auth/mfa/factors/{id}/",
                &["PATCH", "DELETE"],
                "$response.body#/factor/id",
            ),
        op("PATCH", "/api/auth/mfa/factors/{id}/", "auth")
            .summary("Rename one of the caller's factors")
            .access(Access::Verified)
            .path_param("id", factor_id(), "The factor's id.")
            .body(name_body)
            .respond(200, "The factor.", r("MfaFactor"))
            .errors(&[400, 404]),
        op("DELETE", "/api/auth/mfa/factors/{id}/", "auth")
            .summary("Remove one of the caller's factors; the last one takes the recovery codes with it")
            .access(Access::Verified)
            .path_param("id", factor_id(), "The factor's id.")
            .no_content()
            .errors(&[404])
            .describe(step_up),
        op("POST", "/api/auth/mfa/factors/{id}/confirm/", "auth")
            .summary("Confirm a pending factor with a code; the first factor brings ten recovery codes")
            .access(Access::Verified)
            .path_param("id", factor_id(), "The factor's id.")
            .body(json!({
                "type": "object",
                "additionalProperties": false,
                "properties": { "code": nullable_string() },
            }))
            .respond(
                200,
                "The active factor; the session now counts as aal2.",
                object(
                    json!({
                        "factor": r("MfaFactor"),
                        "recovery_codes": {
                            "anyOf": [codes.clone(), { "type": "null" }],
                            "description": "Shown this once, with the account's first factor.",
                        },
                    }),
                    &["factor", "recovery_codes"],
                ),
            )
            .errors(&[400, 404, 409, 429])
            .describe("400 on `code` for a wrong code (counted: the login backoff applies, 429)."),
        op("POST", "/api/auth/mfa/recovery-codes/", "auth")
            .summary("Replace the recovery codes with a new set of ten (the old ones stop working)")
            .access(Access::Verified)
            .respond(
                200,
                "The new codes, shown this once.",
                object(json!({ "recovery_codes": codes }), &["recovery_codes"]),
            )
            .errors(&[400])
            .describe(step_up),
        op("POST", "/api/auth/mfa/verify/passkey/", "auth")
            .summary("Second step of a sign-in with a passkey: the options for navigator.credentials.get")
            .body(json!({
                "type": "object",
                "additionalProperties": false,
                "properties": { "mfa_token": nullable_string() },
            }))
            .respond(200, "`PublicKeyCredentialRequestOptions` as JSON, the account's passkeys allowed; the challenge is bound to this pending sign-in (5 minutes, one try).", ceremony_options())
            .errors(&[400])
            .describe("400 on `mfa_token` when the pending sign-in expired or is unknown; 400 when the account has no passkey."),
        op("POST", "/api/auth/mfa/verify/", "auth")
            .summary("Second step of a sign-in: a TOTP code, a passkey or a recovery code")
            .body(json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "mfa_token": nullable_string(),
                    "code": nullable_string(),
                    "recovery_code": nullable_string(),
                    "passkey": passkey_proof(),
                },
            }))
            .respond_with_headers(
                200,
                "Signed in at aal2: for a session login the user (with the cookies), for a JWT \
                 login the token pair and the user.",
                json!({ "anyOf": [r("User"), login_pair] }),
                no_store_cookies(),
            )
            .errors(&[400, 403, 429])
            .describe(
                "Exactly one of `code`, `recovery_code` and `passkey`. 400 on `mfa_token` when \
                 the pending sign-in expired (5 minutes), is unknown or took 5 wrong proofs; 400 \
                 on the proof's field for a wrong or reused code or a refused passkey assertion \
                 (saying which check failed; counted: the login backoff applies, 429). A recovery \
                 code works once and mails the owner.",
            ),
        op("POST", "/api/auth/mfa/step-up/", "auth")
            .summary("Confirm it is you (password, TOTP code, passkey or recovery code) for the sensitive actions of the next 10 minutes")
            .access(Access::Verified)
            .body(json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "password": nullable_string(),
                    "code": nullable_string(),
                    "recovery_code": nullable_string(),
                    "passkey": passkey_proof(),
                },
            }))
            .respond(
                200,
                "The session's assurance now.",
                object(
                    json!({
                        "aal": { "type": "integer", "enum": [1, 2] },
                        "amr": { "type": "array", "items": string() },
                        "password_at": super::schemas::nullable_time(),
                        "second_factor_at": super::schemas::nullable_time(),
                        "valid_for_seconds": { "type": "integer" },
                    }),
                    &["aal", "amr", "password_at", "second_factor_at", "valid_for_seconds"],
                ),
            )
            .errors(&[400, 429])
            .describe("Exactly one proof. 400 for API tokens (no session) and for a wrong password or code or a refused passkey assertion."),
        op("POST", "/api/auth/mfa/step-up/passkey/", "auth")
            .summary("Step up with a passkey: the options for navigator.credentials.get")
            .access(Access::Verified)
            .respond(200, "`PublicKeyCredentialRequestOptions` as JSON, the caller's passkeys allowed; the challenge is bound to this session (5 minutes, one try).", ceremony_options())
            .errors(&[400])
            .describe("400 for API tokens (no session) and when the account has no passkey."),
    ]
}
