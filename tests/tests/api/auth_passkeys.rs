//! Passkeys through the HTTP API, on both engines, with a software authenticator (a P-256 key,
//! `clientDataJSON`, authenticator data and a `none` attestation object built here): register
//! a passkey, list and rename it, sign in with it alone (cookies and JWT, aal2 with
//! `amr: ["webauthn"]`), and the refusals: a replayed challenge, a wrong origin, another RP
//! id, a sign counter that goes back, a bad signature, an unknown credential; removal, by the
//! owner and by an administrator's reset of the factors.

use accounts::model::Role;
use api_tests::app::{TestApp, set_cookie};
use api_tests::fixtures::{Login, PASSWORD, access_token, person_with, register};
use api_tests::{TestTable, both_engines};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciborium::Value as Cbor;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

const ORIGIN: &str = "http://localhost:3000";
const RP_ID: &str = "localhost";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    for b in bytes.iter_mut() {
        *b = fastrand_byte();
    }
    bytes
}

fn fastrand_byte() -> u8 {
    // Test keys need no secrecy: a ULID's randomness is enough.
    ulid::Ulid::new().random() as u8
}

/// A software authenticator holding one discoverable credential.
struct Authenticator {
    key: SigningKey,
    credential_id: Vec<u8>,
    counter: u32,
    user_handle: Option<String>,
}

impl Authenticator {
    fn new() -> Authenticator {
        let key = loop {
            if let Ok(key) = SigningKey::from_slice(&random::<32>()) {
                break key;
            }
        };
        Authenticator {
            key,
            credential_id: random::<16>().to_vec(),
            counter: 0,
            user_handle: None,
        }
    }

    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_sec1_point(false);
        let key = Cbor::Map(vec![
            (Cbor::Integer(1.into()), Cbor::Integer(2.into())),
            (Cbor::Integer(3.into()), Cbor::Integer((-7).into())),
            (Cbor::Integer((-1).into()), Cbor::Integer(1.into())),
            (
                Cbor::Integer((-2).into()),
                Cbor::Bytes(point.x().unwrap().to_vec()),
            ),
            (
                Cbor::Integer((-3).into()),
                Cbor::Bytes(point.y().unwrap().to_vec()),
            ),
        ]);
        let mut out = Vec::new();
        ciborium::into_writer(&key, &mut out).unwrap();
        out
    }

    fn auth_data(&self, rp_id: &str, attested: bool) -> Vec<u8> {
        let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
        // UP | UV, and AT for a registration.
        data.push(if attested { 0x45 } else { 0x05 });
        data.extend_from_slice(&self.counter.to_be_bytes());
        if attested {
            data.extend_from_slice(&[0u8; 16]);
            data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
            data.extend_from_slice(&self.credential_id);
            data.extend_from_slice(&self.cose_key());
        }
        data
    }

    /// `navigator.credentials.create` for `options`, as `toJSON()` gives it.
    fn create(&mut self, options: &Json, origin: &str) -> Json {
        let public_key = &options["publicKey"];
        let rp_id = public_key["rp"]["id"].as_str().unwrap().to_owned();
        self.user_handle = public_key["user"]["id"].as_str().map(str::to_owned);
        let client_data = json!({
            "type": "webauthn.create",
            "challenge": public_key["challenge"],
            "origin": origin,
            "crossOrigin": false,
        })
        .to_string();
        let attestation = Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(vec![])),
            (
                Cbor::Text("authData".into()),
                Cbor::Bytes(self.auth_data(&rp_id, true)),
            ),
        ]);
        let mut object = Vec::new();
        ciborium::into_writer(&attestation, &mut object).unwrap();
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(client_data.as_bytes()),
                "attestationObject": b64(&object),
                "transports": ["internal"],
            },
        })
    }

    /// `navigator.credentials.get` for `options`, with `counter` as the new sign count.
    fn get(&mut self, options: &Json, origin: &str, rp_id: &str) -> Json {
        self.counter += 1;
        let client_data = json!({
            "type": "webauthn.get",
            "challenge": options["publicKey"]["challenge"],
            "origin": origin,
        })
        .to_string();
        let auth_data = self.auth_data(rp_id, false);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(client_data.as_bytes()));
        let signature: Signature = self.key.sign(&signed);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(client_data.as_bytes()),
                "authenticatorData": b64(&auth_data),
                "signature": b64(signature.to_der().as_bytes()),
                "userHandle": self.user_handle,
            },
        })
    }
}

