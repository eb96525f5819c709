//! Webhooks for integration keys (Standard Webhooks 1.0): a commit sends each endpoint a signed
//! thin notification; deliveries are retried, survive a restart, are sent once across replicas;
//! `410 Gone` disables an endpoint; private targets are refused unless allowed.

use crate::support::TestApp;
use anju::auth::Role;
use anju::config::ServeConfig;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

/// A local endpoint that records what it receives and answers the statuses it is given, then
/// 200.
#[derive(Clone)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    statuses: Arc<Mutex<VecDeque<u16>>>,
    url: String,
}

impl Receiver {
    async fn start(statuses: &[u16]) -> Receiver {
        Self::start_on(
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            statuses,
        )
    }

    fn start_on(listener: tokio::net::TcpListener, statuses: &[u16]) -> Receiver {
        let port = listener.local_addr().unwrap().port();
        let receiver = Receiver {
            got: Default::default(),
            statuses: Arc::new(Mutex::new(statuses.iter().copied().collect())),
            url: format!("http://127.0.0.1:{port}/hook"),
        };
        let r = receiver.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let r = r.clone();
                async move {
                    let header = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    r.got.lock().unwrap().push(Received {
                        id: header("webhook-id"),
                        timestamp: header("webhook-timestamp"),
                        signature: header("webhook-signature"),
                        body,
                    });
                    let status = r.statuses.lock().unwrap().pop_front().unwrap_or(200);
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        receiver
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived.
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..300 {
            let got = self.got();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} webhook requests, got {:#?}", self.got());
    }
}

/// A server that may send to loopback, looks for work every 50 ms and retries quickly.
fn config(retries: &str) -> ServeConfig {
    ServeConfig {
        webhook_allow_private: true,
        webhook_poll_ms: 50,
        webhook_retry_schedule: retries.into(),
        ..ServeConfig::ephemeral()
    }
}

async fn app_with(retries: &str) -> TestApp {
    let db = crate::support::TestDb::new().await;
    anju::register::import_dir(&db.db, &crate::support::fixture("indicators"))
        .await
        .unwrap();
    TestApp::spawn_with(db, config(retries)).await
}

const CREATE: &str = r#"mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) {
    endpoint { id url enabled } secret userErrors { field message code }
  }
}"#;

const ENDPOINTS: &str = r#"{ webhookEndpoints { id enabled disabledReason
  deliveries(first: 20) { id state cursor attempts { at httpStatus error durationMs } } } }"#;

/// Registers `url` for a new integration key of the county; answers `(endpoint id, secret)`.
async fn register(app: &TestApp, url: &str) -> (String, String) {
    let (key, _) =
        anju::auth::apikey::create(&app.db.db, "sync", Role::Integration, "522732", None)
            .await
            .unwrap();
    let body = app
        .query(
            CREATE,
            json!({ "input": { "url": url, "apiKeyId": key.id, "description": "provincial sync" } }),
        )
        .await;
    let payload = &body["data"]["createWebhookEndpoint"];
    assert_eq!(payload["userErrors"], json!([]), "{body:#}");
    (
        payload["endpoint"]["id"].as_str().unwrap().to_owned(),
        payload["secret"].as_str().unwrap().to_owned(),
    )
}

/// Changes household H01 through a mutation.
async fn write(app: &TestApp) {
    let version = app
        .data(r#"{ household(code: "H01") { version } }"#, json!({}))
        .await["household"]["version"]
        .as_i64()
        .unwrap();
    let phone = format!("139{:08}", rand_suffix());
    let body = app
        .data(
            "mutation($input: UpdateHouseholdInput!) { updateHousehold(input: $input) { userErrors { message } } }",
            json!({ "input": { "idempotencyKey": uuid::Uuid::new_v4().simple().to_string(),
                "code": "H01", "version": version, "phone": phone } }),
        )
        .await;
    assert_eq!(body["updateHousehold"]["userErrors"], json!([]));
}

fn rand_suffix() -> u32 {
    uuid::Uuid::new_v4().as_u128() as u32 % 100_000_000
}

/// Whether one of the `v1,` signatures of `header` is the HMAC-SHA256 of `{id}.{ts}.{body}` under
/// `secret` (computed here with the JWT library's HS256, not with the server's code).
fn verifies(secret: &str, r: &Received) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let message = format!("{}.{}.{}", r.id, r.timestamp, r.body);
    let mac = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &jsonwebtoken::EncodingKey::from_secret(&key).unwrap(),
        jsonwebtoken::Algorithm::HS256,
    )
    .unwrap();
    let expected = format!(
        "v1,{}",
        STANDARD.encode(URL_SAFE_NO_PAD.decode(mac).unwrap())
    );
    r.signature.split(' ').any(|s| s == expected)
}

