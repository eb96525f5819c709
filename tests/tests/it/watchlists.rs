//! Watch lists (CONTRACT §7): the hand-counted `indicators` fixture (EXPECTED.md) on dates
//! around its events, each entry's reasons and since when, the configured LOW_INCOME line, the
//! lists against an independent computation on a generated county, and scope.

use crate::drilldown::{Register, Scope, A, B, COUNTY};
use crate::support::{error_code, fixture, TestApp, TestDb};
use anju::auth::Role;
use anju::config::ServeConfig;
use chrono::{Days, NaiveDate};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const WATCH: &str = "query($s: ScopeInput!, $d: Date, $k: WatchKind!, $a: String) { \
  watchList(scope: $s, asOf: $d, kind: $k, first: 100, after: $a) { totalCount \
    pageInfo { hasNextPage endCursor } \
    nodes { code headName watch(kind: $k, asOf: $d) { kind reasons since } } } }";

async fn watch_as(app: &TestApp, token: &str, scope: &Scope, on: &str, kind: &str) -> Vec<Value> {
    let mut nodes = Vec::new();
    let mut after = Value::Null;
    loop {
        let body = app
            .query_as(
                Some(token),
                WATCH,
                json!({ "s": scope.json(), "d": on, "k": kind, "a": after }),
            )
            .await;
        assert!(
            body.get("errors").is_none(),
            "{kind} {scope:?} {on}: {body:#}"
        );
        let conn = &body["data"]["watchList"];
        nodes.extend(conn["nodes"].as_array().unwrap().iter().cloned());
        if conn["pageInfo"]["hasNextPage"] != true {
            assert_eq!(conn["totalCount"].as_i64().unwrap(), nodes.len() as i64);
            return nodes;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
}

async fn codes(app: &TestApp, scope: &Scope, on: &str, kind: &str) -> Vec<String> {
    let token = app.admin_token().await;
    watch_as(app, &token, scope, on, kind)
        .await
        .iter()
        .map(|n| n["code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_lists_on_the_hand_counted_fixture() {
    let app = TestApp::with_fixture("indicators").await;
    let county = Scope::Area(COUNTY.into());
    // On T: H04's laborer starts on N, H05's and H07's never work; H03's M6 works on T.
    assert_eq!(
        codes(&app, &county, "2020-06-30", "ZERO_EMPLOYMENT").await,
        ["H04", "H05", "H07"]
    );
    // On N: H04 works; H03's only working laborer stopped on T.
    assert_eq!(
        codes(&app, &county, "2020-07-01", "ZERO_EMPLOYMENT").await,
        ["H03", "H05", "H07"]
    );
    let figure = app
        .data(
            "{ indicators(scope: { areaCode: \"522732\" }, asOf: \"2020-07-01\") { zeroEmploymentHouseholds } }",
            json!({}),
        )
        .await;
    assert_eq!(figure["indicators"]["zeroEmploymentHouseholds"], 3);
    // RELAPSED: H03 on 15 March; H02 on 1 September.
    assert_eq!(
        codes(&app, &county, "2020-06-30", "RELAPSED").await,
        ["H03"]
    );
    assert_eq!(
        codes(&app, &county, "2020-12-31", "RELAPSED").await,
        ["H02", "H03"]
    );
    // JOB_LOST: M2 (H01) stopped on 31 March and M1 works on, but M2 has none: listed on
    // 1 June, out of the 90 days by T. M6 (H03) stopped on T: listed from N.
    assert_eq!(
        codes(&app, &county, "2020-06-01", "JOB_LOST").await,
        ["H01"]
    );
    assert!(codes(&app, &county, "2020-06-30", "JOB_LOST")
        .await
        .is_empty());
    assert_eq!(
        codes(&app, &county, "2020-07-01", "JOB_LOST").await,
        ["H03"]
    );
    // The 90 days up to 27 September are 30 June to 27 September.
    assert_eq!(
        codes(&app, &county, "2020-09-27", "JOB_LOST").await,
        ["H03"]
    );
    assert!(codes(&app, &county, "2020-09-28", "JOB_LOST")
        .await
        .is_empty());
    // LOW_INCOME on T, below 6,000 a person: H01 3200×12/3, H02 6000×12/2, H03 3200×12/4 are
    // above; H06 1500×12/3 = 6,000 is not below; H04, H05, H07, H08 earn nothing.
    assert_eq!(
        codes(&app, &county, "2020-06-30", "LOW_INCOME").await,
        ["H04", "H05", "H07", "H08"]
    );
    // On N H03 has M8's 600 a month for 4 persons; H04's new job has no recorded income.
    assert_eq!(
        codes(&app, &county, "2020-07-01", "LOW_INCOME").await,
        ["H03", "H04", "H05", "H07", "H08"]
    );
}

#[tokio::test]
async fn each_entry_says_why_and_since_when() {
    let app = TestApp::with_fixture("indicators").await;
    let token = app.admin_token().await;
    let county = Scope::Area(COUNTY.into());
    let lost = watch_as(&app, &token, &county, "2020-07-01", "JOB_LOST").await;
    let entry = &lost[0]["watch"];
    assert_eq!(entry["kind"], "JOB_LOST");
    assert_eq!(entry["since"], "2020-07-01");
    assert!(
        entry["reasons"][0]
            .as_str()
            .unwrap()
            .contains("ended on 2020-06-30"),
        "{entry}"
    );
    let relapsed = watch_as(&app, &token, &county, "2020-12-31", "RELAPSED").await;
    assert_eq!(relapsed[0]["watch"]["since"], "2020-09-01");
    assert_eq!(relapsed[1]["watch"]["since"], "2020-03-15");
    let zero = watch_as(&app, &token, &county, "2020-07-01", "ZERO_EMPLOYMENT").await;
    // H03: since the day after its last laborer's job ended; H05 never had one: since it
    // moved in (never).
    assert_eq!(zero[0]["watch"]["since"], "2020-07-01");
    assert_eq!(zero[1]["code"], "H05");
    assert_eq!(zero[1]["watch"]["since"], Value::Null);
    let low = watch_as(&app, &token, &county, "2020-07-01", "LOW_INCOME").await;
    let h04 = low.iter().find(|n| n["code"] == "H04").unwrap();
    let reasons = h04["watch"]["reasons"].to_string();
    assert!(reasons.contains("0 yuan a year per person"), "{reasons}");
    assert!(reasons.contains("without a recorded income"), "{reasons}");
    assert_eq!(h04["watch"]["since"], "2020-07-01");
}

#[tokio::test]
async fn the_low_income_line_is_a_setting() {
    let db = TestDb::new().await;
    anju::register::import_dir(&db.db, &fixture("indicators"))
        .await
        .unwrap();
    let config = ServeConfig {
        low_income_line_yuan: 7_000,
        ..ServeConfig::ephemeral()
    };
    let app = TestApp::spawn_with(db, config).await;
    // H06's 6,000 a person is now below the line.
    assert_eq!(
        codes(
            &app,
            &Scope::Area(COUNTY.into()),
            "2020-06-30",
            "LOW_INCOME"
        )
        .await,
        ["H04", "H05", "H06", "H07", "H08"]
    );
}

#[tokio::test]
async fn an_officer_reads_only_its_townships_lists() {
    let app = TestApp::with_fixture("indicators").await;
    let officer = app.token(Role::Viewer, B, None).await;
    for scope in [Scope::Area(COUNTY.into()), Scope::Area(A.into())] {
        let body = app
            .query_as(
                Some(&officer),
                WATCH,
                json!({ "s": scope.json(), "d": "2020-06-30", "k": "LOW_INCOME" }),
            )
            .await;
        assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    }
    let nodes = watch_as(
        &app,
        &officer,
        &Scope::Area(B.into()),
        "2020-06-30",
        "LOW_INCOME",
    )
    .await;
    let codes: Vec<&str> = nodes.iter().map(|n| n["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["H07", "H08"]);
    assert!(nodes
        .iter()
        .all(|n| n["headName"].as_str().unwrap().contains('*')));
}

#[tokio::test]
async fn the_lists_equal_an_independent_computation_on_a_generated_county() {
    let dir = tempfile::tempdir().unwrap();
    anju_demo::write_csv(
        &anju_demo::DemoOptions {
            households: 300,
            seed: 7,
            ..anju_demo::DemoOptions::default()
        },
        dir.path(),
    )
    .unwrap();
    let db = TestDb::new().await;
    anju::register::import_dir(&db.db, dir.path())
        .await
        .unwrap();
    let app = TestApp::spawn_on(db).await;
    let register = Register::read(&app.db).await;
    let county = register.households[0].site_code.clone();
    let scope = Scope::Site(county);
    let root = Scope::Area(
        entity::area::Entity::find()
            .all(&app.db.db)
            .await
            .unwrap()
            .into_iter()
            .find(|a| a.parent_code.is_none())
            .unwrap()
            .code,
    );
    let mut seen = 0;
    for on in ["2019-06-30", "2020-12-31"] {
        let day = NaiveDate::parse_from_str(on, "%Y-%m-%d").unwrap();
        for scope in [&root, &scope] {
            for kind in ["ZERO_EMPLOYMENT", "LOW_INCOME", "RELAPSED", "JOB_LOST"] {
                let listed: BTreeSet<String> =
                    codes(&app, scope, on, kind).await.into_iter().collect();
                let expected: BTreeSet<String> = register
                    .households_in(scope)
                    .into_iter()
                    .filter(|h| on_list(&register, h, kind, day))
                    .map(|h| h.code.clone())
                    .collect();
                assert_eq!(listed, expected, "{kind} {scope:?} {on}");
                seen += listed.len();
            }
        }
    }
    assert!(
        seen > 0,
        "the generated county puts no household on any list"
    );
}

use sea_orm::EntityTrait;

/// The contract's wording of each list, in plain Rust.
fn on_list(r: &Register, h: &entity::household::Model, kind: &str, on: NaiveDate) -> bool {
    let laborers = r.laborers_of(&h.code);
    match kind {
        "ZERO_EMPLOYMENT" => {
            !laborers.is_empty() && !laborers.iter().any(|m| r.employed(&m.id_number, on))
        }
        "RELAPSED" => h.registered_poor && h.relapsed_on.is_some_and(|d| d <= on),
        "JOB_LOST" => {
            let from = on - Days::new(89);
            laborers.iter().any(|m| {
                !r.employed(&m.id_number, on)
                    && r.jobs_of(&m.id_number)
                        .iter()
                        .any(|e| e.ended_on.is_some_and(|end| end >= from && end <= on))
            })
        }
        "LOW_INCOME" => {
            let monthly: i64 = r
                .members
                .iter()
                .filter(|m| m.household_code == h.code)
                .flat_map(|m| r.jobs_of(&m.id_number))
                .filter(|e| e.started_on <= on && e.ended_on.is_none_or(|end| end >= on))
                .map(|e| i64::from(e.monthly_income_yuan.unwrap_or(0)))
                .sum();
            monthly * 12 < 6_000 * i64::from(h.persons)
        }
        other => panic!("no list {other}"),
    }
}

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(format!("{}{path}", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

/// The `indicators` fixture with H05's head named like a formula.
async fn hostile() -> TestApp {
    let dir = crate::support::fixture_copy("indicators");
    crate::support::edit_csv(dir.path(), "households.csv", "H05,蒙正华,", "H05,=1+2,");
    let db = TestDb::new().await;
    anju::register::import_dir(&db.db, dir.path())
        .await
        .unwrap();
    TestApp::spawn_on(db).await
}

#[tokio::test]
async fn field_teams_download_the_lists_as_csv_and_xlsx() {
    use calamine::{Data, Reader};
    let app = hostile().await;
    let officer = app.token(Role::Officer, COUNTY, None).await;
    let path = "/watch-lists/ZERO_EMPLOYMENT.csv?areaCode=522732&asOf=2020-06-30";
    let resp = get(&app, path, Some(&officer)).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = resp.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let codes: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(codes, ["H04", "H05", "H07"]);
    // The officer sees personal data, defanged; the ID number whole.
    assert_eq!(&rows[1][1], "'=1+2");
    assert_eq!(rows[1][2].len(), 18);
    assert!(!rows[1][2].contains('*'));
    assert!(rows[1][7].contains("none employed on 2020-06-30"));
    // Each household shown unmasked is on record.
    let audited: Vec<String> = entity::audit_log::Entity::find()
        .all(&app.db.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.purpose.as_deref() == Some("watch-list download"))
        .filter_map(|e| e.entity_keys)
        .collect();
    assert_eq!(audited.len(), 1, "{audited:?}");
    for code in ["H04", "H05", "H07"] {
        assert!(audited[0].contains(code), "{audited:?}");
    }

    // The workbook: the same rows, every cell text, the formula-like name kept as text.
    let viewer = app.token(Role::Viewer, COUNTY, None).await;
    let resp = get(
        &app,
        "/watch-lists/zero_employment.xlsx?areaCode=522732&asOf=2020-06-30",
        Some(&viewer),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.unwrap();
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let range = book.worksheet_range("名单").unwrap();
    let formulas = book.worksheet_formula("名单").unwrap();
    assert!(formulas.cells().all(|(_, _, f)| f.is_empty()));
    let cell = |r: u32, c: u32| match range.get_value((r, c)) {
        Some(Data::String(s)) => s.clone(),
        other => panic!("({r}, {c}): {other:?}"),
    };
    let codes: Vec<String> = (3..6).map(|r| cell(r, 0)).collect();
    assert_eq!(codes, ["H04", "H05", "H07"]);
    // The viewer's copy is masked: surname only, and a masked ID number.
    assert_eq!(cell(4, 1), "=***");
    assert!(cell(4, 2).contains("**********"));
    assert_eq!(range.get_value((6, 0)), None);
}

#[tokio::test]
async fn downloads_need_credentials_and_keep_to_the_callers_scope() {
    let app = TestApp::with_fixture("indicators").await;
    let path = "/watch-lists/RELAPSED.csv?areaCode=522732";
    assert_eq!(get(&app, path, None).await.status(), 401);
    let township = app.token(Role::Officer, B, None).await;
    let resp = get(&app, path, Some(&township)).await;
    assert_eq!(resp.status(), 404);
    let own = get(
        &app,
        "/watch-lists/RELAPSED.csv?areaCode=522732101&asOf=2020-12-31",
        Some(&township),
    )
    .await;
    assert_eq!(own.status(), 200);
    // Township B's relapsed households: none (H02 and H03 are A's).
    assert_eq!(own.text().await.unwrap().lines().count(), 1);
    for (bad, says) in [
        ("/watch-lists/HUNGRY.csv?areaCode=522732101", "kind"),
        ("/watch-lists/RELAPSED.pdf?areaCode=522732101", "path"),
        ("/watch-lists/RELAPSED.csv", "scope"),
        (
            "/watch-lists/RELAPSED.csv?areaCode=522732101&asOf=30.6.2020",
            "asOf",
        ),
    ] {
        let resp = get(&app, bad, Some(&township)).await;
        assert_eq!(resp.status(), 400, "{bad}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with(says),
            "{body}"
        );
    }
}
