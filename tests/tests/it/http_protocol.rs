//! GraphQL over HTTP: the specification's audits, and the status codes clients rely on.

use crate::support::TestApp;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// Runs the `graphql-http` package's audits (all 61: MUST, SHOULD and MAY) against the server.
#[tokio::test]
async fn the_graphql_over_http_audits_all_pass() {
    let audit = Path::new(env!("CARGO_MANIFEST_DIR")).join("http-audit");
    if !audit.join("node_modules/graphql-http").exists() {
        let status = Command::new("npm")
            .arg("install")
            .current_dir(&audit)
            .status()
            .expect("npm (Node.js) is needed to run the GraphQL-over-HTTP audits");
        assert!(
            status.success(),
            "npm install failed in {}",
            audit.display()
        );
    }
    let app = TestApp::spawn().await;
    let url = format!("{}/graphql", app.base);
    let out = tokio::process::Command::new("node")
        .arg("audit.mjs")
        .arg(&url)
        .current_dir(&audit)
        .output()
        .await
        .expect("run node audit.mjs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "audits failed:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("61 passed, 0 failed"), "{report}");
}

async fn post(app: &TestApp, accept: &str, body: Value) -> reqwest::Response {
    app.client
        .post(format!("{}/graphql", app.base))
        .header(ACCEPT, accept)
        .json(&body)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn request_errors_are_400_with_the_specification_media_type_and_200_with_json() {
    let app = TestApp::spawn().await;
    let resp = post(&app, GRAPHQL_RESPONSE, json!({ "query": "{ nope" })).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with(GRAPHQL_RESPONSE));
    let body: Value = resp.json().await.unwrap();
    assert!(
        body.get("data").is_none(),
        "a request error has no data: {body}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_PARSE_FAILED"
    );

    let resp = post(&app, "application/json", json!({ "query": "{ nope }" })).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );

    let resp = post(&app, GRAPHQL_RESPONSE, json!({ "query": "{ __typename }" })).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        crate::support::without_cost(resp.json::<Value>().await.unwrap()),
        json!({ "data": { "__typename": "Query" } })
    );
}

#[tokio::test]
async fn malformed_requests_are_refused_before_execution() {
    let app = TestApp::spawn().await;
    let url = format!("{}/graphql", app.base);
    let no_type = app
        .client
        .post(&url)
        .body(r#"{"query":"{ __typename }"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(no_type.status(), 415);
    let batch = post(
        &app,
        "application/json",
        json!([{ "query": "{ __typename }" }]),
    )
    .await;
    assert_eq!(batch.status(), 400);
    let get_mutation = app
        .client
        .get(&url)
        .query(&[("query", "mutation { __typename }")])
        .header(ACCEPT, GRAPHQL_RESPONSE)
        .send()
        .await
        .unwrap();
    assert_eq!(get_mutation.status(), 405);
    assert_eq!(get_mutation.headers()["allow"], "POST");
    let get_query = app
        .client
        .get(&url)
        .query(&[("query", "{ __typename }")])
        .send()
        .await
        .unwrap();
    assert_eq!(get_query.status(), 200);
    let too_big = format!(
        r#"{{"query":"{{ __typename }}","extensions":{{"pad":"{}"}}}}"#,
        "x".repeat(70 * 1024)
    );
    let big = app
        .client
        .post(&url)
        .header(CONTENT_TYPE, "application/json")
        .body(too_big)
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    let html_only = app
        .client
        .post(&url)
        .header(ACCEPT, "text/html")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(html_only.status(), 406);
}
