//! Passkeys through the HTTP API, on both engines, with a software authenticator (a P-256 key,
//! `clientDataJSON`, authenticator data and a `none` attestation object built here): register
//! a passkey, list and rename it, sign in with it alone (cookies and JWT, aal2 with
//! `amr: ["webauthn"]`), and the refusals: a replayed challenge, a wrong origin, another RP
//! id, a sign counter that goes back, a bad signature, an unknown credential; removal, by the
//! owner and by an administrator's reset of the factors.

use accounts::model::{Role, UserId};
use api_tests::app::{TestApp, set_cookie};
use api_tests::fixtures::{person_with, verify_email};
use api_tests::{TestTable, both_engines};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciborium::Value as Cbor;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

const PASSWORD: &str = "Violet-Harbor-2931";
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

async fn register(app: &TestApp, username: &str) -> UserId {
    let email = format!("{username}@example.com");
    let response = app
        .post("/api/auth/register/")
        .json(json!({ "username": username, "email": email, "password": PASSWORD }))
        .send()
        .await;
    assert_eq!(response.status, 201, "register: {}", response.body_json());
    verify_email(app, &email).await;
    UserId(response.body_json()["id"].as_i64().unwrap())
}

async fn access_token(app: &TestApp, username: &str) -> String {
    let response = app
        .post("/api/auth/jwt/login/")
        .json(json!({ "username": username, "password": PASSWORD }))
        .send()
        .await;
    assert_eq!(response.status, 200, "jwt login: {}", response.body_json());
    response.body_json()["access"].as_str().unwrap().to_owned()
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

fn claims_of(token: &str) -> Json {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
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
);
