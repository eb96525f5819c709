//! Configuration: plain data, and the one list of settings that fills it.
//!
//! Every setting is declared once, in [`SETTINGS`]: its name (the environment variable, and the
//! key in the configuration file), where it lands in [`Config`], its command-line flag and its
//! help. [`load`] layers, lowest first: the defaults ([`Config::default`]), the optional TOML
//! configuration file, the environment, then the flags (the flag wins).
//!
//! Nothing here depends on the rest of the service: the modules that use a setting convert it.

mod layers;

pub use layers::{flag_args, flag_values, from_process, load, process_env, CONFIG_FILE_VAR};

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The database used when nothing is configured: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://anju.db?mode=rwc";

/// The rate-limit budgets in force unless configured otherwise (`role=maximum:restore per
/// second`).
pub const DEFAULT_RATE_LIMITS: &str = "admin=20000:1000,officer=10000:500,\
site_manager=5000:250,viewer=5000:250,integration=20000:1000,anonymous=1000:50";

/// The waits before each retry of a failed webhook delivery: about three days in all.
pub const DEFAULT_WEBHOOK_RETRY_SCHEDULE: &str = "5s,5m,30m,2h,5h,10h,10h,10h,10h,10h,10h";

/// Which commands have a setting's flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every command (`anju --database-url … import DIR`).
    Global,
    /// Only `anju serve`.
    Serve,
    /// None: the setting is read from the environment and the file only.
    NoFlag,
}

/// One setting.
#[derive(Debug)]
pub struct Setting {
    /// The environment variable, and the configuration file's key.
    pub name: &'static str,
    /// Where it lands in [`Config`]: `section.field`.
    pub key: &'static str,
    /// The command-line flag, without its dashes.
    pub flag: &'static str,
    /// Which commands have the flag.
    pub scope: Scope,
    /// What `--help` says about it.
    pub help: &'static str,
}

const fn global(
    name: &'static str,
    key: &'static str,
    flag: &'static str,
    help: &'static str,
) -> Setting {
    Setting {
        name,
        key,
        flag,
        scope: Scope::Global,
        help,
    }
}

const fn serve(
    name: &'static str,
    key: &'static str,
    flag: &'static str,
    help: &'static str,
) -> Setting {
    Setting {
        name,
        key,
        flag,
        scope: Scope::Serve,
        help,
    }
}

const fn no_flag(name: &'static str, key: &'static str, help: &'static str) -> Setting {
    Setting {
        name,
        key,
        flag: "",
        scope: Scope::NoFlag,
        help,
    }
}

