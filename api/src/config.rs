//! Configuration: defaults, overridden by environment variables and command-line flags (clap
//! reads both; the flag wins).

use clap::Args;
use std::net::SocketAddr;

/// The database used when nothing is configured: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://anju.db?mode=rwc";

/// Where the register is kept.
#[derive(Debug, Clone, Args)]
pub struct DatabaseConfig {
    /// Database URL: `sqlite://FILE?mode=rwc` (embedded) or `postgres://USER@HOST/DB`.
    #[arg(long = "database-url", env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub url: String,
    /// Largest number of pooled database connections.
    #[arg(
        long = "database-max-connections",
        env = "ANJU_DATABASE_MAX_CONNECTIONS",
        default_value_t = 16,
        global = true
    )]
    pub max_connections: u32,
    /// Longest a statement may run (PostgreSQL cancels it); set by `serve` from its request
    /// timeout, unset for commands such as `import`.
    #[arg(skip)]
    pub statement_timeout: Option<std::time::Duration>,
}

impl DatabaseConfig {
    /// A configuration for `url` with default pool settings.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            statement_timeout: None,
        }
    }
}

/// The aggregate cache: in-process always, shared through Redis when `REDIS_URL` is set.
#[derive(Debug, Clone, Args)]
pub struct CacheConfig {
    /// Redis URL (`redis://HOST:PORT[/DB]`); without it the cache is in-process only.
    #[arg(long = "redis-url", env = "REDIS_URL", global = true)]
    pub redis_url: Option<String>,
    /// Longest wait for any Redis call before falling back to the database, in milliseconds.
    #[arg(
        long = "redis-timeout-ms",
        env = "ANJU_REDIS_TIMEOUT_MS",
        default_value_t = 50,
        global = true
    )]
    pub redis_timeout_ms: u64,
    /// How long Redis is bypassed after repeated failures, in milliseconds.
    #[arg(
        long = "cache-breaker-open-ms",
        env = "ANJU_CACHE_BREAKER_OPEN_MS",
        default_value_t = 5000,
        global = true
    )]
    pub breaker_open_ms: u64,
    /// Prefix of every Redis key (several deployments can share one Redis).
    #[arg(
        long = "cache-prefix",
        env = "ANJU_CACHE_PREFIX",
        default_value = "anju",
        global = true
    )]
    pub prefix: String,
    /// Memory for the in-process layer, in MiB.
    #[arg(
        long = "cache-local-mb",
        env = "ANJU_CACHE_LOCAL_MB",
        default_value_t = 64,
        global = true
    )]
    pub local_capacity_mb: u64,
    /// How long a response that read personal records is kept for the caller it was made for,
    /// in seconds, in this process only (never in Redis); 0 keeps none. Each reuse is audited
    /// as a read of its own.
    #[arg(
        long = "cache-personal-ttl-secs",
        env = "ANJU_CACHE_PERSONAL_TTL_SECS",
        default_value_t = 60,
        global = true
    )]
    pub personal_ttl_secs: u64,
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
        }
    }
}

