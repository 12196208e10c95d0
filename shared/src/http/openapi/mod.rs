//! The OpenAPI 3.1 document of the whole API, served at `GET /api/schema/`.
//!
//! Kept by hand, one module per route group, and tested against the route table both ways
//! (`tests/tests/api/openapi.rs`): every route has an operation and every operation a route, so
//! the two cannot drift. The builder below adds what every operation shares (the error
//! responses of the dispatch and of authentication, the security schemes, paging), so each
//! module only says what is particular to its routes. `docs/openapi.md` explains the upkeep.

mod activity;
mod auth;
mod badges;
mod profiles;
mod schemas;
mod social;
mod users;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use http::header::CACHE_CONTROL;
use serde_json::{Map, Value as Json, json};

use crate::App;
use crate::error::Error;
use crate::http::request::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::http::{ApiResponse, RequestCtx};

/// The document, built once per process.
pub fn document() -> &'static Json {
    static DOCUMENT: OnceLock<Json> = OnceLock::new();
    DOCUMENT.get_or_init(build)
}

/// `GET /api/schema/`: the document as JSON, public and cacheable.
pub async fn serve(_app: &App, _ctx: &RequestCtx) -> Result<ApiResponse, Error> {
    Ok(ApiResponse::ok(document()).with_header(CACHE_CONTROL, "public, max-age=300"))
}

fn build() -> Json {
    let mut ops = Vec::new();
    ops.extend(auth::operations());
    ops.extend(users::operations());
    ops.extend(profiles::operations());
    ops.extend(social::operations());
    ops.extend(activity::operations());
    ops.extend(badges::task_operations());
    ops.extend(badges::operations());

    let mut components = schemas::all();
    if let (Some(all), Json::Object(more)) = (components.as_object_mut(), badges::schemas()) {
        all.extend(more);
    }
    let mut paths: BTreeMap<&'static str, Map<String, Json>> = BTreeMap::new();
    for op in ops {
        let path = op.path;
        let method = op.method.to_ascii_lowercase();
        paths
            .entry(path)
            .or_default()
            .insert(method, op.into_json(&components));
    }
    let paths: Map<String, Json> = paths
        .into_iter()
        .map(|(path, item)| (path.to_owned(), Json::Object(item)))
        .collect();

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Accounts API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Registration, authentication, users, profiles, the social graph, \
                sessions and events, badges and scheduled-task reports. Errors are DRF-shaped: \
                `{\"detail\": \"...\"}` or field errors `{\"field\": [\"message\"]}`. Lists page \
                with opaque cursors: pass a page's `next` as `?cursor=`.",
        },
        "servers": [{ "url": "/" }],
        "tags": [
            { "name": "auth", "description": "Registration, login, tokens, sessions (Auth function)" },
            { "name": "users", "description": "Accounts (Users function)" },
            { "name": "profiles", "description": "Profiles, professional profiles, settings (Profiles function)" },
            { "name": "social", "description": "Follows, blocks, relationships (Social function)" },
            { "name": "activity", "description": "Sessions, events, task runs and reports (Activity function)" },
            { "name": "badges", "description": "Badges and awards (Badges function)" },
            { "name": "health", "description": "Health checks of each function" },
        ],
        "paths": paths,
        "components": {
            "schemas": components,
            "responses": shared_responses(),
            "securitySchemes": {
                "sessionCookie": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "sessionid",
                    "description": "The `sessionid` cookie set by `POST /api/auth/login/` \
                        (`<session id>.<secret>`). Unsafe methods (POST, PUT, PATCH, DELETE) \
                        must also echo the `csrftoken` cookie in `X-CSRFToken`.",
                },
                "csrfToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-CSRFToken",
                    "description": "The value of the `csrftoken` cookie; required with the \
                        session cookie on unsafe methods (403 without it).",
                },
                "jwtBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An EdDSA access token from `POST /api/auth/jwt/login/`: \
                        `Authorization: Bearer <access>`. A renewed token may come back in \
                        `X-Renewed-Access`.",
                },
                "apiToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "A key from `POST /api/auth/tokens/`: \
                        `Authorization: Token <key>`.",
                },
            },
        },
    })
}

