//! A page's SQL cost does not grow with its size: references and child lists come through
//! DataLoaders, one statement per kind.

use crate::support::{TestApp, TestDb, TestRedis};
use serde_json::json;

// `totalCount` is left out: it is cached, so its statement would be paid by the first page only.
const PAGE: &str = r#"query($first: Int) { households(first: $first) {
    edges { node { code
      site { code name township { name } }
      originVillage { code name }
      members { edges { node { idNumber employments { edges { node { path employer } } } } } }
      homesteads { edges { node { areaMu village { name } } } } } } } }"#;

async fn statements_for(app: &TestApp, first: i64) -> (u64, usize) {
    let before = app.statements.get();
    let data = app.data(PAGE, json!({ "first": first })).await;
    let after = app.statements.get();
    let rows = data["households"]["edges"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    (after - before, rows)
}

/// A fresh database holding a generated demo of 150 households from `seed`.
async fn demo_db(seed: u64) -> TestDb {
    demo_db_with(seed, None).await
}

/// A fresh database holding a generated demo of 150 households from `seed` on `sites` sites.
async fn demo_db_with(seed: u64, sites: Option<usize>) -> TestDb {
    TestDb::with_demo(anju_demo::DemoOptions {
        households: 150,
        seed,
        sites,
        ..anju_demo::DemoOptions::default()
    })
    .await
}

#[tokio::test]
async fn a_page_of_100_households_costs_what_a_page_of_10_does() {
    let db = demo_db(7).await;
    // Batches are gathered over a time window; a wide one keeps a loaded test machine from
    // splitting a batch in two, which would blur what is measured: the number of batches.
    let config = anju::config::ServeConfig {
        loader_delay_ms: 25,
        ..anju::config::ServeConfig::ephemeral()
    };
    // With Redis, cache generations cost no SQL: what is counted is the page's own statements.
    let redis = TestRedis::start().await;
    let app = TestApp::spawn_with_redis(db, config, &redis).await;

    // The first request of the process also reads where the caller's area stands in the tree;
    // the next ones at the same state of the register find it known.
    let (first, _) = statements_for(&app, 1).await;
    let (small, rows_small) = statements_for(&app, 10).await;
    let (large, rows_large) = statements_for(&app, 100).await;
    assert_eq!((rows_small, rows_large), (10, 100));
    assert_eq!(
        small, large,
        "a page of 10 took {small} statements, a page of 100 took {large}"
    );
    assert_eq!(first, large + 1, "the first page took {first} statements");
    // One statement each: the page, sites, their townships, origin villages, members with
    // their employments, homesteads, the homesteads' villages, and the audit rows of the records
    // read unmasked (the caller is an admin).
    assert_eq!(large, 8, "a page of 100 households took {large} statements");
}

#[tokio::test]
async fn where_the_callers_area_stands_is_read_once_per_state_of_the_register() {
    use anju::auth::Role;
    let app = TestApp::with_fixture("indicators").await;
    let town = app.token(Role::Officer, "522732100", None).await;
    // The same statements each time, under another key of the whole-response cache.
    let q = |n: u32| format!("{{ sites(first: 10) {{ nodes {{ code }} }} }} # {n}");
    let ask = |n: u32| {
        let (app, town, q) = (&app, &town, q(n));
        async move {
            let before = app.statements.get();
            let body = app.query_as(Some(town), &q, json!({})).await;
            let spent = app.statements.get() - before;
            (body["data"]["sites"]["nodes"].clone(), spent)
        }
    };
    let (first, cold) = ask(1).await;
    assert_eq!(first, json!([{ "code": "AZD001" }, { "code": "AZD002" }]));
    let (second, warm) = ask(2).await;
    assert_eq!(second, first);
    assert_eq!(warm + 1, cold, "read again: {cold} statements, then {warm}");

    // A write moves the register to another state: the area is looked up again there.
    let site = app
        .data(r#"{ site(code: "AZD003") { version } }"#, json!({}))
        .await;
    let version = site["site"]["version"].as_i64().expect("version");
    let moved = app
        .data(
            r#"mutation($version: Int!) { updateSite(input: { idempotencyKey: "rename-1",
                code: "AZD003", version: $version, name: "新名" }) { userErrors { code } } }"#,
            json!({ "version": version }),
        )
        .await;
    assert_eq!(moved["updateSite"]["userErrors"], json!([]));
    let (third, after_write) = ask(3).await;
    assert_eq!(third, first);
    assert_eq!(after_write, cold, "after a write");
}

