//! Mutations: the field workflow's writes, their rules, scope, concurrency, idempotency and
//! audit trail, over the hand-counted `indicators` fixture (see tests/fixtures/EXPECTED.md).
//!
//! The fixture has one county; where a test needs two areas that must not see each other it
//! uses its townships A (522732100: sites AZD001, AZD002) and B (522732101: site AZD003).

use crate::support::{error_code, fixture_copy, TestApp};
use anju::auth::Role;
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
use serde_json::{json, Value};

const TOWNSHIP_A: &str = "522732100";
const TOWNSHIP_B: &str = "522732101";
const T: &str = "2020-06-30";

fn key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A valid resident ID number from its first 17 digits.
fn id(first17: &str) -> String {
    let check = anju::register::id_number::check_char(first17.as_bytes()).expect("17 digits");
    format!("{first17}{check}")
}

/// Runs one mutation field named `field` with `input` as the admin of the root and returns its
/// payload (failing the test on any top-level error).
async fn mutate(app: &TestApp, field: &str, input: Value, selection: &str) -> Value {
    let token = app.admin_token().await;
    mutate_as(app, &token, field, input, selection).await
}

async fn mutate_as(
    app: &TestApp,
    token: &str,
    field: &str,
    input: Value,
    selection: &str,
) -> Value {
    let body = raw_as(app, Some(token), field, input, selection).await;
    assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
    body["data"][field].clone()
}

async fn raw_as(
    app: &TestApp,
    token: Option<&str>,
    field: &str,
    input: Value,
    selection: &str,
) -> Value {
    let ty = format!("{}{}Input", field[..1].to_uppercase(), &field[1..]);
    let query = format!(
        "mutation($input: {ty}!) {{ {field}(input: $input) {{ {selection} userErrors {{ field message code }} }} }}"
    );
    app.query_as(token, &query, json!({ "input": input })).await
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let row = app
        .db
        .db
        .query_one_raw(Statement::from_string(
            app.db.db.get_database_backend(),
            sql,
        ))
        .await
        .expect("query")
        .expect("a row");
    row.try_get_by_index::<i64>(0).expect("an integer")
}

/// `numerator/denominator` of one indicator of a scope on `as_of`.
async fn ratio(app: &TestApp, scope: Value, as_of: &str, indicator: &str) -> String {
    let data = app
        .data(
            &format!(
                "query($scope: ScopeInput!, $asOf: Date) {{ indicators(scope: $scope, asOf: $asOf) {{ {indicator} {{ numerator denominator }} }} }}"
            ),
            json!({ "scope": scope, "asOf": as_of }),
        )
        .await;
    let r = &data["indicators"][indicator];
    format!("{}/{}", r["numerator"], r["denominator"])
}

fn site(code: &str) -> Value {
    json!({ "siteCode": code })
}

fn area(code: &str) -> Value {
    json!({ "areaCode": code })
}

async fn household_version(app: &TestApp, code: &str) -> i64 {
    let data = app
        .data(
            "query($c: String!) { household(code: $c) { version } }",
            json!({ "c": code }),
        )
        .await;
    data["household"]["version"].as_i64().expect("a household")
}

async fn homestead_ids(app: &TestApp, household: &str) -> Vec<(String, i64)> {
    let data = app
        .data(
            "query($c: String!) { household(code: $c) { homesteads { nodes { id version } } } }",
            json!({ "c": household }),
        )
        .await;
    data["household"]["homesteads"]["nodes"]
        .as_array()
        .expect("homesteads")
        .iter()
        .map(|n| {
            (
                n["id"].as_str().expect("id").to_owned(),
                n["version"].as_i64().expect("version"),
            )
        })
        .collect()
}

fn no_user_errors(payload: &Value) {
    assert_eq!(payload["userErrors"], json!([]), "{payload:#}");
}