/// The responses several operations share, referenced as `#/components/responses/<name>`.
fn shared_responses() -> Json {
    let detail = |description: &str| {
        json!({
            "description": description,
            "content": { "application/json": { "schema": schemas::r("Detail") } },
        })
    };
    let retry_after = json!({
        "description": "Seconds to wait before trying again.",
        "required": true,
        "schema": { "type": "string", "pattern": "^[0-9]+$" },
    });
    let mut unauthenticated =
        detail("Missing, malformed, expired or revoked credentials, or a session that ended.");
    unauthenticated["headers"] = json!({
        "WWW-Authenticate": { "required": true, "schema": { "type": "string" } },
    });
    let mut throttled = detail("A rate limit or the login backoff refused the request.");
    throttled["headers"] = json!({ "Retry-After": retry_after });
    let mut unavailable =
        detail("The store is throttling or unavailable after bounded retries; try again later.");
    unavailable["headers"] = json!({ "Retry-After": retry_after });
    let mut not_allowed = detail("The path exists but not with this method.");
    not_allowed["headers"] = json!({
        "Allow": { "required": true, "schema": { "type": "string" } },
    });
    json!({
        "BadRequest": {
            "description": "Invalid input: field errors, or a detail (malformed JSON, a body \
                that is not an object, an operation that does not apply).",
            "content": { "application/json": { "schema": schemas::r("BadRequest") } },
        },
        "Unauthenticated": unauthenticated,
        "Forbidden": detail(
            "Not allowed: missing CSRF token on a cookie request, a suspended account, an \
             unverified email address, or a role that may not do this.",
        ),
        "NotFound": detail("No such object, or one the caller may not see."),
        "MethodNotAllowed": not_allowed,
        "Conflict": detail("The object changed or is already in that state."),
        "PayloadTooLarge": detail("The body is larger than MAX_BODY_BYTES."),
        "UnsupportedMediaType": detail("A body that is not application/json."),
        "TooManyRequests": throttled,
        "Unavailable": unavailable,
        "NoContent": { "description": "Done; no body." },
    })
}

/// Who may call an operation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// No credentials read.
    Public,
    /// Credentials are optional, but presented ones must be valid (401/403 otherwise).
    Optional,
    /// Any authenticated caller, verified or not.
    Authenticated,
    /// An authenticated caller with a verified email address (403 otherwise).
    Verified,
}