async fn endpoints(app: &TestApp) -> Value {
    app.data(ENDPOINTS, json!({})).await["webhookEndpoints"].clone()
}

#[tokio::test]
async fn a_write_sends_one_signed_thin_notification() {
    let app = app_with("100ms").await;
    let receiver = Receiver::start(&[]).await;
    let (_, secret) = register(&app, &receiver.url).await;
    assert!(secret.starts_with("whsec_"));
    assert_eq!(STANDARD.decode(&secret[6..]).unwrap().len(), 32);
    let head = app.data("{ changesHead }", json!({})).await;
    // Let the dispatcher take its first position before the write.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    write(&app).await;
    let got = receiver.wait_for(1).await;
    eprintln!("delivered {:?} after the write", started.elapsed());
    let r = &got[0];
    assert!(r.id.starts_with("msg_"), "{r:?}");
    let ts: i64 = r.timestamp.parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - ts).abs() < 60);
    assert!(verifies(&secret, r), "{r:?}");
    assert!(!verifies(
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        r
    ));
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["type"], json!("changes.available"));
    assert!(body["timestamp"].is_string());
    let cursor = body["data"]["cursor"].as_str().unwrap();
    // The cursor leads to the write. (On PostgreSQL a transaction open anywhere in the cluster
    // holds the feed back, so earlier changes may be notified late and come first.)
    let page = app
        .data(
            "query($a: String!) { changes(after: $a, first: 1000) { changes { type op } } }",
            json!({ "a": cursor }),
        )
        .await;
    assert!(
        page["changes"]["changes"]
            .as_array()
            .unwrap()
            .contains(&json!({ "type": "HOUSEHOLD", "op": "UPSERT" })),
        "{page:#} {head}"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let got = receiver.got();
    let mut ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), got.len(), "each notification once: {got:#?}");
    assert!(got.iter().all(|r| verifies(&secret, r)));
}

