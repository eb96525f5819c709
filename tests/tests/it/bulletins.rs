//! Bulletins (CONTRACT §6): what an approval reports, frozen against later corrections, the
//! vintages re-approvals publish, and rankings with the previous month's rates; then the two
//! downloads, read back and compared with the GraphQL `bulletin`. Figures are the hand counts of
//! the `indicators` fixture (tests/fixtures/EXPECTED.md).

use crate::periods::{approve_all, grant, move_in, ok_step, A, B, C, COUNTY};
use crate::support::TestApp;
use anju::auth::Role;
use serde_json::{json, Value};

const BULLETIN: &str = "query($a: String!, $m: String!, $v: Int) { \
    bulletin(areaCode: $a, month: $m, vintage: $v) { area { code } month vintage asOf revised \
    reported { occupancy { numerator denominator rate } occupancyPersons { numerator denominator } } \
    current { occupancy { numerator denominator rate } } \
    occupancy: ranking(indicator: OCCUPANCY) { rank area { code } ratio { numerator denominator rate } previousRate } \
    demolition: ranking(indicator: DEMOLITION) { rank area { code } ratio { numerator denominator } previousRate } } }";

pub(crate) async fn bulletin(app: &TestApp, area: &str, month: &str, vintage: Option<i64>) -> Value {
    app.data(BULLETIN, json!({ "a": area, "m": month, "v": vintage }))
        .await["bulletin"]
        .clone()
}

fn ratio(n: i64, d: i64) -> Value {
    json!({ "numerator": n, "denominator": d })
}

#[tokio::test]
async fn reported_figures_stay_while_current_ones_follow_corrections() {
    let app = TestApp::with_fixture("indicators").await;
    assert_eq!(bulletin(&app, COUNTY, "2020-06", None).await, Value::Null);
    approve_all(&app, "2020-05").await;
    approve_all(&app, "2020-06").await;

    let first = bulletin(&app, COUNTY, "2020-06", None).await;
    assert_eq!(first["vintage"], 1);
    assert_eq!(first["asOf"], "2020-06-30");
    assert_eq!(first["revised"], false);
    // County at T: H01 H02 H03 H04 H06 H08 moved in out of 8; 14 of 18 persons.
    assert_eq!(
        first["reported"],
        json!({ "occupancy": { "numerator": 6, "denominator": 8, "rate": 0.75 },
                "occupancyPersons": ratio(14, 18) })
    );
    // A 4/5, B 2/3, C no households; in May (31 May) A had 3/5 (H02 came on 30 June), B 2/3.
    assert_eq!(
        first["occupancy"],
        json!([
            { "rank": 1, "area": { "code": A }, "ratio": { "numerator": 4, "denominator": 5, "rate": 0.8 }, "previousRate": 0.6 },
            { "rank": 2, "area": { "code": B }, "ratio": { "numerator": 2, "denominator": 3, "rate": 2.0 / 3.0 }, "previousRate": 2.0 / 3.0 },
            { "rank": 3, "area": { "code": C }, "ratio": { "numerator": 0, "denominator": 0, "rate": null }, "previousRate": null },
        ])
    );
    // Demolition: A 1/1 and B 2/2 share the first rank, C 2/4; on 31 May A 1/1, B 1/2 (HS2
    // came down on 30 June), C 1/4 (HS8 on 1 June).
    assert_eq!(
        first["demolition"],
        json!([
            { "rank": 1, "area": { "code": A }, "ratio": ratio(1, 1), "previousRate": 1.0 },
            { "rank": 1, "area": { "code": B }, "ratio": ratio(2, 2), "previousRate": 0.5 },
            { "rank": 3, "area": { "code": C }, "ratio": ratio(2, 4), "previousRate": 0.25 },
        ])
    );

    // A correction under exceptions for A and the county: H05 (2 persons) moved in on 10 June.
    for area in [A, COUNTY] {
        let granted = grant(&app, area, "2020-06").await;
        assert_eq!(granted["data"]["grantLockException"]["userErrors"], json!([]));
    }
    let corrected = move_in(&app, "H05", "2020-06-10").await;
    assert_eq!(corrected["userErrors"], json!([]), "{corrected:#}");
    let after = bulletin(&app, COUNTY, "2020-06", None).await;
    assert_eq!(after["vintage"], 1);
    assert_eq!(after["reported"], first["reported"], "reported figures never change");
    assert_eq!(after["occupancy"], first["occupancy"]);
    assert_eq!(
        after["current"]["occupancy"],
        json!({ "numerator": 7, "denominator": 8, "rate": 0.875 })
    );
    assert_eq!(after["revised"], true);

    // Re-approval, top down then bottom up, publishes vintage 2 and keeps vintage 1.
    let county = app.token_for("county-officer", Role::Officer, COUNTY, None).await;
    ok_step(&app, &county, "unapprovePeriod", COUNTY, "2020-06").await;
    ok_step(&app, &county, "unapprovePeriod", A, "2020-06").await;
    assert_eq!(
        ok_step(&app, &county, "approvePeriod", A, "2020-06").await["vintage"],
        2
    );
    assert_eq!(
        ok_step(&app, &county, "approvePeriod", COUNTY, "2020-06").await["vintage"],
        2
    );
    let second = bulletin(&app, COUNTY, "2020-06", None).await;
    assert_eq!(second["vintage"], 2);
    assert_eq!(second["revised"], false);
    assert_eq!(
        second["reported"],
        json!({ "occupancy": { "numerator": 7, "denominator": 8, "rate": 0.875 },
                "occupancyPersons": ratio(16, 18) })
    );
    assert_eq!(second["occupancy"][0]["ratio"], json!({ "numerator": 5, "denominator": 5, "rate": 1.0 }));
    let kept = bulletin(&app, COUNTY, "2020-06", Some(1)).await;
    assert_eq!(kept["vintage"], 1);
    assert_eq!(kept["reported"], first["reported"]);
    assert_eq!(kept["revised"], true);
    assert_eq!(bulletin(&app, COUNTY, "2020-06", Some(3)).await, Value::Null);
    // The township's own bulletins: vintage 2 as well.
    assert_eq!(bulletin(&app, A, "2020-06", None).await["vintage"], 2);

    // Another township's officer sees neither A's bulletin nor the county's.
    let officer_b = app.token_for("officer-b", Role::Officer, B, None).await;
    let body = app
        .query_as(
            Some(&officer_b),
            "{ a: bulletin(areaCode: \"522732100\", month: \"2020-06\") { vintage } \
               county: bulletin(areaCode: \"522732\", month: \"2020-06\") { vintage } \
               b: bulletin(areaCode: \"522732101\", month: \"2020-06\") { vintage } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"],
        json!({ "a": null, "county": null, "b": { "vintage": 1 } }),
        "{body:#}"
    );
    // Published vintages cannot be rewritten, not even in SQL.
    use sea_orm::ConnectionTrait;
    assert!(app
        .db
        .db
        .execute_unprepared("UPDATE bulletins SET reported = '{}'")
        .await
        .is_err());
}