async fn begin_registration(app: &TestApp, token: &str) -> Json {
    let response = app
        .post("/api/auth/passkeys/register/begin/")
        .bearer(token)
        .json(json!({}))
        .send()
        .await;
    assert_eq!(response.status, 200, "begin: {}", response.body_json());
    assert_eq!(response.headers.get("cache-control").unwrap(), "no-store");
    response.body_json()
}

async fn finish_registration(app: &TestApp, token: &str, credential: Json) -> (u16, Json) {
    let response = app
        .post("/api/auth/passkeys/register/finish/")
        .bearer(token)
        .json(credential)
        .send()
        .await;
    (response.status.as_u16(), response.body_json())
}

/// Registers `authenticator` for the account of `token`; the passkey's id.
async fn enrol(app: &TestApp, token: &str, authenticator: &mut Authenticator) -> String {
    let options = begin_registration(app, token).await;
    let mut credential = authenticator.create(&options, ORIGIN);
    credential["name"] = json!("Laptop");
    let (status, body) = finish_registration(app, token, credential).await;
    assert_eq!(status, 201, "finish: {body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn begin_sign_in(app: &TestApp) -> Json {
    let response = app
        .post("/api/auth/passkeys/sign-in/begin/")
        .json(json!({}))
        .send()
        .await;
    assert_eq!(response.status, 200, "begin: {}", response.body_json());
    response.body_json()
}

async fn finish_sign_in(
    app: &TestApp,
    credential: &Json,
    mode: &str,
) -> accounts::http::ApiResponse {
    let mut body = credential.clone();
    body["mode"] = json!(mode);
    app.post("/api/auth/passkeys/sign-in/finish/")
        .json(body)
        .send()
        .await
}

/// Steps the session of `token` up with `authenticator`'s passkey; the step-up's answer.
async fn step_up_with_passkey(
    app: &TestApp,
    token: &str,
    authenticator: &mut Authenticator,
) -> accounts::http::ApiResponse {
    let response = app
        .post("/api/auth/mfa/step-up/passkey/")
        .bearer(token)
        .json(json!({}))
        .send()
        .await;
    assert_eq!(response.status, 200, "options: {}", response.body_json());
    assert_eq!(response.headers.get("cache-control").unwrap(), "no-store");
    let options = response.body_json();
    let assertion = authenticator.get(&options, ORIGIN, RP_ID);
    app.post("/api/auth/mfa/step-up/")
        .bearer(token)
        .json(json!({ "passkey": assertion }))
        .send()
        .await
}

/// A password login of an account with a second factor: the pending sign-in's answer.
async fn pending_sign_in(app: &TestApp, username: &str) -> Json {
    let response = Login::new(username).send(app).await;
    assert_eq!(response.status, 202, "{}", response.body_json());
    response.body_json()
}

/// The request options of a passkey as the second step of `mfa_token`'s sign-in.
async fn second_step_options(app: &TestApp, mfa_token: &Json) -> accounts::http::ApiResponse {
    app.post("/api/auth/mfa/verify/passkey/")
        .json(json!({ "mfa_token": mfa_token }))
        .send()
        .await
}

async fn verify_with_passkey(
    app: &TestApp,
    mfa_token: &Json,
    assertion: &Json,
) -> accounts::http::ApiResponse {
    app.post("/api/auth/mfa/verify/")
        .json(json!({ "mfa_token": mfa_token, "passkey": assertion }))
        .send()
        .await
}

fn claims_of(token: &str) -> Json {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn body_codes(body: &Json) -> usize {
    body["recovery_codes"].as_array().map_or(0, Vec::len)
}

fn field_error(body: &Json, field: &str) -> String {
    body[field][0].as_str().unwrap_or_default().to_owned()
}

both_engines!(
    async fn register_list_rename_sign_in_and_remove(t: TestTable) {
        let app = TestApp::new(t).await;
        register(&app, "jane").await;
        let token = access_token(&app, "jane").await;
        let mut authenticator = Authenticator::new();

        let options = begin_registration(&app, &token).await;
        let public_key = &options["publicKey"];
        assert_eq!(public_key["rp"]["id"], RP_ID);
        assert_eq!(
            public_key["authenticatorSelection"]["residentKey"],
            "required"
        );
        assert_eq!(public_key["pubKeyCredParams"][0]["alg"], -7);
        let mut credential = authenticator.create(&options, ORIGIN);
        credential["name"] = json!("Laptop");
        let (status, body) = finish_registration(&app, &token, credential.clone()).await;
        assert_eq!(status, 201, "{body}");
        let first_body = body.clone();
        assert_eq!(body["name"], "Laptop");
        assert_eq!(body["algorithm"], "ES256");
        let passkey_id = body["id"].as_str().unwrap().to_owned();

        // The registration's challenge is spent: the same answer again is refused.
        let (status, body) = finish_registration(&app, &token, credential).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            field_error(&body, "credential").contains("challenge"),
            "{body}"
        );

        // The first second factor brought the recovery codes, shown once.
        assert_eq!(body_codes(&first_body), 10, "{first_body}");

        // Adding another passkey now needs the first one (a second factor is on the account).
        let response = app
            .post("/api/auth/passkeys/register/begin/")
            .bearer(&token)
            .json(json!({}))
            .send()
            .await;
        assert_eq!(response.status, 403, "{}", response.body_json());
        assert_eq!(response.body_json()["code"], "step_up_required");
        assert_eq!(
            response.body_json()["methods"],
            json!(["webauthn", "recovery_code"])
        );
        let response = step_up_with_passkey(&app, &token, &mut authenticator).await;
        assert_eq!(response.status, 200, "{}", response.body_json());
        assert_eq!(response.body_json()["aal"], 2);

        // The same credential again, on a fresh challenge: taken.
        let options = begin_registration(&app, &token).await;
        assert_eq!(
            options["publicKey"]["excludeCredentials"][0]["id"],
            b64(&authenticator.credential_id)
        );
        let (status, body) =
            finish_registration(&app, &token, authenticator.create(&options, ORIGIN)).await;
        assert_eq!(status, 409, "{body}");

        let response = app.get("/api/auth/passkeys/").bearer(&token).send().await;
        assert_eq!(response.status, 200);
        assert_eq!(response.headers.get("cache-control").unwrap(), "no-store");
        let listed = response.body_json();
        assert_eq!(listed["count"], 1);
        assert_eq!(listed["results"][0]["id"], passkey_id.as_str());
        assert!(listed["results"][0].get("public_key").is_none());

        let response = app
            .patch(&format!("/api/auth/passkeys/{passkey_id}/"))
            .bearer(&token)
            .json(json!({ "name": "  " }))
            .send()
            .await;
        assert_eq!(response.status, 400);
        let response = app
            .patch(&format!("/api/auth/passkeys/{passkey_id}/"))
            .bearer(&token)
            .json(json!({ "name": "Work laptop" }))
            .send()
            .await;
        assert_eq!(response.status, 200, "{}", response.body_json());
        assert_eq!(response.body_json()["name"], "Work laptop");

        // Usernameless sign-in, JWT: aal2 and amr webauthn.
        let options = begin_sign_in(&app).await;
        assert_eq!(options["publicKey"]["rpId"], RP_ID);
        assert_eq!(options["publicKey"]["allowCredentials"], json!([]));
        let assertion = authenticator.get(&options, ORIGIN, RP_ID);
        let response = finish_sign_in(&app, &assertion, "jwt").await;
        assert_eq!(response.status, 200, "{}", response.body_json());
        let body = response.body_json();
        assert_eq!(body["user"]["username"], "jane");
        let access = body["access"].as_str().unwrap().to_owned();
        let claims = claims_of(&access);
        assert_eq!(claims["aal"], 2, "{claims}");
        assert_eq!(claims["amr"], json!(["webauthn"]));

        // The same assertion again: its challenge is spent.
        let response = finish_sign_in(&app, &assertion, "jwt").await;
        assert_eq!(response.status, 400, "{}", response.body_json());

        // Cookie sign-in.
        let options = begin_sign_in(&app).await;
        let response =
            finish_sign_in(&app, &authenticator.get(&options, ORIGIN, RP_ID), "session").await;
        assert_eq!(response.status, 200, "{}", response.body_json());
        assert!(set_cookie(&response, "sessionid").is_some());
        assert_eq!(response.headers.get("cache-control").unwrap(), "no-store");

        // A passkey session is recent strong authentication: it may remove the passkey.
        let response = app
            .delete(&format!("/api/auth/passkeys/{passkey_id}/"))
            .bearer(&access)
            .send()
            .await;
        assert_eq!(response.status, 204, "{}", response.body_json());
        let response = app.get("/api/auth/passkeys/").bearer(&token).send().await;
        assert_eq!(response.body_json()["count"], 0);

        // A removed passkey signs in no more.
        let options = begin_sign_in(&app).await;
        let response =
            finish_sign_in(&app, &authenticator.get(&options, ORIGIN, RP_ID), "jwt").await;
        assert_eq!(response.status, 400, "{}", response.body_json());
        let response = app
            .delete(&format!("/api/auth/passkeys/{passkey_id}/"))
            .bearer(&token)
            .send()
            .await;
        assert_eq!(response.status, 404);
    }

    async fn ceremonies_from_elsewhere_or_replayed_are_refused(t: TestTable) {
        let app = TestApp::new(t).await;
        register(&app, "omar").await;
        let token = access_token(&app, "omar").await;
        let mut authenticator = Authenticator::new();

        // Registration from another origin.
        let options = begin_registration(&app, &token).await;
        let (status, body) = finish_registration(
            &app,
            &token,
            authenticator.create(&options, "https://evil.example"),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert!(
            field_error(&body, "credential").contains("origin"),
            "{body}"
        );

        // Bad input is a 400 with field errors, never a 500.
        let (status, body) = finish_registration(&app, &token, json!({ "rawId": "!!" })).await;
        assert_eq!(status, 400, "{body}");
        let (status, body) = finish_registration(
            &app,
            &token,
            json!({ "rawId": "AAAA", "response": { "clientDataJSON": "AAAA", "attestationObject": "AAAA" } }),
        )
        .await;
        assert_eq!(status, 400, "{body}");

        enrol(&app, &token, &mut authenticator).await;

        // Sign-in from another origin, then for another RP id.
        let options = begin_sign_in(&app).await;
        let response = finish_sign_in(
            &app,
            &authenticator.get(&options, "https://evil.example", RP_ID),
            "jwt",
        )
        .await;
        assert_eq!(response.status, 400);
        assert!(field_error(&response.body_json(), "credential").contains("origin"));
        let options = begin_sign_in(&app).await;
        let response = finish_sign_in(
            &app,
            &authenticator.get(&options, ORIGIN, "evil.example"),
            "jwt",
        )
        .await;
        assert_eq!(response.status, 400);
        assert!(field_error(&response.body_json(), "credential").contains("relying party"));

        // A challenge nobody issued.
        let forged = json!({ "publicKey": { "challenge": b64(&random::<32>()) } });
        let response =
            finish_sign_in(&app, &authenticator.get(&forged, ORIGIN, RP_ID), "jwt").await;
        assert_eq!(response.status, 400);
        assert!(field_error(&response.body_json(), "credential").contains("challenge"));

        // A good sign-in, then the counter going back (a cloned authenticator).
        let options = begin_sign_in(&app).await;
        let response =
            finish_sign_in(&app, &authenticator.get(&options, ORIGIN, RP_ID), "jwt").await;
        assert_eq!(response.status, 200, "{}", response.body_json());
        authenticator.counter = 0;
        let options = begin_sign_in(&app).await;
        let response =
            finish_sign_in(&app, &authenticator.get(&options, ORIGIN, RP_ID), "jwt").await;
        assert_eq!(response.status, 400, "{}", response.body_json());
        assert!(field_error(&response.body_json(), "credential").contains("counter"));

        // A signature by another key over a fresh challenge.
        let mut impostor = Authenticator::new();
        impostor.credential_id = authenticator.credential_id.clone();
        impostor.counter = 100;
        let options = begin_sign_in(&app).await;
        let response = finish_sign_in(&app, &impostor.get(&options, ORIGIN, RP_ID), "jwt").await;
        assert_eq!(response.status, 400);
        assert!(field_error(&response.body_json(), "credential").contains("signature"));

        // An unknown credential.
        let mut stranger = Authenticator::new();
        let options = begin_sign_in(&app).await;
        let response = finish_sign_in(&app, &stranger.get(&options, ORIGIN, RP_ID), "jwt").await;
        assert_eq!(response.status, 400);

        // A bad mode is a field error.
        let response = finish_sign_in(&app, &json!({}), "cookie").await;
        assert_eq!(response.status, 400);
        assert!(response.body_json().get("mode").is_some());

        // Refusals are logged as mfa_challenge_failed.
        let response = app
            .get("/api/events/?event_type=mfa_challenge_failed")
            .bearer(&token)
            .send()
            .await;
        assert_eq!(response.status, 200, "{}", response.body_json());
        let events = response.body_json();
        let reasons: Vec<&str> = events["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["metadata"]["reason"].as_str())
            .collect();
        assert!(reasons.iter().any(|r| r.contains("counter")), "{events}");
        assert!(reasons.iter().any(|r| r.contains("origin")), "{events}");

        // Without a session (an API token) registration is refused.
        let response = app
            .post("/api/auth/passkeys/register/begin/")
            .json(json!({}))
            .send()
            .await;
        assert_eq!(response.status, 401);
    }

    async fn an_administrators_reset_removes_the_passkeys(t: TestTable) {
        let app = TestApp::new(t).await;
        let id = register(&app, "lena").await;
        let token = access_token(&app, "lena").await;
        let mut authenticator = Authenticator::new();
        enrol(&app, &token, &mut authenticator).await;

        let admin = person_with(&app.app, 900, Role::Admin, false).await;
        let response = app
            .delete(&format!("/api/users/{}/mfa/", id.0))
            .bearer(&admin.token)
            .send()
            .await;
        assert_eq!(response.status, 204, "{}", response.body_json());
        let response = app.get("/api/auth/passkeys/").bearer(&token).send().await;
        assert_eq!(response.body_json()["count"], 0);
        let options = begin_sign_in(&app).await;
        let response =
            finish_sign_in(&app, &authenticator.get(&options, ORIGIN, RP_ID), "jwt").await;
        assert_eq!(response.status, 400, "{}", response.body_json());

        // The credential id is free again: the same authenticator registers anew.
        enrol(&app, &token, &mut authenticator).await;
    }

    async fn erasing_the_account_frees_its_credentials(t: TestTable) {
        let app = TestApp::new(t).await;
        let id = register(&app, "mona").await;
        let token = access_token(&app, "mona").await;
        let mut authenticator = Authenticator::new();
        enrol(&app, &token, &mut authenticator).await;
        // Erasure is sensitive: with a passkey on the account, it needs the passkey too.
        let response = app
            .delete(&format!("/api/users/{}/", id.0))
            .bearer(&token)
            .json(json!({ "current_password": PASSWORD }))
            .send()
            .await;
        assert_eq!(response.status, 403, "{}", response.body_json());
        let response = step_up_with_passkey(&app, &token, &mut authenticator).await;
        assert_eq!(response.status, 200, "{}", response.body_json());
        let response = app
            .delete(&format!("/api/users/{}/", id.0))
            .bearer(&token)
            .json(json!({ "current_password": PASSWORD }))
            .send()
            .await;
        assert_eq!(response.status, 204, "{}", response.body_json());

        // Another account registers the same authenticator: the credential id is no one's.
        register(&app, "nina").await;
        let other = access_token(&app, "nina").await;
        enrol(&app, &other, &mut authenticator).await;
    }

    async fn a_passkey_is_the_second_step_of_a_password_sign_in(t: TestTable) {
        let app = TestApp::new(t).await;
        let rosa = register(&app, "rosa").await;
        let token = access_token(&app, "rosa").await;
        let mut authenticator = Authenticator::new();
        let passkey_id = enrol(&app, &token, &mut authenticator).await;

        // The export lists the passkey as the API shows it (no public key) and the codes left.
        let export = app
            .get(&format!("/api/users/{}/export/", rosa.0))
            .bearer(&token)
            .send()
            .await
            .body_json();
        assert_eq!(export["passkeys"][0]["id"], passkey_id.as_str(), "{export}");
        assert!(export["passkeys"][0].get("public_key").is_none());
        assert_eq!(export["recovery_codes_remaining"], 10);

        // The password alone no longer signs in: a pending sign-in naming the passkey.
        let pending = pending_sign_in(&app, "rosa").await;
        assert_eq!(pending["methods"], json!(["webauthn", "recovery_code"]));
        let mfa_token = &pending["mfa_token"];
        let response = second_step_options(&app, mfa_token).await;
        assert_eq!(response.status, 200, "{}", response.body_json());
        let options = response.body_json();
        assert_eq!(
            options["publicKey"]["allowCredentials"][0]["id"],
            b64(&authenticator.credential_id)
        );
        let assertion = authenticator.get(&options, ORIGIN, RP_ID);
        let response = verify_with_passkey(&app, mfa_token, &assertion).await;
        assert_eq!(response.status, 200, "{}", response.body_json());
        let claims = claims_of(response.body_json()["access"].as_str().unwrap());
        assert_eq!(claims["aal"], 2, "{claims}");
        assert_eq!(claims["amr"], json!(["pwd", "webauthn"]));
        let listed = app.get("/api/auth/passkeys/").bearer(&token).send().await;
        assert!(
            listed.body_json()["results"][0]["last_used_at"].is_string(),
            "{}",
            listed.body_json()
        );

        // The pending sign-in is spent with it.
        let response = verify_with_passkey(&app, mfa_token, &assertion).await;
        assert_eq!(response.status, 400);
        assert!(response.body_json().get("mfa_token").is_some());

        // A challenge is bound to its pending sign-in: another sign-in's assertion is refused
        // (and counts as a wrong proof of this one).
        let first = pending_sign_in(&app, "rosa").await;
        let second = pending_sign_in(&app, "rosa").await;
        let options = second_step_options(&app, &first["mfa_token"])
            .await
            .body_json();
        let assertion = authenticator.get(&options, ORIGIN, RP_ID);
        let response = verify_with_passkey(&app, &second["mfa_token"], &assertion).await;
        assert_eq!(response.status, 400, "{}", response.body_json());
        assert!(
            field_error(&response.body_json(), "passkey").contains("challenge"),
            "{}",
            response.body_json()
        );
        // ...while it still completes the sign-in its challenge was made for.
        let response = verify_with_passkey(&app, &first["mfa_token"], &assertion).await;
        assert_eq!(response.status, 200, "{}", response.body_json());

        // Another account's passkey is not this account's second factor.
        register(&app, "sven").await;
        let sven = access_token(&app, "sven").await;
        let mut other = Authenticator::new();
        enrol(&app, &sven, &mut other).await;
        let pending = pending_sign_in(&app, "rosa").await;
        let options = second_step_options(&app, &pending["mfa_token"])
            .await
            .body_json();
        let response = verify_with_passkey(
            &app,
            &pending["mfa_token"],
            &other.get(&options, ORIGIN, RP_ID),
        )
        .await;
        assert_eq!(response.status, 400, "{}", response.body_json());
        assert!(response.body_json().get("passkey").is_some());

        // Options for an unknown or spent pending sign-in: 400 on the token.
        let response = second_step_options(&app, &json!("not-a-pending-sign-in")).await;
        assert_eq!(response.status, 400);
        assert!(response.body_json().get("mfa_token").is_some());

        // The last second factor removed (with the passkey's own step-up): the recovery codes
        // go too, and the password alone signs in again.
        let response = step_up_with_passkey(&app, &token, &mut authenticator).await;
        assert_eq!(response.status, 200, "{}", response.body_json());
        let response = app
            .delete(&format!("/api/auth/passkeys/{passkey_id}/"))
            .bearer(&token)
            .send()
            .await;
        assert_eq!(response.status, 204, "{}", response.body_json());
        let factors = app
            .get("/api/auth/mfa/factors/")
            .bearer(&token)
            .send()
            .await;
        assert_eq!(factors.body_json()["recovery_codes_remaining"], 0);
        access_token(&app, "rosa").await;
    }

    async fn a_passkey_steps_a_session_up(t: TestTable) {
        let app = TestApp::new(t).await;
        register(&app, "tove").await;
        let token = access_token(&app, "tove").await;
        let mut authenticator = Authenticator::new();
        enrol(&app, &token, &mut authenticator).await;

        // Creating an API token is sensitive: with a passkey on the account, the password
        // session must step up with it.
        let response = app
            .post("/api/auth/tokens/")
            .bearer(&token)
            .json(json!({ "name": "ci" }))
            .send()
            .await;
        assert_eq!(response.status, 403, "{}", response.body_json());
        assert_eq!(response.body_json()["code"], "step_up_required");

        // A challenge is bound to its session: another session's assertion is refused.
        let options = begin_sign_in(&app).await;
        let other_session =
            finish_sign_in(&app, &authenticator.get(&options, ORIGIN, RP_ID), "jwt")
                .await
                .body_json()["access"]
                .as_str()
                .unwrap()
                .to_owned();
        let response = app
            .post("/api/auth/mfa/step-up/passkey/")
            .bearer(&other_session)
            .json(json!({}))
            .send()
            .await;
        let foreign = authenticator.get(&response.body_json(), ORIGIN, RP_ID);
        let response = app
            .post("/api/auth/mfa/step-up/")
            .bearer(&token)
            .json(json!({ "passkey": foreign }))
            .send()
            .await;
        assert_eq!(response.status, 400, "{}", response.body_json());
        assert!(
            field_error(&response.body_json(), "passkey").contains("challenge"),
            "{}",
            response.body_json()
        );

        // With its own challenge the session is at aal2, and the action passes.
        let response = step_up_with_passkey(&app, &token, &mut authenticator).await;
        assert_eq!(response.status, 200, "{}", response.body_json());
        assert_eq!(response.body_json()["amr"], json!(["pwd", "webauthn"]));
        let response = app
            .post("/api/auth/tokens/")
            .bearer(&token)
            .json(json!({ "name": "ci" }))
            .send()
            .await;
        assert_eq!(response.status, 201, "{}", response.body_json());

        // A proof and a password together are refused on both fields.
        let response = app
            .post("/api/auth/mfa/step-up/")
            .bearer(&token)
            .json(json!({ "password": PASSWORD, "passkey": {} }))
            .send()
            .await;
        assert_eq!(response.status, 400);
        assert!(response.body_json().get("passkey").is_some());
    }
);
