//! Test harness: fresh databases and real servers on port 0.

#![allow(dead_code)]

use anju::config::{DatabaseConfig, ServeConfig};
use anju::db::StatementCounter;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// A fresh, migrated database for one test: a SQLite file in a temporary folder, or a new
/// PostgreSQL database when `ANJU_TEST_DATABASE_URL` is set. PostgreSQL databases are dropped
/// when the value is dropped.
pub struct TestDb {
    pub config: DatabaseConfig,
    pub db: DatabaseConnection,
    pub statements: StatementCounter,
    _dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
}

impl TestDb {
    pub async fn new() -> TestDb {
        anju::telemetry::init();
        let (config, dir, pg_drop) = match std::env::var("ANJU_TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!("anju_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&admin_url)
                    .await
                    .expect("connect to ANJU_TEST_DATABASE_URL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                let url = replace_db_name(&admin_url, &name);
                (DatabaseConfig::new(url), None, Some((admin_url, name)))
            }
            _ => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("anju.db").display());
                (DatabaseConfig::new(url), Some(dir), None)
            }
        };
        let (db, statements) = anju::db::connect(&config)
            .await
            .expect("connect test database");
        anju::db::migrate(&db).await.expect("migrate test database");
        TestDb {
            config,
            db,
            statements,
            _dir: dir,
            pg_drop,
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.pg_drop.is_some()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.pg_drop.take() {
            // Dropping needs async I/O; a short-lived runtime on its own thread does it.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(async {
                    if let Ok(admin) = Database::connect(&admin_url).await {
                        let _ = admin
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .await;
                        let _ = admin.close().await;
                    }
                });
                Ok::<_, std::io::Error>(())
            })
            .join();
        }
    }
}

/// `postgres://user@host:port/olddb?x` → `postgres://user@host:port/NEW?x`.
fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let new_base = match base[scheme_end..].find('/') {
        Some(slash) => format!("{}/{}", &base[..scheme_end + slash], name),
        None => format!("{base}/{name}"),
    };
    match query {
        Some(q) => format!("{new_base}?{q}"),
        None => new_base,
    }
}

/// The folder of CSV fixtures shipped with the tests.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// A running Anju server on a free port, over its own fresh database.
pub struct TestApp {
    pub base: String,
    /// Statements the server's own connection pool has executed.
    pub statements: StatementCounter,
    pub client: reqwest::Client,
    pub db: TestDb,
    _server: tokio::task::JoinHandle<()>,
}

impl TestApp {
    /// Starts a server over an empty, migrated database.
    pub async fn spawn() -> TestApp {
        Self::spawn_on(TestDb::new().await).await
    }

    /// Starts a server over `db` (which a test may have filled first).
    pub async fn spawn_on(db: TestDb) -> TestApp {
        Self::spawn_with(db, ServeConfig::ephemeral()).await
    }

    /// Starts a server over `db` with the given serve configuration.
    pub async fn spawn_with(db: TestDb, config: ServeConfig) -> TestApp {
        let app = anju::startup::Application::build(db.config.clone(), config)
            .await
            .expect("build application");
        let base = format!("http://127.0.0.1:{}", app.port());
        let statements = app.state().statements.clone();
        let server = tokio::spawn(async move {
            let _ = app.run_until_stopped().await;
        });
        TestApp {
            base,
            statements,
            client: reqwest::Client::new(),
            db,
            _server: server,
        }
    }

    /// Starts a server over a database loaded from the named fixture data set.
    pub async fn with_fixture(name: &str) -> TestApp {
        let db = TestDb::new().await;
        anju::register::import_dir(&db.db, &fixture(name))
            .await
            .expect("import fixture");
        Self::spawn_on(db).await
    }

    /// POSTs a GraphQL request and returns the whole JSON response.
    pub async fn query(&self, query: &str, variables: Value) -> Value {
        let resp = self
            .client
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("send request");
        resp.json().await.expect("JSON response")
    }

    /// Like [`query`](Self::query), but fails the test on any GraphQL error and returns `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.query(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }
}

/// The `extensions.code` of the first error of a response.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
}