/// Every setting, the only place their names are written.
#[rustfmt::skip]
pub const SETTINGS: &[Setting] = &[
    global("DATABASE_URL", "database.url", "database-url",
        "Database URL: `sqlite://FILE?mode=rwc` (embedded) or `postgres://USER@HOST/DB`."),
    global("ANJU_DATABASE_MAX_CONNECTIONS", "database.max_connections", "database-max-connections",
        "Largest number of pooled database connections."),
    serve("DATABASE_READ_URL", "database.read_url", "database-read-url",
        "A PostgreSQL streaming standby of DATABASE_URL (`postgres://USER@HOST/DB`) that queries \
         read from; writes, and a principal's reads just after its own writes, go to the primary. \
         Unset: everything on DATABASE_URL. Refused with SQLite."),
    serve("ANJU_READ_WAIT_MS", "database.read_wait_ms", "read-wait-ms",
        "Longest a principal's read waits for the standby to replay the principal's last write \
         before it reads from the primary instead, in milliseconds."),
    serve("ANJU_READ_YOUR_WRITES_SECS", "database.read_your_writes_secs", "read-your-writes-secs",
        "How long a principal's last write is remembered (in process and in Redis, for every \
         replica) so that its reads wait for the standby to have it, in seconds."),
    global("REDIS_URL", "cache.redis_url", "redis-url",
        "Redis URL (`redis://HOST:PORT[/DB]`), or a Redis Cluster by some of its nodes \
         (`redis://H:P1,redis://H:P2,…` or `redis+cluster://H:P1,H:P2,…`); without it the \
         cache is in-process only."),
    global("ANJU_REDIS_TIMEOUT_MS", "cache.redis_timeout_ms", "redis-timeout-ms",
        "Longest wait for any Redis call before falling back to the database, in milliseconds."),
    global("ANJU_CACHE_BREAKER_OPEN_MS", "cache.breaker_open_ms", "cache-breaker-open-ms",
        "How long Redis is bypassed after repeated failures, in milliseconds."),
    global("ANJU_CACHE_PREFIX", "cache.prefix", "cache-prefix",
        "Prefix of every Redis key (several deployments can share one Redis)."),
    global("ANJU_CACHE_LOCAL_MB", "cache.local_capacity_mb", "cache-local-mb",
        "Memory for the in-process layer, in MiB."),
    global("ANJU_CACHE_PERSONAL_TTL_SECS", "cache.personal_ttl_secs", "cache-personal-ttl-secs",
        "How long a response that read personal records is kept for the caller it was made for, \
         in seconds, in this process only (never in Redis); 0 keeps none. Each reuse is audited \
         as a read of its own."),
    global("ANJU_HINT_SWEEP_MS", "cache.hint_sweep_ms", "hint-sweep-ms",
        "How often each process compares the database's generations with what it last saw and \
         tells its subscriptions what moved (catches writes whose hint was lost, and imports), \
         in milliseconds."),
    serve("ANJU_LISTEN", "serve.listen", "listen",
        "Address to listen on; port 0 picks a free port."),
    serve("ANJU_DEMO_IF_EMPTY", "serve.demo_if_empty", "demo-if-empty",
        "Load the demo county when the database holds no households (never in production mode)."),
    serve("ANJU_GRAPHIQL", "serve.graphiql", "graphiql",
        "Serve GraphiQL at `/` (the embedded development default)."),
    serve("ANJU_LOADER_DELAY_MS", "serve.loader_delay_ms", "loader-delay-ms",
        "How long a DataLoader waits to gather the keys of one batch, in milliseconds."),
    serve("ANJU_PRODUCTION", "serve.production", "production",
        "Production mode: introspection, field suggestions and GraphiQL are off."),
    serve("ANJU_MAX_DEPTH", "serve.max_depth", "max-depth",
        "Deepest selection nesting a document may have."),
    serve("ANJU_MAX_COST", "serve.max_cost", "max-cost",
        "Highest cost a document may have (see the README's cost model)."),
    serve("ANJU_MAX_ALIASES", "serve.max_aliases", "max-aliases",
        "Most aliased fields a document may have (`__typename` included)."),
    serve("ANJU_MAX_DIRECTIVES", "serve.max_directives", "max-directives",
        "Most directives one field may carry."),
    serve("ANJU_REQUEST_TIMEOUT_MS", "serve.request_timeout_ms", "request-timeout-ms",
        "Longest a request may run, in milliseconds; on PostgreSQL its statements are cancelled \
         too."),
    serve("ANJU_PERSISTED_QUERIES", "serve.persisted_queries", "persisted-queries",
        "Allow-list mode: only the documents in this JSON file (an array of documents, or an \
         object of `sha256: document`) may run."),
    serve("ANJU_CHANGE_RETENTION_DAYS", "serve.change_retention_days", "change-retention-days",
        "How long the change feed keeps a change, in days; an older cursor must copy the \
         register again (RESYNC_REQUIRED)."),
    serve("ANJU_WEBHOOK_ALLOW_PRIVATE", "serve.webhook_allow_private", "webhook-allow-private",
        "Let webhook endpoints resolve to loopback, link-local, private or unspecified \
         addresses (refused by default, when an endpoint is registered and at every send)."),
    serve("ANJU_WEBHOOK_POLL_MS", "serve.webhook_poll_ms", "webhook-poll-ms",
        "How often webhooks look for new commits to notify and for deliveries that are due, in \
         milliseconds."),
    serve("ANJU_WEBHOOK_RETRY_SCHEDULE", "serve.webhook_retry_schedule", "webhook-retry-schedule",
        "The waits before each retry of a failed webhook delivery (`5s,5m,30m,2h,...`; each \
         ±20 % jitter); a delivery failing after the last one fails for good and disables its \
         endpoint."),
    serve("ANJU_LOW_INCOME_LINE_YUAN", "serve.low_income_line_yuan", "low-income-line-yuan",
        "The LOW_INCOME watch list's line: yearly income per person from active employments, in \
         yuan, below which a household is listed."),
    serve("ANJU_SHUTDOWN_GRACE_MS", "serve.shutdown_grace_ms", "shutdown-grace-ms",
        "After SIGTERM, how long readiness reports 503 while requests are still served, in \
         milliseconds (give the load balancer time to notice)."),
    serve("ANJU_HEADER_READ_TIMEOUT_MS", "serve.header_read_timeout_ms", "header-read-timeout-ms",
        "Longest a client may take to send a request's head, in milliseconds; also how long a \
         kept-alive connection may stay idle. 0: no limit."),
    serve("ANJU_BODY_READ_TIMEOUT_MS", "serve.body_read_timeout_ms", "body-read-timeout-ms",
        "Longest a client may take to send a request's body once its head has arrived, in \
         milliseconds. 0: no limit."),
    serve("ANJU_MAX_CONNECTIONS", "serve.max_client_connections", "max-connections",
        "Most client connections open at once; further ones wait in the listen backlog until one \
         closes. Default: 4096, or the open-file limit less 256 where that is lower."),
    serve("ANJU_WS_MAX_SOCKETS", "serve.ws_max_sockets", "ws-max-sockets",
        "Most subscription WebSockets one principal (token subject or API key; anonymous \
         callers: one address) may hold open on one server."),
    serve("ANJU_WS_MAX_SUBSCRIPTIONS", "serve.ws_max_subscriptions", "ws-max-subscriptions",
        "Most subscriptions active at once on one WebSocket."),
    serve("ANJU_WS_INIT_TIMEOUT_MS", "serve.ws_init_timeout_ms", "ws-init-timeout-ms",
        "How long a WebSocket may wait before sending `connection_init`, in milliseconds \
         (then it is closed with 4408)."),
    serve("ANJU_WS_PING_MS", "serve.ws_ping_ms", "ws-ping-ms",
        "How often the server pings each WebSocket, in milliseconds; one whose client answered \
         none of the last two pings is closed."),
    serve("ANJU_RATE_LIMITS", "serve.rate_limits", "rate-limits",
        "Rate-limit budgets by role, `role=maximum:restore_per_second,...` (`anonymous` for \
         callers without credentials); roles left out keep their default."),
    global("ANJU_JWT_SECRET", "auth.jwt_secret", "jwt-secret",
        "HMAC secret (HS256, at least 32 bytes) that people's bearer tokens are signed with."),
    global("ANJU_JWT_PUBLIC_KEY", "auth.jwt_public_key", "jwt-public-key",
        "PEM file of the public key (RS256 or EdDSA) that people's tokens are signed with; wins \
         over the HMAC secret."),
    global("ANJU_JWT_ALGORITHM", "auth.jwt_algorithm", "jwt-algorithm",
        "The public key's algorithm: `RS256` or `EdDSA`."),
    global("ANJU_JWT_ISSUER", "auth.jwt_issuer", "jwt-issuer", "The `iss` a token must carry."),
    global("ANJU_JWT_AUDIENCE", "auth.jwt_audience", "jwt-audience", "The `aud` a token must carry."),
    global("ANJU_PUBLIC_READS", "auth.public_reads", "public-reads",
        "Serve indicators and area and site names to callers without credentials."),
    global("ANJU_PII_ROLES", "auth.pii_roles", "pii-roles",
        "Roles that see personal data unmasked (comma-separated); each such read is audited."),
    no_flag("ANJU_LOG_FORMAT", "log.format", "`json` for one JSON object per log line."),
    no_flag("RUST_LOG", "log.filter", "Log filter (default `info`)."),
];

