//! The GraphQL API over HTTP: lookups, connections, filters, indicators and errors, against the
//! hand-counted `indicators` fixture (see tests/fixtures/indicators/EXPECTED.md).

use crate::support::{error_code, TestApp};
use serde_json::{json, Value};

const FIXTURE: &str = "indicators";

fn ratio(v: &Value) -> (i64, i64) {
    (
        v["numerator"].as_i64().unwrap_or(-1),
        v["denominator"].as_i64().unwrap_or(-1),
    )
}

fn codes(conn: &Value, field: &str) -> Vec<String> {
    conn["edges"]
        .as_array()
        .map(|edges| {
            edges
                .iter()
                .map(|e| e["node"][field].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn area_lookup_walks_the_tree() {
    let app = TestApp::with_fixture(FIXTURE).await;
    let data = app
        .data(
            r#"{ area(code: "522732101") { code name level parentCode povertyVillage
                  parent { code name level }
                  ancestors { code }
                  children { totalCount edges { node { code level } } } } }"#,
            json!({}),
        )
        .await;
    let area = &data["area"];
    assert_eq!(area["name"], "乐业镇");
    assert_eq!(area["level"], "TOWNSHIP");
    assert_eq!(area["parentCode"], "522732");
    assert_eq!(area["parent"]["code"], "522732");
    assert_eq!(area["parent"]["level"], "COUNTY");
    let ancestors: Vec<&str> = area["ancestors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(ancestors, ["520000", "522700", "522732"]);
    assert_eq!(area["children"]["totalCount"], 1);
    assert_eq!(codes(&area["children"], "code"), ["522732101201"]);
    assert_eq!(area["children"]["edges"][0]["node"]["level"], "VILLAGE");
}

#[tokio::test]
async fn unknown_codes_give_null() {
    let app = TestApp::with_fixture(FIXTURE).await;
    let data = app
        .data(r#"{ area(code: "999999") { code } site(code: "NOPE") { code } household(code: "H99") { code } }"#, json!({}))
        .await;
    assert_eq!(
        data,
        json!({ "area": null, "site": null, "household": null })
    );
}

#[tokio::test]
async fn household_with_its_references_and_children() {
    let app = TestApp::with_fixture(FIXTURE).await;
    let data = app
        .data(
            r#"{ household(code: "H02") {
                  code headName persons registeredPoor movedInOn povertyExitOn relapsedOn
                  site { code name township { code name } }
                  originVillage { code name level }
                  members { totalCount edges { node { idNumber relation laborCapacity
                      employments { totalCount edges { node { path startedOn endedOn } } } } } }
                  homesteads { totalCount edges { node { villageCode areaMu status } } } } }"#,
            json!({}),
        )
        .await;
    let h = &data["household"];
    assert_eq!(h["headName"], "杨光荣");
    assert_eq!(h["persons"], 2);
    assert_eq!(h["registeredPoor"], true);
    assert_eq!(h["movedInOn"], "2020-06-30");
    assert_eq!(h["relapsedOn"], "2020-09-01");
    assert_eq!(h["site"]["code"], "AZD001");
    assert_eq!(h["site"]["township"]["code"], "522732100");
    assert_eq!(h["originVillage"]["code"], "522732102201");
    assert_eq!(h["originVillage"]["level"], "VILLAGE");
    assert_eq!(h["members"]["totalCount"], 2);
    // M4 (the head) works along two paths: directed export and, from 2020-06-30, a welfare post.
    let head = h["members"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .find(|m| m["relation"] == "HEAD")
        .expect("a head member");
    assert_eq!(head["employments"]["totalCount"], 2);
    let mut paths: Vec<&str> = head["employments"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["path"].as_str().unwrap())
        .collect();
    paths.sort();
    assert_eq!(paths, ["DIRECTED_EXPORT", "PUBLIC_WELFARE_POST"]);
    assert_eq!(h["homesteads"]["totalCount"], 1);
    assert_eq!(
        h["homesteads"]["edges"][0]["node"]["villageCode"],
        "522732102201"
    );
    assert_eq!(h["homesteads"]["edges"][0]["node"]["areaMu"], 0.5);
    assert_eq!(h["homesteads"]["edges"][0]["node"]["status"], "DEMOLISHED");
}

#[tokio::test]
async fn pages_follow_cursors_to_the_end() {
    let app = TestApp::with_fixture(FIXTURE).await;
    let q = r#"query($after: String) { households(first: 3, after: $after) {
        totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { code } } } }"#;
    let mut seen = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let data = app.data(q, json!({ "after": after })).await;
        let conn = &data["households"];
        assert_eq!(conn["totalCount"], 8);
        assert_eq!(conn["pageInfo"]["hasPreviousPage"], pages > 0);
        seen.extend(codes(conn, "code"));
        pages += 1;
        if conn["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        ["H01", "H02", "H03", "H04", "H05", "H06", "H07", "H08"]
    );
}

