//! Rate limits by query cost: budgets per principal, `THROTTLED` with 429 and `Retry-After`,
//! restoration, sharing through Redis, and `extensions.cost` on every response.

use crate::support::{error_code, free_port, TestApp, TestDb};
use anju::auth::Role;
use anju::config::{CacheConfig, ServeConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

/// A list whose cost is a few dozen points.
const LIST: &str = "{ households(first: 10) { nodes { code persons } } }";

/// A server over the `indicators` fixture with `limits` and the given cache.
async fn app_with(db: TestDb, limits: &str, cache: CacheConfig) -> TestApp {
    let mut config = ServeConfig::ephemeral();
    config.rate_limits = limits.into();
    config.cache = cache;
    TestApp::spawn_with(db, config).await
}

/// A cache of this process only, whatever the environment names.
fn memory_cache() -> CacheConfig {
    CacheConfig {
        redis_url: None,
        prefix: format!("anju-test-{}", uuid::Uuid::new_v4().simple()),
        ..CacheConfig::default()
    }
}

struct Answer {
    status: StatusCode,
    retry_after: Option<u64>,
    body: Value,
}

async fn post(app: &TestApp, token: Option<&str>, query: &str) -> Answer {
    let mut req = app
        .client
        .post(format!("{}/graphql", app.base))
        .json(&json!({ "query": query }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("send request");
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().expect("Retry-After in seconds"));
    Answer {
        status,
        retry_after,
        body: resp.json().await.expect("JSON response"),
    }
}

/// Sends `LIST` until the bucket refuses it (at most 100 times) and returns the refusal.
async fn exhaust(app: &TestApp, token: &str) -> Answer {
    for _ in 0..100 {
        let a = post(app, Some(token), LIST).await;
        if a.status == StatusCode::TOO_MANY_REQUESTS {
            return a;
        }
        assert_eq!(a.status, StatusCode::OK, "{:#}", a.body);
        assert!(a.body.get("errors").is_none(), "{:#}", a.body);
    }
    panic!("the budget never ran out");
}

#[tokio::test]
async fn an_exhausted_budget_answers_429_and_runs_nothing() {
    let app = app_with(
        TestDb::with_fixture("indicators").await,
        "officer=100:1",
        memory_cache(),
    )
    .await;
    let token = app.token(Role::Officer, "522732", None).await;
    let first = post(&app, Some(&token), LIST).await;
    let cost = &first.body["extensions"]["cost"];
    let requested = cost["requestedQueryCost"].as_u64().unwrap();
    assert!(requested > 0 && requested <= 100, "{cost}");
    assert_eq!(cost["actualQueryCost"], requested);
    assert_eq!(cost["throttleStatus"]["maximumAvailable"], 100);
    assert_eq!(cost["throttleStatus"]["restoreRate"], 1);
    assert!(
        cost["throttleStatus"]["currentlyAvailable"]
            .as_u64()
            .unwrap()
            <= 100 - requested + 1
    );

    exhaust(&app, &token).await;
    let before = app.statements.get();
    let refused = post(&app, Some(&token), LIST).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{:#}",
        refused.body
    );
    assert_eq!(error_code(&refused.body), "THROTTLED", "{:#}", refused.body);
    assert!(refused.body.get("data").is_none(), "{:#}", refused.body);
    assert!(refused.retry_after.is_some_and(|s| s >= 1));
    let cost = &refused.body["extensions"]["cost"];
    assert_eq!(cost["requestedQueryCost"], requested);
    assert_eq!(cost["actualQueryCost"], 0, "a refusal is not charged");
    assert!(
        cost["throttleStatus"]["currentlyAvailable"]
            .as_u64()
            .unwrap()
            < requested
    );
    // Nothing of the register was read: at most the cache's one read of the register
    // generation (the in-process cache has no Redis to ask), which precedes every request.
    assert!(
        app.statements.get() - before <= 1,
        "SQL ran for the refused request"
    );

    // A cheaper document still fits in what is left.
    let cheap = post(&app, Some(&token), "{ __typename }").await;
    assert_eq!(cheap.status, StatusCode::OK, "{:#}", cheap.body);

    // A document costlier than the whole budget could never run: refused outright.
    let huge = post(
        &app,
        Some(&token),
        "{ households(first: 100) { nodes { code persons } } }",
    )
    .await;
    assert_eq!(
        error_code(&huge.body),
        "QUERY_TOO_COSTLY",
        "{:#}",
        huge.body
    );
    assert!(huge.retry_after.is_none());
}

#[tokio::test]
async fn the_budget_is_restored_over_time() {
    let app = app_with(
        TestDb::with_fixture("indicators").await,
        "officer=100:40",
        memory_cache(),
    )
    .await;
    let token = app.token(Role::Officer, "522732", None).await;
    exhaust(&app, &token).await;
    // Refusals cost nothing, so polling does not delay the restoration.
    for _ in 0..300 {
        let a = post(&app, Some(&token), LIST).await;
        if a.status == StatusCode::OK {
            assert!(a.body.get("errors").is_none(), "{:#}", a.body);
            return;
        }
        assert_eq!(error_code(&a.body), "THROTTLED");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the budget was not restored within 30 s");
}

#[tokio::test]
async fn each_principal_has_its_own_budget() {
    let app = app_with(
        TestDb::with_fixture("indicators").await,
        "officer=100:1,anonymous=100:1",
        memory_cache(),
    )
    .await;
    let one = app
        .token_for("officer-one", Role::Officer, "522732", None)
        .await;
    let two = app
        .token_for("officer-two", Role::Officer, "522732", None)
        .await;
    exhaust(&app, &one).await;
    let a = post(&app, Some(&two), LIST).await;
    assert_eq!(a.status, StatusCode::OK, "{:#}", a.body);
    let full = a.body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
        .as_u64()
        .unwrap();
    assert!(
        full >= 100
            - a.body["extensions"]["cost"]["requestedQueryCost"]
                .as_u64()
                .unwrap()
    );
    // Anonymous callers draw on their address's budget, not on any principal's.
    let anonymous = post(&app, None, r#"{ area(code: "522732") { name } }"#).await;
    assert_eq!(anonymous.status, StatusCode::OK, "{:#}", anonymous.body);
    assert_eq!(
        anonymous.body["extensions"]["cost"]["throttleStatus"]["maximumAvailable"],
        100
    );
}

#[tokio::test]
async fn replicas_share_a_budget_through_redis() {
    let redis = std::env::var("ANJU_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let cache = CacheConfig {
        redis_url: redis.clone(),
        prefix: format!("anju-test-{}", uuid::Uuid::new_v4().simple()),
        ..CacheConfig::default()
    };
    let a = app_with(
        TestDb::with_fixture("indicators").await,
        "officer=100:1",
        cache.clone(),
    )
    .await;
    let b = app_with(a.db.share().await, "officer=100:1", cache).await;
    a.cache.wait_connected(Duration::from_secs(5)).await;
    b.cache.wait_connected(Duration::from_secs(5)).await;
    let token = a.token(Role::Officer, "522732", None).await;
    exhaust(&a, &token).await;
    let other = post(&b, Some(&token), LIST).await;
    if redis.is_some() {
        // One bucket for the principal, wherever its requests land.
        assert_eq!(
            other.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{:#}",
            other.body
        );
        assert_eq!(error_code(&other.body), "THROTTLED");
    } else {
        // Without Redis each replica keeps its own buckets.
        assert_eq!(other.status, StatusCode::OK, "{:#}", other.body);
    }
}

#[tokio::test]
async fn an_unreachable_redis_never_fails_a_request() {
    let cache = CacheConfig {
        redis_url: Some(format!("redis://127.0.0.1:{}", free_port())),
        prefix: format!("anju-test-{}", uuid::Uuid::new_v4().simple()),
        redis_timeout_ms: 20,
        ..CacheConfig::default()
    };
    let app = app_with(
        TestDb::with_fixture("indicators").await,
        "officer=100:1",
        cache,
    )
    .await;
    let token = app.token(Role::Officer, "522732", None).await;
    let a = post(&app, Some(&token), LIST).await;
    assert_eq!(a.status, StatusCode::OK, "{:#}", a.body);
    assert!(
        a.body["extensions"]["cost"]["requestedQueryCost"]
            .as_u64()
            .unwrap()
            > 0
    );
    // The process's own bucket still limits.
    let refused = exhaust(&app, &token).await;
    assert_eq!(error_code(&refused.body), "THROTTLED");
}

#[tokio::test]
async fn every_response_reports_its_cost() {
    let app = TestApp::with_fixture("indicators").await;
    let token = app.admin_token().await;
    for (who, query) in [
        (Some(&token), LIST),
        (Some(&token), "{ nope }"),
        (Some(&token), "{ households("),
        (Some(&token), r#"mutation { __typename }"#),
        (None, r#"{ site(code: "AZD001") { name } }"#),
        (None, r#"{ households { totalCount } }"#),
    ] {
        let a = post(&app, who.map(String::as_str), query).await;
        let cost = &a.body["extensions"]["cost"];
        assert!(cost["requestedQueryCost"].is_u64(), "{query}: {:#}", a.body);
        assert!(cost["actualQueryCost"].is_u64(), "{query}: {:#}", a.body);
        for f in ["maximumAvailable", "currentlyAvailable", "restoreRate"] {
            assert!(
                cost["throttleStatus"][f].is_u64(),
                "{query}: {f}: {:#}",
                a.body
            );
        }
    }
}

#[tokio::test]
async fn a_response_from_the_cache_is_charged_like_the_first() {
    let app = app_with(
        TestDb::with_fixture("indicators").await,
        "viewer=1000:1",
        memory_cache(),
    )
    .await;
    let token = app.token(Role::Viewer, "522732", None).await;
    let q = r#"{ indicators(scope: { areaCode: "522732" }, asOf: "2020-06-30") { occupancy { rate } } }"#;
    let first = post(&app, Some(&token), q).await;
    let before = app.statements.get();
    let second = post(&app, Some(&token), q).await;
    assert_eq!(first.body["data"], second.body["data"]);
    // The second answer came from the response cache (no SQL beyond the generation read)...
    assert!(app.statements.get() - before <= 1);
    // ...and was charged the same cost, reported in its own extensions.
    let (a, b) = (
        &first.body["extensions"]["cost"],
        &second.body["extensions"]["cost"],
    );
    let cost = a["requestedQueryCost"].as_u64().unwrap();
    assert!(cost > 0);
    assert_eq!(b["requestedQueryCost"], cost);
    assert_eq!(b["actualQueryCost"], cost);
    let left = |c: &Value| c["throttleStatus"]["currentlyAvailable"].as_u64().unwrap();
    assert!(left(b) + cost <= left(a) + 1, "{a} then {b}");
}