#[tokio::test]
async fn a_failed_delivery_is_retried_and_its_attempts_are_shown() {
    let app = app_with("100ms,100ms").await;
    let receiver = Receiver::start(&[500]).await;
    register(&app, &receiver.url).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    write(&app).await;
    let got = receiver.wait_for(2).await;
    assert_eq!(got[0].id, got[1].id, "the same message is retried");
    assert_eq!(got[0].body, got[1].body);
    let mut delivery = Value::Null;
    for _ in 0..100 {
        delivery = endpoints(&app).await[0]["deliveries"][0].clone();
        if delivery["state"] == json!("DELIVERED") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(delivery["state"], json!("DELIVERED"), "{delivery:#}");
    let attempts = delivery["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{delivery:#}");
    assert_eq!(attempts[0]["httpStatus"], json!(500));
    assert_eq!(attempts[1]["httpStatus"], json!(200));
    assert!(attempts[0]["durationMs"].is_i64());
}

#[tokio::test]
async fn gone_disables_the_endpoint() {
    let app = app_with("100ms").await;
    let receiver = Receiver::start(&[410]).await;
    register(&app, &receiver.url).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    write(&app).await;
    receiver.wait_for(1).await;
    let mut endpoint = Value::Null;
    for _ in 0..100 {
        endpoint = endpoints(&app).await[0].clone();
        if endpoint["enabled"] == json!(false) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(endpoint["enabled"], json!(false), "{endpoint:#}");
    assert!(endpoint["disabledReason"].as_str().unwrap().contains("410"));
    write(&app).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.got().len(), 1, "nothing more is sent");
}

#[tokio::test]
async fn exhausting_the_retries_disables_the_endpoint() {
    let app = app_with("50ms").await;
    let receiver = Receiver::start(&[500, 500, 500]).await;
    register(&app, &receiver.url).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    write(&app).await;
    receiver.wait_for(2).await;
    let mut endpoint = Value::Null;
    for _ in 0..100 {
        endpoint = endpoints(&app).await[0].clone();
        let settled = endpoint["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["state"] == json!("FAILED"));
        if endpoint["enabled"] == json!(false) && settled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(endpoint["enabled"], json!(false), "{endpoint:#}");
    assert_eq!(
        endpoint["deliveries"][0]["state"],
        json!("FAILED"),
        "{endpoint:#}"
    );
}

#[tokio::test]
async fn private_targets_are_refused_unless_allowed() {
    let app = TestApp::with_fixture("indicators").await;
    let (key, _) =
        anju::auth::apikey::create(&app.db.db, "sync", Role::Integration, "522732", None)
            .await
            .unwrap();
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://10.0.0.1/hook",
        "http://[::1]/hook",
        "ftp://example.com/hook",
    ] {
        let body = app
            .query(
                CREATE,
                json!({ "input": { "url": url, "apiKeyId": key.id } }),
            )
            .await;
        let payload = &body["data"]["createWebhookEndpoint"];
        assert_eq!(payload["endpoint"], Value::Null, "{body:#}");
        assert_eq!(
            payload["userErrors"][0]["field"],
            json!(["url"]),
            "{body:#}"
        );
        assert_eq!(payload["userErrors"][0]["code"], json!("BAD_USER_INPUT"));
    }
    // Only admins manage webhooks, and only for integration keys.
    let officer = app.token(Role::Officer, "522732", None).await;
    let body = app
        .query_as(Some(&officer), "{ webhookEndpoints { id } }", json!({}))
        .await;
    assert_eq!(crate::support::error_code(&body), "FORBIDDEN");
    let (viewer_key, _) = anju::auth::apikey::create(&app.db.db, "v", Role::Viewer, "522732", None)
        .await
        .unwrap();
    let body = app
        .query(
            CREATE,
            json!({ "input": { "url": "https://203.0.113.7/hook", "apiKeyId": viewer_key.id } }),
        )
        .await;
    assert_eq!(
        body["data"]["createWebhookEndpoint"]["userErrors"][0]["field"],
        json!(["apiKeyId"]),
        "{body:#}"
    );
}

#[tokio::test]
async fn two_replicas_send_each_notification_once() {
    let one = app_with("100ms").await;
    let two = TestApp::spawn_with(one.db.share().await, config("100ms")).await;
    let receiver = Receiver::start(&[]).await;
    register(&one, &receiver.url).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..4 {
        write(if i % 2 == 0 { &one } else { &two }).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    receiver.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = receiver.got();
    let mut ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    ids.sort();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "a message was sent twice: {got:#?}");
    let stored = endpoints(&one).await[0]["deliveries"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(stored, n, "every notification enqueued once and sent once");
}

#[tokio::test]
async fn deliveries_survive_a_restart() {
    // The receiver is down: its port is reserved, nobody listens.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = reserved.local_addr().unwrap().port();
    drop(reserved);
    let url = format!("http://127.0.0.1:{port}/hook");
    let first = app_with("1s").await;
    register(&first, &url).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    write(&first).await;
    // Wait for the first failed attempt, then stop between attempts.
    for _ in 0..100 {
        let d = &endpoints(&first).await[0]["deliveries"][0];
        if d["attempts"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    first.stop();
    let receiver = Receiver::start_on(
        tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap(),
        &[],
    );
    let second = TestApp::spawn_with(first.db.share().await, config("100ms")).await;
    let got = receiver.wait_for(1).await;
    let delivery = &endpoints(&second).await[0]["deliveries"][0];
    assert_eq!(delivery["id"], json!(got[0].id), "{delivery:#}");
}

#[tokio::test]
async fn after_rotation_both_secrets_sign() {
    let app = app_with("100ms").await;
    let receiver = Receiver::start(&[]).await;
    let (id, old) = register(&app, &receiver.url).await;
    let body = app
        .query(
            "mutation($input: WebhookEndpointInput!) { rotateWebhookSecret(input: $input) { secret userErrors { message } } }",
            json!({ "input": { "id": id } }),
        )
        .await;
    let new = body["data"]["rotateWebhookSecret"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{body:#}"))
        .to_owned();
    assert_ne!(old, new);
    tokio::time::sleep(Duration::from_millis(300)).await;
    write(&app).await;
    let r = &receiver.wait_for(1).await[0];
    assert_eq!(r.signature.split(' ').count(), 2, "{r:?}");
    assert!(r.signature.split(' ').all(|s| s.starts_with("v1,")));
    assert!(verifies(&old, r) && verifies(&new, r), "{r:?}");

    // Disabled, nothing is sent; enabled again, the next commit is; deleted, it is gone.
    let toggle = |op: &'static str| {
        let app = &app;
        let id = id.clone();
        async move {
            let body = app
                .query(
                    &format!("mutation($input: WebhookEndpointInput!) {{ {op}(input: $input) {{ endpoint {{ enabled }} userErrors {{ message }} }} }}"),
                    json!({ "input": { "id": id } }),
                )
                .await;
            assert_eq!(body["data"][op]["userErrors"], json!([]), "{body:#}");
        }
    };
    toggle("disableWebhookEndpoint").await;
    write(&app).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.got().len(), 1);
    toggle("enableWebhookEndpoint").await;
    write(&app).await;
    receiver.wait_for(2).await;
    toggle("deleteWebhookEndpoint").await;
    assert_eq!(endpoints(&app).await, json!([]));
}