/// Who may ask: token keys, public reads and which roles see personal data.
#[derive(Debug, Clone, Args)]
pub struct AuthConfig {
    /// HMAC secret (HS256, at least 32 bytes) that people's bearer tokens are signed with.
    #[arg(
        long = "jwt-secret",
        env = "ANJU_JWT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub jwt_secret: Option<String>,
    /// PEM file of the public key (RS256 or EdDSA) that people's tokens are signed with; wins
    /// over the HMAC secret.
    #[arg(long = "jwt-public-key", env = "ANJU_JWT_PUBLIC_KEY", global = true)]
    pub jwt_public_key: Option<std::path::PathBuf>,
    /// The public key's algorithm: `RS256` or `EdDSA`.
    #[arg(
        long = "jwt-algorithm",
        env = "ANJU_JWT_ALGORITHM",
        default_value = "RS256",
        global = true
    )]
    pub jwt_algorithm: String,
    /// The `iss` a token must carry.
    #[arg(
        long = "jwt-issuer",
        env = "ANJU_JWT_ISSUER",
        default_value = "anju",
        global = true
    )]
    pub jwt_issuer: String,
    /// The `aud` a token must carry.
    #[arg(
        long = "jwt-audience",
        env = "ANJU_JWT_AUDIENCE",
        default_value = "anju",
        global = true
    )]
    pub jwt_audience: String,
    /// Serve indicators and area and site names to callers without credentials.
    #[arg(long = "public-reads", env = "ANJU_PUBLIC_READS", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub public_reads: bool,
    /// Roles that see personal data unmasked (comma-separated); each such read is audited.
    #[arg(
        long = "pii-roles",
        env = "ANJU_PII_ROLES",
        default_value = "admin,officer",
        global = true
    )]
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
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "ANJU_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    /// Load the demo county when the database holds no households (never in production mode).
    #[arg(long, env = "ANJU_DEMO_IF_EMPTY", default_value_t = true, action = clap::ArgAction::Set)]
    pub demo_if_empty: bool,
    /// Serve GraphiQL at `/` (the embedded development default).
    #[arg(long, env = "ANJU_GRAPHIQL", default_value_t = true, action = clap::ArgAction::Set)]
    pub graphiql: bool,
    /// How long a DataLoader waits to gather the keys of one batch, in milliseconds.
    #[arg(long, env = "ANJU_LOADER_DELAY_MS", default_value_t = 1)]
    pub loader_delay_ms: u64,
    /// Production mode: introspection, field suggestions and GraphiQL are off.
    #[arg(long, env = "ANJU_PRODUCTION", default_value_t = false, action = clap::ArgAction::Set)]
    pub production: bool,
    /// Deepest selection nesting a document may have.
    #[arg(long, env = "ANJU_MAX_DEPTH", default_value_t = 12)]
    pub max_depth: usize,
    /// Highest cost a document may have (see the README's cost model).
    #[arg(long, env = "ANJU_MAX_COST", default_value_t = 20_000)]
    pub max_cost: usize,
    /// Most aliased fields a document may have (`__typename` included).
    #[arg(long, env = "ANJU_MAX_ALIASES", default_value_t = 30)]
    pub max_aliases: usize,
    /// Most directives one field may carry.
    #[arg(long, env = "ANJU_MAX_DIRECTIVES", default_value_t = 10)]
    pub max_directives: usize,
    /// Longest a request may run, in milliseconds; on PostgreSQL its statements are cancelled too.
    #[arg(long, env = "ANJU_REQUEST_TIMEOUT_MS", default_value_t = 10_000)]
    pub request_timeout_ms: u64,
    /// Allow-list mode: only the documents in this JSON file (an array of documents, or an
    /// object of `sha256: document`) may run.
    #[arg(long, env = "ANJU_PERSISTED_QUERIES")]
    pub persisted_queries: Option<std::path::PathBuf>,
    /// After SIGTERM, how long readiness reports 503 while requests are still served, in
    /// milliseconds (give the load balancer time to notice).
    #[arg(long, env = "ANJU_SHUTDOWN_GRACE_MS", default_value_t = 0)]
    pub shutdown_grace_ms: u64,
    /// Longest a client may take to send a request's head, in milliseconds; also how long a
    /// kept-alive connection may stay idle. 0: no limit.
    #[arg(long, env = "ANJU_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_read_timeout_ms: u64,
    /// Longest a client may take to send a request's body once its head has arrived, in
    /// milliseconds. 0: no limit.
    #[arg(long, env = "ANJU_BODY_READ_TIMEOUT_MS", default_value_t = 30_000)]
    pub body_read_timeout_ms: u64,
    /// Most client connections open at once; further ones wait in the listen backlog until one
    /// closes. Default: 4096, or the open-file limit less 256 where that is lower.
    // Named apart from the database pool's `max_connections`: clap keys arguments by field name.
    #[arg(long = "max-connections", env = "ANJU_MAX_CONNECTIONS")]
    pub max_client_connections: Option<usize>,
    /// Rate-limit budgets by role, `role=maximum:restore_per_second,...` (`anonymous` for
    /// callers without credentials); roles left out keep their default.
    #[arg(long, env = "ANJU_RATE_LIMITS", default_value = DEFAULT_RATE_LIMITS)]
    pub rate_limits: String,
    /// The cache (set from the global cache options).
    #[arg(skip)]
    pub cache: CacheConfig,
    /// Authentication (set from the global auth options).
    #[arg(skip)]
    pub auth: AuthConfig,
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
            cache: CacheConfig::default(),
            auth: AuthConfig::default(),
        }
    }
}