#[tokio::test]
async fn every_mutation_writes_and_the_next_read_sees_it() {
    let app = TestApp::with_fixture("indicators").await;

    // Works: the indicators are read (and cached) before each write, then read again.
    assert_eq!(
        ratio(&app, site("AZD001"), T, "worksCompletion").await,
        "3/5"
    );
    let p = mutate(
        &app,
        "recordWorkCompletion",
        json!({ "idempotencyKey": key(), "code": "AZD001-W5", "version": 1, "completedOn": T }),
        "work { code completedOn version }",
    )
    .await;
    no_user_errors(&p);
    assert_eq!(p["work"]["completedOn"], T);
    assert_eq!(p["work"]["version"], 2);
    assert_eq!(
        ratio(&app, site("AZD001"), T, "worksCompletion").await,
        "4/5"
    );
    assert_eq!(
        ratio(&app, area("520000"), T, "worksCompletion").await,
        "8/10"
    );

    assert_eq!(
        ratio(&app, site("AZD002"), T, "constructionCompletion").await,
        "0/0"
    );
    let p = mutate(
        &app,
        "createSiteWork",
        json!({ "idempotencyKey": key(), "siteCode": "AZD002", "code": "AZD002-W11",
                "category": "MAIN", "name": "3号安置楼" }),
        "work { code version }",
    )
    .await;
    no_user_errors(&p);
    assert_eq!(p["work"]["version"], 1);
    assert_eq!(
        ratio(&app, site("AZD002"), T, "constructionCompletion").await,
        "0/1"
    );
    assert_eq!(
        ratio(&app, area(TOWNSHIP_A), T, "constructionCompletion").await,
        "1/2"
    );

    // Sites.
    let p = mutate(
        &app,
        "createSite",
        json!({ "idempotencyKey": key(), "code": "AZD004", "name": "高山乡安置点",
                "townshipCode": "522732102", "placement": "DISPERSED", "setting": "OTHER",
                "plannedHouseholds": 1, "plannedPersons": 2 }),
        "site { code version }",
    )
    .await;
    no_user_errors(&p);
    let p = mutate(
        &app,
        "updateSite",
        json!({ "idempotencyKey": key(), "code": "AZD004", "version": 1, "name": "高山乡新村",
                "latitude": 25.9 }),
        "site { name latitude version }",
    )
    .await;
    no_user_errors(&p);
    assert_eq!(
        p["site"],
        json!({ "name": "高山乡新村", "latitude": 25.9, "version": 2 })
    );

    // Households: H05 (AZD002) has not moved in.
    assert_eq!(ratio(&app, site("AZD002"), T, "occupancy").await, "1/2");
    assert_eq!(ratio(&app, area("520000"), T, "occupancy").await, "6/8");
    let p = mutate(
        &app,
        "recordMoveIn",
        json!({ "idempotencyKey": key(), "code": "H05", "version": 1, "movedInOn": T }),
        "household { movedInOn version }",
    )
    .await;
    no_user_errors(&p);
    assert_eq!(p["household"], json!({ "movedInOn": T, "version": 2 }));
    assert_eq!(ratio(&app, site("AZD002"), T, "occupancy").await, "2/2");
    assert_eq!(ratio(&app, area("520000"), T, "occupancy").await, "7/8");

    assert_eq!(
        ratio(&app, site("AZD002"), T, "stablePovertyExit").await,
        "0/1"
    );
    let p = mutate(
        &app,
        "recordPovertyExit",
        json!({ "idempotencyKey": key(), "code": "H05", "version": 2, "povertyExitOn": T }),
        "household { povertyExitOn version }",
    )
    .await;
    no_user_errors(&p);
    assert_eq!(
        ratio(&app, site("AZD002"), T, "stablePovertyExit").await,
        "1/1"
    );
    let p = mutate(
        &app,
        "recordRelapse",
        json!({ "idempotencyKey": key(), "code": "H05", "version": 3, "relapsedOn": "2020-07-15" }),
        "household { relapsedOn version }",
    )
    .await;
    no_user_errors(&p);
    assert_eq!(p["household"]["version"], 4);
    assert_eq!(
        ratio(&app, site("AZD002"), "2020-07-31", "stablePovertyExit").await,
        "0/1"
    );
    let p = mutate(
        &app,
        "updateHousehold",
        json!({ "idempotencyKey": key(), "code": "H05", "version": 4, "relapsedOn": null,
                "phone": "13885400005" }),
        "household { relapsedOn version }",
    )
    .await;
    no_user_errors(&p);
    assert_eq!(p["household"], json!({ "relapsedOn": null, "version": 5 }));
    assert_eq!(
        ratio(&app, site("AZD002"), "2020-07-31", "stablePovertyExit").await,
        "1/1"
    );

    // A new household with its members, then one more member.
    let head = id("52273219900101001");
    let child = id("52273220150101002");
    let p = mutate(
        &app,
        "createHousehold",
        json!({ "idempotencyKey": key(), "code": "H09", "headName": "张新", "headIdNumber": head,
                "originVillageCode": "522732100202", "siteCode": "AZD002", "registeredPoor": true,
                "members": [
                    { "idNumber": head, "name": "张新", "relation": "HEAD", "birthDate": "1990-01-01",
                      "gender": "MALE", "laborCapacity": "FULL" },
                    { "idNumber": child, "name": "张小", "relation": "CHILD", "birthDate": "2015-01-01",
                      "gender": "FEMALE", "laborCapacity": "NONE" }
                ] }),
        "household { code persons version }",
    )
    .await;
    no_user_errors(&p);
    assert_eq!(
        p["household"],
        json!({ "code": "H09", "persons": 2, "version": 1 })
    );
    assert_eq!(ratio(&app, site("AZD002"), T, "occupancy").await, "2/3");
    assert_eq!(ratio(&app, site("AZD002"), T, "employment").await, "0/3");

    let spouse = id("52273219920202002");
    let p = mutate(
        &app,
        "createMember",
        json!({ "idempotencyKey": key(), "householdCode": "H09", "member": {
                "idNumber": spouse, "name": "李新", "relation": "SPOUSE", "birthDate": "1992-02-02",
                "gender": "FEMALE", "laborCapacity": "NONE" } }),
        "member { relation version household { persons version } }",
    )
    .await;
    no_user_errors(&p);
    assert_eq!(
        p["member"]["household"],
        json!({ "persons": 3, "version": 2 })
    );
    assert_eq!(
        ratio(&app, site("AZD002"), T, "occupancyPersons").await,
        "3/6"
    );
    let p = mutate(
        &app,
        "updateMember",
        json!({ "idempotencyKey": key(), "idNumber": spouse, "version": 1, "laborCapacity": "PARTIAL" }),
        "member { laborCapacity version }",
    )
    .await;
    no_user_errors(&p);
    assert_eq!(
        p["member"],
        json!({ "laborCapacity": "PARTIAL", "version": 2 })
    );
    assert_eq!(ratio(&app, site("AZD002"), T, "employment").await, "0/4");

    // Employment of M11 (H05's head).
    let p = mutate(
        &app,
        "addEmployment",
        json!({ "idempotencyKey": key(), "memberIdNumber": "52273219681230051X", "path": "LOCAL",
                "employer": "安居镇扶贫车间", "location": "IN_COUNTY", "startedOn": "2020-06-01" }),
        "employment { id version }",
    )
    .await;
    no_user_errors(&p);
    let job = p["employment"]["id"].as_str().expect("an id").to_owned();
    assert_eq!(ratio(&app, site("AZD002"), T, "employment").await, "1/4");
    let p = mutate(
        &app,
        "endEmployment",
        json!({ "idempotencyKey": key(), "id": job, "version": 1, "endedOn": "2020-06-15" }),
        "employment { endedOn version }",
    )
    .await;
    no_user_errors(&p);
    assert_eq!(
        p["employment"],
        json!({ "endedOn": "2020-06-15", "version": 2 })
    );
    assert_eq!(ratio(&app, site("AZD002"), T, "employment").await, "0/4");

    // Homesteads: township A has HS5 (demolished and reclaimed) and the exempt HS4.
    assert_eq!(ratio(&app, area(TOWNSHIP_A), T, "demolition").await, "1/1");
    let p = mutate(
        &app,
        "createHomestead",
        json!({ "idempotencyKey": key(), "householdCode": "H09", "villageCode": "522732100202",
                "areaMu": 0.3, "exempt": false }),
        "homestead { id version status }",
    )
    .await;
    no_user_errors(&p);
    let hs = p["homestead"]["id"].as_str().expect("an id").to_owned();
    assert_eq!(p["homestead"]["status"], "PENDING");
    assert_eq!(ratio(&app, area(TOWNSHIP_A), T, "demolition").await, "1/2");
    let p = mutate(
        &app,
        "recordDemolition",
        json!({ "idempotencyKey": key(), "id": hs, "version": 1, "demolishedOn": "2020-06-01" }),
        "homestead { status version }",
    )
    .await;
    no_user_errors(&p);
    assert_eq!(ratio(&app, area(TOWNSHIP_A), T, "demolition").await, "2/2");
    assert_eq!(ratio(&app, area(TOWNSHIP_A), T, "reclamation").await, "1/2");
    let p = mutate(
        &app,
        "recordReclamation",
        json!({ "idempotencyKey": key(), "id": hs, "version": 2, "reclaimedOn": "2020-06-10",
                "reclaimedUse": "CROPLAND" }),
        "homestead { status reclaimedUse version }",
    )
    .await;
    no_user_errors(&p);
    assert_eq!(
        p["homestead"],
        json!({ "status": "RECLAIMED", "reclaimedUse": "CROPLAND", "version": 3 })
    );
    assert_eq!(ratio(&app, area(TOWNSHIP_A), T, "reclamation").await, "2/2");
    let mu = app
        .data(
            "{ indicators(scope: { areaCode: \"522732100\" }, asOf: \"2020-06-30\") { reclaimedAreaMu } }",
            json!({}),
        )
        .await["indicators"]["reclaimedAreaMu"]
        .as_f64()
        .expect("a number");
    assert!((mu - 0.55).abs() < 1e-9, "{mu}");

    // HS6 (H05, village VC2 in township C) becomes exempt.
    assert_eq!(ratio(&app, area("522732102"), T, "demolition").await, "2/4");
    let (hs6, version) = homestead_ids(&app, "H05").await.remove(0);
    let p = mutate(
        &app,
        "recordHomesteadExemption",
        json!({ "idempotencyKey": key(), "id": hs6, "version": version, "exempt": true }),
        "homestead { status version }",
    )
    .await;
    no_user_errors(&p);
    assert_eq!(p["homestead"]["status"], "EXEMPT");
    assert_eq!(ratio(&app, area("522732102"), T, "demolition").await, "2/3");

    // Each write adjusted only the rollup rows it changed; together they are what a rebuild
    // from the register computes, row for row.
    let adjusted = rollup_rows(&app).await;
    let txn = app.db.db.begin().await.expect("begin");
    anju::domain::indicators::rollup::rebuild(&txn)
        .await
        .expect("rebuild");
    txn.commit().await.expect("commit");
    let rebuilt = rollup_rows(&app).await;
    assert!(rebuilt.len() > 100, "{} rows", rebuilt.len());
    let only_adjusted: Vec<&String> = adjusted.iter().filter(|r| !rebuilt.contains(r)).collect();
    let only_rebuilt: Vec<&String> = rebuilt.iter().filter(|r| !adjusted.contains(r)).collect();
    assert!(
        only_adjusted.is_empty() && only_rebuilt.is_empty(),
        "rows only as adjusted: {only_adjusted:?}; rows only as rebuilt: {only_rebuilt:?}"
    );
}