/// One operation, built up by the route modules.
pub(crate) struct Op {
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    description: Option<String>,
    access: Access,
    params: Vec<Json>,
    body: Option<Json>,
    example: Option<Json>,
    responses: BTreeMap<String, Json>,
    /// OpenAPI links: (status, target operation, its `id` parameter's runtime expression).
    links: Vec<(u16, String, &'static str)>,
}

pub(crate) fn op(method: &'static str, path: &'static str, tag: &'static str) -> Op {
    Op {
        method,
        path,
        tag,
        summary: "",
        description: None,
        access: Access::Public,
        params: Vec::new(),
        body: None,
        example: None,
        responses: BTreeMap::new(),
        links: Vec::new(),
    }
}

fn shared(name: &str) -> Json {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

impl Op {
    pub fn summary(mut self, summary: &'static str) -> Self {
        self.summary = summary;
        self
    }

    pub fn describe(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    pub fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// A path parameter (every `{name}` of the path needs one).
    pub fn path_param(mut self, name: &str, schema: Json, description: &str) -> Self {
        self.params.push(json!({
            "name": name, "in": "path", "required": true,
            "description": description, "schema": schema,
        }));
        self
    }

    pub fn query(mut self, name: &str, schema: Json, description: &str) -> Self {
        self.params.push(json!({
            "name": name, "in": "query", "required": false,
            "description": description, "schema": schema,
        }));
        self
    }

    /// `?page_size=` and `?cursor=`, as `RequestCtx::paging` reads them.
    pub fn paged(self) -> Self {
        self.query(
            "page_size",
            or_empty(
                json!({ "type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                             "default": DEFAULT_PAGE_SIZE }),
            ),
            "Results per page (400 outside 1 to 100; empty for the default).",
        )
        .query(
            "cursor",
            json!({ "type": "string" }),
            "The `next` of the previous page; a stale or foreign cursor starts over or is a 400.",
        )
    }

    /// A JSON request body. Bodies that are not JSON objects are 400; too large 413; another
    /// media type 415.
    pub fn body(mut self, schema: Json) -> Self {
        self.body = Some(schema);
        self
    }

    /// A valid request body, shown in the document (and sent first by schemathesis).
    pub fn example(mut self, example: Json) -> Self {
        self.example = Some(example);
        self
    }

    pub fn respond(mut self, status: u16, description: &str, schema: Json) -> Self {
        self.responses.insert(
            status.to_string(),
            json!({
                "description": description,
                "content": { "application/json": { "schema": schema } },
            }),
        );
        self
    }

    /// A response with headers beside the body.
    pub fn respond_with_headers(
        mut self,
        status: u16,
        description: &str,
        schema: Json,
        headers: Json,
    ) -> Self {
        self.responses.insert(
            status.to_string(),
            json!({
                "description": description,
                "headers": headers,
                "content": { "application/json": { "schema": schema } },
            }),
        );
        self
    }

    /// Links the `status` response to the operations on `target_path` that take its `{id}`
    /// (`expression` is where the id is in the response, e.g. `$response.body#/id`), so that
    /// stateful clients and fuzzers can chain them.
    pub fn links_to(
        mut self,
        status: u16,
        target_path: &str,
        methods: &[&str],
        expression: &'static str,
    ) -> Self {
        for method in methods {
            self.links
                .push((status, operation_id(method, target_path), expression));
        }
        self
    }

    pub fn no_content(mut self) -> Self {
        self.responses.insert("204".into(), shared("NoContent"));
        self
    }

    /// The shared error responses this operation can answer beyond the automatic ones.
    pub fn errors(mut self, statuses: &[u16]) -> Self {
        for status in statuses {
            let response = match status {
                400 => shared("BadRequest"),
                401 => shared("Unauthenticated"),
                403 => shared("Forbidden"),
                404 => shared("NotFound"),
                409 => shared("Conflict"),
                429 => shared("TooManyRequests"),
                _ => json!({
                    "description": "An error.",
                    "content": { "application/json": { "schema": schemas::r("Detail") } },
                }),
            };
            self.responses.insert(status.to_string(), response);
        }
        self
    }

    fn unsafe_method(&self) -> bool {
        !matches!(self.method, "GET" | "HEAD" | "OPTIONS")
    }

    fn into_json(mut self, components: &Json) -> Json {
        // What the dispatch and authentication add to every operation.
        if self.access != Access::Public {
            self.responses
                .insert("401".into(), shared("Unauthenticated"));
            self.responses.insert("403".into(), shared("Forbidden"));
        }
        if self.body.is_some() {
            self.responses
                .entry("400".into())
                .or_insert_with(|| shared("BadRequest"));
            self.responses
                .insert("413".into(), shared("PayloadTooLarge"));
            self.responses
                .insert("415".into(), shared("UnsupportedMediaType"));
        }
        self.responses
            .entry("503".into())
            .or_insert_with(|| shared("Unavailable"));

        for (status, target, expression) in &self.links {
            if let Some(response) = self.responses.get_mut(&status.to_string()) {
                response["links"][target.as_str()] = json!({
                    "operationId": target,
                    "parameters": { "id": expression },
                });
            }
        }

        let mut op = Map::new();
        op.insert("tags".into(), json!([self.tag]));
        op.insert(
            "operationId".into(),
            json!(operation_id(self.method, self.path)),
        );
        op.insert("summary".into(), json!(self.summary));
        if let Some(description) = &self.description {
            op.insert("description".into(), json!(description));
        }
        if !self.params.is_empty() {
            op.insert("parameters".into(), Json::Array(self.params.clone()));
        }
        if let Some(schema) = &self.body {
            // `RequestCtx::json` reads an absent body as `{}`: the body itself is optional
            // unless some field in it is required.
            let named = schema
                .get("$ref")
                .and_then(Json::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .map_or(schema, |name| &components[name]);
            let required = named["required"].as_array().is_some_and(|r| !r.is_empty());
            let mut media = json!({ "schema": schema });
            if let Some(example) = &self.example {
                media["example"] = example.clone();
            }
            op.insert(
                "requestBody".into(),
                json!({
                    "required": required,
                    "content": { "application/json": media },
                }),
            );
        }
        let session = if self.unsafe_method() {
            json!({ "sessionCookie": [], "csrfToken": [] })
        } else {
            json!({ "sessionCookie": [] })
        };
        let schemes = vec![
            session,
            json!({ "jwtBearer": [] }),
            json!({ "apiToken": [] }),
        ];
        match self.access {
            Access::Public => {
                op.insert("security".into(), json!([]));
            }
            Access::Optional => {
                let mut all = schemes;
                all.push(json!({}));
                op.insert("security".into(), Json::Array(all));
            }
            Access::Authenticated | Access::Verified => {
                op.insert("security".into(), Json::Array(schemes));
            }
        }
        if self.access == Access::Verified {
            let note = "Needs a verified email address (403 otherwise).";
            let text = match op.get("description").and_then(Json::as_str) {
                Some(d) => format!("{d}\n\n{note}"),
                None => note.to_owned(),
            };
            op.insert("description".into(), json!(text));
        }
        op.insert(
            "responses".into(),
            Json::Object(self.responses.into_iter().collect()),
        );
        Json::Object(op)
    }
}

/// `GET /api/users/{id}/suspend/` → `get_api_users_id_suspend`.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for part in path.split(['/', '.', '-']).filter(|p| !p.is_empty()) {
        id.push('_');
        id.push_str(part.trim_start_matches('{').trim_end_matches('}'));
    }
    id
}

/// A positive integer id in the path (anything else names nothing: 404).
pub(crate) fn int_id() -> Json {
    json!({ "type": "integer", "minimum": 1 })
}

/// `true`/`false` (also `True`/`False`/`1`/`0`) in a query string.
pub(crate) fn bool_query() -> Json {
    json!({ "type": "string", "enum": ["true", "false", "True", "False", "1", "0"] })
}

/// A query parameter whose empty value (`?name=`) reads as absent.
pub(crate) fn or_empty(schema: Json) -> Json {
    json!({ "anyOf": [schema, { "type": "string", "maxLength": 0 }] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids() {
        assert_eq!(
            operation_id("POST", "/api/users/{id}/suspend/"),
            "post_api_users_id_suspend"
        );
        assert_eq!(
            operation_id("GET", "/.well-known/jwks.json"),
            "get_well_known_jwks_json"
        );
    }

    #[test]
    fn shared_errors_are_added() {
        let op = op("POST", "/x/", "auth")
            .access(Access::Verified)
            .body(json!({"type": "object"}))
            .into_json(&json!({}));
        let responses = op["responses"].as_object().unwrap();
        for status in ["400", "401", "403", "413", "415", "503"] {
            assert!(responses.contains_key(status), "{status} missing");
        }
        assert_eq!(op["security"][0]["csrfToken"], json!([]));
    }
}
