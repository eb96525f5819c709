//! The change feed (CONTRACT §5): every change once or more, in commit order, scoped and masked
//! per caller, never one lost behind a cursor; expired and foreign cursors ask for a resync.

use crate::support::{error_code, TestApp};
use anju::auth::Role;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::{json, Value};

const PAGE: &str = r#"query($after: String!, $first: Int, $types: [RecordType!]) {
  changes(after: $after, first: $first, types: $types) {
    changes { cursor type id op version committedAt
      record { id ... on Household { code headName phone } ... on Member { name idNumber } } }
    endCursor hasMore
  }
}"#;

async fn head(app: &TestApp, token: &str) -> String {
    for _ in 0..400 {
        let body = app
            .query_as(Some(token), "{ changesHead }", json!({}))
            .await;
        let head = body["data"]["changesHead"]
            .as_str()
            .unwrap_or_else(|| panic!("{body:#}"))
            .to_owned();
        if !app.db.is_postgres() {
            return head;
        }
        // A head taken while an older transaction may still write here lies before what
        // committed since: correct, but the tests want a start after every change logged so
        // far, so they wait for one.
        let text =
            String::from_utf8(URL_SAFE_NO_PAD.decode(&head).expect("base64")).expect("utf-8");
        let tx: i64 = text
            .split(':')
            .nth(3)
            .and_then(|t| t.parse().ok())
            .expect("tx");
        let newest = app
            .db
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                app.db.db.get_database_backend(),
                "SELECT COALESCE(MAX(CAST(CAST(tx AS TEXT) AS BIGINT)), 0) AS tx FROM change_log",
            ))
            .await
            .expect("newest")
            .expect("row")
            .try_get::<i64>("", "tx")
            .expect("tx");
        if tx > newest {
            return head;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the feed never caught up");
}

/// Every change after `after` the caller sees, following the feed to its end.
async fn follow(app: &TestApp, token: &str, after: &str, first: i32) -> (Vec<Value>, String) {
    let mut cursor = after.to_owned();
    let mut all = Vec::new();
    for _ in 0..1000 {
        let body = app
            .query_as(
                Some(token),
                PAGE,
                json!({ "after": cursor, "first": first }),
            )
            .await;
        let page = &body["data"]["changes"];
        assert!(page.is_object(), "{body:#}");
        all.extend(page["changes"].as_array().cloned().unwrap_or_default());
        cursor = page["endCursor"].as_str().expect("endCursor").to_owned();
        if page["hasMore"] != json!(true) {
            return (all, cursor);
        }
    }
    panic!("the feed never ended");
}

