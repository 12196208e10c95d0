//! The OpenAPI document (`GET /api/schema/`): it names exactly the routes of the route table,
//! it is structurally sound OpenAPI 3.1 (every `$ref` resolves, every path parameter is
//! declared), and real responses of the API validate against the schemas it gives them.

use std::collections::BTreeSet;

use accounts::http::openapi::document;
use accounts::http::route_table;
use accounts::model::Role;
use api_tests::app::TestApp;
use api_tests::fixtures::{fresh_ip, sign_in, stored_user, verify_email};
use api_tests::{TestTable, both_engines};
use http::Method;
use serde_json::{Value as Json, json};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn documented_operations(doc: &Json) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, _) in item.as_object().expect("path item") {
            found.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    found
}

#[test]
fn every_route_has_an_operation_and_every_operation_a_route() {
    let routes: BTreeSet<(String, String)> = route_table()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    let documented = documented_operations(document());
    let undocumented: Vec<_> = routes.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&routes).collect();
    assert!(
        undocumented.is_empty(),
        "routes without an operation: {undocumented:?}"
    );
    assert!(stale.is_empty(), "operations without a route: {stale:?}");
}

/// Resolves a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Json, reference: &str) -> Option<&'a Json> {
    let pointer = reference.strip_prefix('#')?;
    doc.pointer(pointer)
}

fn check_refs(doc: &Json, value: &Json, at: &str, broken: &mut Vec<String>) {
    match value {
        Json::Object(map) => {
            if let Some(Json::String(reference)) = map.get("$ref")
                && resolve(doc, reference).is_none()
            {
                broken.push(format!("{at}: {reference}"));
            }
            for (k, v) in map {
                check_refs(doc, v, &format!("{at}/{k}"), broken);
            }
        }
        Json::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                check_refs(doc, v, &format!("{at}/{i}"), broken);
            }
        }
        _ => {}
    }
}

#[test]
fn the_document_is_structurally_valid_openapi_3_1() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());

    let mut broken = Vec::new();
    check_refs(doc, doc, "#", &mut broken);
    assert!(broken.is_empty(), "unresolved $refs: {broken:?}");

    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    for name in ["sessionCookie", "csrfToken", "jwtBearer", "apiToken"] {
        assert!(schemes.contains_key(name), "security scheme {name} missing");
    }

    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        assert!(path.starts_with('/'), "{path}");
        let in_path: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_owned)
            .collect();
        for (method, operation) in item.as_object().unwrap() {
            let at = format!("{} {path}", method.to_ascii_uppercase());
            assert!(METHODS.contains(&method.as_str()), "{at}: method");
            let id = operation["operationId"].as_str().expect("operationId");
            assert!(operation_ids.insert(id.to_owned()), "{at}: duplicate {id}");

            let declared: BTreeSet<String> = operation["parameters"]
                .as_array()
                .map(|params| {
                    params
                        .iter()
                        .filter(|p| p["in"] == "path")
                        .map(|p| {
                            assert_eq!(p["required"], true, "{at}: path params are required");
                            p["name"].as_str().unwrap().to_owned()
                        })
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(declared, in_path, "{at}: path parameters");
            for param in operation["parameters"].as_array().into_iter().flatten() {
                assert!(
                    ["path", "query", "header", "cookie"].contains(&param["in"].as_str().unwrap()),
                    "{at}: parameter location"
                );
                assert!(param["schema"].is_object(), "{at}: parameter schema");
            }

            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{at}: no success response"
            );
            assert!(responses.contains_key("503"), "{at}: 503 missing");
            for (status, response) in responses {
                assert!(
                    status.len() == 3 && status.parse::<u16>().is_ok(),
                    "{at}: {status}"
                );
                let response = match response.get("$ref").and_then(Json::as_str) {
                    Some(r) => resolve(doc, r).unwrap(),
                    None => response,
                };
                assert!(response["description"].is_string(), "{at} {status}");
            }

            let security = operation["security"].as_array().expect("security");
            for requirement in security {
                for scheme in requirement.as_object().unwrap().keys() {
                    assert!(schemes.contains_key(scheme), "{at}: scheme {scheme}");
                }
            }
            // An authenticated operation documents 401 and 403.
            if !security.is_empty() {
                assert!(responses.contains_key("401"), "{at}: 401 missing");
                assert!(responses.contains_key("403"), "{at}: 403 missing");
            }
            if operation.get("requestBody").is_some() {
                for status in ["400", "413", "415"] {
                    assert!(responses.contains_key(status), "{at}: {status} missing");
                }
            }
        }
    }

    // Every link names an operation that exists and fills its path parameter.
    let mut links = 0;
    for item in doc["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            for response in operation["responses"].as_object().unwrap().values() {
                for link in response["links"]
                    .as_object()
                    .into_iter()
                    .flat_map(|l| l.values())
                {
                    let target = link["operationId"].as_str().expect("operationId");
                    assert!(operation_ids.contains(target), "link to unknown {target}");
                    assert!(link["parameters"]["id"].is_string(), "{target}: no id");
                    links += 1;
                }
            }
        }
    }
    assert!(links > 0, "no links at all");
}