/// The rate-limit budgets in force unless configured otherwise (`role=maximum:restore per
/// second`).
pub const DEFAULT_RATE_LIMITS: &str = "admin=20000:1000,officer=10000:500,\
site_manager=5000:250,viewer=5000:250,integration=20000:1000,anonymous=1000:50";

/// Budgets of [`ServeConfig::ephemeral`]: far more than any test spends, and than a benchmark
/// spends at tens of thousands of costly requests per second (it measures the server, not the
/// limiter, which still meters every request).
const EPHEMERAL_RATE_LIMITS: &str = "admin=1000000000000:1000000000000,\
officer=1000000000000:1000000000000,site_manager=1000000000000:1000000000000,\
viewer=1000000000000:1000000000000,integration=1000000000000:1000000000000,\
anonymous=1000000000000:1000000000000";

/// The settings a configuration file may give, by their environment variable names.
pub const SETTINGS: &[&str] = &[
    "DATABASE_URL",
    "ANJU_DATABASE_MAX_CONNECTIONS",
    "REDIS_URL",
    "ANJU_REDIS_TIMEOUT_MS",
    "ANJU_CACHE_BREAKER_OPEN_MS",
    "ANJU_CACHE_PREFIX",
    "ANJU_CACHE_LOCAL_MB",
    "ANJU_CACHE_PERSONAL_TTL_SECS",
    "ANJU_LISTEN",
    "ANJU_DEMO_IF_EMPTY",
    "ANJU_GRAPHIQL",
    "ANJU_LOADER_DELAY_MS",
    "ANJU_PRODUCTION",
    "ANJU_MAX_DEPTH",
    "ANJU_MAX_COST",
    "ANJU_MAX_ALIASES",
    "ANJU_MAX_DIRECTIVES",
    "ANJU_REQUEST_TIMEOUT_MS",
    "ANJU_PERSISTED_QUERIES",
    "ANJU_SHUTDOWN_GRACE_MS",
    "ANJU_HEADER_READ_TIMEOUT_MS",
    "ANJU_BODY_READ_TIMEOUT_MS",
    "ANJU_MAX_CONNECTIONS",
    "ANJU_RATE_LIMITS",
    "ANJU_JWT_SECRET",
    "ANJU_JWT_PUBLIC_KEY",
    "ANJU_JWT_ALGORITHM",
    "ANJU_JWT_ISSUER",
    "ANJU_JWT_AUDIENCE",
    "ANJU_PUBLIC_READS",
    "ANJU_PII_ROLES",
    "ANJU_LOG_FORMAT",
    "RUST_LOG",
];

/// Reads an optional TOML configuration file whose keys are the environment variable names of
/// [`SETTINGS`] (`DATABASE_URL = "postgres://…"`, `ANJU_MAX_COST = 20000`, …) and returns the
/// pairs the environment does not already set: the file sits between the defaults and the
/// environment, and flags override everything.
pub fn file_settings(path: &std::path::Path) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read configuration file {}: {e}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| anyhow::anyhow!("configuration file {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (key, value) in table {
        if !SETTINGS.contains(&key.as_str()) {
            anyhow::bail!(
                "configuration file {}: unknown setting `{key}` (known: {})",
                path.display(),
                SETTINGS.join(", ")
            );
        }
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Float(f) => f.to_string(),
            other => anyhow::bail!(
                "configuration file {}: `{key}` must be a string, number or boolean, not {other}",
                path.display()
            ),
        };
        if std::env::var_os(&key).is_none() {
            out.push((key, value));
        }
    }
    Ok(out)
}

/// Loads the configuration file named by `--config FILE` (or `--config=FILE`) among this
/// process's arguments, or else by `ANJU_CONFIG`, into the environment (see [`file_settings`]).
/// Every binary calls it first, before anything reads the environment and before any thread
/// exists that could read it concurrently.
pub fn load_config_file() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let from_args = args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--config=").map(str::to_owned).or_else(|| {
            (a == "--config")
                .then(|| args.get(i + 1).cloned())
                .flatten()
        })
    });
    let Some(path) = from_args.or_else(|| std::env::var("ANJU_CONFIG").ok()) else {
        return Ok(());
    };
    for (key, value) in file_settings(std::path::Path::new(&path))? {
        std::env::set_var(key, value);
    }
    Ok(())
}