/// Waits until the last write after `start` reaches the feed. On PostgreSQL the feed holds a
/// commit back while a transaction that began before it may still write this database (one whose
/// database cannot be seen counts), so a reader right after a write may see it a moment later.
async fn settle(app: &TestApp, start: &str) {
    let admin = app.admin_token().await;
    for _ in 0..400 {
        if !follow(app, &admin, start, 1000).await.0.is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the write never reached the feed");
}

/// `(type, op)` of each change, with the record's code or name for households and members.
fn summary(changes: &[Value]) -> Vec<(String, String, String)> {
    changes
        .iter()
        .map(|c| {
            let record = &c["record"];
            let label = record["code"]
                .as_str()
                .or(record["name"].as_str())
                .unwrap_or("")
                .to_owned();
            (
                c["type"].as_str().unwrap_or_default().to_owned(),
                c["op"].as_str().unwrap_or_default().to_owned(),
                label,
            )
        })
        .collect()
}

async fn update_household(app: &TestApp, token: &str, input: Value) -> Value {
    let mut input = input;
    input["idempotencyKey"] = json!(uuid::Uuid::new_v4().simple().to_string());
    let body = app
        .query_as(
            Some(token),
            "mutation($input: UpdateHouseholdInput!) { updateHousehold(input: $input) { household { version } userErrors { message } } }",
            json!({ "input": input }),
        )
        .await;
    assert_eq!(
        body["data"]["updateHousehold"]["userErrors"],
        json!([]),
        "{body:#}"
    );
    body
}

async fn version_of(app: &TestApp, token: &str, code: &str) -> i64 {
    let body = app
        .query_as(
            Some(token),
            "query($c: String!) { household(code: $c) { version } }",
            json!({ "c": code }),
        )
        .await;
    body["data"]["household"]["version"]
        .as_i64()
        .unwrap_or_else(|| panic!("{body:#}"))
}

#[tokio::test]
async fn a_write_reaches_the_feed_once_with_its_version_and_the_record_as_the_caller_sees_it() {
    let _feed = crate::support::FEED.read().await;
    let app = TestApp::with_fixture("indicators").await;
    let admin = app.admin_token().await;
    let viewer = app.token(Role::Viewer, "522732", None).await;
    let start = head(&app, &admin).await;
    let (before, _) = follow(&app, &admin, &start, 100).await;
    assert!(before.is_empty(), "{before:#?}");

    let version = version_of(&app, &admin, "H01").await;
    update_household(
        &app,
        &admin,
        json!({ "code": "H01", "version": version, "phone": "13900000004" }),
    )
    .await;
    settle(&app, &start).await;
    let (changes, end) = follow(&app, &admin, &start, 100).await;
    assert_eq!(
        summary(&changes),
        [("HOUSEHOLD".into(), "UPSERT".into(), "H01".into())],
        "{changes:#?}"
    );
    assert_eq!(changes[0]["version"], json!(version + 1));
    assert_eq!(changes[0]["record"]["phone"], json!("13900000004"));
    assert_eq!(changes[0]["id"], changes[0]["record"]["id"]);
    // Nothing more after the end, and the cursor of the change resumes after it.
    assert!(follow(&app, &admin, &end, 100).await.0.is_empty());
    let resumed = changes[0]["cursor"].as_str().expect("cursor");
    assert!(follow(&app, &admin, resumed, 100).await.0.is_empty());

    // A viewer without the personal-data grant reads the same change masked.
    let (seen, _) = follow(&app, &viewer, &start, 100).await;
    assert_eq!(seen.len(), 1, "{seen:#?}");
    let name = seen[0]["record"]["headName"].as_str().expect("headName");
    assert!(name.ends_with("**"), "{name}");
    assert_eq!(seen[0]["record"]["phone"], json!("139****0004"));
}

#[tokio::test]
async fn a_household_that_moves_leaves_one_scope_with_its_members_and_enters_the_other() {
    let _feed = crate::support::FEED.read().await;
    let app = TestApp::with_fixture("indicators").await;
    let admin = app.admin_token().await;
    // H01 lives at site AZD001 in 安居镇 (522732100) and came from 高山乡 (522732102).
    let anju = app.token(Role::Officer, "522732100", None).await;
    let leye = app.token(Role::Officer, "522732101", None).await;
    let start = head(&app, &admin).await;
    let version = version_of(&app, &admin, "H01").await;
    update_household(
        &app,
        &admin,
        json!({ "code": "H01", "version": version, "siteCode": "AZD003" }),
    )
    .await;

    settle(&app, &start).await;
    let (left, _) = follow(&app, &anju, &start, 100).await;
    let ops: Vec<(String, String)> = left
        .iter()
        .map(|c| {
            (
                c["type"].as_str().unwrap_or_default().to_owned(),
                c["op"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        ops.contains(&("HOUSEHOLD".into(), "LEFT_SCOPE".into())),
        "{left:#?}"
    );
    assert!(
        ops.contains(&("MEMBER".into(), "LEFT_SCOPE".into())),
        "{left:#?}"
    );
    assert!(ops.iter().all(|(_, op)| op == "LEFT_SCOPE"), "{left:#?}");
    assert!(left.iter().all(|c| c["record"].is_null()), "{left:#?}");

    settle(&app, &start).await;
    let (entered, _) = follow(&app, &leye, &start, 100).await;
    let households: Vec<_> = summary(&entered)
        .into_iter()
        .filter(|(t, _, _)| t == "HOUSEHOLD")
        .collect();
    assert_eq!(
        households,
        [("HOUSEHOLD".into(), "UPSERT".into(), "H01".into())]
    );
    let members = entered.iter().filter(|c| c["type"] == "MEMBER").count();
    assert!(members >= 2, "{entered:#?}");
    // Members' ids are sealed: no ID number in them.
    for c in entered.iter().filter(|c| c["type"] == "MEMBER") {
        let id = c["id"].as_str().expect("id");
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(id).expect("base64")).expect("utf-8");
        assert!(!text.contains("522732"), "{text}");
    }
    // A township that never saw H01 sees nothing of it.
    let baiyan = app.token(Role::Officer, "522732102202", None).await;
    let unseen = follow(&app, &baiyan, &start, 100).await.0;
    assert!(unseen.is_empty(), "{unseen:#?}");
}

#[tokio::test]
async fn an_import_reaches_the_feed_and_types_narrow_it() {
    let _feed = crate::support::FEED.read().await;
    let app = TestApp::spawn().await;
    // Any principal may take the head; the root admin exists once the import made the tree.
    let start = head(&app, &app.admin_token().await).await;
    anju::register::import_dir(&app.db.db, &crate::support::fixture("indicators"))
        .await
        .expect("import");
    let admin = app.admin_token().await;
    let logged = app
        .db
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM change_log",
        ))
        .await
        .expect("count")
        .expect("row")
        .try_get::<i64>("", "n")
        .expect("n");
    settle(&app, &start).await;
    let (all, _) = follow(&app, &admin, &start, 7).await;
    assert!(
        logged > 0 && all.len() as i64 == logged,
        "{logged} logged, {} read",
        all.len()
    );
    let households = all.iter().filter(|c| c["type"] == "HOUSEHOLD").count();
    let csv = std::fs::read_to_string(crate::support::fixture("indicators").join("households.csv"))
        .expect("households.csv");
    assert_eq!(households, csv.lines().count() - 1, "{all:#?}");
    let body = app
        .query_as(
            Some(&admin),
            PAGE,
            json!({ "after": start, "first": 1000, "types": ["SITE"] }),
        )
        .await;
    let sites = body["data"]["changes"]["changes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!sites.is_empty(), "{body:#}");
    assert!(sites.iter().all(|c| c["type"] == "SITE"), "{body:#}");
    // Cursors strictly advance: no change is given twice in one pass.
    let cursors: std::collections::HashSet<_> = all.iter().map(|c| c["cursor"].clone()).collect();
    assert_eq!(cursors.len(), all.len());
}

#[tokio::test]
async fn a_transaction_open_across_a_cursor_is_never_skipped() {
    let _feed = crate::support::FEED.read().await;
    let app = TestApp::with_fixture("indicators").await;
    let admin = app.admin_token().await;
    let start = head(&app, &admin).await;
    if !app.db.is_postgres() {
        // SQLite has one writer at a time: commit order is id order, and the writer's lock
        // keeps a second write from committing while the first is open.
        return;
    }
    // A long transaction writes H02 first and stays open…
    let long = app.db.db.begin().await.expect("begin");
    long.execute_unprepared(
        "UPDATE households SET persons = persons + 1, version = version + 1 WHERE code = 'H02'",
    )
    .await
    .expect("update");
    // …while a short one writes H03 and commits.
    let short = app.db.db.begin().await.expect("begin");
    short
        .execute_unprepared(
            "UPDATE households SET persons = persons + 1, version = version + 1 WHERE code = 'H03'",
        )
        .await
        .expect("update");
    short.commit().await.expect("commit");
    // The feed holds the short one back: it committed after the open one began.
    let (seen, cursor) = follow(&app, &admin, &start, 100).await;
    assert!(seen.is_empty(), "{seen:#?}");
    long.commit().await.expect("commit");
    settle(&app, &cursor).await;
    let (seen, _) = follow(&app, &admin, &cursor, 100).await;
    let mut codes: Vec<String> = summary(&seen)
        .into_iter()
        .map(|(_, _, code)| code)
        .collect();
    codes.sort();
    assert_eq!(codes, ["H02", "H03"]);
}

#[tokio::test]
async fn cursors_past_the_retention_or_of_another_register_ask_for_a_resync() {
    let _feed = crate::support::FEED.read().await;
    let app = TestApp::with_fixture("indicators").await;
    let admin = app.admin_token().await;
    let start = head(&app, &admin).await;
    let version = version_of(&app, &admin, "H01").await;
    update_household(
        &app,
        &admin,
        json!({ "code": "H01", "version": version, "phone": "13900000005" }),
    )
    .await;
    settle(&app, &start).await;
    let (changes, end) = follow(&app, &admin, &start, 100).await;
    assert_eq!(changes.len(), 1);

    // Another register's cursor.
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(&start).expect("base64")).expect("utf-8");
    let mut parts: Vec<&str> = text.split(':').collect();
    parts[1] = "00000000000000000000000000000000";
    let foreign = URL_SAFE_NO_PAD.encode(parts.join(":"));
    let body = app
        .query_as(
            Some(&admin),
            PAGE,
            json!({ "after": foreign, "first": 100 }),
        )
        .await;
    assert_eq!(error_code(&body), "RESYNC_REQUIRED", "{body:#}");

    // A cursor that is not one at all is bad input, not a resync.
    let body = app
        .query_as(
            Some(&admin),
            PAGE,
            json!({ "after": "nonsense", "first": 100 }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body:#}");
    let body = app
        .query_as(Some(&admin), PAGE, json!({ "after": end, "first": 1001 }))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body:#}");

    // Pruning everything older than now leaves the start cursor behind the retention.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let gone = anju::domain::changes::prune(&app.db.db, chrono::Duration::zero())
        .await
        .expect("prune");
    assert!(gone >= 1);
    let body = app
        .query_as(Some(&admin), PAGE, json!({ "after": start, "first": 100 }))
        .await;
    assert_eq!(error_code(&body), "RESYNC_REQUIRED", "{body:#}");
    // The end cursor is still good.
    assert!(follow(&app, &admin, &end, 100).await.0.is_empty());

    // Without credentials there is no feed.
    let body = app.query_as(None, "{ changesHead }", json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body:#}");
}

#[tokio::test]
async fn a_delete_reaches_the_feed_as_a_tombstone_one_version_on() {
    let app = TestApp::with_fixture("indicators").await;
    let admin = app.admin_token().await;
    let start = head(&app, &admin).await;
    let backend = app.db.db.get_database_backend();
    let row = app
        .db
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            backend,
            "SELECT id, version FROM employments ORDER BY id LIMIT 1",
        ))
        .await
        .expect("select")
        .expect("an employment");
    let id: i64 = row.try_get("", "id").expect("id");
    let version: i32 = row.try_get("", "version").expect("version");
    app.db
        .db
        .execute_unprepared(&format!("DELETE FROM employments WHERE id = {id}"))
        .await
        .expect("delete");
    settle(&app, &start).await;
    let (changes, _) = follow(&app, &admin, &start, 100).await;
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0]["type"], "EMPLOYMENT");
    assert_eq!(changes[0]["op"], "DELETE");
    assert_eq!(changes[0]["version"], json!(version + 1));
    assert!(changes[0]["record"].is_null());
    let text = String::from_utf8(
        URL_SAFE_NO_PAD
            .decode(changes[0]["id"].as_str().expect("id"))
            .expect("base64"),
    )
    .expect("utf-8");
    assert_eq!(text, format!("Employment:{id}"));
}

#[tokio::test]
async fn a_restored_copy_asks_every_earlier_cursor_for_a_resync() {
    let app = TestApp::with_fixture("indicators").await;
    let admin = app.admin_token().await;
    let start = head(&app, &admin).await;
    let version = version_of(&app, &admin, "H01").await;
    update_household(
        &app,
        &admin,
        json!({ "code": "H01", "version": version, "phone": "13900000006" }),
    )
    .await;
    settle(&app, &start).await;
    let (_, end) = follow(&app, &admin, &start, 100).await;
    let db = &app.db.db;
    if app.db.is_postgres() {
        // A copy restored into a new cluster: its log holds transaction ids the cluster has not
        // reached. The keeper (and startup) starts a new epoch.
        db.execute_unprepared("UPDATE change_log SET tx = CAST('99999999999' AS xid8)")
            .await
            .expect("age the log");
        assert!(anju::domain::changes::check_epoch(db).await.expect("check"));
        let body = app
            .query_as(Some(&admin), PAGE, json!({ "after": end, "first": 100 }))
            .await;
        assert_eq!(error_code(&body), "RESYNC_REQUIRED", "{body:#}");
        // The new epoch's head is followed as usual.
        let body = app
            .query_as(Some(&admin), "{ changesHead }", json!({}))
            .await;
        let fresh = body["data"]["changesHead"]
            .as_str()
            .expect("head")
            .to_owned();
        assert!(follow(&app, &admin, &fresh, 100).await.0.is_empty());
        // A second check finds nothing to do.
        assert!(!anju::domain::changes::check_epoch(db).await.expect("check"));
    }
    // A copy restored from before the cursor was issued: the log ends before the cursor's mark.
    let rewind = if app.db.is_postgres() {
        "SELECT setval('change_log_id_seq', 1)"
    } else {
        "UPDATE sqlite_sequence SET seq = 1 WHERE name = 'change_log'"
    };
    db.execute_unprepared(rewind).await.expect("rewind");
    let body = app
        .query_as(Some(&admin), PAGE, json!({ "after": end, "first": 100 }))
        .await;
    assert_eq!(error_code(&body), "RESYNC_REQUIRED", "{body:#}");
}

async fn lag(app: &TestApp) -> f64 {
    let text = app.metrics().await;
    let line = text
        .lines()
        .find(|l| l.starts_with("anju_change_feed_lag_seconds "))
        .unwrap_or_else(|| panic!("{text}"));
    line.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{line}"))
}

#[tokio::test]
async fn the_metrics_show_what_holds_the_feed_back() {
    let app = TestApp::with_fixture("indicators").await;
    if !app.db.is_postgres() {
        // One writer at a time: commits are in order and nothing is held back.
        assert_eq!(lag(&app).await, 0.0);
        return;
    }
    let open = app.db.db.begin().await.expect("begin");
    open.execute_unprepared("UPDATE households SET version = version + 1 WHERE code = 'H01'")
        .await
        .expect("update");
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let held = lag(&app).await;
    assert!(held >= 1.0, "{held}");
    open.rollback().await.expect("rollback");
}

#[tokio::test]
async fn a_site_that_moves_to_another_township_takes_its_households_along() {
    let app = TestApp::with_fixture("indicators").await;
    let admin = app.admin_token().await;
    // AZD002 (one household, H04, from 河坝村 in 安居镇) lies in 安居镇; it moves to 乐业镇, as
    // an import that corrects its township would move it.
    let leye = app.token(Role::Officer, "522732101", None).await;
    let start = head(&app, &admin).await;
    app.db
        .db
        .execute_unprepared("UPDATE sites SET township_code = '522732101', version = version + 1 WHERE code = 'AZD002'")
        .await
        .expect("move the site");
    settle(&app, &start).await;
    let (entered, _) = follow(&app, &leye, &start, 100).await;
    let kinds: std::collections::BTreeSet<String> = entered
        .iter()
        .filter(|c| c["op"] == "UPSERT")
        .map(|c| c["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    for kind in ["SITE", "HOUSEHOLD", "MEMBER"] {
        assert!(kinds.contains(kind), "{kind} missing: {entered:#?}");
    }
    assert!(
        summary(&entered).contains(&("HOUSEHOLD".into(), "UPSERT".into(), "H04".into())),
        "{entered:#?}"
    );
}

#[tokio::test]
async fn pruning_takes_only_what_is_past_the_retention() {
    let _feed = crate::support::FEED.read().await;
    let app = TestApp::with_fixture("indicators").await;
    let admin = app.admin_token().await;
    let start = head(&app, &admin).await;
    let version = version_of(&app, &admin, "H01").await;
    update_household(
        &app,
        &admin,
        json!({ "code": "H01", "version": version, "phone": "13900000005" }),
    )
    .await;
    settle(&app, &start).await;
    let middle = head(&app, &admin).await;

    // Everything logged so far (the fixture's load and the first write) is made 40 days old.
    let db = &app.db.db;
    let backend = db.get_database_backend();
    let old = if app.db.is_postgres() {
        "now() - interval '40 days'"
    } else {
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-40 days')"
    };
    let aged = db
        .execute_unprepared(&format!("UPDATE change_log SET at = {old}"))
        .await
        .expect("age")
        .rows_affected();
    assert!(aged >= 2, "the fixture's load and the write are logged");

    update_household(
        &app,
        &admin,
        json!({ "code": "H01", "version": version + 1, "phone": "13900000006" }),
    )
    .await;
    settle(&app, &middle).await;

    let gone = anju::domain::changes::prune(db, chrono::Duration::days(30))
        .await
        .expect("prune");
    assert_eq!(gone, aged);
    let left = db
        .query_one_raw(sea_orm::Statement::from_string(
            backend,
            "SELECT COUNT(*) AS n FROM change_log",
        ))
        .await
        .expect("count")
        .expect("row")
        .try_get::<i64>("", "n")
        .expect("n");
    assert_eq!(left, 1, "the second write stays");

    // A cursor before what went asks for a resync; one after it reads the second write.
    let body = app
        .query_as(Some(&admin), PAGE, json!({ "after": start, "first": 100 }))
        .await;
    assert_eq!(error_code(&body), "RESYNC_REQUIRED", "{body:#}");
    let (changes, _) = follow(&app, &admin, &middle, 100).await;
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0]["record"]["phone"], json!("13900000006"));

    // A second run finds nothing more to take.
    let again = anju::domain::changes::prune(db, chrono::Duration::days(30))
        .await
        .expect("prune");
    assert_eq!(again, 0);
}

