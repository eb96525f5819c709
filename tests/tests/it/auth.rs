//! Attacks on credentials: every forged, stale or misdirected token and every revoked key is
//! refused with 401 `UNAUTHENTICATED`, before anything is read.

use crate::support::{error_code, fixture, TestApp, TestDb};
use anju::auth::{apikey, jwt, secrets, Role};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const PRIVATE: &str = r#"{ households(first: 1) { nodes { code } } }"#;

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn claims(area: &str) -> Value {
    json!({
        "sub": "attacker", "role": "admin", "area": area,
        "iss": "anju", "aud": "anju",
        "iat": now(), "nbf": now() - 10, "exp": now() + 3600,
    })
}

/// Sends `{ households }` with `credential` and returns the status and body.
async fn attempt(app: &TestApp, header: (&str, String)) -> (u16, Value) {
    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .header(header.0, header.1)
        .json(&json!({ "query": PRIVATE }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn refused(app: &TestApp, token: String, why: &str) {
    let before = app.statements.get();
    let (status, body) = attempt(app, ("authorization", format!("Bearer {token}"))).await;
    assert_eq!(status, 401, "{why}: {body:#}");
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{why}");
    assert!(body.get("data").is_none(), "{why}: {body:#}");
    // A token is checked without the database; nothing of the register was read.
    assert_eq!(app.statements.get(), before, "{why}: statements ran");
}

async fn dev_secret(app: &TestApp) -> String {
    secrets::get_or_create(&app.db.db, jwt::DEV_SECRET_NAME)
        .await
        .unwrap()
}

fn sign(claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn forged_stale_and_misdirected_tokens_are_refused() {
    let app = TestApp::with_fixture("indicators").await;
    let secret = dev_secret(&app).await;
    let good = sign(&claims("520000"), secret.as_bytes());
    let (status, body) = attempt(&app, ("authorization", format!("Bearer {good}"))).await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["data"]["households"]["nodes"][0]["code"], "H01");

    // `alg: none`, no signature.
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims("520000").to_string());
    refused(&app, format!("{header}.{payload}."), "alg none").await;

    // Expired, not yet valid, wrong audience, wrong issuer, missing subject.
    let mut c = claims("520000");
    c["exp"] = json!(now() - 3600);
    refused(&app, sign(&c, secret.as_bytes()), "expired").await;
    let mut c = claims("520000");
    c["nbf"] = json!(now() + 3600);
    refused(&app, sign(&c, secret.as_bytes()), "not yet valid").await;
    let mut c = claims("520000");
    c["aud"] = json!("another-service");
    refused(&app, sign(&c, secret.as_bytes()), "wrong audience").await;
    let mut c = claims("520000");
    c["iss"] = json!("someone-else");
    refused(&app, sign(&c, secret.as_bytes()), "wrong issuer").await;
    let mut c = claims("520000");
    c.as_object_mut().unwrap().remove("sub");
    refused(&app, sign(&c, secret.as_bytes()), "no subject").await;
    let mut c = claims("520000");
    c["role"] = json!("superuser");
    refused(&app, sign(&c, secret.as_bytes()), "unknown role").await;

    // Signed with another secret.
    refused(
        &app,
        sign(&claims("520000"), b"0123456789abcdef0123456789abcdef"),
        "foreign secret",
    )
    .await;

    // A county officer's token with its area claim widened to the province.
    let officer = app.token(Role::Officer, "522732100", None).await;
    let parts: Vec<&str> = officer.split('.').collect();
    let mut body: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    body["area"] = json!("520000");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(body.to_string()),
        parts[2]
    );
    refused(&app, tampered, "tampered area claim").await;

    // Garbage.
    refused(&app, "not-a-token".into(), "garbage").await;
    let (status, _) = attempt(&app, ("authorization", "Basic YWRtaW46YWRtaW4=".into())).await;
    assert_eq!(status, 401, "basic auth");
}

#[tokio::test]
async fn a_public_key_deployment_refuses_hmac_tokens_signed_with_that_key() {
    let keys = fixture("keys");
    for (alg, public, private) in [
        ("EdDSA", "ed25519-public.pem", "ed25519-private.pem"),
        ("RS256", "rsa-public.pem", "rsa-private.pem"),
    ] {
        let db = TestDb::with_fixture("indicators").await;
        let mut config = anju::config::ServeConfig::ephemeral();
        config.auth.jwt_public_key = Some(keys.join(public));
        config.auth.jwt_algorithm = alg.into();
        let app = TestApp::spawn_with(db, config).await;

        let pem = std::fs::read(keys.join(private)).unwrap();
        let (algorithm, key) = match alg {
            "EdDSA" => (Algorithm::EdDSA, EncodingKey::from_ed_pem(&pem).unwrap()),
            _ => (Algorithm::RS256, EncodingKey::from_rsa_pem(&pem).unwrap()),
        };
        let good = jsonwebtoken::encode(&Header::new(algorithm), &claims("520000"), &key).unwrap();
        let (status, body) = attempt(&app, ("authorization", format!("Bearer {good}"))).await;
        assert_eq!(status, 200, "{alg}: {body:#}");
        assert!(body.get("errors").is_none(), "{alg}: {body:#}");

        // Algorithm confusion: an HS256 token whose "secret" is the public key itself.
        let public_pem = std::fs::read(keys.join(public)).unwrap();
        refused(
            &app,
            sign(&claims("520000"), &public_pem),
            "HS256 with the public key",
        )
        .await;
        // The development secret means nothing once a key is configured.
        refused(
            &app,
            sign(&claims("520000"), dev_secret(&app).await.as_bytes()),
            "development secret",
        )
        .await;
    }
}

#[tokio::test]
async fn api_keys_work_until_revoked_and_are_stored_only_as_hashes() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = TestApp::with_fixture("indicators").await;
    let (key, credential) = apikey::create(
        &app.db.db,
        "provincial big-data system",
        Role::Integration,
        "522732101",
        None,
    )
    .await
    .unwrap();
    // The secret is URL-safe base64, which may itself hold `_`: it is everything after the id.
    let secret = credential
        .strip_prefix(&format!("anju_{}_", key.id))
        .expect("the credential names its key");
    assert_eq!(secret.len(), 43, "32 random bytes, unpadded");
    let stored = app
        .db
        .db
        .query_all_raw(Statement::from_string(
            app.db.db.get_database_backend(),
            "SELECT * FROM api_keys",
        ))
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    let hash: String = stored[0].try_get("", "secret_sha256").unwrap();
    assert_ne!(hash, secret);
    assert!(!format!("{:?}", stored[0]).contains(secret));

    // Both header forms work, and the key sees its area only (township 101: AZD003).
    for header in [
        ("authorization", format!("Bearer {credential}")),
        ("x-api-key", credential.clone()),
    ] {
        let (status, body) = attempt(&app, header).await;
        assert_eq!(status, 200, "{body:#}");
        assert_eq!(body["data"]["households"]["nodes"][0]["code"], "H06");
    }
    // A wrong secret for a real id, and an unknown id.
    let wrong = format!("anju_{}_{}", key.id, "A".repeat(secret.len()));
    let (status, _) = attempt(&app, ("x-api-key", wrong)).await;
    assert_eq!(status, 401);
    let (status, _) = attempt(&app, ("x-api-key", "anju_000000000000_x".into())).await;
    assert_eq!(status, 401);

    assert!(apikey::revoke(&app.db.db, &key.id).await.unwrap());
    let (status, body) = attempt(&app, ("x-api-key", credential.clone())).await;
    assert_eq!(status, 401, "revoked key: {body:#}");
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    assert!(!apikey::revoke(&app.db.db, &key.id).await.unwrap());
}

