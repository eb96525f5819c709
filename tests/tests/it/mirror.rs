//! `anju mirror`, the reference consumer of the change feed: a copy of one township's scope,
//! made and followed while eight writers change the register (short mutations, long
//! transactions, re-imports), ends equal byte for byte to an export of that scope.

use crate::support::{fixture, TestApp, TestDb};
use anju::auth::{apikey, Role};
use anju::config::ServeConfig;
use anju::domain::scope::Scope;
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// 安居镇: sites AZD001 and AZD002, villages 522732100201 and 522732100202.
const TOWNSHIP: &str = "522732100";

const FILES: [&str; 7] = [
    "areas.csv",
    "sites.csv",
    "site_works.csv",
    "households.csv",
    "members.csv",
    "employments.csv",
    "homesteads.csv",
];

/// A server over the `indicators` fixture whose integration keys see personal data.
async fn app() -> TestApp {
    let db = TestDb::new().await;
    anju::register::import_dir(&db.db, &fixture("indicators"))
        .await
        .expect("import fixture");
    let mut config = ServeConfig::ephemeral();
    config.auth.pii_roles = "admin,officer,integration".into();
    TestApp::spawn_with(db, config).await
}

async fn integration_key(app: &TestApp, area: &str) -> String {
    apikey::create(&app.db.db, "mirror", Role::Integration, area, None)
        .await
        .expect("create API key")
        .1
}

fn options(app: &TestApp, key: &str, dir: &Path, follow: bool) -> anju_mirror::Options {
    anju_mirror::Options {
        url: app.base.clone(),
        key: key.to_owned(),
        dir: dir.to_path_buf(),
        follow,
        interval: Duration::from_millis(50),
        page_size: 1000,
    }
}

/// Catches the mirror in `dir` up with the feed, without following.
async fn catch_up(app: &TestApp, key: &str, dir: &Path) -> anju_mirror::Report {
    anju_mirror::run(&options(app, key, dir, false), std::future::pending())
        .await
        .expect("mirror")
}

/// The files of `dir` that differ from an export of `area`'s scope, with both texts.
async fn differences(app: &TestApp, area: &str, dir: &Path) -> Vec<(String, String, String)> {
    let export = tempfile::tempdir().expect("temp dir");
    anju::register::export_scope(&app.db.db, export.path(), &Scope::subtree(area))
        .await
        .expect("export scope");
    let read = |d: &Path, f: &str| std::fs::read_to_string(d.join(f)).unwrap_or_default();
    FILES
        .iter()
        .map(|f| (f.to_string(), read(dir, f), read(export.path(), f)))
        .filter(|(_, mirrored, exported)| mirrored != exported)
        .collect()
}

