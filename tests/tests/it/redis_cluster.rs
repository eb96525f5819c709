//! The shared cache on a Redis Cluster (`REDIS_URL` naming several nodes): aggregates, whole
//! responses, the generations' mirror, persisted queries and rate limits, spread over three
//! masters, shared by two replicas.

use crate::support::{error_code, TestApp, TestDb, TestRedisCluster};
use anju::auth::Role;
use anju::config::{CacheConfig, ServeConfig};
use anju::http::persisted::sha256_hex;
use serde_json::{json, Value};

const INDICATORS: &str = r#"{ indicators(scope: { areaCode: "520000" }, asOf: "2020-12-31") { occupancy { numerator denominator } }
  site(code: "AZD002") { indicators(asOf: "2020-12-31") { occupancy { numerator denominator } } } }"#;

fn config(cluster: &TestRedisCluster, prefix: &str, limits: &str) -> ServeConfig {
    ServeConfig {
        cache: CacheConfig {
            redis_url: Some(cluster.url()),
            prefix: prefix.into(),
            redis_timeout_ms: 2000,
            ..CacheConfig::default()
        },
        rate_limits: limits.into(),
        ..ServeConfig::ephemeral()
    }
}

async fn post(app: &TestApp, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = app.client.post(format!("{}/graphql", app.base)).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("send request");
    (
        resp.status().as_u16(),
        resp.json().await.expect("JSON response"),
    )
}

/// Two replicas on one database and one cluster: what one computes the other reads from the
/// cluster, whose keys lie on every master (a request touches several slots, and nodes); a
/// write through one is seen by the other at once.
#[tokio::test]
async fn the_cache_lives_on_a_cluster_shared_by_replicas() {
    let cluster = TestRedisCluster::start().await;
    let prefix = format!("anju-test-{}", uuid::Uuid::new_v4().simple());
    let db = TestDb::with_fixture("indicators").await;
    let second_db = db.share().await;
    let one = TestApp::spawn_with(db, config(&cluster, &prefix, "admin=20000:1000")).await;
    let two = TestApp::spawn_with(second_db, config(&cluster, &prefix, "admin=20000:1000")).await;
    for app in [&one, &two] {
        app.cache
            .wait_connected(std::time::Duration::from_secs(5))
            .await;
        assert_eq!(app.cache.status().await, ("redis", true));
    }
    let token = one.admin_token().await;
    let (status, first) = post(&one, Some(&token), json!({ "query": INDICATORS })).await;
    assert_eq!(status, 200, "{first:#}");
    assert_eq!(
        first["data"]["indicators"]["occupancy"],
        json!({ "numerator": 7, "denominator": 8 })
    );
    let statements = two.statements.get();
    let (_, again) = post(&two, Some(&token), json!({ "query": INDICATORS })).await;
    assert_eq!(again["data"], first["data"]);
    assert!(
        two.statements.get() - statements <= 2,
        "the other replica reads what the first computed from the cluster"
    );
    // The keys are spread over the masters: no command of the cache needs them in one slot.
    let holding = cluster
        .ports
        .iter()
        .filter(|p| !cluster.keys(**p, &prefix).is_empty())
        .count();
    assert!(holding >= 2, "keys on {holding} master(s) only");

    // A write through the second replica: the first sees it at once (its mirror of the
    // generations is raised on the cluster).
    let body = json!({
        "query": "mutation($input: RecordMoveInInput!) { recordMoveIn(input: $input) { userErrors { message } } }",
        "variables": { "input": { "idempotencyKey": uuid::Uuid::new_v4().simple().to_string(),
                                  "code": "H05", "version": 1, "movedInOn": "2020-12-31" } }
    });
    let (status, wrote) = post(&two, Some(&token), body).await;
    assert_eq!(
        (status, &wrote["data"]["recordMoveIn"]["userErrors"]),
        (200, &json!([])),
        "{wrote:#}"
    );
    let (_, after) = post(&one, Some(&token), json!({ "query": INDICATORS })).await;
    assert_eq!(
        after["data"]["indicators"]["occupancy"],
        json!({ "numerator": 8, "denominator": 8 })
    );
    assert_eq!(
        after["data"]["site"]["indicators"]["occupancy"],
        json!({ "numerator": 2, "denominator": 2 })
    );
}

/// A persisted query registered through one replica runs by its hash on the other; a rate-limit
/// bucket kept on the cluster is drawn by both.
#[tokio::test]
async fn persisted_queries_and_rate_limits_are_shared_through_the_cluster() {
    let cluster = TestRedisCluster::start().await;
    let prefix = format!("anju-test-{}", uuid::Uuid::new_v4().simple());
    let db = TestDb::with_fixture("indicators").await;
    let second_db = db.share().await;
    let limits = "officer=100:1";
    let one = TestApp::spawn_with(db, config(&cluster, &prefix, limits)).await;
    let two = TestApp::spawn_with(second_db, config(&cluster, &prefix, limits)).await;
    for app in [&one, &two] {
        app.cache
            .wait_connected(std::time::Duration::from_secs(5))
            .await;
    }

    let doc = "{ __typename }";
    let hash = sha256_hex(doc);
    let by_hash =
        json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } });
    let (_, missing) = post(&two, None, by_hash.clone()).await;
    assert_eq!(error_code(&missing), "PERSISTED_QUERY_NOT_FOUND");
    let mut register = by_hash.clone();
    register["query"] = json!(doc);
    let (status, _) = post(&one, None, register).await;
    assert_eq!(status, 200);
    let (status, ran) = post(&two, None, by_hash).await;
    assert_eq!(
        (status, &ran["data"]),
        (200, &json!({ "__typename": "Query" })),
        "{ran:#}"
    );

    // One bucket of 100 points for the officer, whichever replica it calls: alternating, it
    // runs out after as many requests as on one replica alone.
    let token = one.token(Role::Officer, "522732", None).await;
    let list = json!({ "query": "{ households(first: 10) { nodes { code persons } } }" });
    let (_, first) = post(&one, Some(&token), list.clone()).await;
    let cost = first["extensions"]["cost"]["requestedQueryCost"]
        .as_u64()
        .expect("a cost");
    let mut served = 1;
    let mut refused = None;
    for i in 0..100 {
        let app = if i % 2 == 0 { &two } else { &one };
        let (status, body) = post(app, Some(&token), list.clone()).await;
        if status == 429 {
            refused = Some(body);
            break;
        }
        assert_eq!(status, 200, "{body:#}");
        served += 1;
    }
    let refused = refused.expect("the shared budget ran out");
    assert_eq!(error_code(&refused), "THROTTLED");
    // The bucket restores a point a second: at most one or two more requests than it holds.
    assert!(
        served as u64 <= 100 / cost + 2,
        "{served} requests of cost {cost} from a bucket of 100: the replicas drew on one bucket"
    );
}
