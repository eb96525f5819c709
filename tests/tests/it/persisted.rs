//! Automatic persisted queries, shared by replicas, and the allow-list mode.

use crate::support::{error_code, TestApp, TestDb, TestRedis};
use anju::config::{CacheConfig, ServeConfig};
use anju::http::persisted::sha256_hex;
use serde_json::{json, Value};

const DOC: &str = "{ __typename }";

async fn send(app: &TestApp, body: Value) -> (u16, Value) {
    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        crate::support::without_cost(resp.json().await.unwrap()),
    )
}

fn by_hash(hash: &str) -> Value {
    json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } })
}

#[tokio::test]
async fn a_hash_alone_runs_once_the_text_was_registered_on_any_replica() {
    let redis = TestRedis::start().await;
    let cache = CacheConfig {
        redis_url: Some(redis.url()),
        prefix: format!("anju-test-{}", uuid::Uuid::new_v4().simple()),
        ..CacheConfig::default()
    };
    let config = ServeConfig {
        cache,
        ..ServeConfig::ephemeral()
    };
    let one = TestApp::spawn_with(TestDb::new().await, config.clone()).await;
    let two = TestApp::spawn_with(TestDb::new().await, config).await;
    let hash = sha256_hex(DOC);

    let (status, body) = send(&one, by_hash(&hash)).await;
    assert_eq!(
        (status, error_code(&body)),
        (200, "PERSISTED_QUERY_NOT_FOUND")
    );
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");

    let mut register = by_hash(&hash);
    register["query"] = json!(DOC);
    let (status, body) = send(&one, register).await;
    assert_eq!(
        (status, body),
        (200, json!({ "data": { "__typename": "Query" } }))
    );

    for app in [&one, &two] {
        let (status, body) = send(app, by_hash(&hash)).await;
        assert_eq!(
            (status, body),
            (200, json!({ "data": { "__typename": "Query" } }))
        );
    }

    let mut forged = by_hash(&sha256_hex("{ other }"));
    forged["query"] = json!(DOC);
    let (status, body) = send(&one, forged).await;
    assert_eq!((status, error_code(&body)), (400, "BAD_REQUEST"));
}

#[tokio::test]
async fn the_allow_list_runs_registered_documents_only() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("documents.json");
    std::fs::write(&file, serde_json::to_string(&json!([DOC])).unwrap()).unwrap();
    let config = ServeConfig {
        persisted_queries: Some(file),
        ..ServeConfig::ephemeral()
    };
    let app = TestApp::spawn_with(TestDb::new().await, config).await;

    let (status, body) = send(&app, by_hash(&sha256_hex(DOC))).await;
    assert_eq!(
        (status, body),
        (200, json!({ "data": { "__typename": "Query" } }))
    );
    let (status, body) = send(&app, json!({ "query": DOC })).await;
    assert_eq!(
        (status, body),
        (200, json!({ "data": { "__typename": "Query" } }))
    );

    let other = "{ a: __typename }";
    let (status, body) = send(&app, json!({ "query": other })).await;
    assert_eq!(
        (status, error_code(&body)),
        (403, "PERSISTED_QUERY_NOT_ALLOWED")
    );
    let mut register = by_hash(&sha256_hex(other));
    register["query"] = json!(other);
    let (status, body) = send(&app, register).await;
    assert_eq!(
        (status, error_code(&body)),
        (403, "PERSISTED_QUERY_NOT_ALLOWED")
    );
}