#[tokio::test]
async fn a_record_written_where_it_lay_is_read_where_it_lies_now() {
    let _feed = crate::support::FEED.read().await;
    let app = TestApp::with_fixture("indicators").await;
    let admin = app.admin_token().await;
    // H01 lives at site AZD001 in 安居镇 (522732100); AZD003 lies in 乐业镇 (522732101).
    let anju = app.token(Role::Officer, "522732100", None).await;
    let leye = app.token(Role::Officer, "522732101", None).await;
    let start = head(&app, &admin).await;
    let version = version_of(&app, &admin, "H01").await;
    // Written where it lay: logged by its key alone.
    update_household(
        &app,
        &admin,
        json!({ "code": "H01", "version": version, "phone": "13900000007" }),
    )
    .await;
    // Then moved: logged with both places.
    update_household(
        &app,
        &admin,
        json!({ "code": "H01", "version": version + 1, "siteCode": "AZD003" }),
    )
    .await;
    settle(&app, &start).await;
    let household = |changes: &[Value]| -> Vec<String> {
        changes
            .iter()
            .filter(|c| c["type"] == "HOUSEHOLD")
            .map(|c| c["op"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    // The township H01 left reads it gone, and never the write it cannot see now.
    let (left, _) = follow(&app, &anju, &start, 100).await;
    assert_eq!(household(&left), ["LEFT_SCOPE"], "{left:#?}");
    // The township it moved to reads both changes, each with the record as it is now.
    let (entered, _) = follow(&app, &leye, &start, 100).await;
    assert_eq!(household(&entered), ["UPSERT", "UPSERT"], "{entered:#?}");
    for c in entered.iter().filter(|c| c["type"] == "HOUSEHOLD") {
        assert_eq!(c["record"]["code"], json!("H01"));
    }
}

/// Going back below the unplaced rows places each where its record lies, as the earlier
/// reader expects of every row.
#[tokio::test]
async fn migrating_down_places_every_unplaced_row() {
    use migration::MigratorTrait;
    let db = crate::support::TestDb::with_fixture("indicators").await;
    let backend = db.db.get_database_backend();
    let count = |sql: &'static str| {
        let db = &db.db;
        async move {
            db.query_one_raw(sea_orm::Statement::from_string(backend, sql))
                .await
                .expect(sql)
                .expect("row")
                .try_get::<i64>("", "n")
                .expect("n")
        }
    };
    assert!(count("SELECT COUNT(*) AS n FROM change_log WHERE placed = 0").await > 0);
    let all = migration::Migrator::migrations();
    let at = all
        .iter()
        .position(|m| m.name().contains("change_log_joins"))
        .expect("the migration");
    let undo = u32::try_from(all.len() - at).expect("a handful");
    migration::Migrator::down(&db.db, Some(undo))
        .await
        .expect("down");
    let members = count("SELECT COUNT(*) AS n FROM members").await;
    let placed = count(
        "SELECT COUNT(*) AS n FROM change_log l \
         JOIN members m ON m.id_number = l.record_key \
         JOIN households h ON h.code = m.household_code \
         JOIN sites s ON s.code = h.site_code \
         WHERE l.record_type = 'MEMBER' AND l.site_code = h.site_code \
           AND l.site_area = s.township_code AND l.origin_area = h.origin_village_code \
           AND l.was_site_area = s.township_code",
    )
    .await;
    assert_eq!(placed, members);
    let homesteads = count("SELECT COUNT(*) AS n FROM homesteads").await;
    let placed = count(
        "SELECT COUNT(*) AS n FROM change_log l \
         JOIN homesteads x ON CAST(x.id AS TEXT) = l.record_key \
         WHERE l.record_type = 'HOMESTEAD' AND l.village_area = x.village_code",
    )
    .await;
    assert_eq!(placed, homesteads);
    // And up again.
    anju::startup::migrate(&db.db).await.expect("migrate");
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM change_log WHERE placed = 0").await,
        0,
        "rows placed going down stay placed"
    );
}