#[tokio::test]
async fn counting_a_list_fetches_none_of_its_records() {
    let app = TestApp::with_fixture("indicators").await;
    let q = "{ sites(first: 50) { nodes { code households { totalCount } } } }";
    let first = app.data(q, json!({})).await;
    let counts: Vec<i64> = first["sites"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["households"]["totalCount"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, [3, 2, 3]);
    let before = app.statements.get();
    assert_eq!(app.data(q, json!({})).await, first);
    // Where the caller's area stands in the tree, the sites page, and (without Redis) one read
    // of the cache generations: the counts are cached and no site's households are fetched.
    let spent = app.statements.get() - before;
    assert!(
        spent <= 3,
        "counting households of 3 sites took {spent} statements"
    );
}

/// The household counts of a page of sites, executed (no cached count to answer from).
async fn site_counts(app: &TestApp, first: i64) -> (u64, Vec<(String, i64)>) {
    let q =
        "query($first: Int) { sites(first: $first) { nodes { code households { totalCount } } } }";
    let before = app.statements.get();
    let data = app.data(q, json!({ "first": first })).await;
    let spent = app.statements.get() - before;
    let counts = data["sites"]["nodes"]
        .as_array()
        .expect("sites")
        .iter()
        .map(|s| {
            let code = s["code"].as_str().expect("code").to_owned();
            (code, s["households"]["totalCount"].as_i64().expect("count"))
        })
        .collect();
    (spent, counts)
}

#[tokio::test]
async fn a_page_of_sites_counts_its_households_in_one_statement() {
    use sea_orm::{EntityTrait, QueryOrder};
    let db = demo_db_with(11, Some(12)).await;
    // What the register holds, counted here from the rows themselves.
    let mut expected = std::collections::BTreeMap::<String, i64>::new();
    let mut moved_in = std::collections::BTreeMap::<String, i64>::new();
    for site in entity::site::Entity::find()
        .all(&db.db)
        .await
        .expect("sites")
    {
        expected.insert(site.code.clone(), 0);
        moved_in.insert(site.code, 0);
    }
    let by = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).expect("date");
    for h in entity::household::Entity::find()
        .order_by_asc(entity::household::Column::Code)
        .all(&db.db)
        .await
        .expect("households")
    {
        if h.moved_in_on.is_some_and(|d| d <= by) {
            *moved_in.entry(h.site_code.clone()).or_default() += 1;
        }
        *expected.entry(h.site_code).or_default() += 1;
    }
    assert_eq!(expected.len(), 12);
    let config = anju::config::ServeConfig {
        loader_delay_ms: 25,
        ..anju::config::ServeConfig::ephemeral()
    };
    let app = TestApp::spawn_with(db, config).await;

    // Different pages, so neither finds the other's counts in the cache; the first request
    // tells the process where the caller's area stands.
    site_counts(&app, 1).await;
    let (small, two) = site_counts(&app, 2).await;
    let (large, twelve) = site_counts(&app, 12).await;
    let expected: Vec<(String, i64)> = expected.into_iter().collect();
    assert_eq!(twelve, expected);
    assert_eq!(two, expected[..2]);
    assert_eq!(
        small, large,
        "2 sites' counts took {small} statements, 12 sites' took {large}"
    );
    // The page of sites, one grouped count (not one count per site), and, without Redis, the
    // cache generations the request reads before anything else: the count is keyed by those,
    // not by a second read of them.
    assert!(large <= 3, "12 sites' counts took {large} statements");

    // A filtered count beside the bare one is answered by its own list, site by site; the bare
    // counts are still the page's.
    let q = r#"{ sites(first: 12) { nodes { code households { totalCount }
        moved: households(filter: { movedIn: true, asOf: "2030-01-01" }) { totalCount } } } }"#;
    let data = app.data(q, json!({})).await;
    let both: Vec<(String, i64, i64)> = data["sites"]["nodes"]
        .as_array()
        .expect("sites")
        .iter()
        .map(|s| {
            (
                s["code"].as_str().expect("code").to_owned(),
                s["households"]["totalCount"].as_i64().expect("count"),
                s["moved"]["totalCount"].as_i64().expect("moved"),
            )
        })
        .collect();
    let wanted: Vec<(String, i64, i64)> = expected
        .iter()
        .map(|(code, n)| (code.clone(), *n, moved_in[&code[..]]))
        .collect();
    assert_eq!(both, wanted);
    assert!(
        wanted.iter().any(|(_, all, moved)| moved < all) && wanted.iter().any(|w| w.2 > 0),
        "the demo moves some households in and not others: {wanted:?}"
    );
}

