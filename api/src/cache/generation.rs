//! Generations: the database holds the truth, raised inside every writing transaction.
//!
//! A generation names one state of what a scope covers. Each raise gives the scope a fresh
//! random 128-bit token, so no two states of a register's history ever share a token, not even
//! after the database is restored from a backup: the restored state comes back with the tokens
//! it had, whose cached entries were computed from exactly that data, and the states it left
//! are never reached again. Cache keys carry tokens.
//!
//! Beside its token each generation has a stamp, which only grows across raises: the larger of
//! the last stamp plus one and the time of the raise in microseconds. Stamps order generations
//! for the Redis mirror (a late or repeated mirror never lowers a newer one), and since they
//! follow the clock, a raise after a restore outranks every generation the lost state had.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};
use std::collections::HashMap;
use std::fmt;

/// What a generation covers.
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
    /// The generation's name, as stored.
    pub fn name(&self) -> String {
        match self {
            GenScope::Global => "global".to_owned(),
            GenScope::Register => "register".to_owned(),
            GenScope::Area(c) => format!("area:{c}"),
            GenScope::Site(c) => format!("site:{c}"),
        }
    }
}

/// One state of a scope: a stamp that orders states and a token that names this one alone.
/// [`Generation::NONE`] stands for a scope never raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Generation {
    /// Grows with every raise (see the module's documentation).
    pub stamp: i64,
    /// Random, fresh at every raise; 0 for a scope never raised.
    pub token: u128,
}

impl Generation {
    /// The generation of a scope never raised.
    pub const NONE: Generation = Generation { stamp: 0, token: 0 };

    /// The mirrored form, `stamp:token`, which Redis scripts compare by its stamp.
    pub fn encode(&self) -> String {
        format!("{}:{:032x}", self.stamp, self.token)
    }

    /// Reads [`encode`](Self::encode)'s form; `None` for anything else.
    pub fn decode(text: &str) -> Option<Generation> {
        let (stamp, token) = text.split_once(':')?;
        if token.len() != 32 {
            return None;
        }
        Some(Generation {
            stamp: stamp.parse().ok()?,
            token: u128::from_str_radix(token, 16).ok()?,
        })
    }

    /// Whether `self` is a later state than `other`.
    pub fn is_after(&self, other: &Generation) -> bool {
        self.stamp > other.stamp
    }
}

/// The token, as cache keys carry it.
impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.token)
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

/// Microseconds since the Unix epoch by this process's clock (the floor of a new stamp).
fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Moves `scopes`, and always [`GenScope::Register`] too, to new generations. Call inside the
/// writing transaction, so the raise commits or rolls back with the write.
pub async fn bump<C: ConnectionTrait>(db: &C, scopes: &[GenScope]) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let greatest = match backend {
        DbBackend::Postgres => "GREATEST",
        _ => "MAX",
    };
    let sql = format!(
        "INSERT INTO cache_generations (scope, generation, token) VALUES ({}) \
         ON CONFLICT (scope) DO UPDATE SET \
         generation = {greatest}(cache_generations.generation + 1, excluded.generation), \
         token = excluded.token",
        placeholders(backend, 3)
    );
    let register = std::iter::once(&GenScope::Register);
    for scope in scopes
        .iter()
        .filter(|s| **s != GenScope::Register)
        .chain(register)
    {
        let token = format!("{:032x}", rand::random::<u128>());
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            sql.clone(),
            [
                Value::from(scope.name()),
                Value::from(now_micros()),
                Value::from(token),
            ],
        ))
        .await?;
    }
    Ok(())
}

/// A stored row's generation: a token that is not 32 hex digits (none is written so) reads as
/// 0, which still names the row's state apart from every raised one.
fn from_row(row: &sea_orm::QueryResult) -> Result<(String, Generation), DbErr> {
    let scope: String = row.try_get("", "scope")?;
    let stamp: i64 = row.try_get("", "generation")?;
    let token: String = row.try_get("", "token")?;
    let token = u128::from_str_radix(&token, 16).unwrap_or(0);
    Ok((scope, Generation { stamp, token }))
}

/// The current generations of `scopes` ([`Generation::NONE`] for one never raised), in the
/// order asked.
pub async fn read<C: ConnectionTrait>(
    db: &C,
    scopes: &[GenScope],
) -> Result<Vec<Generation>, DbErr> {
    read_tagged(db, scopes, false).await
}

/// Like [`read`], as background upkeep (left out of request statistics).
pub async fn read_in_background<C: ConnectionTrait>(
    db: &C,
    scopes: &[GenScope],
) -> Result<Vec<Generation>, DbErr> {
    read_tagged(db, scopes, true).await
}

async fn read_tagged<C: ConnectionTrait>(
    db: &C,
    scopes: &[GenScope],
    background: bool,
) -> Result<Vec<Generation>, DbErr> {
    if scopes.is_empty() {
        return Ok(vec![]);
    }
    let backend = db.get_database_backend();
    let names: Vec<String> = scopes.iter().map(GenScope::name).collect();
    let sql = format!(
        "SELECT scope, generation, token FROM cache_generations WHERE scope IN ({})",
        placeholders(backend, names.len())
    );
    let statement =
        Statement::from_sql_and_values(backend, sql, names.iter().cloned().map(Value::from));
    let statement = if background {
        crate::db::tag_background(statement)
    } else {
        statement
    };
    let rows = db.query_all_raw(statement).await?;
    let mut found = HashMap::new();
    for row in rows {
        let (scope, generation) = from_row(&row)?;
        found.insert(scope, generation);
    }
    Ok(names
        .iter()
        .map(|n| found.get(n).copied().unwrap_or(Generation::NONE))
        .collect())
}

/// Every generation ever raised, by scope name, for mirroring into a shared cache.
pub async fn all<C: ConnectionTrait>(db: &C) -> Result<HashMap<String, Generation>, DbErr> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(crate::db::tag_background(Statement::from_string(
            backend,
            "SELECT scope, generation, token FROM cache_generations",
        )))
        .await?;
    rows.iter().map(from_row).collect()
}

/// The register's identity: a random id made when its database was created, kept in it (and
/// so in its backups). Every key a shared cache holds for this register carries it.
pub async fn register_identity<C: ConnectionTrait>(db: &C) -> Result<String, DbErr> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(crate::db::tag_background(Statement::from_string(
            backend,
            "SELECT id FROM register_identity",
        )))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the register has no identity row".into()))?;
    row.try_get("", "id")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generation_reads_back_from_its_mirrored_form() {
        let g = Generation {
            stamp: 1_780_000_000_000_123,
            token: 0x0123_4567_89ab_cdef_0011_2233_4455_6677,
        };
        assert_eq!(
            g.encode(),
            "1780000000000123:0123456789abcdef0011223344556677"
        );
        assert_eq!(Generation::decode(&g.encode()), Some(g));
        assert_eq!(Generation::decode("12"), None);
        assert_eq!(Generation::decode("12:abc"), None);
        assert_eq!(
            Generation::decode("x:0123456789abcdef0011223344556677"),
            None
        );
    }
}