/// Every stored rollup row, as text, in key order.
async fn rollup_rows(app: &TestApp) -> Vec<String> {
    let rows = app
        .db
        .db
        .query_all_raw(Statement::from_string(
            app.db.db.get_database_backend(),
            "SELECT scope_kind, scope_code, metric, CAST(on_date AS TEXT) AS on_date, \
             CAST(delta_count AS BIGINT) AS n, CAST(delta_amount AS DOUBLE PRECISION) AS amount \
             FROM indicator_deltas ORDER BY scope_kind, scope_code, metric, on_date",
        ))
        .await
        .expect("rollup rows");
    rows.iter()
        .map(|r| {
            let text = |c: &str| r.try_get::<String>("", c).expect(c);
            format!(
                "{} {} {} {} {} {:.6}",
                text("scope_kind"),
                text("scope_code"),
                text("metric"),
                text("on_date"),
                r.try_get::<i64>("", "n").expect("n"),
                r.try_get::<f64>("", "amount").expect("amount"),
            )
        })
        .collect()
}

/// The reason an import gives for a data set with `from` replaced by `to` in `file`.
async fn import_reason(app: &TestApp, file: &str, from: &str, to: &str) -> String {
    let dir = fixture_copy("indicators");
    crate::support::edit_csv(dir.path(), file, from, to);
    let err = anju::register::import_dir(&app.db.db, dir.path())
        .await
        .expect_err("the import must fail");
    match err {
        // The first breach is the cell's own; others may follow from it.
        anju::register::ImportError::Invalid(breaches) => breaches[0].reason.clone(),
        other => panic!("unexpected import error: {other}"),
    }
}

