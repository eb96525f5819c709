//! The whole-response cache: a repeated query runs no SQL, a write makes it fresh again, and
//! nothing that reads personal records or carries errors is ever served from it.

use crate::support::{edit_csv, fixture_copy, TestApp, TestRedis};
use anju::http::persisted::sha256_hex;
use serde_json::{json, Value};

const OCCUPANCY: &str = r#"query Occupancy($asOf: Date!) {
  indicators(scope: { areaCode: "522732" }, asOf: $asOf) { occupancy { numerator denominator } }
}"#;

/// A server over the `indicators` fixture with a Redis of the test's own, so generation reads
/// cost no SQL and a cached response costs none at all.
async fn with_redis(redis: &TestRedis) -> TestApp {
    TestApp::with_fixture_and_redis("indicators", redis).await
}

fn occupancy(body: &Value) -> (i64, i64) {
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
    let o = &body["data"]["indicators"]["occupancy"];
    (
        o["numerator"].as_i64().unwrap_or(-1),
        o["denominator"].as_i64().unwrap_or(-1),
    )
}

/// The whole-response cache counters: (local hits, shared hits, misses).
async fn response_lookups(app: &TestApp) -> (u64, u64, u64) {
    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let value = |outcome: &str| -> u64 {
        let series = format!("anju_response_cache_lookups_total{{outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&series))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("/metrics lacks {series}:\n{text}"))
    };
    (value("local_hit"), value("shared_hit"), value("miss"))
}

/// The correction of `cache.rs`: H05 moved in on 2020-06-01, so the county's occupancy on
/// 2020-06-30 goes from 6/8 to 7/8.
async fn import_correction(app: &TestApp) {
    let fix = fixture_copy("indicators");
    edit_csv(
        fix.path(),
        "households.csv",
        "522732102202,AZD002,2,true,,,",
        "522732102202,AZD002,2,true,2020-06-01,,",
    );
    anju::register::import_dir(&app.db.db, fix.path())
        .await
        .expect("import correction");
    app.cache
        .publish_generations()
        .await
        .expect("publish generations");
}

#[tokio::test]
async fn a_repeated_query_runs_no_sql_and_an_import_makes_it_fresh() {
    let redis = TestRedis::start().await;
    let app = with_redis(&redis).await;
    let vars = json!({ "asOf": "2020-06-30" });
    assert_eq!(occupancy(&app.query(OCCUPANCY, vars.clone()).await), (6, 8));
    let before = app.statements.get();
    let (hits, _, _) = response_lookups(&app).await;
    for _ in 0..3 {
        assert_eq!(occupancy(&app.query(OCCUPANCY, vars.clone()).await), (6, 8));
    }
    assert_eq!(
        app.statements.get(),
        before,
        "a cached response must run no SQL"
    );
    assert_eq!(response_lookups(&app).await.0, hits + 3);

    import_correction(&app).await;
    assert_eq!(occupancy(&app.query(OCCUPANCY, vars.clone()).await), (7, 8));
    let before = app.statements.get();
    assert_eq!(occupancy(&app.query(OCCUPANCY, vars).await), (7, 8));
    assert_eq!(app.statements.get(), before);
}

#[tokio::test]
async fn an_import_makes_cached_responses_fresh_without_redis_too() {
    let app = TestApp::with_fixture("indicators").await;
    let vars = json!({ "asOf": "2020-06-30" });
    for _ in 0..2 {
        assert_eq!(occupancy(&app.query(OCCUPANCY, vars.clone()).await), (6, 8));
    }
    let aggregates = app.statements.aggregates();
    import_correction(&app).await;
    assert_eq!(occupancy(&app.query(OCCUPANCY, vars.clone()).await), (7, 8));
    assert_eq!(app.statements.aggregates(), aggregates + 1);
    assert_eq!(occupancy(&app.query(OCCUPANCY, vars).await), (7, 8));
}

#[tokio::test]
async fn different_variables_get_their_own_responses() {
    let app = TestApp::with_fixture("indicators").await;
    for _ in 0..2 {
        let on_t = app.query(OCCUPANCY, json!({ "asOf": "2020-06-30" })).await;
        let at_e = app.query(OCCUPANCY, json!({ "asOf": "2020-12-31" })).await;
        assert_eq!(occupancy(&on_t), (6, 8));
        assert_eq!(occupancy(&at_e), (7, 8));
    }
    // Another operation of one document is another response.
    let two = r#"query A { a: __typename } query B { b: __typename }"#;
    for _ in 0..2 {
        for (name, field) in [("A", "a"), ("B", "b")] {
            let resp = app
                .client
                .post(format!("{}/graphql", app.base))
                .json(&json!({ "query": two, "operationName": name }))
                .send()
                .await
                .expect("request");
            let body: Value = resp.json().await.expect("json");
            assert_eq!(body["data"], json!({ field: "Query" }));
        }
    }
}

#[tokio::test]
async fn personal_records_are_never_served_from_the_response_cache() {
    let redis = TestRedis::start().await;
    let app = with_redis(&redis).await;
    for q in [
        "{ households(first: 3) { nodes { code headName } } }",
        "{ households(first: 3) { pageInfo { endCursor } } }",
        r#"{ household(code: "522732102202") { code persons } }"#,
        "{ members(first: 2) { nodes { name } } }",
        "{ homesteads(first: 2) { nodes { areaMu } } }",
        r#"{ site(code: "AZD001") { households { nodes { code } } } }"#,
        r#"{ area(code: "522732") { originHouseholds { edges { cursor } } } }"#,
    ] {
        let first = app.data(q, json!({})).await;
        let (hits, _, misses) = response_lookups(&app).await;
        let before = app.statements.get();
        assert_eq!(app.data(q, json!({})).await, first, "{q}");
        assert!(
            app.statements.get() > before,
            "`{q}` was answered without SQL the second time"
        );
        assert_eq!(
            response_lookups(&app).await,
            (hits, 0, misses + 1),
            "`{q}` must miss the response cache"
        );
    }
    // Counting households reads no one's record: that answer is cached.
    let q = "{ sites(first: 50) { nodes { code indicators { occupancy { rate } } households { totalCount } } } }";
    let first = app.data(q, json!({})).await;
    let before = app.statements.get();
    assert_eq!(app.data(q, json!({})).await, first);
    assert_eq!(app.statements.get(), before);
}

#[tokio::test]
async fn errors_are_not_cached() {
    let app = TestApp::with_fixture("indicators").await;
    let q = r#"{ indicators(scope: { areaCode: "999999" }, asOf: "2020-06-30") { asOf } }"#;
    let first = app.query(q, json!({})).await;
    let (hits, _, _) = response_lookups(&app).await;
    let second = app.query(q, json!({})).await;
    for body in [&first, &second] {
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{body}"
        );
    }
    // Each error names its own request: the second was executed, not replayed.
    assert_ne!(
        first["errors"][0]["extensions"]["requestId"],
        second["errors"][0]["extensions"]["requestId"]
    );
    assert_eq!(response_lookups(&app).await.0, hits);
}

