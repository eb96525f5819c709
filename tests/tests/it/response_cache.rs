//! The whole-response cache: a repeated query runs no SQL, a write makes it fresh again, a
//! response that read personal records is served again to its own caller alone (and audited
//! again), and nothing that carries errors or reads the audit log is ever served from it.

use crate::support::{edit_csv, fixture_copy, without_cost, TestApp, TestRedis};
use anju::auth::Role;
use anju::config::{CacheConfig, ServeConfig};
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

/// The whole-response cache counters: (local hits, shared hits, misses, the caller's own hits).
async fn response_lookups(app: &TestApp) -> (u64, u64, u64, u64) {
    let text = app.metrics().await;
    let value = |outcome: &str| -> u64 {
        let series = format!("anju_response_cache_lookups_total{{outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&series))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("/metrics lacks {series}:\n{text}"))
    };
    (
        value("local_hit"),
        value("shared_hit"),
        value("miss"),
        value("caller_hit"),
    )
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
    let (hits, ..) = response_lookups(&app).await;
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

/// Documents that read personal records, as an officer of the county sees them.
const PERSONAL: [&str; 7] = [
    "{ households(first: 3) { nodes { code headName } } }",
    "{ households(first: 3) { pageInfo { endCursor } } }",
    r#"{ household(code: "H02") { code persons headIdNumber } }"#,
    "{ members(first: 2) { edges { cursor node { name idNumber } } } }",
    "{ homesteads(first: 2) { nodes { areaMu } } }",
    r#"{ site(code: "AZD001") { households { nodes { code phone } } } }"#,
    r#"{ area(code: "522732") { originHouseholds { edges { cursor } } } }"#,
];

/// The records read unmasked, as the audit log lists them: (request id, entity, key, actor,
/// purpose), in order.
async fn unmasked_reads(app: &TestApp) -> Vec<(String, String, String, String, Option<String>)> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    entity::audit_log::Entity::find()
        .filter(entity::audit_log::Column::Action.eq("read_unmasked"))
        .order_by_asc(entity::audit_log::Column::Id)
        .all(&app.db.db)
        .await
        .expect("read the audit log")
        .into_iter()
        .flat_map(|r| {
            let keys: Vec<String> = match &r.entity_keys {
                Some(list) => serde_json::from_str(list).expect("keys are a JSON list"),
                None => vec![r.entity_key.clone()],
            };
            keys.into_iter().map(move |key| {
                (
                    r.request_id.clone(),
                    r.entity.clone(),
                    key,
                    r.actor.clone(),
                    r.purpose.clone(),
                )
            })
        })
        .collect()
}

/// POSTs `query` as `token` with a stated purpose and, when `fresh`, `Cache-Control: no-cache`.
async fn ask(app: &TestApp, token: &str, query: &str, purpose: &str, fresh: bool) -> Value {
    let mut req = app
        .client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(token)
        .header("anju-purpose", purpose)
        .json(&json!({ "query": query }));
    if fresh {
        req = req.header("cache-control", "no-cache");
    }
    let body: Value = req.send().await.expect("send").json().await.expect("json");
    assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
    without_cost(body)
}

#[tokio::test]
async fn personal_records_are_served_again_to_their_own_caller_alone_and_audited_each_time() {
    let redis = TestRedis::start().await;
    let app = with_redis(&redis).await;
    let a = app.token_for("a", Role::Officer, "522732", None).await;
    let b = app.token_for("b", Role::Officer, "522732", None).await;
    for q in PERSONAL {
        let earlier = unmasked_reads(&app).await.len();
        let first = ask(&app, &a, q, "first visit", false).await;
        let audited = unmasked_reads(&app).await;
        let first_reads: Vec<_> = audited[earlier..]
            .iter()
            .map(|r| (r.1.clone(), r.2.clone()))
            .collect();
        // A response that showed records unmasked costs one audit statement each time it is served.
        let audits = u64::from(!first_reads.is_empty());

        // The same caller again: its own response, with no SQL but the audit of what it shows.
        let (local, shared, misses, own) = response_lookups(&app).await;
        let before = app.statements.get();
        assert_eq!(ask(&app, &a, q, "second visit", false).await, first, "{q}");
        assert_eq!(
            app.statements.get(),
            before + audits,
            "`{q}`: SQL beyond the audit"
        );
        assert_eq!(
            response_lookups(&app).await,
            (local, shared, misses, own + 1),
            "`{q}` must be the caller's own hit"
        );
        let now = unmasked_reads(&app).await;
        let again = &now[audited.len()..];
        assert_eq!(
            again
                .iter()
                .map(|r| (r.1.clone(), r.2.clone()))
                .collect::<Vec<_>>(),
            first_reads,
            "`{q}`: a reuse audits every record it shows"
        );
        assert!(again.iter().all(|r| r.3 == "user:a"
            && r.4.as_deref() == Some("second visit")
            && audited[earlier..].iter().all(|f| f.0 != r.0)));

        // Another caller of the same role and area: executed for it, never the first one's.
        let before = app.statements.get();
        assert_eq!(ask(&app, &b, q, "b's visit", false).await, first, "{q}");
        assert!(
            app.statements.get() > before + audits,
            "`{q}` was not executed for b"
        );
        assert_eq!(
            response_lookups(&app).await,
            (local, shared, misses + 1, own + 1),
            "`{q}` must miss for another caller"
        );
        // Asking for a fresh answer executes it.
        let before = app.statements.get();
        ask(&app, &a, q, "refresh", true).await;
        assert!(
            app.statements.get() > before + audits,
            "`{q}` with no-cache was not executed"
        );
        assert_eq!(response_lookups(&app).await.3, own + 1);
    }
    // Counting households reads no one's record: that answer is shared.
    let q = "{ sites(first: 50) { nodes { code indicators { occupancy { rate } } households { totalCount } } } }";
    let first = app.data(q, json!({})).await;
    let before = app.statements.get();
    assert_eq!(app.data(q, json!({})).await, first);
    assert_eq!(app.statements.get(), before);
}

#[tokio::test]
async fn a_write_makes_a_callers_personal_response_fresh() {
    let app = TestApp::with_fixture("indicators").await;
    let officer = app.token(Role::Officer, "522732", None).await;
    let q = "{ households(first: 20) { nodes { code movedInOn } } }";
    let moved = |body: &Value| -> usize {
        body["data"]["households"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .filter(|n| n["movedInOn"].is_string())
            .count()
    };
    let before = ask(&app, &officer, q, "check", false).await;
    assert_eq!(ask(&app, &officer, q, "check", false).await, before);
    import_correction(&app).await;
    let after = ask(&app, &officer, q, "check", false).await;
    assert_eq!(moved(&after), moved(&before) + 1, "{after:#}");
}

#[tokio::test]
async fn the_audit_log_is_never_served_from_the_cache() {
    let app = TestApp::with_fixture("indicators").await;
    let admin = app.admin_token().await;
    let officer = app.token(Role::Officer, "522732", None).await;
    let log = "{ auditLog(first: 1) { totalCount } }";
    let total = |body: &Value| {
        body["data"]["auditLog"]["totalCount"]
            .as_i64()
            .unwrap_or(-1)
    };
    let first = total(&ask(&app, &admin, log, "review", false).await);
    ask(&app, &officer, PERSONAL[0], "visit", false).await;
    let (.., own) = response_lookups(&app).await;
    let second = total(&ask(&app, &admin, log, "review", false).await);
    assert_eq!(
        second,
        first + 1,
        "the read of three households is one entry"
    );
    assert_eq!(response_lookups(&app).await.3, own);
}

#[tokio::test]
async fn personal_responses_are_not_kept_when_their_life_is_zero() {
    let db = crate::support::TestDb::new().await;
    anju::register::import_dir(&db.db, &crate::support::fixture("indicators"))
        .await
        .expect("import fixture");
    let config = ServeConfig {
        cache: CacheConfig {
            personal_ttl_secs: 0,
            ..TestApp::test_cache()
        },
        ..ServeConfig::ephemeral()
    };
    let app = TestApp::spawn_with(db, config).await;
    let officer = app.token(Role::Officer, "522732", None).await;
    let q = PERSONAL[0];
    let first = ask(&app, &officer, q, "visit", false).await;
    let before = app.statements.get();
    assert_eq!(ask(&app, &officer, q, "visit", false).await, first);
    assert!(
        app.statements.get() > before + 1,
        "a personal response was kept"
    );
    assert_eq!(response_lookups(&app).await.3, 0);
}

#[tokio::test]
async fn errors_are_not_cached() {
    let app = TestApp::with_fixture("indicators").await;
    let q = r#"{ indicators(scope: { areaCode: "999999" }, asOf: "2020-06-30") { asOf } }"#;
    let first = app.query(q, json!({})).await;
    let (hits, ..) = response_lookups(&app).await;
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
    let (hits, ..) = response_lookups(&app).await;

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

#[tokio::test]
async fn identical_requests_arriving_together_are_executed_once() {
    let redis = TestRedis::start().await;
    let app = with_redis(&redis).await;
    // What one execution costs, measured on a twin document (another key, the same SQL), once
    // the process knows where the caller's area stands (see `statements`).
    let twin = "{ sites(first: 10) { nodes { code name } } }";
    app.data("{ sites(first: 1) { nodes { code } } }", json!({}))
        .await;
    let before = app.statements.get();
    let alone = app.data(twin, json!({})).await;
    let once = app.statements.get() - before;
    assert!(once > 0, "the twin ran no SQL");

    let q = "{ sites(first: 10) { nodes { code name } } } # together";
    let hits = |(local, shared, ..): (u64, u64, u64, u64)| local + shared;
    let hits_before = hits(response_lookups(&app).await);
    let before = app.statements.get();
    let answers = futures::future::join_all((0..8).map(|_| app.data(q, json!({})))).await;
    assert!(answers.iter().all(|a| *a == alone), "{answers:#?}");
    assert_eq!(
        app.statements.get() - before,
        once,
        "eight identical requests must cost one execution"
    );
    // The other seven are answered from the cache: from this process's memory, or from Redis
    // when they look between the two layers' writes.
    assert_eq!(hits(response_lookups(&app).await), hits_before + 7);
}

#[tokio::test]
async fn a_mutation_is_never_counted_or_coalesced_as_a_cacheable_query() {
    let app = TestApp::with_fixture("indicators").await;
    let admin = app.admin_token().await;
    let write = "mutation($input: RecordWorkCompletionInput!) { \
                 recordWorkCompletion(input: $input) { work { version } userErrors { code } } }";
    let input = json!({ "input": {
        "idempotencyKey": "a-mutation-is-no-cache-miss",
        "code": "AZD001-W5",
        "version": 1,
        "completedOn": "2020-06-30",
    } });
    let misses = response_lookups(&app).await.2;
    let first = without_cost(app.query_as(Some(&admin), write, input.clone()).await);
    assert_eq!(
        first["data"]["recordWorkCompletion"]["work"]["version"], 2,
        "{first:#}"
    );
    // The same mutation again is replayed for its idempotency key, not looked up as a query.
    let again = without_cost(app.query_as(Some(&admin), write, input).await);
    assert_eq!(again, first);
    assert_eq!(
        response_lookups(&app).await.2,
        misses,
        "a mutation counted as a miss"
    );
    // A query that goes on to execute is the one miss.
    app.query_as(
        Some(&admin),
        "{ sites(first: 1) { nodes { code } } }",
        json!({}),
    )
    .await;
    assert_eq!(response_lookups(&app).await.2, misses + 1);
}
