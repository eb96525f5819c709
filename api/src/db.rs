//! Database connections, migrations and the statement counter; the routing of reads to a
//! standby ([`read`]).

pub mod read;

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
pub struct StatementCounter {
    all: Arc<AtomicU64>,
    aggregates: Arc<AtomicU64>,
}

impl StatementCounter {
    /// Statements executed so far, background upkeep excepted.
    pub fn get(&self) -> u64 {
        self.all.load(Ordering::Relaxed)
    }

    /// Indicator aggregate statements executed so far (those marked by [`tag_aggregate`]).
    pub fn aggregates(&self) -> u64 {
        self.aggregates.load(Ordering::Relaxed)
    }
}

/// Marks the statements that compute indicator aggregates, so they can be counted apart.
const AGGREGATE_TAG: &str = "/* anju:aggregate */ ";

/// Marks statements of background upkeep, which request statistics leave out.
const BACKGROUND_TAG: &str = "/* anju:background */ ";

/// Marks `stmt` as background upkeep, not counted by [`StatementCounter::get`].
pub fn tag_background(mut stmt: Statement) -> Statement {
    stmt.sql.insert_str(0, BACKGROUND_TAG);
    stmt
}

/// Marks `stmt` as an indicator aggregate (counted by [`StatementCounter::aggregates`]).
pub fn tag_aggregate(mut stmt: Statement) -> Statement {
    stmt.sql.insert_str(0, AGGREGATE_TAG);
    stmt
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
        })
        // Anju's statements are short and go by index; PostgreSQL's JIT compiles any plan whose
        // estimate passes `jit_above_cost`, which for a page of the change feed read through a
        // few thousand key lookups took 60 ms of compiling to save nothing.
        .map_sqlx_postgres_opts(|o| o.options([("jit", "off")]));
    if let (Some(t), true) = (config.statement_timeout, config.url.starts_with("postgres")) {
        opts.statement_timeout(t);
    }
    if config.url.starts_with("sqlite:") {
        // One writer at a time is SQLite's rule; a small pool keeps readers concurrent under WAL.
        opts.max_connections(config.max_connections.clamp(1, 8));
    }
    let mut db = Database::connect(opts).await?;
    let counter = StatementCounter::default();
    let (all, aggregates) = (counter.all.clone(), counter.aggregates.clone());
    db.set_metric_callback(move |info| {
        if info.statement.sql.starts_with(BACKGROUND_TAG) {
            return;
        }
        all.fetch_add(1, Ordering::Relaxed);
        if info.statement.sql.starts_with(AGGREGATE_TAG) {
            aggregates.fetch_add(1, Ordering::Relaxed);
        }
        tracing::trace!(target: "anju::sql", elapsed = ?info.elapsed, failed = info.failed, sql = %info.statement.sql);
    });
    Ok((db, counter))
}

/// The migration that adds the indicator rollups, which a register imported before it must fill.
const ROLLUP_MIGRATION: &str = "m20261129_000003_indicator_rollups";

/// What applying the pending migrations did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Migrated {
    /// The indicator rollups were added: a register that already holds data must fill them
    /// (`startup::migrate` does).
    AddedRollups,
    /// Anything else, or nothing.
    Other,
}

/// Applies every pending migration, and says whether that added the indicator rollups. Call
/// `startup::migrate`, which fills them, rather than this.
pub async fn migrate(db: &DatabaseConnection) -> Result<Migrated, DbErr> {
    let pending = Migrator::get_pending_migrations(db).await?;
    let adds_rollups = pending.iter().any(|m| m.name() == ROLLUP_MIGRATION);
    Migrator::up(db, None).await?;
    Ok(if adds_rollups {
        Migrated::AddedRollups
    } else {
        Migrated::Other
    })
}

/// On PostgreSQL, makes the transaction `txn` the only writer of the register until it ends
/// (SQLite has one writer at a time by itself): every mutation and every import takes this lock
/// before it reads what it will change, so rollup adjustments never interleave.
pub async fn lock_writers<C: ConnectionTrait>(txn: &C) -> Result<(), DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(2637010401)")
            .await?;
    }
    Ok(())
}

/// `column` is one of `keys`. On PostgreSQL the keys travel as one array (`= ANY($1)`), so a
/// batch of any size (a request's loader batch, say) reuses one prepared statement and its plan;
/// SQLite gets an `IN` list.
pub fn key_in<D, C, V>(db: &D, column: C, keys: &[V]) -> sea_orm::sea_query::Expr
where
    D: ConnectionTrait,
    C: sea_orm::ColumnTrait,
    V: Clone + Into<sea_orm::Value> + sea_orm::sea_query::postgres_array::NotU8,
{
    match db.get_database_backend() {
        DbBackend::Postgres => column.eq_any(keys.iter().cloned()),
        _ => column.is_in(keys.iter().cloned()),
    }
}

/// Builds a statement for `db`'s backend from SQL written with `$1, $2, …` placeholders, bound
/// by number on both backends (SQLite reads them as `?1, ?2, …`), whatever order they appear in.
pub fn stmt(backend: DbBackend, sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
    let sql = match backend {
        DbBackend::Postgres => sql.to_owned(),
        _ => {
            let mut out = String::with_capacity(sql.len());
            let mut chars = sql.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                    out.push('?');
                } else {
                    out.push(c);
                }
            }
            out
        }
    };
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
