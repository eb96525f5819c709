//! Reporting periods (CONTRACT §6): the approval workflow's order and who may take each step,
//! the lock an approval puts on the area's figures (mutations and imports), lock exceptions,
//! and bulletins: reported figures that never change, `current` and `revised`, vintages and
//! rankings. Over the hand-counted `indicators` fixture (tests/fixtures/EXPECTED.md): county
//! 522732 with townships A (522732100), B (522732101) and C (522732102).

use crate::support::{edit_csv, error_code, fixture_copy, TestApp};
use anju::auth::Role;
use serde_json::{json, Value};

pub(crate) const COUNTY: &str = "522732";
pub(crate) const A: &str = "522732100";
pub(crate) const B: &str = "522732101";
pub(crate) const C: &str = "522732102";
pub(crate) const TOWNSHIPS: [&str; 3] = [A, B, C];

fn key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Runs a workflow step (`submitPeriod`, …) as `token`; the whole response.
pub(crate) async fn step(
    app: &TestApp,
    token: &str,
    field: &str,
    area: &str,
    month: &str,
) -> Value {
    let ty = format!("{}{}Input", field[..1].to_uppercase(), &field[1..]);
    let ty = if field == "grantLockException" {
        ty
    } else {
        "PeriodInput".to_owned()
    };
    let query = format!(
        "mutation($input: {ty}!) {{ {field}(input: $input) {{ period {{ state month area {{ code }} }} vintage userErrors {{ field message code }} }} }}"
    );
    app.query_as(
        Some(token),
        &query,
        json!({ "input": { "idempotencyKey": key(), "areaCode": area, "month": month } }),
    )
    .await
}

/// A step that must succeed: its period's state.
pub(crate) async fn ok_step(
    app: &TestApp,
    token: &str,
    field: &str,
    area: &str,
    month: &str,
) -> Value {
    let body = step(app, token, field, area, month).await;
    assert!(body.get("errors").is_none(), "{field} {area}: {body:#}");
    let payload = &body["data"][field];
    assert_eq!(payload["userErrors"], json!([]), "{field} {area}: {body:#}");
    payload.clone()
}

