//! Database connections, migrations and the statement counter.

use crate::config::DatabaseConfig;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement,
    Value,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Counts the SQL statements a connection has executed (for `/metrics` and for tests that check
/// how many statements a request costs).
#[derive(Debug, Default, Clone)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    /// Statements executed so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Opens the database named by `config`, with a statement counter attached.
pub async fn connect(
    config: &DatabaseConfig,
) -> Result<(DatabaseConnection, StatementCounter), DbErr> {
    let mut opts = ConnectOptions::new(config.url.clone());
    opts.max_connections(config.max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
        });
    if config.url.starts_with("sqlite:") {
        // One writer at a time is SQLite's rule; a small pool keeps readers concurrent under WAL.
        opts.max_connections(config.max_connections.clamp(1, 8));
    }
    let mut db = Database::connect(opts).await?;
    let counter = StatementCounter::default();
    let inner = counter.0.clone();
    db.set_metric_callback(move |info| {
        inner.fetch_add(1, Ordering::Relaxed);
        tracing::trace!(target: "anju::sql", elapsed = ?info.elapsed, failed = info.failed, sql = %info.statement.sql);
    });
    Ok((db, counter))
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Builds a statement for `db`'s backend from SQL written with `$1, $2, …` placeholders, numbered
/// in order of first use (SQLite reads them as named parameters, PostgreSQL as positional).
pub fn stmt(backend: DbBackend, sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
    Statement::from_sql_and_values(backend, sql, values)
}

/// Recomputes `area_closure` from `areas.parent_code`. Runs inside the caller's transaction.
pub async fn rebuild_area_closure<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    db.execute_unprepared("DELETE FROM area_closure").await?;
    db.execute_unprepared(
        "INSERT INTO area_closure (ancestor_code, descendant_code, depth) \
         WITH RECURSIVE tree(ancestor_code, descendant_code, depth) AS ( \
             SELECT code, code, 0 FROM areas \
             UNION ALL \
             SELECT tree.ancestor_code, a.code, tree.depth + 1 \
             FROM tree JOIN areas a ON a.parent_code = tree.descendant_code \
         ) SELECT ancestor_code, descendant_code, depth FROM tree",
    )
    .await?;
    Ok(())
}
