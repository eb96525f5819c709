//! Operations: metrics per operation, readiness during shutdown.

use crate::support::{TestApp, TestDb};
use anju::config::ServeConfig;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn metrics_count_requests_by_operation_and_rejections_by_code() {
    let app = TestApp::spawn().await;
    for _ in 0..2 {
        let body = app.query("query Typename { __typename }", json!({})).await;
        assert!(body.get("errors").is_none());
    }
    let _ = app.query("query Broken { nope }", json!({})).await;
    let no_type = app
        .client
        .post(format!("{}/graphql", app.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(no_type.status(), 415);
    let text = app.metrics().await;
    for line in [
        "anju_graphql_requests_total{operation=\"Typename\"} 2",
        "anju_graphql_errors_total{code=\"GRAPHQL_VALIDATION_FAILED\",operation=\"Broken\"} 1",
        "anju_http_rejections_total{code=\"UNSUPPORTED_MEDIA_TYPE\"} 1",
        "anju_graphql_request_duration_seconds_count{operation=\"Typename\"} 2",
        "anju_db_pool_connections{state=\"idle\"}",
        "anju_cache_lookups_total{outcome=\"miss\"}",
    ] {
        assert!(text.contains(line), "/metrics lacks `{line}`:\n{text}");
    }
}

#[tokio::test]
async fn shutdown_turns_readiness_off_while_requests_are_still_served() {
    let db = TestDb::new().await;
    let config = ServeConfig {
        shutdown_grace_ms: 600,
        ..ServeConfig::ephemeral()
    };
    let app = anju::startup::Application::build(db.config.clone(), config)
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(
        client
            .get(format!("{base}/livez"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let body: serde_json::Value = client
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        crate::support::without_cost(body),
        json!({ "data": { "__typename": "Query" } })
    );

    let finished = tokio::time::timeout(Duration::from_secs(5), server).await;
    assert!(finished.is_ok(), "the server stops after the grace period");
}