#[tokio::test]
async fn logs_and_metrics_never_hold_raw_id_or_phone_numbers() {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "debug,anju=trace,tower_http=trace,hyper=info,h2=info,reqwest=info",
        ))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = TestApp::with_fixture("indicators").await;
    let officer = app.token(Role::Officer, "522732", None).await;
    let id = "522732197503120114";
    let phone = "13885400001";
    // Unmasked reads, lookups by ID number over POST and GET, a bad ID, a failed credential.
    app.query_as(
        Some(&officer),
        "query($id: String!) { member(idNumber: $id) { idNumber name household { phone headIdNumber } } }",
        json!({ "id": id }),
    )
    .await;
    let url = format!(
        "{}/graphql?query=%7B%20member(idNumber%3A%20%22{id}%22)%20%7B%20name%20%7D%20%7D",
        app.base
    );
    let resp = app
        .client
        .get(url)
        .bearer_auth(&officer)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    app.query_as(
        Some(&officer),
        &format!(r#"{{ member(idNumber: "{id}x") {{ name }} households(filter: {{ siteCode: "{phone}" }}) {{ totalCount }} }}"#),
        json!({}),
    )
    .await;
    attempt(&app, ("authorization", format!("Bearer {id}.{phone}.x"))).await;
    let metrics = app.metrics().await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("credentials refused"),
        "logs were not captured"
    );
    for (what, text) in [("logs", &logs), ("metrics", &metrics)] {
        assert!(!text.contains(id), "{what} hold an ID number:\n{text}");
        assert!(!text.contains(phone), "{what} hold a phone number:\n{text}");
    }
}