#[tokio::test]
async fn page_size_and_cursor_are_checked() {
    let app = TestApp::with_fixture(FIXTURE).await;
    for first in [0, 101, -1] {
        let body = app
            .query(
                "query($f: Int) { households(first: $f) { totalCount } }",
                json!({ "f": first }),
            )
            .await;
        assert_eq!(
            error_code(&body),
            "BAD_USER_INPUT",
            "first = {first}: {body}"
        );
        assert!(body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`first` must be between 1 and 100"));
    }
    let ok = app
        .data("{ households(first: 100) { totalCount } }", json!({}))
        .await;
    assert_eq!(ok["households"]["totalCount"], 8);
    let body = app
        .query(
            r#"{ households(after: "not-a-cursor") { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn list_filters() {
    let app = TestApp::with_fixture(FIXTURE).await;
    let data = app
        .data(
            r#"{
              notMovedIn: households(filter: { movedIn: false, asOf: "2020-06-30" }) { edges { node { code } } }
              movedIn: households(filter: { movedIn: true, asOf: "2020-06-30" }) { totalCount }
              synced: households(filter: { registeredPoor: false }) { edges { node { code } } }
              fromC: households(filter: { originAreaCode: "522732102" }) { edges { node { code } } }
              atB: households(filter: { areaCode: "522732101" }) { edges { node { code } } }
              sitesInA: sites(filter: { areaCode: "522732100" }) { edges { node { code } } }
              dispersed: sites(filter: { placement: DISPERSED }) { edges { node { code } } }
              exempt: homesteads(filter: { status: EXEMPT }) { edges { node { householdCode } } }
              reclaimedInC: homesteads(filter: { areaCode: "522732102", status: RECLAIMED }) { totalCount }
              partial: members(filter: { laborCapacity: [PARTIAL] }) { totalCount }
              laborersAtAZD003: members(filter: { siteCode: "AZD003", laborCapacity: [FULL, PARTIAL] }) { totalCount }
              villages: areas(filter: { withinCode: "522732102", level: VILLAGE }) { edges { node { code } } }
              county: area(code: "522732") { sites(filter: { setting: MARKET_TOWN }) { totalCount }
                                             originHouseholds(filter: { registeredPoor: false }) { totalCount } }
              site: site(code: "AZD001") {
                works(category: MAIN) { edges { node { code completedOn } } }
                households(filter: { movedIn: false, asOf: "2020-06-29" }) { edges { node { code } } } }
              m4: member(idNumber: "522732198201050215") {
                onT: employments(activeOn: "2020-06-30") { totalCount }
                export: employments(path: DIRECTED_EXPORT) { totalCount } }
            }"#,
            json!({}),
        )
        .await;
    assert_eq!(codes(&data["notMovedIn"], "code"), ["H05", "H07"]);
    assert_eq!(data["movedIn"]["totalCount"], 6);
    assert_eq!(codes(&data["synced"], "code"), ["H04"]);
    assert_eq!(codes(&data["fromC"], "code"), ["H01", "H02", "H05", "H07"]);
    assert_eq!(codes(&data["atB"], "code"), ["H06", "H07", "H08"]);
    assert_eq!(codes(&data["sitesInA"], "code"), ["AZD001", "AZD002"]);
    assert_eq!(codes(&data["dispersed"], "code"), ["AZD002"]);
    assert_eq!(codes(&data["exempt"], "householdCode"), ["H03"]);
    assert_eq!(data["reclaimedInC"]["totalCount"], 2);
    assert_eq!(data["partial"]["totalCount"], 3);
    assert_eq!(data["laborersAtAZD003"]["totalCount"], 3);
    assert_eq!(
        codes(&data["villages"], "code"),
        ["522732102201", "522732102202"]
    );
    assert_eq!(data["county"]["sites"]["totalCount"], 1);
    assert_eq!(data["county"]["originHouseholds"]["totalCount"], 1);
    assert_eq!(
        codes(&data["site"]["works"], "code"),
        ["AZD001-W1", "AZD001-W2"]
    );
    assert_eq!(codes(&data["site"]["households"], "code"), ["H02"]);
    assert_eq!(data["m4"]["onT"]["totalCount"], 2);
    assert_eq!(data["m4"]["export"]["totalCount"], 1);
}

const SET: &str = "asOf constructionCompletion { numerator denominator rate } worksCompletion { numerator denominator rate }
    worksByCategory { category ratio { numerator denominator } }
    occupancy { numerator denominator rate } occupancyPersons { numerator denominator }
    stablePovertyExit { numerator denominator } employment { numerator denominator }
    householdEmployment { numerator denominator } employmentByPath { path persons }
    demolition { numerator denominator } reclamation { numerator denominator } reclaimedAreaMu";

#[tokio::test]
async fn county_indicators_on_the_day_most_events_fall() {
    let app = TestApp::with_fixture(FIXTURE).await;
    let q = format!(
        r#"{{ indicators(scope: {{ areaCode: "522732" }}, asOf: "2020-06-30") {{ {SET} }} }}"#
    );
    let data = app.data(&q, json!({})).await;
    let s = &data["indicators"];
    assert_eq!(s["asOf"], "2020-06-30");
    assert_eq!(ratio(&s["constructionCompletion"]), (1, 2));
    assert_eq!(s["constructionCompletion"]["rate"], 0.5);
    assert_eq!(ratio(&s["worksCompletion"]), (7, 10));
    let by_cat: Vec<(String, (i64, i64))> = s["worksByCategory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["category"].as_str().unwrap().to_owned(),
                ratio(&c["ratio"]),
            )
        })
        .collect();
    assert_eq!(
        by_cat,
        [
            ("MAIN".to_owned(), (3, 4)),
            ("INFRASTRUCTURE".to_owned(), (2, 2)),
            ("PUBLIC_FACILITY".to_owned(), (1, 2)),
            ("ANCILLARY".to_owned(), (1, 2))
        ]
    );
    assert_eq!(ratio(&s["occupancy"]), (6, 8));
    assert_eq!(s["occupancy"]["rate"], 0.75);
    assert_eq!(ratio(&s["occupancyPersons"]), (14, 18));
    assert_eq!(ratio(&s["stablePovertyExit"]), (3, 7));
    assert_eq!(ratio(&s["employment"]), (4, 11));
    assert_eq!(ratio(&s["householdEmployment"]), (4, 7));
    assert_eq!(
        s["employmentByPath"],
        json!([
            { "path": "DIRECTED_EXPORT", "persons": 1 },
            { "path": "LOCAL", "persons": 2 },
            { "path": "HOME_FLEXIBLE", "persons": 1 },
            { "path": "PUBLIC_WELFARE_POST", "persons": 1 }
        ])
    );
    assert_eq!(ratio(&s["demolition"]), (5, 7));
    assert_eq!(ratio(&s["reclamation"]), (3, 7));
    assert!((s["reclaimedAreaMu"].as_f64().unwrap() - 1.2).abs() < 1e-9);
}