/// The setting named `name` (an environment variable or configuration file key).
pub fn setting(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}

/// The whole configuration. Each field of its sections is a setting of [`SETTINGS`], which
/// names and describes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub database: DatabaseConfig,
    pub cache: CacheConfig,
    pub auth: AuthConfig,
    pub serve: ServeConfig,
    pub log: LogConfig,
}

/// Where the register is kept.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
    /// A streaming standby of `url` that queries read from (see `db::read`).
    pub read_url: Option<String>,
    pub read_wait_ms: u64,
    pub read_your_writes_secs: u64,
    /// Longest a statement may run (PostgreSQL cancels it); set by `serve` from its request
    /// timeout, unset for commands such as `import`.
    #[serde(skip)]
    pub statement_timeout: Option<std::time::Duration>,
}

impl DatabaseConfig {
    /// A configuration for `url` with default pool settings.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            read_url: None,
            read_wait_ms: 200,
            read_your_writes_secs: 30,
            statement_timeout: None,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self::new(DEFAULT_DATABASE_URL)
    }
}

impl fmt::Debug for DatabaseConfig {
    /// The URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &RedactedUrl(&self.url))
            .field("max_connections", &self.max_connections)
            .field("read_url", &self.read_url.as_deref().map(RedactedUrl))
            .field("read_wait_ms", &self.read_wait_ms)
            .field("read_your_writes_secs", &self.read_your_writes_secs)
            .field("statement_timeout", &self.statement_timeout)
            .finish()
    }
}

