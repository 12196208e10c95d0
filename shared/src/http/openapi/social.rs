//! The Social group: follows, blocks, relationships.

use serde_json::json;

use super::schemas::{page, r};
use super::{Access, Op, op};

/// A user id in a body: a positive integer, or a string of one.
fn user_ref(description: &str) -> serde_json::Value {
    json!({
        "description": description,
        "anyOf": [
            { "type": "integer", "minimum": 1 },
            { "type": "string", "pattern": "^\\s*[0-9]+\\s*$" },
        ],
    })
}

pub(super) fn operations() -> Vec<Op> {
    let edge = |o: Op| {
        o.path_param(
            "id",
            json!({ "type": "string", "pattern": "^[0-9]+-[0-9]+$" }),
            "The edge: `<follower>-<followed>` (or `<blocker>-<blocked>`).",
        )
    };
    vec![
        op("POST", "/api/follows/", "social")
            .summary("Follow a user (a request, for a private profile)")
            .access(Access::Verified)
            .body(json!({
                "type": "object",
                "required": ["following"],
                "additionalProperties": false,
                "properties": {
                    "following": user_ref("Whom to follow."),
                    "follower": {
                        "description": "Staff only: on behalf of whom (default the caller).",
                        "anyOf": [user_ref(""), { "type": "null" }],
                    },
                },
            }))
            .example(json!({ "following": 2 }))
            .respond(201, "The edge, active or pending.", r("Follow"))
            .links_to(
                201,
                "/api/follows/{id}/",
                &["GET", "DELETE"],
                "$response.body#/id",
            )
            .links_to(
                201,
                "/api/follows/{id}/approve/",
                &["POST"],
                "$response.body#/id",
            )
            .links_to(
                201,
                "/api/follows/{id}/reject/",
                &["POST"],
                "$response.body#/id",
            )
            .errors(&[404, 409]),
        op("GET", "/api/follows/", "social")
            .summary("Whom a user follows, their followers, or pending requests")
            .access(Access::Verified)
            .query(
                "direction",
                json!({ "type": "string", "enum": ["following", "followers"] }),
                "Default `following` (`followers` with `status=pending`).",
            )
            .query(
                "status",
                json!({ "type": "string", "enum": ["active", "pending"] }),
                "Default `active`.",
            )
            .query(
                "user",
                json!({ "type": "integer", "minimum": 1 }),
                "Whose edges (default the caller).",
            )
            .paged()
            .respond(
                200,
                "A page of edges with the other user's card; `count` on the caller's own \
                 lists.",
                page(r("Follow"), false),
            )
            .errors(&[400, 404]),
        edge(op("GET", "/api/follows/{id}/", "social"))
            .summary("One follow edge (either end, or staff)")
            .access(Access::Verified)
            .respond(200, "The edge.", r("Follow"))
            .errors(&[404]),
        edge(op("DELETE", "/api/follows/{id}/", "social"))
            .summary("Unfollow, withdraw a request, or remove a follower")
            .access(Access::Verified)
            .no_content()
            .errors(&[404, 409]),
        edge(op("POST", "/api/follows/{id}/approve/", "social"))
            .summary("Approve a follow request (the followed user)")
            .access(Access::Verified)
            .respond(200, "The now active edge.", r("Follow"))
            .errors(&[400, 404, 409]),
        edge(op("POST", "/api/follows/{id}/reject/", "social"))
            .summary("Reject a follow request (the followed user)")
            .access(Access::Verified)
            .no_content()
            .errors(&[400, 404, 409]),
        op("POST", "/api/blocks/", "social")
            .summary("Block a user (ends follows both ways)")
            .access(Access::Verified)
            .body(json!({
                "type": "object",
                "required": ["blocked"],
                "additionalProperties": false,
                "properties": {
                    "blocked": user_ref("Whom to block."),
                    "reason": { "type": ["string", "null"] },
                },
            }))
            .example(json!({ "blocked": 3, "reason": "spam" }))
            .respond(201, "The block.", r("Block"))
            .links_to(201, "/api/blocks/{id}/", &["DELETE"], "$response.body#/id")
            .errors(&[404, 409]),
        op("GET", "/api/blocks/", "social")
            .summary("The caller's blocks")
            .access(Access::Verified)
            .paged()
            .respond(
                200,
                "A page of blocks with the blocked user's card.",
                page(r("Block"), false),
            )
            .errors(&[400]),
        edge(op("DELETE", "/api/blocks/{id}/", "social"))
            .summary("Unblock")
            .access(Access::Verified)
            .no_content()
            .errors(&[404, 409]),
        op("GET", "/api/relationships/", "social")
            .summary("The caller's relationship with each of up to 100 users")
            .access(Access::Verified)
            .query(
                "id",
                json!({ "type": "array", "items": { "type": "integer", "minimum": 1 } }),
                "User ids: repeated (`id=2&id=3`), as `id[]=`, or comma-separated; at most 100 \
                 distinct ones (400 beyond).",
            )
            .respond(
                200,
                "One entry per distinct id, in the order asked.",
                json!({ "type": "array", "items": r("Relationship") }),
            )
            .errors(&[400]),
    ]
}
