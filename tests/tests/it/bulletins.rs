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

pub(crate) async fn bulletin(
    app: &TestApp,
    area: &str,
    month: &str,
    vintage: Option<i64>,
) -> Value {
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
        assert_eq!(
            granted["data"]["grantLockException"]["userErrors"],
            json!([])
        );
    }
    let corrected = move_in(&app, "H05", "2020-06-10").await;
    assert_eq!(corrected["userErrors"], json!([]), "{corrected:#}");
    let after = bulletin(&app, COUNTY, "2020-06", None).await;
    assert_eq!(after["vintage"], 1);
    assert_eq!(
        after["reported"], first["reported"],
        "reported figures never change"
    );
    assert_eq!(after["occupancy"], first["occupancy"]);
    assert_eq!(
        after["current"]["occupancy"],
        json!({ "numerator": 7, "denominator": 8, "rate": 0.875 })
    );
    assert_eq!(after["revised"], true);

    // Re-approval, top down then bottom up, publishes vintage 2 and keeps vintage 1.
    let county = app
        .token_for("county-officer", Role::Officer, COUNTY, None)
        .await;
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
    assert_eq!(
        second["occupancy"][0]["ratio"],
        json!({ "numerator": 5, "denominator": 5, "rate": 1.0 })
    );
    let kept = bulletin(&app, COUNTY, "2020-06", Some(1)).await;
    assert_eq!(kept["vintage"], 1);
    assert_eq!(kept["reported"], first["reported"]);
    assert_eq!(kept["revised"], true);
    assert_eq!(
        bulletin(&app, COUNTY, "2020-06", Some(3)).await,
        Value::Null
    );
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

/// A name a spreadsheet would run as a formula, and markup a page would run as HTML.
const HOSTILE: &str = "=1+1<b>x</b>";

/// The fixture with township C renamed to [`HOSTILE`], May and June approved throughout.
async fn approved_with_hostile_name() -> TestApp {
    let dir = crate::support::fixture_copy("indicators");
    crate::support::edit_csv(
        dir.path(),
        "areas.csv",
        "522732102,高山乡,",
        &format!("522732102,\"{}\",", HOSTILE),
    );
    let db = crate::support::TestDb::new().await;
    anju::register::import_dir(&db.db, dir.path())
        .await
        .expect("import");
    let app = TestApp::spawn_on(db).await;
    approve_all(&app, "2020-05").await;
    approve_all(&app, "2020-06").await;
    app
}

const INDICATORS: [(&str, &str); 9] = [
    ("CONSTRUCTION_COMPLETION", "工程竣工率"),
    ("WORKS_COMPLETION", "配套工程完成率"),
    ("OCCUPANCY", "搬迁入住率 (户)"),
    ("OCCUPANCY_PERSONS", "搬迁入住率 (人)"),
    ("STABLE_POVERTY_EXIT", "稳定脱贫率"),
    ("EMPLOYMENT", "劳动力就业率"),
    ("HOUSEHOLD_EMPLOYMENT", "有劳动力家庭就业覆盖率 (一户一人)"),
    ("DEMOLITION", "旧房拆除率"),
    ("RECLAMATION", "拆除复垦率"),
];

