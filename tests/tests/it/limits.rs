//! Abusive documents are refused with their own code before any resolver or SQL runs.
//!
//! The servers counting SQL here use a Redis of their own: without Redis, every request also
//! reads the whole-response cache's generation counter from the database, before its document
//! is even parsed.

use crate::support::{error_code, TestApp, TestDb, TestRedis};
use anju::config::ServeConfig;
use serde_json::{json, Value};

async fn refused(app: &TestApp, query: &str) -> Value {
    let before = app.statements.get();
    let body = app.query(query, json!({})).await;
    assert_eq!(
        app.statements.get(),
        before,
        "no SQL may run for a refused document: {body}"
    );
    assert!(
        body.get("data").is_none(),
        "a refused document has no data: {body}"
    );
    body
}

#[tokio::test]
async fn too_deep_too_costly_too_many_aliases_or_directives() {
    let redis = TestRedis::start().await;
    let app = TestApp::with_fixture_and_redis("indicators", &redis).await;

    let deep = format!(
        r#"{{ area(code: "522732") {{ {} code {} }} }}"#,
        "parent { ".repeat(12),
        "} ".repeat(12)
    );
    assert_eq!(error_code(&refused(&app, &deep).await), "QUERY_TOO_DEEP");

    let costly = "{ areas(first: 100) { nodes { children(first: 100) { nodes { children(first: 100) { nodes { code } } } } } } }";
    assert_eq!(error_code(&refused(&app, costly).await), "QUERY_TOO_COSTLY");

    let aliases = |n: usize| {
        format!(
            "{{ {} }}",
            (0..n)
                .map(|i| format!("a{i}: __typename"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let body = refused(&app, &aliases(31)).await;
    assert_eq!(error_code(&body), "TOO_MANY_ALIASES");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("31 aliases"));
    assert!(app
        .query(&aliases(30), json!({}))
        .await
        .get("errors")
        .is_none());
    let via_fragments = "{ ...F ...F } fragment F on Query { a: __typename b: __typename c: __typename d: __typename e: __typename f: __typename g: __typename h: __typename i: __typename j: __typename k: __typename l: __typename m: __typename n: __typename o: __typename p: __typename }";
    assert_eq!(
        error_code(&refused(&app, via_fragments).await),
        "TOO_MANY_ALIASES"
    );

    let directives = format!("{{ __typename {} }}", "@include(if: true) ".repeat(11));
    assert_eq!(
        error_code(&refused(&app, &directives).await),
        "TOO_MANY_DIRECTIVES"
    );
}

#[tokio::test]
async fn ordinary_pages_stay_within_the_limits() {
    let app = TestApp::with_fixture("indicators").await;
    let q = r#"{ households(first: 100) { totalCount nodes { code site { name township { name } } originVillage { name }
                 members { nodes { name employments { nodes { path employer } } } }
                 homesteads { nodes { areaMu status } } } }
               sites(first: 50) { nodes { code indicators { occupancy { rate } } households { totalCount } } }
               indicatorSeries(scope: { areaCode: "522732" }, from: "2018-01-01", to: "2020-12-31") { asOf } }"#;
    let data = app.data(q, json!({})).await;
    assert_eq!(data["households"]["totalCount"], 8);
    assert_eq!(data["indicatorSeries"].as_array().map(Vec::len), Some(36));
}

#[tokio::test]
async fn production_mode_hides_the_schema_and_graphiql() {
    let config = ServeConfig {
        production: true,
        ..ServeConfig::ephemeral()
    };
    let redis = TestRedis::start().await;
    let app = TestApp::spawn_with_redis(TestDb::new().await, config, &redis).await;
    let body = refused(&app, "{ __schema { types { name } } }").await;
    assert_eq!(error_code(&body), "INTROSPECTION_DISABLED", "{body}");
    let typo = app.query("{ indicatorz { asOf } }", json!({})).await;
    assert!(
        !typo.to_string().contains("Did you mean"),
        "no suggestions in production: {typo}"
    );
    let graphiql = app
        .client
        .get(format!("{}/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(graphiql.status(), 404);

    let dev = TestApp::spawn().await;
    assert!(dev
        .query("{ __schema { queryType { name } } }", json!({}))
        .await
        .get("errors")
        .is_none());
    assert_eq!(
        dev.client
            .get(format!("{}/", dev.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_request_past_its_time_limit_is_stopped() {
    let config = ServeConfig {
        request_timeout_ms: 0,
        ..ServeConfig::ephemeral()
    };
    let db = TestDb::new().await;
    anju::register::import_dir(&db.db, &crate::support::fixture("indicators"))
        .await
        .unwrap();
    let app = TestApp::spawn_with(db, config).await;
    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .json(&json!({ "query": r#"{ indicators(scope: { areaCode: "520000" }) { asOf } }"# }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(error_code(&body), "TIMEOUT");
}