// ------------------------------------------------- a small JSON Schema (2020-12) validator

fn type_matches(name: &str, value: &Json) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        _ => false,
    }
}

/// Validates `value` against `schema` (the keywords the document uses), collecting every
/// mismatch with its location.
fn validate(doc: &Json, schema: &Json, value: &Json, at: &str, errors: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        return;
    };
    if let Some(reference) = schema.get("$ref").and_then(Json::as_str) {
        match resolve(doc, reference) {
            Some(target) => validate(doc, target, value, at, errors),
            None => errors.push(format!("{at}: unresolved {reference}")),
        }
    }
    match schema.get("type") {
        Some(Json::String(t)) if !type_matches(t, value) => {
            errors.push(format!("{at}: expected {t}, got {value}"));
            return;
        }
        Some(Json::Array(types))
            if !types
                .iter()
                .any(|t| t.as_str().is_some_and(|t| type_matches(t, value))) =>
        {
            errors.push(format!("{at}: expected one of {types:?}, got {value}"));
            return;
        }
        _ => {}
    }
    if let Some(allowed) = schema.get("enum").and_then(Json::as_array)
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} not in {allowed:?}"));
    }
    if let Some(expected) = schema.get("const")
        && expected != value
    {
        errors.push(format!("{at}: {value} is not {expected}"));
    }
    if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Json::as_f64), value.as_f64())
        && n < min
    {
        errors.push(format!("{at}: {n} below {min}"));
    }
    if let (Some(max), Some(n)) = (schema.get("maximum").and_then(Json::as_f64), value.as_f64())
        && n > max
    {
        errors.push(format!("{at}: {n} above {max}"));
    }
    if let Some(object) = value.as_object() {
        for name in schema
            .get("required")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(Json::as_str)
        {
            if !object.contains_key(name) {
                errors.push(format!("{at}: `{name}` missing"));
            }
        }
        let properties = schema.get("properties").and_then(Json::as_object);
        for (name, v) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(sub) => validate(doc, sub, v, &format!("{at}.{name}"), errors),
                None => match schema.get("additionalProperties") {
                    Some(Json::Bool(false)) => errors.push(format!("{at}: `{name}` not allowed")),
                    Some(sub @ Json::Object(_)) => {
                        validate(doc, sub, v, &format!("{at}.{name}"), errors)
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, v) in array.iter().enumerate() {
            validate(doc, items, v, &format!("{at}[{i}]"), errors);
        }
    }
    for sub in schema
        .get("allOf")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        validate(doc, sub, value, at, errors);
    }
    if let Some(any) = schema.get("anyOf").and_then(Json::as_array) {
        let fits = any.iter().any(|sub| {
            let mut nested = Vec::new();
            validate(doc, sub, value, at, &mut nested);
            nested.is_empty()
        });
        if !fits {
            errors.push(format!("{at}: matches none of anyOf"));
        }
    }
}

#[test]
fn the_validator_rejects_what_it_should() {
    let doc = document();
    let detail = json!({ "$ref": "#/components/schemas/Detail" });
    let mut errors = Vec::new();
    validate(doc, &detail, &json!({ "detail": "x" }), "$", &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    for wrong in [json!({}), json!({ "detail": 1 }), json!([])] {
        let mut errors = Vec::new();
        validate(doc, &detail, &wrong, "$", &mut errors);
        assert!(!errors.is_empty(), "{wrong} passed");
    }
    let user = json!({ "$ref": "#/components/schemas/User" });
    let mut errors = Vec::new();
    validate(
        doc,
        &user,
        &json!({ "id": 1, "role": "king" }),
        "$",
        &mut errors,
    );
    assert!(errors.iter().any(|e| e.contains("king")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("`username` missing")));
}

/// Asserts that `response` is documented for `method path` (its status) and that its body
/// validates against the documented schema.
fn assert_conforms(method: &str, path: &str, status: u16, body: &Json) {
    let doc = document();
    let operation = &doc["paths"][path][method.to_ascii_lowercase()];
    assert!(operation.is_object(), "{method} {path} is not documented");
    let mut response = &operation["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{method} {path}: status {status} is not documented ({body})"
    );
    if let Some(reference) = response.get("$ref").and_then(Json::as_str) {
        response = resolve(doc, reference).unwrap();
    }
    let Some(schema) = response["content"]["application/json"].get("schema") else {
        assert!(
            body.is_null(),
            "{method} {path} {status}: undocumented body {body}"
        );
        return;
    };
    let mut errors = Vec::new();
    validate(doc, schema, body, "$", &mut errors);
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: {errors:?}\nbody: {body}"
    );
}

