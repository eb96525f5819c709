//! Test harness: fresh databases and real servers on port 0.

#![allow(dead_code)]

use anju::auth::{jwt, Role};
use anju::config::{AuthConfig, CacheConfig, DatabaseConfig, ServeConfig};
use anju::db::StatementCounter;
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Held shared by the tests that expect a committed change in the feed at once, and exclusively
/// by those that keep transactions open for long: on PostgreSQL the feed waits for every
/// transaction open in the cluster, in any database, including other tests' (the snapshot's
/// `xmin` is cluster-wide).
pub static FEED: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

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
    /// A fresh database loaded from the named fixture data set.
    pub async fn with_fixture(name: &str) -> TestDb {
        let db = TestDb::new().await;
        anju::register::import_dir(&db.db, &fixture(name))
            .await
            .expect("import fixture");
        db
    }

    /// A fresh database loaded from a generated demo county.
    pub async fn with_demo(options: anju_demo::DemoOptions) -> TestDb {
        let db = TestDb::new().await;
        let dir = tempfile::tempdir().expect("temp dir");
        anju_demo::write_csv(&options, dir.path()).expect("generate the demo county");
        anju::register::import_dir(&db.db, dir.path())
            .await
            .expect("import the demo county");
        db
    }

    pub async fn new() -> TestDb {
        // Logs go through the test harness, which shows them for failing tests only.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
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
        anju::startup::migrate(&db)
            .await
            .expect("migrate test database");
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

    /// A second handle on the same database, as another replica would open it; the database
    /// stays with `self` (dropping the share removes nothing).
    pub async fn share(&self) -> TestDb {
        let (db, statements) = anju::db::connect(&self.config)
            .await
            .expect("connect shared test database");
        TestDb {
            config: self.config.clone(),
            db,
            statements,
            _dir: None,
            pg_drop: None,
        }
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
    /// The server's cache.
    pub cache: anju::cache::Cache,
    pub client: reqwest::Client,
    pub db: TestDb,
    /// How the server checks credentials.
    pub auth: AuthConfig,
    pub production: bool,
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

    /// The cache every test server uses: in-process, or Redis when `ANJU_TEST_REDIS_URL` is set
    /// (with a key prefix of its own, so tests sharing one Redis never see each other's keys).
    pub fn test_cache() -> CacheConfig {
        CacheConfig {
            redis_url: std::env::var("ANJU_TEST_REDIS_URL")
                .ok()
                .filter(|u| !u.is_empty()),
            prefix: format!("anju-test-{}", uuid::Uuid::new_v4().simple()),
            ..CacheConfig::default()
        }
    }

    /// Starts a server over `db` with the given serve configuration.
    pub async fn spawn_with(db: TestDb, mut config: ServeConfig) -> TestApp {
        if config.cache.redis_url.is_none() && config.cache.prefix == CacheConfig::default().prefix
        {
            config.cache = Self::test_cache();
        }
        if config.production && config.auth.jwt_secret.is_none() {
            // Production has no development key: give it a configured one.
            config.auth.jwt_secret = Some(
                format!(
                    "{}{}",
                    uuid::Uuid::new_v4().simple(),
                    uuid::Uuid::new_v4().simple()
                )
                .into(),
            );
        }
        let (auth, production) = (config.auth.clone(), config.production);
        let app = anju::startup::Application::build(db.config.clone(), config)
            .await
            .expect("build application");
        let base = format!("http://127.0.0.1:{}", app.port());
        let statements = app.state().statements.clone();
        let cache = app.state().cache.clone();
        let server = tokio::spawn(async move {
            let _ = app.run_until_stopped().await;
        });
        TestApp {
            base,
            statements,
            cache,
            client: reqwest::Client::new(),
            db,
            auth,
            production,
            _server: server,
        }
    }

    /// Starts a server over `db` with the given serve configuration and `redis` as its cache.
    /// Cache generations are then read from Redis, so a request runs exactly the SQL its
    /// resolvers need (without Redis, every request also reads a generation counter).
    pub async fn spawn_with_redis(db: TestDb, config: ServeConfig, redis: &TestRedis) -> TestApp {
        let config = ServeConfig {
            cache: CacheConfig {
                redis_url: Some(redis.url()),
                prefix: format!("anju-test-{}", uuid::Uuid::new_v4().simple()),
                // A loaded test machine must not bypass Redis: what tests count here is SQL.
                redis_timeout_ms: 2000,
                ..CacheConfig::default()
            },
            ..config
        };
        let app = Self::spawn_with(db, config).await;
        // Redis connects in the background; once it has, mirror the counters (a counter never
        // raised is mirrored by the first read of it), so no request reads them from the database.
        app.cache
            .wait_connected(std::time::Duration::from_secs(5))
            .await;
        app.cache
            .publish_generations()
            .await
            .expect("publish generations");
        app.cache
            .generations(&[anju::cache::GenScope::Register])
            .await
            .expect("read generations");
        app
    }

    /// Starts a server over a database loaded from the named fixture data set, with `redis`
    /// as its cache (see [`spawn_with_redis`](Self::spawn_with_redis)).
    pub async fn with_fixture_and_redis(name: &str, redis: &TestRedis) -> TestApp {
        Self::spawn_with_redis(
            TestDb::with_fixture(name).await,
            ServeConfig::ephemeral(),
            redis,
        )
        .await
    }

    /// Starts a server over a database loaded from the named fixture data set.
    pub async fn with_fixture(name: &str) -> TestApp {
        Self::spawn_on(TestDb::with_fixture(name).await).await
    }

    /// The text of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// Stops the server at once, with its background tasks (as a crash or a kill would); the
    /// database stays.
    pub fn stop(&self) {
        self._server.abort();
    }

    /// POSTs a GraphQL request as an admin of the whole tree and returns the whole JSON
    /// response.
    pub async fn query(&self, query: &str, variables: Value) -> Value {
        let token = self.admin_token().await;
        self.query_as(Some(&token), query, variables).await
    }

    /// POSTs a GraphQL request with `token` as bearer credentials (none: anonymous).
    pub async fn query_as(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .client
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("send request");
        resp.json().await.expect("JSON response")
    }

    /// A token for `role` over `area` (and `site`), signed as `anju token` signs it.
    pub async fn token(&self, role: Role, area: &str, site: Option<&str>) -> String {
        self.token_for(&format!("test-{role}"), role, area, site)
            .await
    }

    /// Like [`token`](Self::token), for the token subject `sub`.
    pub async fn token_for(&self, sub: &str, role: Role, area: &str, site: Option<&str>) -> String {
        let verifier = jwt::Verifier::from_config(&self.db.db, &self.auth, self.production)
            .await
            .expect("token verifier")
            .expect("development key");
        verifier
            .mint(sub, role, area, site, std::time::Duration::from_secs(3600))
            .expect("mint token")
    }

    /// A token for an admin of the tree's root (the first root, by code).
    pub async fn admin_token(&self) -> String {
        let root = entity::area::Entity::find()
            .filter(entity::area::Column::ParentCode.is_null())
            .order_by_asc(entity::area::Column::Code)
            .one(&self.db.db)
            .await
            .expect("read root area")
            .map(|a| a.code)
            .unwrap_or_else(|| "000000".into());
        self.token(Role::Admin, &root, None).await
    }

    /// Like [`query`](Self::query), but fails the test on any GraphQL error and returns `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.query(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }
}

/// A response without its `extensions.cost` (which every response carries), for comparing
/// whole bodies.
pub fn without_cost(mut body: Value) -> Value {
    if let Some(ext) = body.get_mut("extensions").and_then(Value::as_object_mut) {
        ext.remove("cost");
        if ext.is_empty() {
            body.as_object_mut().map(|b| b.remove("extensions"));
        }
    }
    body
}

/// The `extensions.code` of the first error of a response.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A `redis-server` of the test's own, on a free port; killed when dropped.
pub struct TestRedis {
    pub port: u16,
    pub child: std::process::Child,
}

impl TestRedis {
    pub async fn start() -> TestRedis {
        Self::start_on(free_port()).await
    }

    /// A `redis-server` on `port` (one that was killed comes back where it was).
    pub async fn start_on(port: u16) -> TestRedis {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed to run the cache fault tests");
        let redis = TestRedis { port, child };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return redis;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("redis-server did not start on port {port}");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Sends a signal (`STOP`, `CONT`, `KILL`) to the server.
    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .stderr(std::process::Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies a fixture data set into a temporary folder, where a test may edit it.
pub fn fixture_copy(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(fixture(name)).expect("fixture folder") {
        let path = entry.expect("fixture entry").path();
        if path.extension().is_some_and(|e| e == "csv") {
            std::fs::copy(&path, dir.path().join(path.file_name().expect("file name")))
                .expect("copy fixture");
        }
    }
    dir
}

/// Replaces `from` by `to` in one file of a data set (the text must occur exactly once).
pub fn edit_csv(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).expect("read csv");
    assert_eq!(
        text.matches(from).count(),
        1,
        "`{from}` must occur once in {file}"
    );
    std::fs::write(&path, text.replace(from, to)).expect("write csv");
}

/// The PostgreSQL programs the replication tests run (`initdb`, `pg_ctl`, `pg_basebackup`):
/// the newest installed under `/usr/lib/postgresql/<version>/bin`, or `ANJU_TEST_PG_BIN`.
pub fn pg_bin() -> PathBuf {
    if let Ok(dir) = std::env::var("ANJU_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's programs must be installed under /usr/lib/postgresql (or name them in ANJU_TEST_PG_BIN)")
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("pg_basebackup").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .expect("no PostgreSQL version with pg_basebackup under /usr/lib/postgresql")
}

/// Runs a PostgreSQL program as the `postgres` user when the tests run as root (the server
/// refuses to run as root), as the current user otherwise.
fn pg_command(program: &str) -> std::process::Command {
    let path = pg_bin().join(program);
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if root {
        let mut cmd = std::process::Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(path);
        cmd
    } else {
        std::process::Command::new(path)
    }
}

fn run_pg(program: &str, args: &[&str]) {
    let out = pg_command(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One pair at a time: making a cluster (`initdb`, `pg_basebackup`) is heavy work, which
/// several at once would pile onto the tests running beside them.
static PG_PAIRS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A PostgreSQL primary and its streaming standby of the test's own, on free ports, in a
/// temporary folder; both stopped and removed when dropped.
pub struct PgPair {
    _turn: tokio::sync::MutexGuard<'static, ()>,
    dir: tempfile::TempDir,
    pub primary_port: u16,
    pub standby_port: u16,
    standby_running: std::sync::atomic::AtomicBool,
}

impl PgPair {
    pub async fn start() -> PgPair {
        let turn = PG_PAIRS.lock().await;
        let dir = tempfile::Builder::new()
            .prefix("anju-pg-pair-")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let _ = std::process::Command::new("chown")
            .args(["postgres:postgres", &dir.path().display().to_string()])
            .status();
        let (primary_port, standby_port) = (free_port(), free_port());
        let path = |name: &str| dir.path().join(name).display().to_string();
        run_pg(
            "initdb",
            &[
                "-D",
                &path("primary"),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        let conf = format!(
            "port = {primary_port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             fsync = off\nwal_level = replica\nmax_wal_senders = 4\nhot_standby_feedback = on\n",
            dir.path().display()
        );
        append(&dir.path().join("primary/postgresql.conf"), &conf);
        run_pg(
            "pg_ctl",
            &[
                "-D",
                &path("primary"),
                "-l",
                &path("primary.log"),
                "-w",
                "start",
            ],
        );
        run_pg(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &primary_port.to_string(),
                "-U",
                "postgres",
                "-D",
                &path("standby"),
                "-R",
                "-X",
                "stream",
            ],
        );
        append(
            &dir.path().join("standby/postgresql.conf"),
            &format!("port = {standby_port}\n"),
        );
        let pair = PgPair {
            _turn: turn,
            dir,
            primary_port,
            standby_port,
            standby_running: std::sync::atomic::AtomicBool::new(false),
        };
        pair.start_standby();
        pair
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    pub fn primary_url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.primary_port)
    }

    pub fn standby_url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.standby_port)
    }

    pub fn start_standby(&self) {
        run_pg(
            "pg_ctl",
            &[
                "-D",
                &self.path("standby"),
                "-l",
                &self.path("standby.log"),
                "-w",
                "start",
            ],
        );
        self.standby_running
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn stop_standby(&self) {
        run_pg(
            "pg_ctl",
            &["-D", &self.path("standby"), "-m", "fast", "-w", "stop"],
        );
        self.standby_running
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// A fresh, migrated database on the primary, once the standby has it too; its config
    /// reads from the standby.
    pub async fn database(&self) -> TestDb {
        let name = format!("anju_test_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(self.primary_url("postgres"))
            .await
            .expect("connect to the primary");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        admin.close().await.ok();
        let mut config = DatabaseConfig::new(self.primary_url(&name));
        let (db, statements) = anju::db::connect(&config)
            .await
            .expect("connect test database");
        anju::startup::migrate(&db)
            .await
            .expect("migrate test database");
        config.read_url = Some(self.standby_url(&name));
        let db = TestDb {
            config,
            db,
            statements,
            _dir: None,
            pg_drop: None,
        };
        self.wait_replayed(&db).await;
        db
    }

    /// Waits until the standby has replayed everything the primary of `db` has written so far.
    pub async fn wait_replayed(&self, db: &TestDb) {
        let lsn: String = db
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT CAST(pg_current_wal_lsn() AS TEXT) AS l",
            ))
            .await
            .expect("primary position")
            .expect("a row")
            .try_get("", "l")
            .expect("lsn");
        let standby = Database::connect(self.standby_url("postgres"))
            .await
            .expect("connect to the standby");
        for _ in 0..500 {
            let done: bool = standby
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    format!("SELECT COALESCE(pg_last_wal_replay_lsn() >= '{lsn}', FALSE) AS d"),
                ))
                .await
                .expect("standby position")
                .expect("a row")
                .try_get("", "d")
                .expect("bool");
            if done {
                standby.close().await.ok();
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the standby did not replay the primary's log up to {lsn}");
    }

    /// Runs `sql` on the standby (`pg_wal_replay_pause()`, `pg_wal_replay_resume()`).
    pub async fn on_standby(&self, sql: &str) {
        let standby = Database::connect(self.standby_url("postgres"))
            .await
            .expect("connect to the standby");
        standby.execute_unprepared(sql).await.expect(sql);
        standby.close().await.ok();
    }
}

fn append(file: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(file)
        .unwrap_or_else(|e| panic!("open {}: {e}", file.display()));
    f.write_all(text.as_bytes()).expect("append");
}

impl Drop for PgPair {
    fn drop(&mut self) {
        for (name, running) in [
            (
                "standby",
                self.standby_running
                    .load(std::sync::atomic::Ordering::SeqCst),
            ),
            ("primary", true),
        ] {
            if running {
                let _ = pg_command("pg_ctl")
                    .args(["-D", &self.path(name), "-m", "immediate", "-w", "stop"])
                    .output();
            }
        }
    }
}

/// A Redis Cluster of the test's own: three masters on free ports, the 16384 slots split
/// between them; every server killed when dropped.
pub struct TestRedisCluster {
    pub ports: Vec<u16>,
    children: Vec<std::process::Child>,
    _dir: tempfile::TempDir,
}

impl TestRedisCluster {
    pub async fn start() -> TestRedisCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let mut children = Vec::new();
        for port in &ports {
            let conf = dir.path().join(format!("nodes-{port}.conf"));
            children.push(
                std::process::Command::new("redis-server")
                    .args([
                        "--port",
                        &port.to_string(),
                        "--bind",
                        "127.0.0.1",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        &conf.display().to_string(),
                        "--cluster-node-timeout",
                        "2000",
                        "--dir",
                        &dir.path().display().to_string(),
                    ])
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .expect("redis-server must be installed to run the Redis Cluster tests"),
            );
        }
        let cluster = TestRedisCluster {
            ports,
            children,
            _dir: dir,
        };
        for port in &cluster.ports {
            let mut up = false;
            for _ in 0..100 {
                if tokio::net::TcpStream::connect(("127.0.0.1", *port))
                    .await
                    .is_ok()
                {
                    up = true;
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            assert!(up, "redis-server did not start on port {port}");
        }
        let mut args: Vec<String> = vec!["--cluster".into(), "create".into()];
        args.extend(cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")));
        args.extend([
            "--cluster-replicas".into(),
            "0".into(),
            "--cluster-yes".into(),
        ]);
        let out = std::process::Command::new("redis-cli")
            .args(&args)
            .output()
            .expect("redis-cli must be installed to run the Redis Cluster tests");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        for _ in 0..250 {
            if cluster.ports.iter().all(|p| {
                cluster
                    .cli(*p, &["cluster", "info"])
                    .contains("cluster_state:ok")
            }) {
                return cluster;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the Redis Cluster did not come up");
    }

    /// `REDIS_URL` for the cluster: every node, comma-separated.
    pub fn url(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Runs `redis-cli` against the node on `port` and returns what it printed.
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The keys under `prefix` held by the node on `port`.
    pub fn keys(&self, port: u16, prefix: &str) -> Vec<String> {
        self.cli(port, &["--scan", "--pattern", &format!("{prefix}*")])
            .lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect()
    }
}

impl Drop for TestRedisCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