/// The county's June ranking by `indicator`, as GraphQL answers it.
async fn ranking(app: &TestApp, indicator: &str) -> Vec<Value> {
    let query = format!(
        "{{ bulletin(areaCode: \"{COUNTY}\", month: \"2020-06\") {{ ranking(indicator: {indicator}) {{ \
         rank area {{ code name }} ratio {{ numerator denominator rate }} previousRate }} }} }}"
    );
    app.data(&query, json!({})).await["bulletin"]["ranking"]
        .as_array()
        .unwrap()
        .clone()
}

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(format!("{}{path}", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("GET")
}

#[tokio::test]
async fn the_workbook_holds_the_bulletin_with_names_as_text() {
    use calamine::{Data, Reader};
    let app = approved_with_hostile_name().await;
    let county = app
        .token_for("county-viewer", Role::Viewer, COUNTY, None)
        .await;
    let resp = get(&app, "/bulletins/522732/2020-06.xlsx", Some(&county)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let bytes = resp.bytes().await.unwrap().to_vec();
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).expect("an xlsx workbook");
    assert_eq!(
        book.sheet_names(),
        INDICATORS.map(|(_, name)| name.to_owned()).to_vec()
    );
    for (indicator, name) in INDICATORS {
        let range = book.worksheet_range(name).expect("sheet");
        let formulas = book.worksheet_formula(name).expect("formulas");
        assert!(
            formulas.used_cells().all(|(_, _, f)| f.is_empty()),
            "{name}: no cell is a formula"
        );
        let cell = |row: u32, col: u32| range.get_value((row, col)).cloned().unwrap_or(Data::Empty);
        assert_eq!(cell(3, 0), Data::String("排名".into()));
        let expected = ranking(&app, indicator).await;
        assert_eq!(expected.len(), 3);
        for (i, want) in expected.iter().enumerate() {
            let row = 4 + i as u32;
            let rate = |v: &Value| v.as_f64().map_or(Data::Empty, Data::Float);
            assert_eq!(
                [
                    cell(row, 0),
                    cell(row, 1),
                    cell(row, 2),
                    cell(row, 3),
                    cell(row, 4),
                    cell(row, 5),
                    cell(row, 6)
                ],
                [
                    Data::Float(want["rank"].as_f64().unwrap()),
                    Data::String(want["area"]["code"].as_str().unwrap().into()),
                    Data::String(want["area"]["name"].as_str().unwrap().into()),
                    Data::Float(want["ratio"]["numerator"].as_f64().unwrap()),
                    Data::Float(want["ratio"]["denominator"].as_f64().unwrap()),
                    rate(&want["ratio"]["rate"]),
                    rate(&want["previousRate"]),
                ],
                "{name}, row {row}"
            );
        }
    }
    // The hostile name is in the workbook, as the text it is.
    let occupancy = book.worksheet_range("搬迁入住率 (户)").unwrap();
    assert_eq!(
        occupancy.get_value((6, 2)),
        Some(&Data::String(HOSTILE.into()))
    );
    // Month-over-month change of A's occupancy: 80.0% against 60.0%, +20.0 points.
    match occupancy.get_value((4, 7)) {
        Some(Data::Float(points)) => assert!((points - 20.0).abs() < 1e-9, "{points}"),
        other => panic!("change of A: {other:?}"),
    }
}

#[tokio::test]
async fn the_printable_page_holds_the_bulletin_and_no_script() {
    let app = approved_with_hostile_name().await;
    let county = app
        .token_for("county-viewer", Role::Viewer, COUNTY, None)
        .await;
    let resp = get(&app, "/bulletins/522732/2020-06", Some(&county)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    let html = scraper::Html::parse_document(&resp.text().await.unwrap());
    let select = |s: &str| scraper::Selector::parse(s).unwrap();
    assert_eq!(html.select(&select("script")).count(), 0);
    assert_eq!(
        html.select(&select("b")).count(),
        0,
        "markup in names is escaped"
    );
    let style: String = html
        .select(&select("style"))
        .flat_map(|s| s.text())
        .collect();
    assert!(style.contains("@page { size: A4"), "{style}");
    let sections: Vec<_> = html.select(&select("section.indicator")).collect();
    assert_eq!(sections.len(), 9);
    for (section, (indicator, name)) in sections.iter().zip(INDICATORS) {
        assert_eq!(section.value().attr("data-indicator"), Some(indicator));
        let heading: String = section
            .select(&select("h2"))
            .flat_map(|h| h.text())
            .collect();
        assert_eq!(heading, name);
        let expected = ranking(&app, indicator).await;
        let rows: Vec<Vec<String>> = section
            .select(&select("tr.rank"))
            .map(|tr| {
                tr.select(&select("td"))
                    .map(|td| td.text().collect::<String>())
                    .collect()
            })
            .collect();
        let percent = |v: &Value| {
            v.as_f64()
                .map_or("—".to_owned(), |r| format!("{:.1}%", r * 100.0))
        };
        let want: Vec<Vec<String>> = expected
            .iter()
            .map(|e| {
                vec![
                    e["rank"].to_string(),
                    e["area"]["code"].as_str().unwrap().to_owned(),
                    e["area"]["name"].as_str().unwrap().to_owned(),
                    e["ratio"]["numerator"].to_string(),
                    e["ratio"]["denominator"].to_string(),
                    percent(&e["ratio"]["rate"]),
                    percent(&e["previousRate"]),
                ]
            })
            .collect();
        let shown: Vec<Vec<String>> = rows.iter().map(|r| r[..7].to_vec()).collect();
        assert_eq!(shown, want, "{name}");
        // One bar per child, in the SVG chart.
        let bars: Vec<&str> = section
            .select(&select("svg rect.bar"))
            .filter_map(|r| r.value().attr("data-area"))
            .collect();
        let codes: Vec<&str> = expected
            .iter()
            .map(|e| e["area"]["code"].as_str().unwrap())
            .collect();
        assert_eq!(bars, codes);
    }
    let occupancy = sections[2];
    let a_row: Vec<String> = occupancy
        .select(&select("tr.rank"))
        .next()
        .unwrap()
        .select(&select("td"))
        .map(|td| td.text().collect())
        .collect();
    assert_eq!(
        a_row,
        ["1", A, "安居镇", "4", "5", "80.0%", "60.0%", "+20.0"]
    );
}

#[tokio::test]
async fn downloads_need_credentials_and_stay_in_scope() {
    let app = approved_with_hostile_name().await;
    let officer_b = app.token_for("officer-b", Role::Officer, B, None).await;
    for path in [
        "/bulletins/522732/2020-06",
        "/bulletins/522732/2020-06.xlsx",
    ] {
        let anonymous = get(&app, path, None).await;
        assert_eq!(anonymous.status(), 401, "{path}");
        assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
        let outside = get(&app, path, Some(&officer_b)).await;
        assert_eq!(outside.status(), 404, "{path}");
        let body: Value = outside.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
    }
    assert_eq!(
        get(&app, "/bulletins/522732101/2020-06.xlsx", Some(&officer_b))
            .await
            .status(),
        200
    );
    let bad = get(&app, "/bulletins/522732101/2020-6", Some(&officer_b)).await;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("YYYY-MM"));
    // A vintage that was never published is not found.
    assert_eq!(
        get(
            &app,
            "/bulletins/522732101/2020-06?vintage=2",
            Some(&officer_b)
        )
        .await
        .status(),
        404
    );
}