async fn call(
    app: &TestApp,
    method: Method,
    concrete: &str,
    documented: &str,
    key: Option<&str>,
    body: Option<Json>,
) -> (u16, Json) {
    let mut request = app.request(method.clone(), concrete).ip("198.51.100.20");
    if let Some(key) = key {
        request = request.api_token(key);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await;
    let status = response.status.as_u16();
    let body = response.body_json();
    assert_conforms(method.as_str(), documented, status, &body);
    (status, body)
}

both_engines!(
    async fn the_schema_is_served_and_real_responses_conform(t: TestTable) {
        let app = TestApp::new(t).await;

        let served = app.get("/api/schema/").send().await;
        assert_eq!(served.status, 200);
        assert_eq!(&served.body_json(), document());

        // Registration, verification, login: the public half.
        let email = "ada@example.com";
        let register = json!({
            "username": "ada_l", "email": email, "password": "Analytical-Engine-1843",
            "first_name": "Ada", "last_name": "Lovelace",
        });
        let response = app
            .post("/api/auth/register/")
            .ip(&fresh_ip())
            .json(register.clone())
            .send()
            .await;
        assert_eq!(response.status, 201);
        assert_conforms("POST", "/api/auth/register/", 201, &response.body_json());
        let id = response.body_json()["id"].as_i64().unwrap();
        let response = app
            .post("/api/auth/register/")
            .ip(&fresh_ip())
            .json(register)
            .send()
            .await;
        assert_eq!(response.status, 400);
        assert_conforms("POST", "/api/auth/register/", 400, &response.body_json());
        verify_email(&app, email).await;

        let (status, _) = call(
            &app,
            Method::POST,
            "/api/auth/login/",
            "/api/auth/login/",
            None,
            Some(json!({ "username": "ada_l", "password": "wrong-password-1" })),
        )
        .await;
        assert_eq!(status, 400);
        let (status, login) = call(
            &app,
            Method::POST,
            "/api/auth/jwt/login/",
            "/api/auth/jwt/login/",
            None,
            Some(json!({ "username": "ada_l", "password": "Analytical-Engine-1843" })),
        )
        .await;
        assert_eq!(status, 200);
        let access = login["access"].as_str().unwrap().to_owned();
        let (status, _) = call(
            &app,
            Method::POST,
            "/api/auth/jwt/verify/",
            "/api/auth/jwt/verify/",
            None,
            Some(json!({ "token": access })),
        )
        .await;
        assert_eq!(status, 200);

        // An API token, then the authenticated half with it.
        let response = app
            .post("/api/auth/tokens/")
            .bearer(&access)
            .json(json!({ "name": "schema test" }))
            .send()
            .await;
        assert_eq!(response.status, 201);
        assert_conforms("POST", "/api/auth/tokens/", 201, &response.body_json());
        let key = response.body_json()["key"].as_str().unwrap().to_owned();
        let key = Some(key.as_str());

        let me = format!("/api/users/{id}/");
        let profile = format!("/api/profiles/{id}/");
        let progress = format!("/api/users/{id}/badge-progress/");
        for (method, concrete, documented, expected) in [
            (Method::GET, "/api/health/", "/api/health/", 200),
            (Method::GET, "/api/auth/jwks/", "/api/auth/jwks/", 200),
            (Method::GET, "/api/auth/me/", "/api/auth/me/", 200),
            (
                Method::GET,
                "/api/auth/jwt/user-info/",
                "/api/auth/jwt/user-info/",
                200,
            ),
            (
                Method::GET,
                "/api/auth/session/check/",
                "/api/auth/session/check/",
                200,
            ),
            (
                Method::POST,
                "/api/auth/session/refresh/",
                "/api/auth/session/refresh/",
                400,
            ),
            (Method::GET, "/api/auth/tokens/", "/api/auth/tokens/", 200),
            (Method::GET, "/api/users/", "/api/users/", 200),
            (Method::GET, me.as_str(), "/api/users/{id}/", 200),
            (Method::GET, "/api/users/999999/", "/api/users/{id}/", 404),
            (Method::GET, profile.as_str(), "/api/profiles/{id}/", 200),
            (Method::GET, "/api/profiles/", "/api/profiles/", 200),
            (
                Method::GET,
                "/api/professional-profiles/",
                "/api/professional-profiles/",
                200,
            ),
            (Method::GET, "/api/settings/", "/api/settings/", 200),
            (Method::GET, "/api/follows/", "/api/follows/", 200),
            (Method::GET, "/api/blocks/", "/api/blocks/", 200),
            (Method::GET, "/api/sessions/", "/api/sessions/", 200),
            (Method::GET, "/api/events/", "/api/events/", 200),
            (Method::GET, "/api/events/?page_size=0", "/api/events/", 400),
            (Method::GET, "/api/badges/", "/api/badges/", 200),
            (
                Method::GET,
                "/api/badges/leaderboard/",
                "/api/badges/leaderboard/",
                200,
            ),
            (
                Method::GET,
                "/api/badges/analytics/",
                "/api/badges/analytics/",
                403,
            ),
            (Method::GET, "/api/user-badges/", "/api/user-badges/", 200),
            (
                Method::GET,
                progress.as_str(),
                "/api/users/{id}/badge-progress/",
                200,
            ),
            (Method::GET, "/api/tasks/runs/", "/api/tasks/runs/", 403),
            (Method::GET, "/api/reports/", "/api/reports/", 403),
        ] {
            let (status, _) = call(&app, method, concrete, documented, key, None).await;
            assert_eq!(status, expected, "{concrete}");
        }

        let (status, _) = call(
            &app,
            Method::PATCH,
            &profile,
            "/api/profiles/{id}/",
            key,
            Some(json!({ "bio": "Poetical science", "city": "London" })),
        )
        .await;
        assert_eq!(status, 200);
        let (status, body) = call(
            &app,
            Method::PATCH,
            "/api/settings/",
            "/api/settings/",
            key,
            Some(json!({ "theme": "sepia" })),
        )
        .await;
        assert_eq!(status, 400);
        assert!(body["theme"].is_array(), "{body}");
        let (status, _) = call(
            &app,
            Method::POST,
            "/api/events/",
            "/api/events/",
            key,
            Some(json!({ "event_type": "page_view", "idempotency_key": "k1" })),
        )
        .await;
        assert_eq!(status, 201);
        let (status, _) = call(
            &app,
            Method::GET,
            "/api/relationships/?id=1&id=2",
            "/api/relationships/",
            key,
            None,
        )
        .await;
        assert_eq!(status, 200);

        // No credentials: 401 with the documented shape.
        let (status, _) = call(&app, Method::GET, "/api/users/", "/api/users/", None, None).await;
        assert_eq!(status, 401);
    }
);

// ------------------------------------------- what schemathesis found, kept as regressions

both_engines!(
    /// The review queue ignored every other filter, so malformed ones were answered 200.
    async fn the_review_queue_rejects_malformed_filters(t: TestTable) {
        let app = TestApp::new(t).await;
        let mut admin = stored_user(&app.app, 41, "queue_admin", true).await;
        admin.role = Role::Admin;
        app.table()
            .put(admin.to_item().unwrap(), None)
            .await
            .unwrap();
        let tokens = sign_in(&app.app, &admin).await;
        for query in [
            "requires_review=true&success=maybe",
            "requires_review=true&severity=urgent",
            "requires_review=true&since=yesterday",
            "requires_review=true&user=-3",
            "requires_review=true&event_type=no_such_type",
        ] {
            let response = app
                .get(&format!("/api/events/?{query}"))
                .bearer(&tokens.access)
                .send()
                .await;
            assert_eq!(response.status, 400, "{query}: {}", response.body_json());
            assert_conforms("GET", "/api/events/", 400, &response.body_json());
        }
        let response = app
            .get("/api/events/?requires_review=true&severity=high")
            .bearer(&tokens.access)
            .send()
            .await;
        assert_eq!(response.status, 200);
        assert_conforms("GET", "/api/events/", 200, &response.body_json());
    }
);

both_engines!(
    /// `RATE_LIMIT_SCALE` (what scripts/schemathesis sets) multiplies the per-IP allowance;
    /// the limit still holds at its scaled size.
    async fn the_rate_limit_scale_raises_limits_without_removing_them(t: TestTable) {
        let app = TestApp::with_settings(t, &[("RATE_LIMIT_SCALE", "2")]).await;
        let ip = fresh_ip();
        for n in 0..11 {
            let response = app
                .post("/api/auth/register/")
                .ip(&ip)
                .json(json!({
                    "username": format!("scaled_{n}"),
                    "email": format!("scaled_{n}@example.com"),
                    "password": "Granite-Orchard-Sunrise-5",
                }))
                .send()
                .await;
            // Five registrations per IP and window, times two.
            let expected = if n < 10 { 201 } else { 429 };
            assert_eq!(response.status, expected, "registration {n}");
            assert_conforms(
                "POST",
                "/api/auth/register/",
                expected,
                &response.body_json(),
            );
        }
    }
);
