//! Error codes: the engine's own errors are coded by the phase that raised them, and the README's
//! catalogue lists every code the service answers with.

use crate::support::TestApp;
use anju::error::Code;
use reqwest::header::ACCEPT;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The codes of `body`'s errors, in order.
fn codes(body: &Value) -> Vec<&str> {
    body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["extensions"]["code"].as_str().unwrap_or("<none>"))
        .collect()
}

/// POSTs `body` as the specification's media type; the status and the response.
async fn post(app: &TestApp, body: Value) -> (u16, Value) {
    post_as(app, None, body).await
}

/// [`post`] with a bearer token, if any.
async fn post_as(app: &TestApp, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.base))
        .header(ACCEPT, "application/graphql-response+json");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let resp = request.json(&body).send().await.expect("request");
    (resp.status().as_u16(), resp.json().await.expect("JSON"))
}

#[tokio::test]
async fn engine_errors_are_coded_by_the_phase_that_raised_them() {
    let app = TestApp::spawn().await;
    let nested = format!("{{ {} x {} }}", "a { ".repeat(40), "} ".repeat(40));
    let directives = format!(
        "{{ ...F }} fragment F on Query {{ __typename {} }}",
        "@skip(if: false) ".repeat(11)
    );
    let deep = format!(
        r#"{{ area(code: "1") {{ {} code {} }} }}"#,
        "parent { ".repeat(12),
        "} ".repeat(12)
    );
    let costly = "{ areas(first: 100) { nodes { children(first: 100) { nodes { children(first: 100) { nodes { code } } } } } } }";
    let request_errors: Vec<(Value, Vec<&str>)> = vec![
        // Parsing: a syntax error, however the text is broken.
        (
            json!({ "query": "{ area(code: " }),
            vec!["GRAPHQL_PARSE_FAILED"],
        ),
        (
            json!({ "query": "{ households(first: 1e999) { totalCount } }" }),
            vec!["GRAPHQL_PARSE_FAILED"],
        ),
        // Parsed, but no document to run.
        (
            json!({ "query": "{ __typename } { __typename }" }),
            vec!["GRAPHQL_VALIDATION_FAILED"],
        ),
        (
            json!({ "query": nested }),
            vec!["GRAPHQL_VALIDATION_FAILED"],
        ),
        // Validation, whatever its messages quote.
        (
            json!({ "query": r#"{ households(first: "-->") { totalCount } }"# }),
            vec!["GRAPHQL_VALIDATION_FAILED", "GRAPHQL_VALIDATION_FAILED"],
        ),
        // Choosing the operation, after validation.
        (
            json!({ "query": "query A { __typename } query B { __typename }" }),
            vec!["GRAPHQL_VALIDATION_FAILED"],
        ),
        (
            json!({ "query": "query A { __typename }", "operationName": "B" }),
            vec!["GRAPHQL_VALIDATION_FAILED"],
        ),
        // The limits, in the words clients have always read.
        (json!({ "query": directives }), vec!["TOO_MANY_DIRECTIVES"]),
        (json!({ "query": deep }), vec!["QUERY_TOO_DEEP"]),
        (json!({ "query": costly }), vec!["QUERY_TOO_COSTLY"]),
    ];
    // Anonymous requests run on the checked schema throughout; a principal's are admitted
    // there and executed on its twin without extensions: the codes are the same.
    let token = app.admin_token().await;
    for caller in [None, Some(token.as_str())] {
        for (request, expected) in &request_errors {
            let (status, body) = post_as(&app, caller, request.clone()).await;
            assert_eq!(&codes(&body), expected, "{request} {caller:?}: {body:#}");
            assert_eq!(status, 400, "{request} {caller:?}: {body:#}");
            assert!(body.get("data").is_none(), "{request} {caller:?}: {body:#}");
        }
    }
    let message = |body: &Value| body["errors"][0]["message"].as_str().map(str::to_owned);
    let (_, body) = post(&app, request_errors[7].0.clone()).await;
    assert_eq!(
        message(&body).as_deref(),
        Some("The number of directives on the field `__typename` cannot be greater than `10`")
    );
    assert!(
        body["errors"][0]["locations"][0]["line"].is_number(),
        "{body}"
    );
    let (_, body) = post(&app, request_errors[8].0.clone()).await;
    assert_eq!(message(&body).as_deref(), Some("Query is nested too deep."));
    let (_, body) = post(&app, request_errors[9].0.clone()).await;
    assert_eq!(message(&body).as_deref(), Some("Query is too complex."));

    // A field whose argument its type refuses to parse, given as a variable.
    let body = app
        .query_as(
            Some(&token),
            r#"query($d: Date) { indicators(scope: { areaCode: "522732" }, asOf: $d) { asOf } }"#,
            json!({ "d": "2020-02-30" }),
        )
        .await;
    assert_eq!(codes(&body), ["BAD_USER_INPUT"], "{body:#}");
    assert_eq!(body["errors"][0]["path"], json!(["indicators"]), "{body:#}");
    // A date given as a number, written in the document.
    let body = app
        .query_as(
            Some(&token),
            r#"{ indicators(scope: { areaCode: "522732" }, asOf: 5) { asOf } }"#,
            json!({}),
        )
        .await;
    assert_eq!(codes(&body), ["BAD_USER_INPUT"], "{body:#}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("YYYY-MM-DD")),
        "{body:#}"
    );
}

#[tokio::test]
async fn rejections_before_graphql_carry_their_codes() {
    let app = TestApp::spawn().await;
    let url = format!("{}/graphql", app.base);
    let get_mutation = app
        .client
        .get(&url)
        .query(&[("query", "mutation { __typename }")])
        .send()
        .await
        .unwrap();
    assert_eq!(get_mutation.status(), 405);
    let body: Value = get_mutation.json().await.unwrap();
    assert_eq!(codes(&body), ["METHOD_NOT_ALLOWED"], "{body}");
    let html_only = app
        .client
        .post(&url)
        .header(ACCEPT, "text/html")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(html_only.status(), 406);
    let body: Value = html_only.json().await.unwrap();
    assert_eq!(codes(&body), ["NOT_ACCEPTABLE"], "{body}");
}

#[test]
fn the_readme_lists_every_code() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("read README.md");
    let table = readme
        .split_once("### Errors")
        .and_then(|(_, rest)| rest.split_once("\n\n|"))
        .map(|(_, rest)| rest.split("\n\n").next().unwrap_or(""))
        .expect("the README's table of error codes");
    let listed: BTreeSet<&str> = table
        .lines()
        .filter_map(|row| row.strip_prefix("| "))
        .filter_map(|row| row.split(" | ").next())
        .flat_map(|cell| cell.split(", "))
        .filter_map(|code| code.strip_prefix('`')?.strip_suffix('`'))
        .collect();
    let codes: BTreeSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(listed, codes);
}