#[tokio::test]
async fn a_rule_breach_reads_as_the_import_reports_it() {
    let app = TestApp::with_fixture("indicators").await;

    let p = mutate(
        &app,
        "recordRelapse",
        json!({ "idempotencyKey": key(), "code": "H01", "version": 1, "relapsedOn": "2019-12-31" }),
        "household { code }",
    )
    .await;
    assert_eq!(p["household"], Value::Null);
    let imported = import_reason(
        &app,
        "households.csv",
        "3,true,2019-06-01,2019-12-31,",
        "3,true,2019-06-01,2019-12-31,2019-12-31",
    )
    .await;
    assert_eq!(
        imported,
        "2019-12-31 is not after poverty_exit_on 2019-12-31"
    );
    assert_eq!(
        p["userErrors"],
        json!([{ "field": ["relapsedOn"], "message": imported, "code": "BAD_USER_INPUT" }])
    );

    let p = mutate(
        &app,
        "recordReclamation",
        json!({ "idempotencyKey": key(), "id": homestead_ids(&app, "H05").await[0].0,
                "version": 1, "reclaimedOn": "2020-01-01" }),
        "homestead { id }",
    )
    .await;
    let imported = import_reason(
        &app,
        "homesteads.csv",
        "H05,522732102202,0.3,false,,,",
        "H05,522732102202,0.3,false,,2020-01-01,",
    )
    .await;
    assert_eq!(imported, "a reclaimed homestead needs a demolished_on");
    assert_eq!(p["userErrors"][0]["message"], imported);
    assert_eq!(p["userErrors"][0]["field"], json!(["reclaimedOn"]));

    let bad = "522732197503120113";
    let p = mutate(
        &app,
        "updateHousehold",
        json!({ "idempotencyKey": key(), "code": "H01", "version": 1, "headIdNumber": bad }),
        "household { code }",
    )
    .await;
    let imported = import_reason(
        &app,
        "households.csv",
        "王建国,522732197503120114,",
        &format!("王建国,{bad},"),
    )
    .await;
    assert!(imported.contains("GB 11643"), "{imported}");
    assert_eq!(p["userErrors"][0]["message"], imported);
    assert_eq!(p["userErrors"][0]["field"], json!(["headIdNumber"]));
    // Nothing was written.
    assert_eq!(household_version(&app, "H01").await, 1);
}