/// Q3's page as the benchmark's Q3sql row runs it: the statements without the server.
const Q3_PAGE: &str = "{ households(first: 100) { nodes { code site { code } \
    originVillage { code } members { nodes { idNumber employments { nodes { path } } } } } } }";

#[tokio::test]
async fn the_benchmarks_sql_page_reads_and_audits_what_the_graphql_page_shows() {
    use anju_bench::sql::{PageCounts, PageSql};
    use entity::audit_log;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use std::collections::BTreeSet;

    let db = demo_db(11).await;
    let app = TestApp::spawn_on(db).await;
    let data = app.data(Q3_PAGE, json!({})).await;
    let households = data["households"]["nodes"].as_array().expect("households");
    let distinct = |field: &str| -> usize {
        households
            .iter()
            .map(|h| h[field]["code"].as_str().expect("code").to_owned())
            .collect::<BTreeSet<_>>()
            .len()
    };
    let members: Vec<&serde_json::Value> = households
        .iter()
        .flat_map(|h| h["members"]["nodes"].as_array().expect("members"))
        .collect();
    let employments: usize = members
        .iter()
        .map(|m| {
            m["employments"]["nodes"]
                .as_array()
                .expect("employments")
                .len()
        })
        .sum();
    let shown: Vec<String> = members
        .iter()
        .map(|m| m["idNumber"].as_str().expect("id number").to_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(
        employments > 0 && shown.len() > households.len(),
        "the page has members and employments"
    );

    let page = PageSql::new(app.db.db.clone(), "140000");
    let before = app.db.statements.get();
    let counts = page.run().await.expect("the SQL page runs");
    let spent = app.db.statements.get() - before;
    assert_eq!(
        counts,
        PageCounts {
            households: households.len(),
            sites: distinct("site"),
            villages: distinct("originVillage"),
            members: shown.len(),
            employments,
        }
    );
    // The households, their sites, origin villages, members, the members' employments, and the
    // audit entry.
    assert_eq!(spent, 6, "the SQL page took {spent} statements");

    let entries = audit_log::Entity::find()
        .filter(audit_log::Column::Actor.eq("user:bench"))
        .all(&app.db.db)
        .await
        .expect("read the audit log");
    assert_eq!(entries.len(), 1, "one entry per page");
    assert_eq!(entries[0].action, "read_unmasked");
    assert_eq!(entries[0].entity, "member");
    let listed: Vec<String> =
        serde_json::from_str(entries[0].entity_keys.as_deref().expect("keys listed"))
            .expect("keys are a JSON array");
    assert_eq!(listed, shown, "the entry lists every member the page shows");
}
