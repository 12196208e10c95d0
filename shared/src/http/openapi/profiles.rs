//! The Profiles group: profiles, professional profiles, settings.

use serde_json::{Value as Json, json};

use super::schemas::{ROLES, boolean, nullable_string, page, r, string};
use super::{Access, Op, bool_query, int_id, op};

/// The writable fields of a profile (others are read-only: 400 when changed).
fn profile_body() -> Json {
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "first_name": { "type": ["string", "null"], "maxLength": 150, "description": "null reads as empty." },
            "last_name": { "type": ["string", "null"], "maxLength": 150 },
            "phone_number": nullable_string(),
            "date_of_birth": { "type": ["string", "null"], "description": "YYYY-MM-DD, in the past." },
            "bio": { "type": ["string", "null"], "maxLength": 500 },
            "profile_picture": { "type": ["string", "null"], "description": "An https URL." },
            "cover_media": { "type": ["string", "null"], "description": "An https URL." },
            "cover_media_type": { "type": ["string", "null"], "enum": ["image", "video", null] },
            "country": { "type": ["string", "null"], "description": "ISO 3166-1 alpha-2." },
            "city": { "type": ["string", "null"], "maxLength": 100 },
            "is_private": boolean(),
            "show_email": boolean(),
            "show_phone": boolean(),
            "show_location": boolean(),
            "role": { "type": "string", "enum": ROLES, "description": "Administrators, or a user choosing between professional and data_provider." },
        },
    })
}

pub(super) fn professional_body() -> Json {
    let list =
        json!({ "type": "array", "maxItems": 50, "items": { "type": "string", "maxLength": 100 } });
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "description": { "type": ["string", "null"], "maxLength": 2000, "description": "null reads as empty." },
            "phone": nullable_string(),
            "website": { "type": ["string", "null"], "description": "An https URL." },
            "business_address": { "type": ["string", "null"], "maxLength": 200 },
            "company_name": { "type": ["string", "null"], "maxLength": 200 },
            "job_title": { "type": ["string", "null"], "maxLength": 200 },
            "years_experience": { "type": "integer", "minimum": 0, "maximum": 80 },
            "certifications": list,
            "services_offered": list,
        },
    })
}

fn settings_body() -> Json {
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "email_notifications": boolean(),
            "push_notifications": boolean(),
            "warranty_expiry_notifications": boolean(),
            "maintenance_reminder_notifications": boolean(),
            "mature_content": boolean(),
            "auto_play_videos": boolean(),
            "notification_frequency": { "type": "string", "enum": ["immediate", "daily", "weekly", "never"] },
            "profile_visibility": { "type": "string", "enum": ["public", "followers", "private"] },
            "theme": { "type": "string", "enum": ["light", "dark", "system"] },
            "language": { "type": "string", "description": "A language tag such as `en` or `pt-BR`." },
            "timezone": { "type": "string", "description": "An IANA time zone name." },
        },
    })
}

pub(super) fn operations() -> Vec<Op> {
    let id = |o: Op| o.path_param("id", int_id(), "The user's id.");
    let mut ops = vec![
        op("GET", "/api/profiles/", "profiles")
            .summary("List and search profiles")
            .access(Access::Verified)
            .query(
                "search",
                string(),
                "Prefix of the username or display name.",
            )
            .paged()
            .respond(
                200,
                "Profiles as the caller may see them.",
                page(r("UserView"), false),
            )
            .errors(&[400]),
        op("POST", "/api/profiles/", "profiles")
            .summary("Create a missing profile (admins; 400 when it exists)")
            .access(Access::Verified)
            .body(json!({
                "type": "object",
                "properties": { "user": { "type": ["integer", "null"], "minimum": 1 } },
            }))
            .respond(201, "The profile.", r("User")),
        id(op("GET", "/api/profiles/{id}/", "profiles"))
            .summary("A profile, as privacy allows")
            .access(Access::Verified)
            .respond(
                200,
                "The full view (own or staff) or the public view or card.",
                r("UserView"),
            )
            .errors(&[404]),
        super::users::erase_op("/api/profiles/{id}/", "profiles"),
        op("GET", "/api/professional-profiles/", "profiles")
            .summary("List professional profiles")
            .access(Access::Verified)
            .query(
                "is_verified",
                bool_query(),
                "Only verified (or unverified) ones.",
            )
            .paged()
            .respond(200, "A page.", page(r("ProfessionalProfile"), false))
            .errors(&[400]),
        op("POST", "/api/professional-profiles/", "profiles")
            .summary(
                "Create the caller's professional profile (professional and data_provider roles)",
            )
            .access(Access::Verified)
            .body(professional_body())
            .example(json!({
                "company_name": "Acme Analytics", "job_title": "Data engineer",
                "years_experience": 7, "website": "https://acme.example.com",
                "certifications": ["AWS SAA"], "services_offered": ["pipelines"],
            }))
            .respond(201, "The new profile.", r("ProfessionalProfile"))
            .links_to(
                201,
                "/api/professional-profiles/{id}/",
                &["GET", "PUT", "PATCH", "DELETE"],
                "$response.body#/id",
            )
            .links_to(
                201,
                "/api/professional-profiles/{id}/verify/",
                &["POST"],
                "$response.body#/id",
            )
            .errors(&[409]),
        id(op("GET", "/api/professional-profiles/{id}/", "profiles"))
            .summary("A professional profile")
            .access(Access::Verified)
            .respond(200, "The profile.", r("ProfessionalProfile"))
            .errors(&[404]),
        id(op("DELETE", "/api/professional-profiles/{id}/", "profiles"))
            .summary("Delete a professional profile (owner or admin)")
            .access(Access::Verified)
            .no_content()
            .errors(&[404]),
        id(op(
            "POST",
            "/api/professional-profiles/{id}/verify/",
            "profiles",
        ))
        .summary("Verify a professional profile (admins)")
        .access(Access::Verified)
        .respond(200, "The verified profile.", r("ProfessionalProfile"))
        .errors(&[404, 409]),
        op("GET", "/api/settings/", "profiles")
            .summary("The caller's settings")
            .access(Access::Verified)
            .respond(200, "The settings.", r("Settings")),
    ];
    for method in ["PUT", "PATCH"] {
        ops.push(
            id(op(method, "/api/profiles/{id}/", "profiles"))
                .summary("Change a profile (owner or admin); PUT and PATCH both take any subset")
                .access(Access::Verified)
                .body(profile_body())
                .respond(200, "The profile.", r("User"))
                .errors(&[404, 409]),
        );
        ops.push(
            id(op(method, "/api/professional-profiles/{id}/", "profiles"))
                .summary("Change a professional profile (owner or admin)")
                .access(Access::Verified)
                .body(professional_body())
                .respond(200, "The profile.", r("ProfessionalProfile"))
                .errors(&[404, 409]),
        );
        ops.push(
            op(method, "/api/settings/", "profiles")
                .summary("Change the caller's settings")
                .access(Access::Verified)
                .body(settings_body())
                .respond(200, "The settings.", r("Settings"))
                .errors(&[409]),
        );
    }
    ops
}