#[tokio::test]
async fn site_and_area_fields_carry_indicators_and_empty_scopes_have_null_rates() {
    let app = TestApp::with_fixture(FIXTURE).await;
    let data = app
        .data(
            r#"{
              c: area(code: "522732102") { indicators(asOf: "2020-06-30") {
                   occupancy { numerator denominator rate } demolition { numerator denominator rate } } }
              azd002: site(code: "AZD002") { indicators(asOf: "2020-06-30") {
                   constructionCompletion { numerator denominator rate } demolition { numerator denominator }
                   reclaimedAreaMu } }
              a: indicators(scope: { areaCode: "522732100" }, asOf: "2020-06-30") { demolition { numerator denominator } }
            }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        data["c"]["indicators"]["occupancy"],
        json!({ "numerator": 0, "denominator": 0, "rate": null })
    );
    assert_eq!(
        data["c"]["indicators"]["demolition"],
        json!({ "numerator": 2, "denominator": 4, "rate": 0.5 })
    );
    assert_eq!(
        data["azd002"]["indicators"]["constructionCompletion"],
        json!({ "numerator": 0, "denominator": 0, "rate": null })
    );
    // Site scope counts its households' homesteads; area scope counts the homesteads in its villages.
    assert_eq!(ratio(&data["azd002"]["indicators"]["demolition"]), (1, 2));
    assert_eq!(data["azd002"]["indicators"]["reclaimedAreaMu"], 0.25);
    assert_eq!(ratio(&data["a"]["demolition"]), (1, 1));
}

