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
}

impl DatabaseConfig {
    /// A configuration for `url` with default pool settings.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
        }
    }
}

/// How `anju serve` runs.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "ANJU_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    /// Load the demo county when the database holds no households.
    #[arg(long, env = "ANJU_DEMO_IF_EMPTY", default_value_t = true, action = clap::ArgAction::Set)]
    pub demo_if_empty: bool,
    /// Serve GraphiQL at `/` (the embedded development default).
    #[arg(long, env = "ANJU_GRAPHIQL", default_value_t = true, action = clap::ArgAction::Set)]
    pub graphiql: bool,
    /// How long a DataLoader waits to gather the keys of one batch, in milliseconds.
    #[arg(long, env = "ANJU_LOADER_DELAY_MS", default_value_t = 1)]
    pub loader_delay_ms: u64,
}

impl ServeConfig {
    /// A server on a free loopback port, without demo data: what tests start.
    pub fn ephemeral() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            demo_if_empty: false,
            graphiql: true,
            loader_delay_ms: 1,
        }
    }
}
