//! Reads from a streaming standby (`DATABASE_READ_URL`): on a real PostgreSQL primary and
//! standby of the test's own (whatever database the other tests run on), a lagging standby is
//! made by pausing its replay.

use crate::support::{fixture, PgPair, TestApp, TestRedis};
use anju::auth::Role;
use anju::config::{CacheConfig, DatabaseConfig, ServeConfig};
use serde_json::{json, Value};

const T: &str = "2020-12-31";

const READ: &str = r#"{ household(code: "H05") { movedInOn version }
  indicators(scope: { siteCode: "AZD002" }, asOf: "2020-12-31") { occupancy { numerator denominator } } }"#;

/// A primary and standby, a database on them loaded with the fixture, and a server reading
/// from the standby.
async fn start() -> (PgPair, TestApp) {
    let pair = PgPair::start().await;
    let db = pair.database().await;
    anju::register::import_dir(&db.db, &fixture("indicators"))
        .await
        .expect("import fixture");
    pair.wait_replayed(&db).await;
    let app = TestApp::spawn_on(db).await;
    (pair, app)
}

async fn read(app: &TestApp, token: &str) -> Value {
    let body = app.query_as(Some(token), READ, json!({})).await;
    assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
    body["data"].clone()
}

async fn move_in(app: &TestApp, token: &str) {
    let body = app
        .query_as(
            Some(token),
            "mutation($input: RecordMoveInInput!) { recordMoveIn(input: $input) { household { version } userErrors { message } } }",
            json!({ "input": { "idempotencyKey": uuid::Uuid::new_v4().simple().to_string(),
                               "code": "H05", "version": 1, "movedInOn": T } }),
        )
        .await;
    assert_eq!(
        body["data"]["recordMoveIn"],
        json!({ "household": { "version": 2 }, "userErrors": [] }),
        "{body:#}"
    );
}

fn moved(data: &Value) -> bool {
    data["household"]["movedInOn"] == json!(T)
}

/// Reads go to the standby, writes to the primary; the writer reads its own write (from the
/// primary while the standby lags), others see the standby's state, and nothing they saw there
/// is kept under the newer state: once the standby replays the write, everyone sees it.
#[tokio::test]
async fn queries_read_the_standby_and_a_writer_reads_its_own_write() {
    let (pair, app) = start().await;
    let writer = app.token_for("writer", Role::Admin, "520000", None).await;
    let other = app.token_for("other", Role::Admin, "520000", None).await;
    let before = read(&app, &other).await;
    assert!(!moved(&before), "{before:#}");
    assert_eq!(
        before["indicators"]["occupancy"],
        json!({ "numerator": 1, "denominator": 2 })
    );

    // The standby stops replaying: whatever is written now is on the primary alone.
    pair.on_standby("SELECT pg_wal_replay_pause()").await;
    move_in(&app, &writer).await;

    // The writer sees its write (the standby is behind it: read from the primary).
    let own = read(&app, &writer).await;
    assert!(moved(&own), "the writer must read its own write: {own:#}");
    assert_eq!(
        own["indicators"]["occupancy"],
        json!({ "numerator": 2, "denominator": 2 })
    );

    // Anyone else reads the standby, which has not replayed the write: the state before it.
    for _ in 0..3 {
        let seen = read(&app, &other).await;
        assert!(
            !moved(&seen),
            "another caller reads from the standby: {seen:#}"
        );
        assert_eq!(
            seen["indicators"]["occupancy"],
            json!({ "numerator": 1, "denominator": 2 })
        );
    }

    // The standby replays the write: the next read shows it, not a response or an aggregate
    // cached from the standby's older state.
    pair.on_standby("SELECT pg_wal_replay_resume()").await;
    pair.wait_replayed(&app.db).await;
    let after = read(&app, &other).await;
    assert!(moved(&after), "{after:#}");
    assert_eq!(
        after["indicators"]["occupancy"],
        json!({ "numerator": 2, "denominator": 2 })
    );
    let anonymous_or_other = read(&app, &writer).await;
    assert_eq!(anonymous_or_other, after);
}

