//! Reads from a PostgreSQL streaming standby (`DATABASE_READ_URL`), writes to the primary.
//!
//! The standby replays the primary's write-ahead log, a little behind it. Three things keep
//! that lag from showing:
//! - a principal that has just written reads from the standby only once it has replayed that
//!   write ([`ReadRouter::caught_up`] waits a bounded time for the standby's replay position to
//!   pass the primary's position after the write, [`ReadRouter::primary_position`]), and from
//!   the primary otherwise;
//! - whatever is cached from a standby read is keyed by the generations read from that same
//!   standby before the data (the cache's `reading_tokens_from`), so no entry is ever stored
//!   under a newer state than the data it holds;
//! - a standby that fails or cannot be reached trips a breaker: reads go to the primary, and
//!   no request tries the standby again (nor pays for a connection refused or timed out) until
//!   a probe in the background finds it answering.

use crate::config::DatabaseConfig;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How often a standby found failing is probed, and how long a probe may take.
const PROBE_EVERY: Duration = Duration::from_millis(250);
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);
/// How often a bounded wait for the standby's replay looks again.
const REPLAY_POLL: Duration = Duration::from_millis(5);
/// Longest a request waits for a standby connection before it reads from the primary.
const STANDBY_ACQUIRE: Duration = Duration::from_millis(250);

/// Where a request reads.
#[derive(Clone)]
pub struct ReadRouter {
    primary: DatabaseConnection,
    standby: Option<Standby>,
}

#[derive(Clone)]
struct Standby {
    db: DatabaseConnection,
    /// The breaker: open (reads on the primary) from a failure until a probe succeeds.
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    wait: Duration,
}

/// A setting that cannot be honoured, said in the setting's own words.
#[derive(Debug, thiserror::Error)]
pub enum ReadConfigError {
    #[error("DATABASE_READ_URL is for PostgreSQL standbys; SQLite (`{0}`) has no read replica: unset DATABASE_READ_URL")]
    Sqlite(String),
    #[error("DATABASE_READ_URL must be a `postgres://` URL, like DATABASE_URL")]
    NotPostgres,
}

impl ReadRouter {
    /// Every read on `primary`.
    pub fn primary_only(primary: DatabaseConnection) -> ReadRouter {
        ReadRouter {
            primary,
            standby: None,
        }
    }

    /// Checks the read URL of `config` against its primary's backend: only a PostgreSQL
    /// primary has a standby.
    pub fn check(config: &DatabaseConfig) -> Result<(), ReadConfigError> {
        let Some(read) = config.read_url.as_deref().filter(|u| !u.is_empty()) else {
            return Ok(());
        };
        if !config.url.starts_with("postgres") {
            return Err(ReadConfigError::Sqlite(config.url.clone()));
        }
        if !read.starts_with("postgres") {
            return Err(ReadConfigError::NotPostgres);
        }
        Ok(())
    }

    /// Reads on the standby `config.read_url` names (if any), writes on `primary`. The standby's
    /// pool connects lazily: a standby that is down at start only sends reads to the primary.
    pub async fn open(
        primary: DatabaseConnection,
        config: &DatabaseConfig,
    ) -> Result<ReadRouter, anyhow::Error> {
        Self::check(config)?;
        let Some(url) = config.read_url.as_deref().filter(|u| !u.is_empty()) else {
            return Ok(Self::primary_only(primary));
        };
        let mut opts = sea_orm::ConnectOptions::new(url.to_owned());
        opts.max_connections(config.max_connections)
            .min_connections(0)
            .connect_timeout(STANDBY_ACQUIRE)
            .acquire_timeout(STANDBY_ACQUIRE)
            .connect_lazy(true)
            .sqlx_logging(false)
            .map_sqlx_postgres_opts(|o| o.options([("jit", "off")]));
        if let Some(t) = config.statement_timeout {
            opts.statement_timeout(t);
        }
        let db = sea_orm::Database::connect(opts).await?;
        let standby = Standby {
            db,
            down: Default::default(),
            wait: Duration::from_millis(config.read_wait_ms),
        };
        spawn_probe(&standby);
        Ok(ReadRouter {
            primary,
            standby: Some(standby),
        })
    }

    /// The primary: every write, and every read the standby cannot take.
    pub fn primary(&self) -> &DatabaseConnection {
        &self.primary
    }

    /// Whether a standby is configured at all.
    pub fn has_standby(&self) -> bool {
        self.standby.is_some()
    }

    /// The standby, when one is configured and its breaker is closed.
    pub fn standby(&self) -> Option<&DatabaseConnection> {
        self.standby
            .as_ref()
            .filter(|s| !s.down.load(Ordering::Acquire))
            .map(|s| &s.db)
    }

    /// A read on the standby failed (it is down, unreachable or refused the statement): reads
    /// go to the primary until a probe finds the standby answering.
    pub fn standby_failed(&self, why: &dyn std::fmt::Display) {
        if let Some(s) = &self.standby {
            if !s.down.swap(true, Ordering::AcqRel) {
                tracing::warn!(error = %why, "a read on the standby failed: reads go to the primary until it answers again");
            }
        }
    }

    /// The primary's write-ahead log position now (`pg_current_wal_lsn()`), read right after a
    /// write commits: the standby has that write once it has replayed up to here. `None`
    /// without a standby.
    pub async fn primary_position(&self) -> Result<Option<String>, DbErr> {
        if self.standby.is_none() {
            return Ok(None);
        }
        let row = self
            .primary
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT CAST(pg_current_wal_lsn() AS TEXT) AS lsn",
            ))
            .await?;
        row.map(|r| r.try_get::<String>("", "lsn")).transpose()
    }

    /// Whether the standby has replayed the primary's log up to `position`, waiting for it at
    /// most the configured bound (`ANJU_READ_WAIT_MS`). A standby that cannot be asked has
    /// not caught up (and opens its breaker).
    pub async fn caught_up(&self, position: &str) -> bool {
        let Some(s) = &self.standby else {
            return false;
        };
        let deadline = tokio::time::Instant::now() + s.wait;
        loop {
            let asked = s
                .db
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT COALESCE(pg_last_wal_replay_lsn() >= CAST($1 AS pg_lsn), FALSE) AS done",
                    [position.into()],
                ))
                .await;
            match asked.and_then(|row| match row {
                Some(r) => r.try_get::<bool>("", "done"),
                None => Ok(false),
            }) {
                Ok(true) => return true,
                Ok(false) => {}
                Err(e) => {
                    self.standby_failed(&e);
                    return false;
                }
            }
            if tokio::time::Instant::now() + REPLAY_POLL > deadline {
                return false;
            }
            tokio::time::sleep(REPLAY_POLL).await;
        }
    }
}

/// Probes the standby while its breaker is open: once it answers, the breaker closes. Stops
/// when the router is gone.
fn spawn_probe(standby: &Standby) {
    let (db, down) = (standby.db.clone(), std::sync::Arc::downgrade(&standby.down));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PROBE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(down) = down.upgrade() else {
                return;
            };
            if !down.load(Ordering::Acquire) {
                continue;
            }
            let probe = db.query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT 1 AS up",
            ));
            if let Ok(Ok(Some(_))) = tokio::time::timeout(PROBE_TIMEOUT, probe).await {
                down.store(false, Ordering::Release);
                tracing::info!("the read standby answers again: reads go to it");
            }
        }
    });
}
