//! Text the register cannot hold is refused as the caller's mistake, before anything runs.

use crate::support::{error_code, TestApp};
use serde_json::{json, Value};

/// Asserts `body` is a `BAD_USER_INPUT` refusal, with no data, whose message names `place`.
fn refused(body: &Value, place: &str) {
    assert_eq!(error_code(body), "BAD_USER_INPUT", "{body:#}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(place), "{place}: {body:#}");
    assert!(message.contains("NUL"), "{body:#}");
    assert!(body["data"].is_null(), "{body:#}");
}

#[tokio::test]
async fn a_nul_in_any_string_argument_is_bad_user_input_on_every_backend() {
    let app = TestApp::with_fixture("indicators").await;
    let nul = "H0\u{0}1";

    // A variable of a query, and of a mutation's input object.
    let body = app
        .query(
            "query($c: String!) { household(code: $c) { code } }",
            json!({ "c": nul }),
        )
        .await;
    refused(&body, "variable `$c`");
    let body = app
        .query(
            "mutation($input: RecordMoveInInput!) { recordMoveIn(input: $input) { userErrors { code } } }",
            json!({ "input": { "idempotencyKey": "k\u{0}", "code": "H05", "version": 1 } }),
        )
        .await;
    refused(&body, "variable `$input.idempotencyKey`");
    let body = app
        .query(
            "mutation($input: UpdateHouseholdInput!) { updateHousehold(input: $input) { userErrors { code } } }",
            json!({ "input": { "idempotencyKey": "k", "code": "H05", "version": 1, "headName": "蒙\u{0}正华" } }),
        )
        .await;
    refused(&body, "variable `$input.headName`");

    // Written in the document, at the top and deep in an input object.
    let body = app
        .query(r#"{ household(code: "H0\u00001") { code } }"#, json!({}))
        .await;
    refused(&body, "argument `code` of field `household`");
    let body = app
        .query(
            r#"mutation { updateHousehold(input: { idempotencyKey: "k", code: "H05", version: 1, phone: "138\u0000" }) { userErrors { code } } }"#,
            json!({}),
        )
        .await;
    refused(&body, "argument `input.phone` of field `updateHousehold`");
    // Nested lists' arguments too, and filters.
    let body = app
        .query(
            r#"{ households(filter: { areaCode: "5227\u0000" }, first: 1) { nodes { code } } }"#,
            json!({}),
        )
        .await;
    refused(&body, "argument `filter.areaCode` of field `households`");

    // Nothing was written, and the same requests without the NUL work.
    let body = app
        .query(
            "query($c: String!) { household(code: $c) { code headName version } }",
            json!({ "c": "H05" }),
        )
        .await;
    assert_eq!(body["data"]["household"]["headName"], "蒙正华", "{body:#}");
    assert_eq!(body["data"]["household"]["version"], 1, "{body:#}");
}
