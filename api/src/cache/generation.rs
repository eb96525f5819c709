//! Generation counters: the database holds the truth, raised inside every writing transaction.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};
use std::collections::HashMap;

/// What a generation counter covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GenScope {
    /// The whole register: raised by imports, which may touch anything.
    Global,
    /// Anything at all: raised by every write, whatever scopes it names (see [`bump`]). Whole
    /// cached responses depend on it alone, so they are correct whatever a write touched.
    Register,
    /// An area's subtree: raised by a write to a record located in it.
    Area(String),
    /// One site: raised by a write to the site, its works, households or their homesteads.
    Site(String),
}

impl GenScope {
    /// The counter's name, as stored.
    pub fn name(&self) -> String {
        match self {
            GenScope::Global => "global".to_owned(),
            GenScope::Register => "register".to_owned(),
            GenScope::Area(c) => format!("area:{c}"),
            GenScope::Site(c) => format!("site:{c}"),
        }
    }
}

fn placeholders(backend: DbBackend, n: usize) -> String {
    (1..=n)
        .map(|i| match backend {
            DbBackend::Postgres => format!("${i}"),
            _ => "?".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Raises the counters of `scopes` by one, and always [`GenScope::Register`] too. Call inside the
/// writing transaction, so the raise commits or rolls back with the write.
pub async fn bump<C: ConnectionTrait>(db: &C, scopes: &[GenScope]) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let register = std::iter::once(&GenScope::Register);
    for scope in scopes
        .iter()
        .filter(|s| **s != GenScope::Register)
        .chain(register)
    {
        let sql = format!(
            "INSERT INTO cache_generations (scope, generation) VALUES ({}, 1) \
             ON CONFLICT (scope) DO UPDATE SET generation = cache_generations.generation + 1",
            placeholders(backend, 1)
        );
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [Value::from(scope.name())],
        ))
        .await?;
    }
    Ok(())
}

/// The current counters of `scopes` (0 for one never raised), in the order asked.
pub async fn read<C: ConnectionTrait>(db: &C, scopes: &[GenScope]) -> Result<Vec<i64>, DbErr> {
    if scopes.is_empty() {
        return Ok(vec![]);
    }
    let backend = db.get_database_backend();
    let names: Vec<String> = scopes.iter().map(GenScope::name).collect();
    let sql = format!(
        "SELECT scope, generation FROM cache_generations WHERE scope IN ({})",
        placeholders(backend, names.len())
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            names.iter().cloned().map(Value::from),
        ))
        .await?;
    let mut found = HashMap::new();
    for row in rows {
        let scope: String = row.try_get("", "scope")?;
        let generation: i64 = row.try_get("", "generation")?;
        found.insert(scope, generation);
    }
    Ok(names
        .iter()
        .map(|n| found.get(n).copied().unwrap_or(0))
        .collect())
}

/// Every counter ever raised, for mirroring into a shared cache.
pub async fn all<C: ConnectionTrait>(db: &C) -> Result<Vec<(String, i64)>, DbErr> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(crate::db::tag_background(Statement::from_string(
            backend,
            "SELECT scope, generation FROM cache_generations",
        )))
        .await?;
    rows.into_iter()
        .map(|row| Ok((row.try_get("", "scope")?, row.try_get("", "generation")?)))
        .collect()
}
