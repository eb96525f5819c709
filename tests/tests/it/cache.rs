//! The aggregate cache: fresh after every write, computed once under a stampede, and harmless
//! when Redis fails (each fault on a `redis-server` the test starts and then stops, kills or
//! freezes).

use crate::support::{edit_csv, fixture_copy, free_port, TestApp, TestDb, TestRedis};
use anju::config::{CacheConfig, ServeConfig};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const COUNTY_ON_T: &str = r#"{ indicators(scope: { areaCode: "522732" }, asOf: "2020-06-30") { occupancy { numerator denominator } } }"#;

/// The correction: H05 moved in on 2020-06-01 after all, so the county's occupancy on T goes
/// from 6/8 to 7/8 (see tests/fixtures/indicators/EXPECTED.md).
fn correction() -> tempfile::TempDir {
    let dir = fixture_copy("indicators");
    edit_csv(
        dir.path(),
        "households.csv",
        "522732102202,AZD002,2,true,,,",
        "522732102202,AZD002,2,true,2020-06-01,,",
    );
    dir
}

fn occupancy(body: &Value) -> (i64, i64) {
    let o = &body["data"]["indicators"]["occupancy"];
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
    (
        o["numerator"].as_i64().unwrap_or(-1),
        o["denominator"].as_i64().unwrap_or(-1),
    )
}

fn redis_config(url: String) -> ServeConfig {
    ServeConfig {
        cache: CacheConfig {
            redis_url: Some(url),
            prefix: format!("anju-test-{}", uuid::Uuid::new_v4().simple()),
            breaker_open_ms: 300,
            ..CacheConfig::default()
        },
        ..ServeConfig::ephemeral()
    }
}

#[tokio::test]
async fn cached_reads_run_no_aggregate_and_an_import_refreshes_them() {
    let app = TestApp::with_fixture("indicators").await;
    assert_eq!(occupancy(&app.query(COUNTY_ON_T, json!({})).await), (6, 8));
    let after_first = app.statements.aggregates();
    assert_eq!(after_first, 1);
    for _ in 0..5 {
        assert_eq!(occupancy(&app.query(COUNTY_ON_T, json!({})).await), (6, 8));
    }
    assert_eq!(
        app.statements.aggregates(),
        after_first,
        "cached reads must not compute again"
    );

    let fix = correction();
    anju::register::import_dir(&app.db.db, fix.path())
        .await
        .expect("import correction");
    app.cache
        .publish_generations()
        .await
        .expect("publish generations");
    assert_eq!(occupancy(&app.query(COUNTY_ON_T, json!({})).await), (7, 8));
    assert_eq!(app.statements.aggregates(), after_first + 1);
}

#[tokio::test]
async fn a_correction_dated_in_the_past_refreshes_every_date_and_totals() {
    let app = TestApp::with_fixture("indicators").await;
    let q = r#"{ a: indicators(scope: { areaCode: "522732" }, asOf: "2020-06-30") { occupancy { numerator } }
                b: indicators(scope: { areaCode: "522732" }, asOf: "2020-12-31") { occupancy { numerator } }
                notMovedIn: households(filter: { movedIn: false, asOf: "2020-12-31" }) { totalCount } }"#;
    let before = app.data(q, json!({})).await;
    assert_eq!(
        before,
        json!({ "a": { "occupancy": { "numerator": 6 } }, "b": { "occupancy": { "numerator": 7 } },
                               "notMovedIn": { "totalCount": 1 } })
    );
    let fix = correction();
    anju::register::import_dir(&app.db.db, fix.path())
        .await
        .expect("import correction");
    app.cache
        .publish_generations()
        .await
        .expect("publish generations");
    let after = app.data(q, json!({})).await;
    assert_eq!(
        after,
        json!({ "a": { "occupancy": { "numerator": 7 } }, "b": { "occupancy": { "numerator": 8 } },
                              "notMovedIn": { "totalCount": 0 } })
    );
}

#[tokio::test]
async fn a_stampede_on_one_cold_key_computes_it_once() {
    let app = TestApp::with_fixture("indicators").await;
    let before = app.statements.aggregates();
    let requests = (0..200).map(|_| app.query(COUNTY_ON_T, json!({})));
    for body in futures::future::join_all(requests).await {
        assert_eq!(occupancy(&body), (6, 8));
    }
    assert_eq!(app.statements.aggregates() - before, 1);
}

#[tokio::test]
async fn two_replicas_sharing_redis_compute_a_cold_key_once() {
    let redis = TestRedis::start().await;
    let db = TestDb::with_fixture("indicators").await;
    let mut config = redis_config(redis.url());
    // 200 requests at once on a test machine can delay a Redis answer past the production
    // timeout, which would (rightly) bypass Redis; what is measured here is the lock.
    config.cache.redis_timeout_ms = 2000;
    let a = TestApp::spawn_with(db, config.clone()).await;
    let b_app = anju::startup::Application::build(a.db.config.clone(), config)
        .await
        .expect("second replica");
    let b_base = format!("http://127.0.0.1:{}", b_app.port());
    let b_statements = b_app.state().statements.clone();
    tokio::spawn(b_app.run_until_stopped());

    let client = reqwest::Client::new();
    let post = |base: String| {
        let client = client.clone();
        async move {
            let resp = client
                .post(format!("{base}/graphql"))
                .json(&json!({ "query": COUNTY_ON_T }))
                .send()
                .await;
            resp.expect("request").json::<Value>().await.expect("json")
        }
    };
    let requests = (0..200).map(|i| {
        post(if i % 2 == 0 {
            a.base.clone()
        } else {
            b_base.clone()
        })
    });
    for body in futures::future::join_all(requests).await {
        assert_eq!(occupancy(&body), (6, 8));
    }
    assert_eq!(a.statements.aggregates() + b_statements.aggregates(), 1);
}