#[tokio::test]
async fn series_has_one_point_per_month_end() {
    let app = TestApp::with_fixture(FIXTURE).await;
    let data = app
        .data(
            r#"{ indicatorSeries(scope: { siteCode: "AZD001" }, from: "2020-04-15", to: "2020-07-31") {
                  asOf occupancy { numerator denominator } } }"#,
            json!({}),
        )
        .await;
    let points: Vec<(String, (i64, i64))> = data["indicatorSeries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["asOf"].as_str().unwrap().to_owned(),
                ratio(&p["occupancy"]),
            )
        })
        .collect();
    assert_eq!(
        points,
        [
            ("2020-04-30".to_owned(), (2, 3)),
            ("2020-05-31".to_owned(), (2, 3)),
            ("2020-06-30".to_owned(), (3, 3)),
            ("2020-07-31".to_owned(), (3, 3)),
        ]
    );
    let body = app
        .query(r#"{ indicatorSeries(scope: { areaCode: "522732" }, from: "2020-05-01", to: "2020-01-01") { asOf } }"#, json!({}))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn unknown_scope_is_not_found_and_bad_arguments_are_bad_user_input() {
    let app = TestApp::with_fixture(FIXTURE).await;
    for scope in [r#"{ areaCode: "999999" }"#, r#"{ siteCode: "NOPE" }"#] {
        let body = app
            .query(
                &format!("{{ indicators(scope: {scope}) {{ asOf }} }}"),
                json!({}),
            )
            .await;
        assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
        assert!(body["errors"][0]["extensions"]["requestId"].is_string());
    }
    let body = app
        .query(
            r#"{ indicators(scope: { areaCode: "522732" }, asOf: "2020-02-30") { asOf } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("2020-02-30"),
        "{body}"
    );
    let both = app
        .query(
            r#"{ indicators(scope: { areaCode: "522732", siteCode: "AZD001" }) { asOf } }"#,
            json!({}),
        )
        .await;
    assert!(
        both["errors"].is_array(),
        "a oneOf input with two members must be refused: {both}"
    );
}

#[tokio::test]
async fn default_as_of_is_today() {
    let app = TestApp::with_fixture(FIXTURE).await;
    let data = app
        .data(
            r#"{ indicators(scope: { areaCode: "520000" }) { asOf occupancy { numerator } } }"#,
            json!({}),
        )
        .await;
    let today = (chrono::Utc::now() + chrono::Duration::hours(8))
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(data["indicators"]["asOf"], today);
    // Long after every event: H05 never moved in.
    assert_eq!(data["indicators"]["occupancy"]["numerator"], 7);
}

#[tokio::test]
async fn database_failures_reach_clients_only_as_internal() {
    let app = TestApp::with_fixture(FIXTURE).await;
    use sea_orm::ConnectionTrait;
    app.db
        .db
        .execute_unprepared("DROP TABLE homesteads")
        .await
        .expect("drop table");
    let body = app.query("{ homesteads { totalCount } }", json!({})).await;
    assert_eq!(error_code(&body), "INTERNAL", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert_eq!(message, "internal error");
    assert!(
        !body.to_string().contains("homesteads\\\"")
            && !body.to_string().to_lowercase().contains("no such table")
    );
    assert!(body["errors"][0]["extensions"]["requestId"]
        .as_str()
        .is_some_and(|id| id.len() == 32));
}

#[tokio::test]
async fn malformed_and_invalid_documents_have_their_own_codes() {
    let app = TestApp::spawn().await;
    let body = app.query("{ area(code: ", json!({})).await;
    assert_eq!(error_code(&body), "GRAPHQL_PARSE_FAILED", "{body}");
    let body = app.query("{ nope }", json!({})).await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("nope"));
}