/// The single user error of a refused write: its field and message, with code `BAD_USER_INPUT`.
fn bad_input(payload: &Value) -> (Value, String) {
    let errors = payload["userErrors"].as_array().expect("userErrors");
    assert_eq!(errors.len(), 1, "{payload:#}");
    assert_eq!(errors[0]["code"], "BAD_USER_INPUT", "{payload:#}");
    (
        errors[0]["field"].clone(),
        errors[0]["message"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn names_birth_dates_and_homestead_areas_must_be_believable() {
    let app = TestApp::with_fixture("indicators").await;
    let plain = "a name is plain text";

    // A control character in any name: an ESC sequence, C1 controls, DEL, a tab.
    let mut input = new_household(
        "H20",
        &id("52273219850505001"),
        &id("52273219860606002"),
        "1986-06-06",
    );
    input["idempotencyKey"] = json!(key());
    input["headName"] = json!("赵\u{1b}[2J一");
    let p = mutate(&app, "createHousehold", input.clone(), "household { code }").await;
    assert_eq!(p["household"], Value::Null);
    let (field, message) = bad_input(&p);
    assert_eq!(field, json!(["headName"]));
    assert!(
        message.contains("U+001B") && message.contains(plain),
        "{message}"
    );

    input["headName"] = json!("赵一");
    input["members"][1]["name"] = json!("钱\u{9b}31m二");
    let p = mutate(&app, "createHousehold", input.clone(), "household { code }").await;
    let (field, message) = bad_input(&p);
    assert_eq!(field, json!(["members", "1", "name"]));
    assert!(message.contains("U+009B"), "{message}");

    // A birth date after today, though the ID number carries it.
    input["members"][1]["name"] = json!("钱二");
    input["members"][1]["idNumber"] = json!(id("52273220990101002"));
    input["members"][1]["birthDate"] = json!("2099-01-01");
    let p = mutate(&app, "createHousehold", input.clone(), "household { code }").await;
    let (field, message) = bad_input(&p);
    assert_eq!(field, json!(["members", "1", "birthDate"]));
    assert!(
        message.starts_with("2099-01-01 is in the future"),
        "{message}"
    );

    // Names with spaces and middle dots are fine.
    input["members"][1]["idNumber"] = json!(id("52273219860606002"));
    input["members"][1]["birthDate"] = json!("1986-06-06");
    input["members"][1]["name"] = json!("阿依古丽·买买提");
    input["headName"] = json!("Zhao Yi");
    input["members"][0]["name"] = json!("Zhao Yi");
    no_user_errors(&mutate(&app, "createHousehold", input, "household { code }").await);

    let p = mutate(
        &app,
        "updateMember",
        json!({ "idempotencyKey": key(), "idNumber": "522732197503120114", "version": 1,
                "name": "王\u{7f}建国" }),
        "member { name }",
    )
    .await;
    let (field, _) = bad_input(&p);
    assert_eq!(field, json!(["name"]));
    let p = mutate(
        &app,
        "updateSite",
        json!({ "idempotencyKey": key(), "code": "AZD001", "version": 1, "name": "幸福\t社区" }),
        "site { name }",
    )
    .await;
    let (field, message) = bad_input(&p);
    assert_eq!(field, json!(["name"]));
    assert!(message.contains("U+0009"), "{message}");
    let p = mutate(
        &app,
        "createSiteWork",
        json!({ "idempotencyKey": key(), "siteCode": "AZD001", "code": "AZD001-99",
                "category": "ANCILLARY", "name": "\u{85}围墙" }),
        "work { code }",
    )
    .await;
    assert_eq!(bad_input(&p).0, json!(["name"]));
    let p = mutate(
        &app,
        "addEmployment",
        json!({ "idempotencyKey": key(), "memberIdNumber": "522732197503120114",
                "path": "LOCAL", "employer": "鑫源\u{1b}]8;;http://x\u{7}建材", "location": "IN_COUNTY",
                "startedOn": T }),
        "employment { id }",
    )
    .await;
    assert_eq!(bad_input(&p).0, json!(["employer"]));

    // An area no homestead has reads as the import reports it.
    let p = mutate(
        &app,
        "createHomestead",
        json!({ "idempotencyKey": key(), "householdCode": "H05", "villageCode": "522732102202",
                "areaMu": 1e308, "exempt": false }),
        "homestead { id }",
    )
    .await;
    let imported = import_reason(
        &app,
        "homesteads.csv",
        "H05,522732102202,0.3,",
        "H05,522732102202,1e308,",
    )
    .await;
    assert_eq!(
        imported,
        "\"1e308\" mu is more than any homestead has: at most 1000 mu"
    );
    assert_eq!(bad_input(&p), (json!(["areaMu"]), imported));

    // Nothing was written but the plain household.
    assert_eq!(household_version(&app, "H01").await, 1);
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM households WHERE code = 'H20'").await,
        1
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM homesteads WHERE household_code = 'H05'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn of_two_concurrent_updates_of_one_version_exactly_one_wins() {
    let app = TestApp::with_fixture("indicators").await;
    let token = app.admin_token().await;
    let one =
        json!({ "idempotencyKey": key(), "code": "H05", "version": 1, "movedInOn": "2020-06-01" });
    let two =
        json!({ "idempotencyKey": key(), "code": "H05", "version": 1, "movedInOn": "2020-06-02" });
    let (a, b) = tokio::join!(
        mutate_as(
            &app,
            &token,
            "recordMoveIn",
            one,
            "household { movedInOn version }"
        ),
        mutate_as(
            &app,
            &token,
            "recordMoveIn",
            two,
            "household { movedInOn version }"
        ),
    );
    let (won, lost) = if a["household"].is_null() {
        (b, a)
    } else {
        (a, b)
    };
    no_user_errors(&won);
    assert_eq!(won["household"]["version"], 2);
    assert_eq!(lost["household"], Value::Null);
    assert_eq!(lost["userErrors"][0]["code"], "CONFLICT");
    assert_eq!(lost["userErrors"][0]["field"], json!(["version"]));
    assert_eq!(household_version(&app, "H05").await, 2);
    let audited = scalar(
        &app,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'recordMoveIn' AND entity_key = 'H05'",
    )
    .await;
    assert_eq!(audited, 1);
}

fn new_household(code: &str, head: &str, second: &str, second_born: &str) -> Value {
    json!({ "code": code, "headName": "赵一", "headIdNumber": head,
            "originVillageCode": "522732100201", "siteCode": "AZD001", "registeredPoor": false,
            "members": [
                { "idNumber": head, "name": "赵一", "relation": "HEAD", "birthDate": "1985-05-05",
                  "gender": "MALE", "laborCapacity": "FULL" },
                { "idNumber": second, "name": "钱二", "relation": "SPOUSE", "birthDate": second_born,
                  "gender": "FEMALE", "laborCapacity": "FULL" }
            ] })
}

#[tokio::test]
async fn concurrent_retries_with_one_key_create_one_record() {
    let app = TestApp::with_fixture("indicators").await;
    let token = app.admin_token().await;
    let k = key();
    let mut input = new_household(
        "H10",
        &id("52273219850505001"),
        &id("52273219860606002"),
        "1986-06-06",
    );
    input["idempotencyKey"] = json!(k);
    let sends = (0..20).map(|_| {
        mutate_as(
            &app,
            &token,
            "createHousehold",
            input.clone(),
            "household { code version updatedAt }",
        )
    });
    let answers = futures::future::join_all(sends).await;
    for a in &answers {
        no_user_errors(a);
        assert_eq!(a, &answers[0]);
    }
    assert_eq!(answers[0]["household"]["code"], "H10");
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM households WHERE code = 'H10'").await,
        1
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE entity_key = 'H10'"
        )
        .await,
        1
    );

    input["code"] = json!("H11");
    let p = mutate_as(&app, &token, "createHousehold", input, "household { code }").await;
    assert_eq!(p["household"], Value::Null);
    assert_eq!(p["userErrors"][0]["code"], "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM households WHERE code = 'H11'").await,
        0
    );
}

#[tokio::test]
async fn a_mutation_failing_midway_leaves_nothing_behind() {
    let app = TestApp::with_fixture("indicators").await;
    let counts =
        "SELECT (SELECT COUNT(*) FROM households) + (SELECT COUNT(*) FROM members) * 1000 \
                  + (SELECT COUNT(*) FROM audit_log) * 1000000 \
                  + (SELECT COUNT(*) FROM idempotency_keys) * 1000000000";
    let generations = "SELECT CAST(COALESCE(SUM(generation), 0) AS BIGINT) FROM cache_generations";
    let deltas = "SELECT COUNT(*) FROM indicator_deltas";
    let before = (
        scalar(&app, counts).await,
        scalar(&app, generations).await,
        scalar(&app, deltas).await,
    );
    // The second member is M2 of H01: the household and the first member are written, then
    // the database refuses the second, and everything rolls back.
    let head = id("52273219850505001");
    let mut input = new_household("H12", &head, "522732197807200121", "1978-07-20");
    input["idempotencyKey"] = json!(key());
    let p = mutate(&app, "createHousehold", input, "household { code }").await;
    assert_eq!(p["household"], Value::Null);
    assert_eq!(
        p["userErrors"],
        json!([{ "field": ["members", "1", "idNumber"],
                 "message": "member \"522732197807200121\" already exists", "code": "CONFLICT" }])
    );
    let after = (
        scalar(&app, counts).await,
        scalar(&app, generations).await,
        scalar(&app, deltas).await,
    );
    assert_eq!(before, after);
    assert_eq!(
        scalar(
            &app,
            &format!("SELECT COUNT(*) FROM members WHERE id_number = '{head}'")
        )
        .await,
        0
    );
    assert_eq!(ratio(&app, site("AZD001"), T, "occupancy").await, "3/3");
}

#[tokio::test]
async fn writes_and_unmasked_reads_are_audited_once_each() {
    let app = TestApp::with_fixture("indicators").await;
    let count = "SELECT COUNT(*) FROM audit_log";
    let before = scalar(&app, count).await;
    let writes = 3;
    for version in 1..=writes {
        let completed = if version % 2 == 1 {
            json!(T)
        } else {
            Value::Null
        };
        let p = mutate(
            &app,
            "recordWorkCompletion",
            json!({ "idempotencyKey": key(), "code": "AZD001-W5", "version": version,
                    "completedOn": completed }),
            "work { version }",
        )
        .await;
        no_user_errors(&p);
    }
    let reads = ["H01", "H02"];
    for code in reads {
        let data = app
            .data(
                "query($c: String!) { household(code: $c) { headName } }",
                json!({ "c": code }),
            )
            .await;
        assert!(!data["household"]["headName"]
            .as_str()
            .unwrap_or("")
            .contains('*'));
    }
    let after = scalar(&app, count).await;
    assert_eq!(after - before, writes + reads.len() as i64);
}

#[tokio::test]
async fn only_writing_roles_in_scope_may_write() {
    let app = TestApp::with_fixture("indicators").await;
    let input = || json!({ "idempotencyKey": key(), "code": "H05", "version": 1, "movedInOn": T });
    let selection = "household { version }";

    for role in [Role::Viewer, Role::Integration] {
        let token = app.token(role, "520000", None).await;
        let body = raw_as(&app, Some(&token), "recordMoveIn", input(), selection).await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{role}: {body:#}");
    }
    let body = raw_as(&app, None, "recordMoveIn", input(), selection).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body:#}");

    // H05's site is in township A and its origin village in C: an officer of B sees neither.
    let officer_b = app.token(Role::Officer, TOWNSHIP_B, None).await;
    let p = mutate_as(&app, &officer_b, "recordMoveIn", input(), selection).await;
    assert_eq!(p["household"], Value::Null);
    assert_eq!(
        p["userErrors"],
        json!([{ "field": ["code"], "message": "household \"H05\" was not found", "code": "NOT_FOUND" }])
    );
    // … exactly as for a household that does not exist.
    let mut missing = input();
    missing["code"] = json!("H99");
    let p = mutate_as(&app, &officer_b, "recordMoveIn", missing, selection).await;
    assert_eq!(p["userErrors"][0]["code"], "NOT_FOUND");

    // A site manager of AZD003 cannot touch AZD002's household; AZD002's can.
    let manager_3 = app
        .token(Role::SiteManager, TOWNSHIP_B, Some("AZD003"))
        .await;
    let p = mutate_as(&app, &manager_3, "recordMoveIn", input(), selection).await;
    assert_eq!(p["userErrors"][0]["code"], "NOT_FOUND");
    assert_eq!(household_version(&app, "H05").await, 1);
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM idempotency_keys").await,
        0,
        "refused writes spend no key"
    );

    let manager_2 = app
        .token(Role::SiteManager, TOWNSHIP_A, Some("AZD002"))
        .await;
    let p = mutate_as(&app, &manager_2, "recordMoveIn", input(), selection).await;
    no_user_errors(&p);
    assert_eq!(p["household"]["version"], 2);
    // An officer of A may: H05's site is there.
    let officer_a = app.token(Role::Officer, TOWNSHIP_A, None).await;
    let p = mutate_as(
        &app,
        &officer_a,
        "recordMoveIn",
        json!({ "idempotencyKey": key(), "code": "H05", "version": 2, "movedInOn": null }),
        selection,
    )
    .await;
    no_user_errors(&p);
}

#[tokio::test]
async fn the_audit_log_refuses_updates_and_deletes() {
    let app = TestApp::with_fixture("indicators").await;
    let p = mutate(
        &app,
        "recordMoveIn",
        json!({ "idempotencyKey": key(), "code": "H05", "version": 1, "movedInOn": T }),
        "household { version }",
    )
    .await;
    no_user_errors(&p);
    let db = &app.db.db;
    assert!(db
        .execute_unprepared("UPDATE audit_log SET actor = 'someone else'")
        .await
        .is_err());
    assert!(db
        .execute_unprepared("DELETE FROM audit_log")
        .await
        .is_err());
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM audit_log").await, 1);
}

#[tokio::test]
async fn admins_read_the_audit_log_of_their_subtree() {
    let app = TestApp::with_fixture("indicators").await;
    let admin_a = app.token(Role::Admin, TOWNSHIP_A, None).await;
    for (code, date) in [("H05", "2020-06-01"), ("H04", "2019-11-21")] {
        let version = household_version(&app, code).await;
        let p = mutate_as(
            &app,
            &admin_a,
            "recordMoveIn",
            json!({ "idempotencyKey": key(), "code": code, "version": version, "movedInOn": date }),
            "household { version }",
        )
        .await;
        no_user_errors(&p);
    }
    let log = "query($f: AuditLogFilter, $after: String) { auditLog(filter: $f, first: 1, after: $after) { \
               totalCount pageInfo { hasNextPage endCursor } \
               nodes { id actor role areaCode action entity entityKey before after purpose at requestId } } }";
    let filter = json!({ "action": "recordMoveIn" });
    let root = app.admin_token().await;
    let first = app.query_as(Some(&root), log, json!({ "f": filter })).await;
    let conn = &first["data"]["auditLog"];
    assert_eq!(conn["totalCount"], 2, "{first:#}");
    assert_eq!(conn["pageInfo"]["hasNextPage"], true);
    let entry = &conn["nodes"][0];
    assert_eq!(entry["entityKey"], "H05");
    assert_eq!(entry["entity"], "household");
    assert_eq!(entry["areaCode"], TOWNSHIP_A);
    let before: Value =
        serde_json::from_str(entry["before"].as_str().expect("before")).expect("JSON");
    let after: Value = serde_json::from_str(entry["after"].as_str().expect("after")).expect("JSON");
    assert_eq!(before["moved_in_on"], Value::Null);
    assert_eq!(after["moved_in_on"], "2020-06-01");
    let cursor = conn["pageInfo"]["endCursor"].clone();
    let second = app
        .query_as(Some(&root), log, json!({ "f": filter, "after": cursor }))
        .await;
    assert_eq!(second["data"]["auditLog"]["nodes"][0]["entityKey"], "H04");
    assert_eq!(second["data"]["auditLog"]["pageInfo"]["hasNextPage"], false);

    let only = app
        .query_as(
            Some(&admin_a),
            log,
            json!({ "f": { "entity": "household", "entityKey": "H04" } }),
        )
        .await;
    assert_eq!(only["data"]["auditLog"]["totalCount"], 1, "{only:#}");

    // An admin of township B does not see what A's admin did.
    let admin_b = app.token(Role::Admin, TOWNSHIP_B, None).await;
    let theirs = app
        .query_as(Some(&admin_b), log, json!({ "f": filter }))
        .await;
    assert_eq!(theirs["data"]["auditLog"]["totalCount"], 0, "{theirs:#}");

    let officer = app.token(Role::Officer, "520000", None).await;
    let refused = app.query_as(Some(&officer), log, json!({})).await;
    assert_eq!(error_code(&refused), "FORBIDDEN");
}