#[tokio::test]
async fn redis_down_at_start_serves_from_the_database_and_says_so() {
    let nothing_there = format!("redis://127.0.0.1:{}", free_port());
    let app = TestApp::spawn_with(
        TestDb::with_fixture("indicators").await,
        redis_config(nothing_there),
    )
    .await;
    for _ in 0..3 {
        assert_eq!(occupancy(&app.query(COUNTY_ON_T, json!({})).await), (6, 8));
    }
    let ready = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.expect("json");
    assert_eq!(body["cache"], "degraded");
    assert_eq!(body["database"], "ok");
}

/// Runs `workers` clients in a loop for `span`, over a few dates so that both hits and misses
/// happen; returns (requests, failures).
async fn load(app: &TestApp, workers: usize, span: Duration) -> (usize, Vec<String>) {
    let deadline = Instant::now() + span;
    let tasks = (0..workers).map(|w| {
        let client = app.client.clone();
        let base = app.base.clone();
        tokio::spawn(async move {
            let (mut done, mut failures) = (0, Vec::new());
            let mut day = w as u32;
            while Instant::now() < deadline {
                day = (day + 1) % 28;
                let q = format!(
                    r#"{{ indicators(scope: {{ areaCode: "522732" }}, asOf: "2020-06-{:02}") {{ occupancy {{ numerator }} }} }}"#,
                    day + 1
                );
                match client.post(format!("{base}/graphql")).json(&json!({ "query": q })).send().await {
                    Ok(resp) if resp.status() == 200 => {
                        let body: Value = resp.json().await.unwrap_or(Value::Null);
                        if body.get("errors").is_some() || !body["data"]["indicators"].is_object() {
                            failures.push(body.to_string());
                        }
                    }
                    Ok(resp) => failures.push(format!("HTTP {}", resp.status())),
                    Err(e) => failures.push(e.to_string()),
                }
                done += 1;
            }
            (done, failures)
        })
    });
    let mut total = (0, Vec::new());
    for result in futures::future::join_all(tasks).await {
        let (done, failures) = result.expect("load task");
        total.0 += done;
        total.1.extend(failures);
    }
    total
}

#[tokio::test]
async fn redis_killed_under_load_fails_no_request() {
    let mut redis = TestRedis::start().await;
    let app = TestApp::spawn_with(
        TestDb::with_fixture("indicators").await,
        redis_config(redis.url()),
    )
    .await;
    assert_eq!(occupancy(&app.query(COUNTY_ON_T, json!({})).await), (6, 8));
    let killer = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        redis.child.kill().expect("kill redis");
        let _ = redis.child.wait();
    };
    let ((requests, failures), ()) =
        tokio::join!(load(&app, 8, Duration::from_millis(1200)), killer);
    assert!(requests > 20, "the load ran only {requests} requests");
    assert!(
        failures.is_empty(),
        "{} of {requests} requests failed, e.g. {:?}",
        failures.len(),
        failures.first()
    );
    assert_eq!(occupancy(&app.query(COUNTY_ON_T, json!({})).await), (6, 8));
}

#[tokio::test]
async fn a_frozen_redis_costs_a_timeout_then_the_breaker_skips_it_and_recovery_is_automatic() {
    let redis = TestRedis::start().await;
    let app = TestApp::spawn_with(
        TestDb::with_fixture("indicators").await,
        redis_config(redis.url()),
    )
    .await;
    assert_eq!(occupancy(&app.query(COUNTY_ON_T, json!({})).await), (6, 8));
    let metrics = || async {
        let text = app.metrics().await;
        let value = |name: &str| -> u64 {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (
            value("anju_cache_errors_total"),
            value("anju_cache_bypasses_total"),
            value("anju_cache_lookups_total{outcome=\"shared_hit\"}"),
        )
    };

    redis.signal("STOP");
    // Every request still answers: a frozen Redis costs at most its timeout (50 ms) per call,
    // and far less once the breaker opens. One second bounds "no hang" generously.
    for day in 1..=10 {
        let q = format!(
            r#"{{ indicators(scope: {{ areaCode: "522732" }}, asOf: "2020-05-{day:02}") {{ occupancy {{ numerator }} }} }}"#
        );
        let started = Instant::now();
        let body = app.query(&q, json!({})).await;
        assert!(body.get("errors").is_none(), "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a request waited {:?} on a frozen Redis",
            started.elapsed()
        );
    }
    let (errors, bypasses, _) = metrics().await;
    assert!(
        errors >= 3,
        "the timeouts must be counted as errors ({errors})"
    );
    assert!(
        bypasses >= 1,
        "the open breaker must skip Redis ({bypasses})"
    );
    let ready: Value = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["cache"], "degraded");

    redis.signal("CONT");
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Half-open: the next call goes through, succeeds and closes the breaker.
    let (errors_before, _, hits_before) = metrics().await;
    for _ in 0..3 {
        assert_eq!(occupancy(&app.query(COUNTY_ON_T, json!({})).await), (6, 8));
    }
    let (errors_after, _, _) = metrics().await;
    assert_eq!(errors_after, errors_before, "Redis answers again");
    let ready: Value = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["cache"], "ok");
    // A value only Redis holds is read from it again: a fresh replica finds it there.
    let _ = hits_before;
}