#[tokio::test]
async fn get_post_persisted_queries_and_both_media_types_share_cached_responses() {
    let app = TestApp::with_fixture("indicators").await;
    let q = r#"{ indicators(scope: { areaCode: "522732" }, asOf: "2020-06-30") { occupancy { numerator denominator } } }"#;
    // Every request here is anonymous: responses are shared within one caller scope only.
    assert_eq!(occupancy(&app.query_as(None, q, json!({})).await), (6, 8));
    let (hits, _, _) = response_lookups(&app).await;

    let get = app
        .client
        .get(format!("{}/graphql", app.base))
        .query(&[("query", q)])
        .header("accept", "application/graphql-response+json")
        .send()
        .await
        .expect("GET");
    assert_eq!(get.status(), 200);
    assert_eq!(
        get.headers()["content-type"],
        "application/graphql-response+json; charset=utf-8"
    );
    assert_eq!(occupancy(&get.json().await.expect("json")), (6, 8));

    let hash = sha256_hex(q);
    let persisted =
        json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } });
    let mut register = persisted.clone();
    register["query"] = json!(q);
    for body in [register, persisted] {
        let resp = app
            .client
            .post(format!("{}/graphql", app.base))
            .json(&body)
            .send()
            .await
            .expect("POST");
        assert_eq!(
            resp.headers()["content-type"],
            "application/json; charset=utf-8"
        );
        assert_eq!(occupancy(&resp.json().await.expect("json")), (6, 8));
    }
    assert_eq!(response_lookups(&app).await.0, hits + 3);
}

#[tokio::test]
async fn callers_of_different_scopes_never_share_a_response() {
    use anju::auth::Role;
    let app = TestApp::with_fixture("indicators").await;
    let q = "{ sites(first: 10) { nodes { code } } }";
    let codes = |body: &Value| -> Vec<String> {
        body["data"]["sites"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["code"].as_str().unwrap().to_owned())
            .collect()
    };
    let town_100 = app.token(Role::Officer, "522732100", None).await;
    let town_101 = app.token(Role::Officer, "522732101", None).await;
    let county = app.token(Role::Viewer, "522732", None).await;
    for _ in 0..2 {
        // Asked twice each: the second time from the cache, still each scope's own answer.
        assert_eq!(
            codes(&app.query_as(Some(&town_100), q, json!({})).await),
            ["AZD001", "AZD002"]
        );
        assert_eq!(
            codes(&app.query_as(Some(&town_101), q, json!({})).await),
            ["AZD003"]
        );
        assert_eq!(
            codes(&app.query_as(Some(&county), q, json!({})).await),
            ["AZD001", "AZD002", "AZD003"]
        );
        assert!(app.query_as(None, q, json!({})).await["data"]["sites"]["nodes"].is_array());
    }
}