/// The balancer may send a writer's next read to another replica: the position of its write is
/// shared through Redis, so that replica waits for the standby too (and, the standby being held
/// back, reads from the primary).
#[tokio::test]
async fn a_writer_reads_its_own_write_through_another_replica() {
    let pair = PgPair::start().await;
    let db = pair.database().await;
    anju::register::import_dir(&db.db, &fixture("indicators"))
        .await
        .expect("import fixture");
    pair.wait_replayed(&db).await;
    let redis = TestRedis::start().await;
    let config = || ServeConfig {
        cache: CacheConfig {
            redis_url: Some(redis.url()),
            prefix: "anju-ryw".into(),
            redis_timeout_ms: 2000,
            ..CacheConfig::default()
        },
        ..ServeConfig::ephemeral()
    };
    let second_db = db.share().await;
    let first = TestApp::spawn_with(db, config()).await;
    let second = TestApp::spawn_with(second_db, config()).await;
    first
        .cache
        .wait_connected(std::time::Duration::from_secs(5))
        .await;
    second
        .cache
        .wait_connected(std::time::Duration::from_secs(5))
        .await;
    let writer = first.token_for("writer", Role::Admin, "520000", None).await;
    let other = first.token_for("other", Role::Admin, "520000", None).await;
    assert!(!moved(&read(&second, &other).await));

    pair.on_standby("SELECT pg_wal_replay_pause()").await;
    move_in(&first, &writer).await;
    let own = read(&second, &writer).await;
    assert!(
        moved(&own),
        "the writer reads its write through the other replica: {own:#}"
    );
    let seen = read(&second, &other).await;
    assert!(
        !moved(&seen),
        "another caller reads the standby there: {seen:#}"
    );
    pair.on_standby("SELECT pg_wal_replay_resume()").await;
}

/// A standby that is down sends reads to the primary: no request fails, and they see the
/// primary's state; once it is back, reads go to it again.
#[tokio::test]
async fn reads_fall_back_to_the_primary_while_the_standby_is_down() {
    let (pair, app) = start().await;
    let writer = app.token_for("writer", Role::Admin, "520000", None).await;
    let other = app.token_for("other", Role::Admin, "520000", None).await;
    assert!(!moved(&read(&app, &other).await));

    pair.stop_standby();
    move_in(&app, &writer).await;
    for _ in 0..10 {
        let seen = read(&app, &other).await;
        assert!(moved(&seen), "reads come from the primary now: {seen:#}");
    }

    // Back: it replays what it missed and takes reads again (a paused standby shows it does).
    pair.start_standby();
    pair.wait_replayed(&app.db).await;
    pair.on_standby("SELECT pg_wal_replay_pause()").await;
    let body = app
        .query_as(
            Some(&writer),
            "mutation($input: RecordPovertyExitInput!) { recordPovertyExit(input: $input) { userErrors { message } } }",
            json!({ "input": { "idempotencyKey": uuid::Uuid::new_v4().simple().to_string(),
                               "code": "H05", "version": 2, "povertyExitOn": T } }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let q = r#"{ household(code: "H05") { povertyExitOn } }"#;
    let mut from_standby = false;
    // The breaker lets the standby be tried again after a short while.
    for _ in 0..100 {
        let seen = app.query_as(Some(&other), q, json!({})).await;
        assert!(seen.get("errors").is_none(), "{seen:#}");
        if seen["data"]["household"]["povertyExitOn"].is_null() {
            from_standby = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    pair.on_standby("SELECT pg_wal_replay_resume()").await;
    assert!(from_standby, "reads never went back to the standby");
}

/// The change feed is read from the primary even while the standby lags: a change is listed
/// with its record as written.
#[tokio::test]
async fn the_change_feed_reads_the_primary() {
    let (pair, app) = start().await;
    let writer = app.token_for("writer", Role::Admin, "520000", None).await;
    let other = app.token_for("other", Role::Admin, "520000", None).await;
    let head = app
        .query_as(Some(&other), "{ changesHead }", json!({}))
        .await["data"]["changesHead"]
        .as_str()
        .expect("a head")
        .to_owned();
    pair.on_standby("SELECT pg_wal_replay_pause()").await;
    move_in(&app, &writer).await;
    let page = {
        let _feed = crate::support::FEED.read().await;
        app.query_as(
            Some(&other),
            "query($after: String!) { changes(after: $after, types: [HOUSEHOLD]) { changes { version record { ... on Household { movedInOn version } } } } }",
            json!({ "after": head }),
        )
        .await
    };
    pair.on_standby("SELECT pg_wal_replay_resume()").await;
    assert_eq!(
        page["data"]["changes"]["changes"],
        json!([{ "version": 2, "record": { "movedInOn": T, "version": 2 } }]),
        "{page:#}"
    );
}

/// SQLite has no standby: a read URL is refused, saying which setting and why.
#[tokio::test]
async fn a_read_url_is_refused_with_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = DatabaseConfig::new(format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("anju.db").display()
    ));
    config.read_url = Some("postgres://postgres@127.0.0.1:1/anju".into());
    let refused = anju::startup::Application::build(config, ServeConfig::ephemeral())
        .await
        .err()
        .expect("a read URL with SQLite is refused");
    let message = format!("{refused:#}");
    assert!(
        message.contains("DATABASE_READ_URL") && message.contains("SQLite"),
        "{message}"
    );
    assert!(
        !dir.path().join("anju.db").exists(),
        "nothing is created when the settings are refused"
    );
}