/// The user errors' codes of a step.
async fn refused_step(
    app: &TestApp,
    token: &str,
    field: &str,
    area: &str,
    month: &str,
) -> Vec<String> {
    let body = step(app, token, field, area, month).await;
    assert!(body.get("errors").is_none(), "{field} {area}: {body:#}");
    assert_eq!(body["data"][field]["period"], Value::Null);
    body["data"][field]["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap().to_owned())
        .collect()
}

/// Submits and approves every township's `month`, then the county's.
pub(crate) async fn approve_all(app: &TestApp, month: &str) {
    let county = app
        .token_for("county-officer", Role::Officer, COUNTY, None)
        .await;
    for t in TOWNSHIPS {
        let own = app
            .token_for(&format!("officer-{t}"), Role::Officer, t, None)
            .await;
        ok_step(app, &own, "submitPeriod", t, month).await;
        ok_step(app, &county, "approvePeriod", t, month).await;
    }
    ok_step(app, &county, "approvePeriod", COUNTY, month).await;
}

/// Grants a lock exception as the root's admin.
pub(crate) async fn grant(app: &TestApp, area: &str, month: &str) -> Value {
    let token = app.admin_token().await;
    app.query_as(
        Some(&token),
        "mutation($input: GrantLockExceptionInput!) { grantLockException(input: $input) { \
         lockException { areaCode month reason expiresAt } userErrors { field message code } } }",
        json!({ "input": { "idempotencyKey": key(), "areaCode": area, "month": month,
                           "reason": "a move-in entered late", "validHours": 2 } }),
    )
    .await
}

async fn version(app: &TestApp, household: &str) -> i64 {
    let data = app
        .data(
            "query($c: String!) { household(code: $c) { version } }",
            json!({ "c": household }),
        )
        .await;
    data["household"]["version"].as_i64().unwrap()
}

/// `recordMoveIn` of `household` on `date` as an officer of township A; the payload.
pub(crate) async fn move_in(app: &TestApp, household: &str, date: &str) -> Value {
    let token = app.token_for("officer-a", Role::Officer, A, None).await;
    let v = version(app, household).await;
    let body = app
        .query_as(
            Some(&token),
            "mutation($input: RecordMoveInInput!) { recordMoveIn(input: $input) { \
             household { movedInOn } userErrors { field message code } } }",
            json!({ "input": { "idempotencyKey": key(), "code": household, "version": v,
                               "movedInOn": date } }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"]["recordMoveIn"].clone()
}

fn codes(payload: &Value) -> Vec<&str> {
    payload["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect()
}

async fn period(app: &TestApp, token: &str, area: &str, month: &str) -> Value {
    let body = app
        .query_as(
            Some(token),
            "query($a: String!, $m: String!) { reportingPeriod(areaCode: $a, month: $m) { \
             area { code } month state maySubmit mayApprove mayUnapprove } }",
            json!({ "a": area, "m": month }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"]["reportingPeriod"].clone()
}

#[tokio::test]
async fn months_are_approved_bottom_up_and_unapproved_top_down() {
    let app = TestApp::with_fixture("indicators").await;
    let m = "2020-06";
    let officer_a = app.token_for("officer-a", Role::Officer, A, None).await;
    let county = app
        .token_for("county-officer", Role::Officer, COUNTY, None)
        .await;
    let viewer = app
        .token_for("county-viewer", Role::Viewer, COUNTY, None)
        .await;

    // An open month, as each side sees it.
    assert_eq!(
        period(&app, &officer_a, A, m).await,
        json!({ "area": { "code": A }, "month": m, "state": "OPEN",
                "maySubmit": true, "mayApprove": false, "mayUnapprove": false })
    );
    assert_eq!(
        period(&app, &county, A, m).await["maySubmit"],
        json!(false),
        "the county does not submit for its townships"
    );
    // The county cannot approve a month not submitted, nor its own before its townships'.
    assert_eq!(
        refused_step(&app, &county, "approvePeriod", A, m).await,
        ["CONFLICT"]
    );
    assert_eq!(
        refused_step(&app, &county, "approvePeriod", COUNTY, m).await,
        ["CONFLICT"]
    );
    // A viewer takes no step; a township does not approve itself.
    let body = step(&app, &viewer, "submitPeriod", A, m).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body:#}");
    assert_eq!(
        ok_step(&app, &officer_a, "submitPeriod", A, m).await["period"]["state"],
        "SUBMITTED"
    );
    let body = step(&app, &officer_a, "approvePeriod", A, m).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body:#}");
    assert_eq!(
        refused_step(&app, &officer_a, "submitPeriod", A, m).await,
        ["CONFLICT"]
    );
    assert_eq!(
        period(&app, &county, A, m).await,
        json!({ "area": { "code": A }, "month": m, "state": "SUBMITTED",
                "maySubmit": false, "mayApprove": true, "mayUnapprove": true })
    );
    let approved = ok_step(&app, &county, "approvePeriod", A, m).await;
    assert_eq!(approved["period"]["state"], "APPROVED");
    assert_eq!(approved["vintage"], 1);
    // B and C still pending: the county's month waits for them.
    let body = step(&app, &county, "approvePeriod", COUNTY, m).await;
    let message = body["data"]["approvePeriod"]["userErrors"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains(B) && message.contains(C) && !message.contains(A),
        "{message}"
    );
    for t in [B, C] {
        let own = app
            .token_for(&format!("officer-{t}"), Role::Officer, t, None)
            .await;
        ok_step(&app, &own, "submitPeriod", t, m).await;
        ok_step(&app, &county, "approvePeriod", t, m).await;
    }
    assert_eq!(
        period(&app, &county, COUNTY, m).await["mayApprove"],
        json!(true)
    );
    ok_step(&app, &county, "approvePeriod", COUNTY, m).await;
    // Township months stay while the county's is approved.
    assert_eq!(
        period(&app, &county, A, m).await["mayUnapprove"],
        json!(false)
    );
    assert_eq!(
        refused_step(&app, &county, "unapprovePeriod", A, m).await,
        ["CONFLICT"]
    );
    // Top down: the county's month, then A's (back to SUBMITTED), then back to OPEN.
    assert_eq!(
        ok_step(&app, &county, "unapprovePeriod", COUNTY, m).await["period"]["state"],
        "OPEN"
    );
    assert_eq!(
        ok_step(&app, &county, "unapprovePeriod", A, m).await["period"]["state"],
        "SUBMITTED"
    );
    assert_eq!(
        ok_step(&app, &county, "unapprovePeriod", A, m).await["period"]["state"],
        "OPEN"
    );
    // Another month is untouched by all this; villages and bad months are refused clearly.
    assert_eq!(period(&app, &county, A, "2020-07").await["state"], "OPEN");
    assert_eq!(
        refused_step(&app, &county, "approvePeriod", "522732100201", m).await,
        ["BAD_USER_INPUT"]
    );
    let body = step(&app, &county, "approvePeriod", A, "2020-6").await;
    let errors = &body["data"]["approvePeriod"]["userErrors"];
    assert_eq!(errors[0]["field"], json!(["month"]), "{body:#}");
    assert!(errors[0]["message"].as_str().unwrap().contains("YYYY-MM"));
    // Outside the caller's subtree is an area that does not exist.
    assert_eq!(
        refused_step(&app, &officer_a, "submitPeriod", B, m).await,
        ["NOT_FOUND"]
    );
    assert_eq!(period(&app, &officer_a, B, m).await, Value::Null);
}

#[tokio::test]
async fn an_approved_month_refuses_backdated_writes_until_an_exception() {
    let app = TestApp::with_fixture("indicators").await;
    let county = app
        .token_for("county-officer", Role::Officer, COUNTY, None)
        .await;
    let officer_a = app.token_for("officer-a", Role::Officer, A, None).await;
    ok_step(&app, &officer_a, "submitPeriod", A, "2020-06").await;
    ok_step(&app, &county, "approvePeriod", A, "2020-06").await;

    // H05 (site AZD002, township A) has not moved in. In on 15 June: June's figures would
    // change; refused, and nothing written.
    let refused = move_in(&app, "H05", "2020-06-15").await;
    assert_eq!(codes(&refused), ["PERIOD_LOCKED"], "{refused:#}");
    let message = refused["userErrors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("2020-06") && message.contains(A) && message.contains("occupancy"),
        "{message}"
    );
    assert_eq!(refused["household"], Value::Null);
    // Dated in May it counts on every day of June too.
    assert_eq!(
        codes(&move_in(&app, "H05", "2020-05-20").await),
        ["PERIOD_LOCKED"]
    );
    // In July: June's figures stay as they were; allowed.
    let later = move_in(&app, "H05", "2020-07-05").await;
    assert_eq!(codes(&later), Vec::<&str>::new(), "{later:#}");
    assert_eq!(later["household"]["movedInOn"], "2020-07-05");
    // Moving that July date back into June is refused again.
    assert_eq!(
        codes(&move_in(&app, "H05", "2020-06-30").await),
        ["PERIOD_LOCKED"]
    );

    // Township B's June is open: a June date there is fine.
    let token_b = app.token_for("officer-b", Role::Officer, B, None).await;
    let body = app
        .query_as(
            Some(&token_b),
            "mutation($input: RecordWorkCompletionInput!) { recordWorkCompletion(input: $input) { \
             work { completedOn } userErrors { code } } }",
            json!({ "input": { "idempotencyKey": key(), "code": "AZD003-W9", "version": 1,
                               "completedOn": "2020-06-10" } }),
        )
        .await;
    assert_eq!(
        body["data"]["recordWorkCompletion"],
        json!({ "work": { "completedOn": "2020-06-10" }, "userErrors": [] }),
        "{body:#}"
    );

    // Only admins grant exceptions, only for approved months.
    let body = app
        .query_as(
            Some(&county),
            "mutation($input: GrantLockExceptionInput!) { grantLockException(input: $input) { \
             userErrors { code } } }",
            json!({ "input": { "idempotencyKey": key(), "areaCode": A, "month": "2020-06",
                               "reason": "late entry" } }),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body:#}");
    let not_locked = grant(&app, A, "2020-05").await;
    assert_eq!(
        not_locked["data"]["grantLockException"]["userErrors"][0]["code"],
        "CONFLICT"
    );
    let granted = grant(&app, A, "2020-06").await;
    let exception = &granted["data"]["grantLockException"];
    assert_eq!(exception["userErrors"], json!([]), "{granted:#}");
    assert_eq!(exception["lockException"]["areaCode"], A);
    let allowed = move_in(&app, "H05", "2020-06-15").await;
    assert_eq!(codes(&allowed), Vec::<&str>::new(), "{allowed:#}");

    // The exception is in the audit log.
    let data = app
        .data(
            "{ auditLog(filter: { action: \"grantLockException\" }, first: 5) { nodes { entityKey } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["auditLog"]["nodes"],
        json!([{ "entityKey": format!("{A}:2020-06") }])
    );
}

#[tokio::test]
async fn an_expired_exception_no_longer_lifts_the_lock() {
    let app = TestApp::with_fixture("indicators").await;
    let county = app
        .token_for("county-officer", Role::Officer, COUNTY, None)
        .await;
    let officer_a = app.token_for("officer-a", Role::Officer, A, None).await;
    ok_step(&app, &officer_a, "submitPeriod", A, "2020-06").await;
    ok_step(&app, &county, "approvePeriod", A, "2020-06").await;
    let granted = grant(&app, A, "2020-06").await;
    assert_eq!(
        granted["data"]["grantLockException"]["userErrors"],
        json!([])
    );
    // Let it expire, as time would.
    use sea_orm::ConnectionTrait;
    app.db
        .db
        .execute_unprepared("UPDATE lock_exceptions SET expires_at = 0")
        .await
        .unwrap();
    assert_eq!(
        codes(&move_in(&app, "H05", "2020-06-15").await),
        ["PERIOD_LOCKED"]
    );
}

#[tokio::test]
async fn an_import_refuses_every_row_that_alters_an_approved_month() {
    let app = TestApp::with_fixture("indicators").await;
    let county = app
        .token_for("county-officer", Role::Officer, COUNTY, None)
        .await;
    let officer_a = app.token_for("officer-a", Role::Officer, A, None).await;
    ok_step(&app, &officer_a, "submitPeriod", A, "2020-06").await;
    ok_step(&app, &county, "approvePeriod", A, "2020-06").await;

    // The whole fixture again, with H05 moved in on 2020-06-15 (line 6), work W6 of AZD002
    // completed a day earlier (2020-06-29: line 7 of site_works.csv), H06 in township B moved
    // in earlier (B is open), and H07 of B in July.
    let dir = fixture_copy("indicators");
    edit_csv(
        dir.path(),
        "households.csv",
        "AZD002,2,true,,,",
        "AZD002,2,true,2020-06-15,,",
    );
    edit_csv(dir.path(), "households.csv", "2020-01-10", "2020-01-05");
    let works = std::fs::read_to_string(dir.path().join("site_works.csv")).unwrap();
    let w6 = works
        .lines()
        .position(|l| l.contains("AZD002-W6"))
        .expect("W6")
        + 1;
    let w6_line = works.lines().nth(w6 - 1).unwrap().to_owned();
    edit_csv(
        dir.path(),
        "site_works.csv",
        &w6_line,
        &w6_line.replace("2020-06-30", "2020-06-29"),
    );
    let err = anju::register::import_dir(&app.db.db, dir.path())
        .await
        .expect_err("refused");
    let anju::register::ImportError::Locked(breaches) = err else {
        panic!("not a lock refusal: {err}");
    };
    let listed: Vec<String> = breaches
        .iter()
        .map(|b| format!("{}:{}: {}", b.file, b.line, b.column))
        .collect();
    assert_eq!(
        listed,
        [
            format!("site_works.csv:{w6}: completed_on"),
            "households.csv:6: moved_in_on".to_owned(),
        ]
    );
    assert!(breaches[0].reason.contains("2020-06") && breaches[0].reason.contains(A));
    // Nothing was written: not even B's open change.
    let data = app
        .data(
            "{ h05: household(code: \"H05\") { movedInOn } h06: household(code: \"H06\") { movedInOn } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data,
        json!({ "h05": { "movedInOn": null }, "h06": { "movedInOn": "2020-01-10" } })
    );

    // Without the two locked rows the import goes through.
    let dir = fixture_copy("indicators");
    edit_csv(dir.path(), "households.csv", "2020-01-10", "2020-01-05");
    edit_csv(
        dir.path(),
        "households.csv",
        "AZD002,2,true,,,",
        "AZD002,2,true,2020-07-02,,",
    );
    anju::register::import_dir(&app.db.db, dir.path())
        .await
        .expect("import allowed");
    // As `anju import` does: mirror the raised generations to the shared cache.
    app.cache
        .publish_generations()
        .await
        .expect("publish generations");
    let data = app
        .data(
            "{ h05: household(code: \"H05\") { movedInOn } h06: household(code: \"H06\") { movedInOn } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data,
        json!({ "h05": { "movedInOn": "2020-07-02" }, "h06": { "movedInOn": "2020-01-05" } })
    );
}
