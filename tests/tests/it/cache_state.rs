//! Cached answers belong to one state of one register: two databases behind one Redis and one
//! prefix, a database restored from a backup, and a SQLite file deleted and made again never
//! serve another state's entries; a Redis frozen during a write never makes an answer go back
//! in time; an unreadable entry is computed again; a Redis that refuses writes is not ready.

use crate::support::{edit_csv, fixture_copy, TestDb, TestRedis};
use anju::config::{CacheConfig, DatabaseConfig, ServeConfig};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const COUNTY_ON_T: &str = r#"{ indicators(scope: { areaCode: "522732" }, asOf: "2020-06-30") { occupancy { numerator denominator } } }"#;

/// The fixture as shipped: 6 of 8 households moved in on T.
const SHIPPED: (i64, i64) = (6, 8);
/// With H05 moved in on 2020-06-01: 7 of 8 (see tests/fixtures/indicators/EXPECTED.md).
const ONE_MORE: (i64, i64) = (7, 8);
/// With H07 moved in before T too: all 8.
const ALL_IN: (i64, i64) = (8, 8);

/// The fixture with `extra` households moved in before T: H05, then H07.
fn data_set(extra: usize) -> tempfile::TempDir {
    let dir = fixture_copy("indicators");
    if extra >= 1 {
        edit_csv(
            dir.path(),
            "households.csv",
            "522732102202,AZD002,2,true,,,",
            "522732102202,AZD002,2,true,2020-06-01,,",
        );
    }
    if extra >= 2 {
        edit_csv(
            dir.path(),
            "households.csv",
            "AZD003,2,true,2020-07-01,,",
            "AZD003,2,true,2020-06-01,,",
        );
    }
    dir
}

fn cache_config(redis: &TestRedis, prefix: &str) -> CacheConfig {
    CacheConfig {
        redis_url: Some(redis.url()),
        prefix: prefix.to_owned(),
        breaker_open_ms: 300,
        ..CacheConfig::default()
    }
}

/// A server of the test's own, which it can stop.
struct Server {
    base: String,
    client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(db: &DatabaseConfig, cache: CacheConfig) -> Server {
        let config = ServeConfig {
            cache,
            shutdown_grace_ms: 0,
            ..ServeConfig::ephemeral()
        };
        let app = anju::startup::Application::build(db.clone(), config)
            .await
            .expect("build application");
        app.state()
            .cache
            .wait_connected(Duration::from_secs(5))
            .await;
        let base = format!("http://127.0.0.1:{}", app.port());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = app
                .run_until(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Server {
            base,
            client: reqwest::Client::new(),
            stop: Some(stop),
            task,
        }
    }

    /// The county's occupancy on T, or `None` for an answer with errors.
    async fn occupancy(&self) -> Option<(i64, i64)> {
        let body: Value = self
            .client
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": COUNTY_ON_T }))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        if body.get("errors").is_some() {
            return None;
        }
        let o = &body["data"]["indicators"]["occupancy"];
        Some((o["numerator"].as_i64()?, o["denominator"].as_i64()?))
    }