/// Catches the mirror up until its files equal the export of `area`'s scope (on PostgreSQL the
/// feed holds changes back while an older transaction is still open elsewhere, the server's
/// own audit writes included); the changes applied, and the files still different.
async fn settle(
    app: &TestApp,
    key: &str,
    area: &str,
    dir: &Path,
) -> (usize, Vec<(String, String, String)>) {
    let mut applied = 0;
    let mut left = Vec::new();
    for _ in 0..20 {
        let report = catch_up(app, key, dir).await;
        assert_eq!(report.copies, 0, "a restart continues the copy: {report:?}");
        applied += report.applied;
        left = differences(app, area, dir).await;
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (applied, left)
}

/// Runs a mutation as `token`; its payload (userErrors included), or null on a GraphQL error
/// (throttling, say), which writers shrug off.
async fn mutate(app: &TestApp, token: &str, name: &str, input: Value, picks: &str) -> Value {
    let mut input = input;
    input["idempotencyKey"] = json!(uuid::Uuid::new_v4().simple().to_string());
    let input_type = format!("{}{}Input", name[..1].to_uppercase(), &name[1..]);
    let body = app
        .query_as(
            Some(token),
            &format!(
                "mutation($input: {input_type}!) {{ {name}(input: $input) {{ {picks} userErrors {{ code }} }} }}"
            ),
            json!({ "input": input }),
        )
        .await;
    body["data"][name].clone()
}

async fn version(app: &TestApp, token: &str, code: &str) -> Option<i64> {
    let body = app
        .query_as(
            Some(token),
            "query($c: String!) { household(code: $c) { version } }",
            json!({ "c": code }),
        )
        .await;
    body["data"]["household"]["version"].as_i64()
}

/// Updates a household (as read just before); whether it was written.
async fn update_household(app: &TestApp, token: &str, code: &str, change: Value) -> bool {
    let Some(v) = version(app, token, code).await else {
        return false;
    };
    let mut input = change;
    input["code"] = json!(code);
    input["version"] = json!(v);
    let payload = mutate(
        app,
        token,
        "updateHousehold",
        input,
        "household { version }",
    )
    .await;
    payload["userErrors"] == json!([])
}

/// One writer: runs `step(i)` for i = 0, 1, … until `until`, counting the writes that landed.
async fn writer<F, Fut>(until: Instant, writes: Arc<AtomicUsize>, mut step: F)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut i = 0;
    while Instant::now() < until {
        if step(i).await {
            writes.fetch_add(1, Ordering::Relaxed);
        }
        i += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mirror_followed_through_concurrent_writes_equals_the_export_of_its_scope() {
    // Its long transactions hold back every other test's feed on PostgreSQL.
    let _feed = crate::support::FEED.write().await;
    let app = Arc::new(app().await);
    let key = integration_key(&app, TOWNSHIP).await;
    let admin = app.admin_token().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let until = Instant::now() + Duration::from_secs(4);
    let writes = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();

    // Short mutations: phones, across the scope and outside it.
    for (w, codes) in [["H01", "H02", "H03", "H04"], ["H05", "H06", "H07", "H08"]]
        .into_iter()
        .enumerate()
    {
        let (app, admin, writes) = (app.clone(), admin.clone(), writes.clone());
        writers.push(tokio::spawn(writer(until, writes, move |i| {
            let (app, admin) = (app.clone(), admin.clone());
            async move {
                let phone = format!("1390000{w}{:03}", i % 1000);
                update_household(&app, &admin, codes[i % 4], json!({ "phone": phone })).await
            }
        })));
    }
    // Move-ins.
    {
        let (app, admin, writes) = (app.clone(), admin.clone(), writes.clone());
        writers.push(tokio::spawn(writer(until, writes, move |i| {
            let (app, admin) = (app.clone(), admin.clone());
            async move {
                let code = ["H02", "H04", "H05"][i % 3];
                let Some(v) = version(&app, &admin, code).await else {
                    return false;
                };
                let day = format!("2020-0{}-1{}", 1 + i % 9, i % 10);
                let payload = mutate(
                    &app,
                    &admin,
                    "recordMoveIn",
                    json!({ "code": code, "version": v, "movedInOn": day }),
                    "household { version }",
                )
                .await;
                payload["userErrors"] == json!([])
            }
        })));
    }
    // Jobs taken and ended.
    {
        let (app, admin, writes) = (app.clone(), admin.clone(), writes.clone());
        writers.push(tokio::spawn(writer(until, writes, move |i| {
            let (app, admin) = (app.clone(), admin.clone());
            async move {
                let member = ["522732197503120114", "522732198201050215"][i % 2];
                let added = mutate(
                    &app,
                    &admin,
                    "addEmployment",
                    json!({
                        "memberIdNumber": member, "path": "LOCAL", "employer": format!("安居镇扶贫车间{i}"),
                        "location": "IN_COUNTY", "startedOn": "2021-03-01", "monthlyIncomeYuan": 2000 + i,
                    }),
                    "employment { id version }",
                )
                .await;
                let employment = &added["employment"];
                if employment.is_null() || i % 3 == 0 {
                    return !employment.is_null();
                }
                let ended = mutate(
                    &app,
                    &admin,
                    "endEmployment",
                    json!({ "id": employment["id"], "version": employment["version"], "endedOn": "2021-06-30" }),
                    "employment { version }",
                )
                .await;
                ended["userErrors"] == json!([])
            }
        })));
    }
    // A household that leaves the township and comes back, again and again: it leaves with its
    // members, employments and homesteads.
    {
        let (app, admin, writes) = (app.clone(), admin.clone(), writes.clone());
        writers.push(tokio::spawn(writer(until, writes, move |i| {
            let (app, admin) = (app.clone(), admin.clone());
            async move {
                let site = if i % 2 == 0 { "AZD003" } else { "AZD001" };
                let moved =
                    update_household(&app, &admin, "H01", json!({ "siteCode": site })).await;
                tokio::time::sleep(Duration::from_millis(60)).await;
                moved
            }
        })));
    }
    // Long transactions straight on the database, open across the mirror's reads. Like every
    // writer of the register they take the writers' lock first: the change log places each
    // change where its record lies as the writing transaction sees it, which holds only while
    // writers do not interleave (see the change log's migration).
    for w in 0..2usize {
        let (app, writes) = (app.clone(), writes.clone());
        writers.push(tokio::spawn(writer(until, writes, move |i| {
            let app = app.clone();
            async move {
                let txn = app.db.db.begin().await.expect("begin");
                anju::db::lock_writers(&txn).await.expect("the writers' lock");
                let sql = match (w, i % 2) {
                    (0, 0) => format!(
                        "UPDATE households SET phone = '1370000{i:04}', version = version + 1 WHERE code = 'H03'"
                    ),
                    (0, _) => format!(
                        "UPDATE members SET name = '潘{i}', version = version + 1 WHERE id_number = '522732197004180315'"
                    ),
                    (_, 0) => "DELETE FROM employments WHERE id = (SELECT MIN(id) FROM employments \
                         WHERE member_id_number IN (SELECT id_number FROM members WHERE household_code IN ('H01', 'H02', 'H03')))"
                        .to_owned(),
                    _ => format!(
                        "UPDATE homesteads SET area_mu = 0.{}, version = version + 1 WHERE household_code = 'H05'",
                        11 + i % 80
                    ),
                };
                let done = txn.execute_unprepared(&sql).await.is_ok();
                tokio::time::sleep(Duration::from_millis(100 + (i as u64 * 73 + w as u64 * 31) % 200))
                    .await;
                let committed = txn.commit().await.is_ok();
                // Room for the short writers (SQLite has one writer at a time).
                tokio::time::sleep(Duration::from_millis(150)).await;
                committed && done
            }
        })));
    }
    // Re-imports of the fixture: every record written again, added jobs deleted, H01 back home.
    {
        let (app, writes) = (app.clone(), writes.clone());
        writers.push(tokio::spawn(writer(until, writes, move |_| {
            let app = app.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(900)).await;
                anju::register::import_dir(&app.db.db, &fixture("indicators"))
                    .await
                    .is_ok()
            }
        })));
    }
    assert_eq!(writers.len(), 8);

    // The mirror copies while the writers write, and follows them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mirror = {
        let options = options(&app, &key, dir.path(), true);
        tokio::spawn(async move {
            anju_mirror::run(&options, async {
                let _ = stopped.await;
            })
            .await
        })
    };
    for w in writers {
        w.await.expect("writer");
    }
    assert!(
        writes.load(Ordering::Relaxed) > 20,
        "the writers wrote little"
    );
    let _ = stop.send(());
    let report = mirror.await.expect("mirror task").expect("mirror");
    assert_eq!(report.copies, 1, "{report:?}");
    assert!(report.applied > 0, "{report:?}");

    // Caught up (a restart continues from the saved state), the files are the export's.
    let (_, left) = settle(&app, &key, TOWNSHIP, dir.path()).await;
    for (file, mirrored, exported) in &left {
        assert_eq!(mirrored, exported, "{file} differs from the export");
    }
    let households = std::fs::read_to_string(dir.path().join("households.csv")).expect("read");
    assert!(households.contains("H03"), "{households}");
    assert!(!households.contains("H06"), "{households}");
}

#[tokio::test]
async fn a_household_that_leaves_the_scope_leaves_the_mirror_with_its_members() {
    let _feed = crate::support::FEED.write().await;
    let app = app().await;
    let key = integration_key(&app, TOWNSHIP).await;
    let admin = app.admin_token().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let report = catch_up(&app, &key, dir.path()).await;
    assert_eq!(report.copies, 1);
    assert_eq!(differences(&app, TOWNSHIP, dir.path()).await, []);
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).expect("read");
    // H01 lives at AZD001 in the township, came from 高山乡, and its head has a job.
    assert!(read("households.csv").contains("\nH01,"));
    assert!(read("members.csv").contains("\nH01,"));
    assert!(read("employments.csv").contains("522732197503120114"));

    assert!(update_household(&app, &admin, "H01", json!({ "siteCode": "AZD003" })).await);
    let (applied, left) = settle(&app, &key, TOWNSHIP, dir.path()).await;
    assert_eq!(left, []);
    assert!(applied >= 3, "{applied}");
    assert!(!read("households.csv").contains("\nH01,"));
    assert!(!read("members.csv").contains("\nH01,"));
    assert!(!read("employments.csv").contains("522732197503120114"));
}
