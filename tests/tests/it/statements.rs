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

#[tokio::test]
async fn a_page_of_100_households_costs_what_a_page_of_10_does() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().expect("temp dir");
    anju::demo::write_csv(
        &anju::demo::DemoOptions {
            households: 150,
            seed: 7,
            ..anju::demo::DemoOptions::default()
        },
        dir.path(),
    )
    .expect("demo");
    anju::register::import_dir(&db.db, dir.path())
        .await
        .expect("import demo");
    // Batches are gathered over a time window; a wide one keeps a loaded test machine from
    // splitting a batch in two, which would blur what is measured: the number of batches.
    let config = anju::config::ServeConfig {
        loader_delay_ms: 25,
        ..anju::config::ServeConfig::ephemeral()
    };
    // With Redis, cache generations cost no SQL: what is counted is the page's own statements.
    let redis = TestRedis::start().await;
    let app = TestApp::spawn_with_redis(db, config, &redis).await;

    let (small, rows_small) = statements_for(&app, 10).await;
    let (large, rows_large) = statements_for(&app, 100).await;
    assert_eq!((rows_small, rows_large), (10, 100));
    assert_eq!(
        small, large,
        "a page of 10 took {small} statements, a page of 100 took {large}"
    );
    // One statement each: where the caller's area stands in the tree, the page, sites, their
    // townships, origin villages, members, homesteads, the homesteads' villages, the members'
    // employments, and the audit rows of the records read unmasked (the caller is an admin).
    assert_eq!(
        large, 10,
        "a page of 100 households took {large} statements"
    );
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