/// The aggregate cache: in-process always, shared through Redis when a Redis URL is set.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheConfig {
    pub redis_url: Option<String>,
    pub redis_timeout_ms: u64,
    pub breaker_open_ms: u64,
    pub prefix: String,
    pub local_capacity_mb: u64,
    pub personal_ttl_secs: u64,
    pub hint_sweep_ms: u64,
}

impl Default for CacheConfig {
    /// The in-process cache alone.
    fn default() -> Self {
        Self {
            redis_url: None,
            redis_timeout_ms: 50,
            breaker_open_ms: 5000,
            prefix: "anju".into(),
            local_capacity_mb: 64,
            personal_ttl_secs: 60,
            hint_sweep_ms: 5000,
        }
    }
}

impl fmt::Debug for CacheConfig {
    /// The Redis URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheConfig")
            .field("redis_url", &self.redis_url.as_deref().map(RedactedUrl))
            .field("redis_timeout_ms", &self.redis_timeout_ms)
            .field("breaker_open_ms", &self.breaker_open_ms)
            .field("prefix", &self.prefix)
            .field("local_capacity_mb", &self.local_capacity_mb)
            .field("personal_ttl_secs", &self.personal_ttl_secs)
            .field("hint_sweep_ms", &self.hint_sweep_ms)
            .finish()
    }
}

/// Who may ask: token keys, public reads and which roles see personal data.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// Never printed (its `Debug` is redacted) and never serialized.
    #[serde(serialize_with = "serialize_none")]
    pub jwt_secret: Option<SecretString>,
    pub jwt_public_key: Option<PathBuf>,
    pub jwt_algorithm: String,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub public_reads: bool,
    pub pii_roles: String,
}

impl Default for AuthConfig {
    /// The development default: tokens signed with the database's development secret.
    fn default() -> Self {
        Self {
            jwt_secret: None,
            jwt_public_key: None,
            jwt_algorithm: "RS256".into(),
            jwt_issuer: "anju".into(),
            jwt_audience: "anju".into(),
            public_reads: true,
            pii_roles: "admin,officer".into(),
        }
    }
}