    async fn metric(&self, name: &str) -> u64 {
        let text = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text");
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    async fn ready(&self) -> Value {
        self.client
            .get(format!("{}/readyz", self.base))
            .send()
            .await
            .expect("readyz")
            .json()
            .await
            .expect("readyz json")
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

async fn import(db: &DatabaseConfig, dir: &Path) {
    let (conn, _) = anju::db::connect(db).await.expect("connect");
    anju::startup::migrate(&conn).await.expect("migrate");
    anju::register::import_dir(&conn, dir)
        .await
        .expect("import data set");
    conn.close().await.ok();
}

/// Imports `dir` as `anju import` does with Redis configured: then mirrors the generations.
async fn import_and_publish(db: &DatabaseConfig, dir: &Path, cache: &CacheConfig) {
    let (conn, _) = anju::db::connect(db).await.expect("connect");
    anju::register::import_dir(&conn, dir)
        .await
        .expect("import data set");
    let cache = anju::cache::Cache::open(conn.clone(), cache)
        .await
        .expect("open cache");
    cache.wait_connected(Duration::from_secs(5)).await;
    cache
        .publish_generations()
        .await
        .expect("publish generations");
}

fn redis_cli(redis: &TestRedis, args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &redis.port.to_string()])
        .args(args)
        .output()
        .expect("run redis-cli");
    assert!(out.status.success(), "redis-cli {args:?} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn two_databases_behind_one_redis_and_one_prefix_answer_their_own_data() {
    let redis = TestRedis::start().await;
    for b_first in [true, false] {
        let prefix = format!("anju-shared-{}", uuid::Uuid::new_v4().simple());
        let (a, b) = (TestDb::new().await, TestDb::new().await);
        import(&a.config, data_set(0).path()).await;
        import(&b.config, data_set(1).path()).await;
        let one = Server::start(&a.config, cache_config(&redis, &prefix)).await;
        let two = Server::start(&b.config, cache_config(&redis, &prefix)).await;
        for _ in 0..3 {
            if b_first {
                assert_eq!(two.occupancy().await, Some(ONE_MORE), "B, read first");
                assert_eq!(one.occupancy().await, Some(SHIPPED), "A, read second");
            } else {
                assert_eq!(one.occupancy().await, Some(SHIPPED), "A, read first");
                assert_eq!(two.occupancy().await, Some(ONE_MORE), "B, read second");
            }
        }
        // A third replica on A, with nothing in its own memory, reads through Redis alone.
        let three = Server::start(&a.config, cache_config(&redis, &prefix)).await;
        assert_eq!(three.occupancy().await, Some(SHIPPED));
        for s in [one, two, three] {
            s.stop().await;
        }
    }
}

#[tokio::test]
async fn a_deleted_and_recreated_sqlite_file_under_the_same_redis_gives_the_new_files_answers() {
    let redis = TestRedis::start().await;
    let prefix = format!("anju-file-{}", uuid::Uuid::new_v4().simple());
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("anju.db");
    let db = DatabaseConfig::new(format!("sqlite://{}?mode=rwc", file.display()));

    import(&db, data_set(1).path()).await;
    let server = Server::start(&db, cache_config(&redis, &prefix)).await;
    assert_eq!(server.occupancy().await, Some(ONE_MORE));
    server.stop().await;

    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    import(&db, data_set(0).path()).await;
    let server = Server::start(&db, cache_config(&redis, &prefix)).await;
    for _ in 0..3 {
        assert_eq!(server.occupancy().await, Some(SHIPPED));
    }
    server.stop().await;
}

/// The database's name in a PostgreSQL URL.
fn database_name(url: &str) -> String {
    let path = url.split('?').next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or_default().to_owned()
}

fn run(program: &str, args: &[&str]) {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A backup, a write, a restore of the backup, as the README's procedure does it: on
/// PostgreSQL with both replicas running (`pg_dump`, then the database dropped, made again and
/// loaded with `pg_restore`); on SQLite with the server stopped (`VACUUM INTO`, then the file
/// copied back). Within the documented bound every replica answers the restored data, and once
/// one has, none answers the lost state again; a write after the restore is seen at once.
#[tokio::test]
async fn a_restored_backup_is_answered_by_every_replica_and_the_lost_state_never_again() {
    let redis = TestRedis::start().await;
    let prefix = format!("anju-restore-{}", uuid::Uuid::new_v4().simple());
    let cache = cache_config(&redis, &prefix);
    let db = TestDb::with_fixture("indicators").await;
    let backup = tempfile::tempdir().expect("temp dir");
    let dump = backup.path().join("anju.backup");
    let dump = dump.to_str().expect("utf-8 path");

    if db.is_postgres() {
        let one = Server::start(&db.config, cache.clone()).await;
        let two = Server::start(&db.config, cache.clone()).await;
        assert_eq!(one.occupancy().await, Some(SHIPPED));
        assert_eq!(two.occupancy().await, Some(SHIPPED));
        run("pg_dump", &["-Fc", "-d", &db.config.url, "-f", dump]);

        import_and_publish(&db.config, data_set(1).path(), &cache).await;
        assert_eq!(one.occupancy().await, Some(ONE_MORE));
        assert_eq!(two.occupancy().await, Some(ONE_MORE));

        let admin_url = std::env::var("ANJU_TEST_DATABASE_URL").expect("admin URL");
        let name = database_name(&db.config.url);
        let admin = sea_orm::Database::connect(&admin_url)
            .await
            .expect("connect admin");
        use sea_orm::ConnectionTrait;
        admin
            .execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .await
            .expect("drop database");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        run("pg_restore", &["--no-owner", "-d", &db.config.url, dump]);
        let restored = Instant::now();

        // The documented bound: the reconcile interval (1 s) after the restored database
        // accepts connections, plus the reconcile itself; 3 s leaves a loaded machine room.
        let bound = Duration::from_secs(3);
        let mut seen_restored = false;
        let mut last = (None, None);
        while restored.elapsed() < bound + Duration::from_millis(500) {
            let answers = (one.occupancy().await, two.occupancy().await);
            for answer in [answers.0, answers.1] {
                if answer == Some(SHIPPED) {
                    seen_restored = true;
                }
                assert!(
                    !(seen_restored && answer == Some(ONE_MORE)),
                    "the lost state was answered after the restored one, {:?} after the restore",
                    restored.elapsed()
                );
            }
            last = answers;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            last,
            (Some(SHIPPED), Some(SHIPPED)),
            "both replicas answer the restored data within the bound"
        );

        // Writes after the restore are seen at once, by both.
        import_and_publish(&db.config, data_set(2).path(), &cache).await;
        assert_eq!(one.occupancy().await, Some(ALL_IN));
        assert_eq!(two.occupancy().await, Some(ALL_IN));
        one.stop().await;
        two.stop().await;
    } else {
        let server = Server::start(&db.config, cache.clone()).await;
        assert_eq!(server.occupancy().await, Some(SHIPPED));
        use sea_orm::ConnectionTrait;
        db.db
            .execute_unprepared(&format!("VACUUM INTO '{dump}'"))
            .await
            .expect("back up the SQLite file");
        import_and_publish(&db.config, data_set(1).path(), &cache).await;
        assert_eq!(server.occupancy().await, Some(ONE_MORE));
        server.stop().await;

        db.db.close_by_ref().await.ok();
        let file = db
            .config
            .url
            .trim_start_matches("sqlite://")
            .split('?')
            .next()
            .expect("file path")
            .to_owned();
        // The backup takes the file's place whole (a rename: connections the stopped server
        // left open keep the old file), without the old file's write-ahead log.
        let staged = format!("{file}.restoring");
        std::fs::copy(dump, &staged).expect("stage the backup");
        std::fs::rename(&staged, &file).expect("restore the SQLite file");
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{file}{suffix}"));
        }

        let server = Server::start(&db.config, cache.clone()).await;
        for _ in 0..3 {
            assert_eq!(server.occupancy().await, Some(SHIPPED), "restored data");
        }
        import_and_publish(&db.config, data_set(2).path(), &cache).await;
        assert_eq!(server.occupancy().await, Some(ALL_IN));
        server.stop().await;
    }
}

/// Redis freezes while a write commits: both replicas then read the new state from the
/// database. When Redis thaws, its mirror still holds the old state until it is reconciled;
/// no replica may answer from it.
#[tokio::test]
async fn a_redis_frozen_during_a_write_never_makes_an_answer_go_back_in_time() {
    let redis = TestRedis::start().await;
    let prefix = format!("anju-freeze-{}", uuid::Uuid::new_v4().simple());
    let cache = cache_config(&redis, &prefix);
    let db = TestDb::with_fixture("indicators").await;
    let one = Server::start(&db.config, cache.clone()).await;
    let two = Server::start(&db.config, cache.clone()).await;
    for _ in 0..2 {
        assert_eq!(one.occupancy().await, Some(SHIPPED));
        assert_eq!(two.occupancy().await, Some(SHIPPED));
    }

    redis.signal("STOP");
    // The write commits; its mirror into Redis times out.
    import_and_publish(&db.config, data_set(1).path(), &cache).await;
    for _ in 0..3 {
        assert_eq!(one.occupancy().await, Some(ONE_MORE), "read while frozen");
        assert_eq!(two.occupancy().await, Some(ONE_MORE), "read while frozen");
    }
    redis.signal("CONT");
    // Past the breaker's open time, so Redis is asked again.
    let thawed = Instant::now();
    while thawed.elapsed() < Duration::from_millis(1500) {
        assert_eq!(
            one.occupancy().await,
            Some(ONE_MORE),
            "went back in time {:?} after the thaw",
            thawed.elapsed()
        );
        assert_eq!(
            two.occupancy().await,
            Some(ONE_MORE),
            "went back in time {:?} after the thaw",
            thawed.elapsed()
        );
    }
    one.stop().await;
    two.stop().await;
}

#[tokio::test]
async fn an_unreadable_cached_entry_is_a_counted_miss_computed_again_and_overwritten() {
    let redis = TestRedis::start().await;
    let prefix = format!("anju-garbled-{}", uuid::Uuid::new_v4().simple());
    let db = TestDb::with_fixture("indicators").await;
    let one = Server::start(&db.config, cache_config(&redis, &prefix)).await;
    assert_eq!(one.occupancy().await, Some(SHIPPED));

    let keys = redis_cli(&redis, &["--scan", "--pattern", &format!("{prefix}:*")]);
    let garbled: Vec<&str> = keys
        .lines()
        .filter(|k| k.contains(":indicators:") || k.contains(":response:"))
        .collect();
    assert!(
        garbled.iter().any(|k| k.contains(":indicators:")),
        "the aggregate is in Redis: {keys}"
    );
    for key in &garbled {
        redis_cli(&redis, &["SET", key, "\u{1}not an entry"]);
    }

    // A replica with nothing in its own memory meets the unreadable entries.
    let two = Server::start(&db.config, cache_config(&redis, &prefix)).await;
    for _ in 0..3 {
        assert_eq!(two.occupancy().await, Some(SHIPPED));
    }
    assert!(
        two.metric("anju_cache_unreadable_total").await >= 1,
        "unreadable entries are counted"
    );
    for key in &garbled {
        let value = redis_cli(&redis, &["GET", key]);
        assert!(
            !value.contains("not an entry"),
            "`{key}` is overwritten: {value}"
        );
    }
    one.stop().await;
    two.stop().await;
}

#[tokio::test]
async fn a_redis_that_refuses_writes_is_reported_degraded_and_requests_still_answer() {
    let redis = TestRedis::start().await;
    let prefix = format!("anju-oom-{}", uuid::Uuid::new_v4().simple());
    let db = TestDb::with_fixture("indicators").await;
    let server = Server::start(&db.config, cache_config(&redis, &prefix)).await;
    assert_eq!(server.ready().await["cache"], "ok");

    // Out of memory, with nothing it may evict: every write is refused, reads still answer.
    redis_cli(&redis, &["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    redis_cli(&redis, &["CONFIG", "SET", "maxmemory", "1"]);
    let ready = server.ready().await;
    assert_eq!(ready["cache"], "degraded", "{ready}");
    assert_eq!(
        ready["status"], "ready",
        "the database still serves: {ready}"
    );
    assert_eq!(server.occupancy().await, Some(SHIPPED));

    redis_cli(&redis, &["CONFIG", "SET", "maxmemory", "0"]);
    let deadline = Instant::now() + Duration::from_secs(3);
    while server.ready().await["cache"] != "ok" {
        assert!(Instant::now() < deadline, "the cache recovers");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop().await;
}