/// How `anju serve` runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub demo_if_empty: bool,
    pub graphiql: bool,
    pub loader_delay_ms: u64,
    pub production: bool,
    pub max_depth: usize,
    pub max_cost: usize,
    pub max_aliases: usize,
    pub max_directives: usize,
    pub request_timeout_ms: u64,
    pub persisted_queries: Option<PathBuf>,
    pub shutdown_grace_ms: u64,
    pub header_read_timeout_ms: u64,
    pub body_read_timeout_ms: u64,
    /// `None`: 4096, or the open-file limit less 256 where that is lower.
    pub max_client_connections: Option<usize>,
    pub rate_limits: String,
    pub change_retention_days: u32,
    pub webhook_allow_private: bool,
    pub webhook_poll_ms: u64,
    pub webhook_retry_schedule: String,
    /// The LOW_INCOME watch list's line, in yuan a year per person.
    pub low_income_line_yuan: u32,
    /// Subscription WebSockets: most per principal, most subscriptions per socket, the wait
    /// for `connection_init` and the ping interval.
    pub ws_max_sockets: usize,
    pub ws_max_subscriptions: usize,
    pub ws_init_timeout_ms: u64,
    pub ws_ping_ms: u64,
    /// The cache (the `cache` section's).
    #[serde(skip)]
    pub cache: CacheConfig,
    /// Authentication (the `auth` section's).
    #[serde(skip)]
    pub auth: AuthConfig,
}

impl Default for ServeConfig {
    /// What `anju serve` runs with when nothing is configured.
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            demo_if_empty: true,
            rate_limits: DEFAULT_RATE_LIMITS.into(),
            ..Self::ephemeral()
        }
    }
}

impl ServeConfig {
    /// A server on a free loopback port, without demo data: what tests start.
    pub fn ephemeral() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            demo_if_empty: false,
            graphiql: true,
            loader_delay_ms: 1,
            production: false,
            max_depth: 12,
            max_cost: 20_000,
            max_aliases: 30,
            max_directives: 10,
            request_timeout_ms: 10_000,
            persisted_queries: None,
            shutdown_grace_ms: 0,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 30_000,
            max_client_connections: None,
            // Tests and local runs are not throttled unless they ask to be.
            rate_limits: EPHEMERAL_RATE_LIMITS.into(),
            change_retention_days: 30,
            webhook_allow_private: false,
            webhook_poll_ms: 250,
            webhook_retry_schedule: DEFAULT_WEBHOOK_RETRY_SCHEDULE.into(),
            low_income_line_yuan: DEFAULT_LOW_INCOME_LINE_YUAN,
            ws_max_sockets: 20,
            ws_max_subscriptions: 50,
            ws_init_timeout_ms: 10_000,
            ws_ping_ms: 15_000,
            cache: CacheConfig::default(),
            auth: AuthConfig::default(),
        }
    }
}

/// Budgets of [`ServeConfig::ephemeral`]: far more than any test spends, and than a benchmark
/// spends at tens of thousands of costly requests per second (it measures the server, not the
/// limiter, which still meters every request).
const EPHEMERAL_RATE_LIMITS: &str = "admin=1000000000000:1000000000000,\
officer=1000000000000:1000000000000,site_manager=1000000000000:1000000000000,\
viewer=1000000000000:1000000000000,integration=1000000000000:1000000000000,\
anonymous=1000000000000:1000000000000";

/// The LOW_INCOME watch list's default line: 6,000 yuan a year per person, the 2021 national
/// monitoring floor.
pub const DEFAULT_LOW_INCOME_LINE_YUAN: u32 = 6_000;

/// Logging.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// The log filter (`None`: `info`).
    pub filter: Option<String>,
    /// `json` for JSON lines (`None`: text).
    pub format: Option<String>,
}

/// Serializes a secret as absent: a configuration written out never carries it.
fn serialize_none<T, S: serde::Serializer>(
    _: &Option<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_none()
}

/// A URL whose `Debug` hides the password of its user information
/// (`postgres://anju:***@db/anju`).
struct RedactedUrl<'a>(&'a str);

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&redact_url(self.0), f)
    }
}

/// `url` with the password of its user information, if any, replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &rest[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}
