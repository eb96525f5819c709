//! Writing the register, one record at a time: what every mutation shares.
//!
//! A mutation runs in one transaction that holds everything it does: the claim of its
//! idempotency key, the write itself (checked against the record's `version`), the rollups it
//! changes, its audit row, the generation counters of the scopes it touches, and its stored
//! result. Anything that fails rolls all of it back. After the commit the raised counters are
//! mirrored to Redis.
//!
//! - **Idempotency.** The first statement inserts `(actor, key)` into `idempotency_keys` with the
//!   operation and the SHA-256 of the canonical input. A second request with that key waits for
//!   the first to commit (PostgreSQL blocks on the key; SQLite has one writer at a time), then
//!   finds the key taken and answers the stored result, or `IDEMPOTENCY_KEY_REUSED` when its
//!   operation or input differs. A key is spent only by a mutation that wrote: one rejected with
//!   user errors rolls back, claim included, so it may be corrected and sent again.
//! - **One writer at a time.** On PostgreSQL the transaction then takes one advisory lock (the
//!   one an import takes, see [`crate::db::lock_writers`]), so writes to the shared rollup rows
//!   never deadlock one another; SQLite serializes writers itself. A writer that finds the
//!   database busy is retried, never surfaced.
//! - **Scope.** Every record a mutation reads or refers to is found through the caller's
//!   [`Scope`], so a record outside it is `NOT_FOUND` exactly like a missing one.
//! - **Who owns a field.** A household is seen from two townships: the destination (its site's)
//!   and the origin (its village's). Each field belongs to the side whose indicators it feeds:
//!   the destination records move-in, poverty exit and relapse, the site, members joining and
//!   their labour capacity, and employments; the origin records the demolition, reclamation and
//!   exemption of the homesteads left behind. A write of a field the caller's area does not own
//!   is refused as `Forbidden` ([`destination_owns`], [`origin_owns`]); an area above both owns
//!   everything.

mod employment;
mod homestead;
mod household;
mod period;
mod site;

pub use employment::{AddEmployment, EndEmployment};
pub use homestead::{CreateHomestead, HomesteadPatch};
pub use household::{CreateHousehold, CreateMember, HouseholdPatch, MemberInput, MemberPatch};
pub use period::{GrantLockException, LockExceptionRecord, PeriodRecord, PeriodStep, StepKind};
pub use site::{CreateSite, CreateSiteWork, SitePatch, WorkPatch};

use crate::cache::{generation, Cache, GenScope};
use crate::db::stmt;
use crate::domain::audit::{self, Actor, Change};
use crate::domain::indicators::rollup::{self, Touched};
use crate::domain::scope::Scope;
use crate::error::Error;
use chrono::Utc;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, SqlErr,
    TransactionTrait, Value,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

/// Why a mutation did not write, as the client sees it in `userErrors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserErrorCode {
    /// The input breaks a rule of the register.
    BadUserInput,
    /// A record named or referred to does not exist, or lies outside the caller's scope.
    NotFound,
    /// The record changed since the version given, or a key is already taken.
    Conflict,
    /// The idempotency key was used before for another operation or input.
    IdempotencyKeyReused,
    /// The caller sees the record but its area does not own the field: the household's other
    /// township does. Answered as a `FORBIDDEN` error, not as a user error.
    Forbidden,
    /// The write would change an indicator of an area as of a day of an approved month (see
    /// [`crate::domain::periods`]).
    PeriodLocked,
}

/// One reason a mutation did not write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserError {
    /// Path to the input field at fault (camelCase, list positions as numbers), if any.
    pub field: Option<Vec<String>>,
    pub message: String,
    pub code: UserErrorCode,
}

impl UserError {
    fn new(field: &[&str], code: UserErrorCode, message: impl Into<String>) -> Self {
        UserError {
            field: (!field.is_empty()).then(|| field.iter().map(|s| (*s).to_owned()).collect()),
            message: message.into(),
            code,
        }
    }

    /// A rule breach at input field `field`.
    pub fn bad_input(field: &[&str], message: impl Into<String>) -> Self {
        Self::new(field, UserErrorCode::BadUserInput, message)
    }

    /// A record that does not exist or lies outside the caller's scope.
    pub fn not_found(field: &[&str], what: &str, key: &str) -> Self {
        Self::new(
            field,
            UserErrorCode::NotFound,
            format!("{what} \"{key}\" was not found"),
        )
    }

    /// A field the caller's area does not own (see the module documentation).
    pub fn forbidden(field: &[&str], message: impl Into<String>) -> Self {
        Self::new(field, UserErrorCode::Forbidden, message)
    }

    /// A write that would change the figures of an approved month.
    pub fn period_locked(violation: &crate::domain::periods::Violation) -> Self {
        Self::new(&[], UserErrorCode::PeriodLocked, violation.message())
    }

    /// A stale version.
    pub fn stale(what: &str, key: &str, version: i32) -> Self {
        Self::new(
            &["version"],
            UserErrorCode::Conflict,
            format!("{what} \"{key}\" is no longer at version {version}: read it again"),
        )
    }

    /// A key that already exists.
    pub fn exists(field: &[&str], what: &str, key: &str) -> Self {
        Self::new(
            field,
            UserErrorCode::Conflict,
            format!("{what} \"{key}\" already exists"),
        )
    }
}

/// The camelCase input field of a contract column (`poverty_exit_on` → `povertyExitOn`).
pub fn field_of(column: &str) -> String {
    let mut out = String::with_capacity(column.len());
    let mut upper = false;
    for c in column.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// What a mutation answers: the record as written, or why nothing was.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome<R> {
    pub record: Option<R>,
    pub user_errors: Vec<UserError>,
}

impl<R> Outcome<R> {
    fn rejected(user_errors: Vec<UserError>) -> Self {
        Outcome {
            record: None,
            user_errors,
        }
    }
}

/// Who writes, and what they may see.
pub struct Writer<'a> {
    pub who: Actor<'a>,
    pub request_id: &'a str,
    /// What the caller may see.
    pub visible: Scope,
}

/// What a mutation's own step wrote, for the shared steps after it.
pub struct Applied<R> {
    pub record: R,
    pub entity: &'static str,
    pub key: String,
    pub before: Option<serde_json::Value>,
    pub after: serde_json::Value,
    /// What the write changes in the rollups (refreshed by the runner after the step).
    pub touched: Touched,
}

/// A step's result: written, or refused with user errors (then everything rolls back).
pub type Step<R> = Result<Applied<R>, Vec<UserError>>;

/// One kind of write.
pub trait Mutation: Serialize + Sync {
    /// The record it answers with.
    type Record: Serialize + DeserializeOwned + Send + Sync;

    /// The GraphQL operation's name (recorded in the audit log and the idempotency record).
    fn operation(&self) -> &'static str;

    /// Checks and writes, inside `txn`, and names what it touched; the runner then brings those
    /// rollups up to date with [`rollup::apply`], unless they alter an approved month.
    fn apply<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        writer: &'a Writer<'a>,
    ) -> impl Future<Output = Result<Step<Self::Record>, DbErr>> + Send + 'a;
}

/// JSON with object keys sorted, so equal inputs hash equally however they were built.
fn canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&map[k], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// SHA-256 (hex) of the canonical JSON of `input`.
pub fn input_sha256(input: &impl Serialize) -> Result<String, DbErr> {
    let value = serde_json::to_value(input)
        .map_err(|e| DbErr::Custom(format!("mutation input not serializable: {e}")))?;
    let mut text = String::new();
    canonical(&value, &mut text);
    Ok(hex::encode(Sha256::digest(text.as_bytes())))
}

/// Whether `e` is a passing condition another attempt will not meet: SQLite busy or locked,
/// a PostgreSQL deadlock or serialization failure.
fn is_transient(e: &DbErr) -> bool {
    let text = e.to_string();
    [
        "database is locked",
        "database table is locked",
        "SQLITE_BUSY",
        "deadlock detected",
        "could not serialize access",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

/// How a single attempt ended.
enum Attempt<R> {
    Done(Outcome<R>, Vec<GenScope>),
    Rejected(Vec<UserError>),
    /// The key is taken: answer from its record.
    Taken,
}

/// Attempts before a persistently busy database is reported as an error.
const ATTEMPTS: u32 = 20;

/// Runs `mutation` under idempotency key `key` (see the module documentation).
pub async fn run<M: Mutation>(
    db: &DatabaseConnection,
    cache: &Cache,
    writer: &Writer<'_>,
    key: &str,
    mutation: &M,
) -> Result<Outcome<M::Record>, Error> {
    if key.is_empty() || key.chars().count() > 200 {
        return Ok(Outcome::rejected(vec![UserError::bad_input(
            &["idempotencyKey"],
            "must have 1 to 200 characters",
        )]));
    }
    let sha = input_sha256(mutation)?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match attempt_once(db, writer, key, &sha, mutation).await {
            Ok(Attempt::Done(outcome, scopes)) => {
                cache.publish(&scopes).await;
                cache.hints().raised(&scopes);
                return Ok(outcome);
            }
            Ok(Attempt::Rejected(errors)) => return Ok(Outcome::rejected(errors)),
            Ok(Attempt::Taken) => {
                return replay(db, writer, key, &sha, mutation.operation()).await;
            }
            Err(e) if is_transient(&e) && attempt < ATTEMPTS => {
                tracing::debug!(error = %e, attempt, "write retried");
                tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
            }
            Err(e) => return Err(Error::Database(e)),
        }
    }
}

async fn attempt_once<M: Mutation>(
    db: &DatabaseConnection,
    writer: &Writer<'_>,
    key: &str,
    sha: &str,
    mutation: &M,
) -> Result<Attempt<M::Record>, DbErr> {
    let txn = db.begin().await?;
    let backend = txn.get_database_backend();
    let claim = txn
        .execute_raw(stmt(
            backend,
            "INSERT INTO idempotency_keys (actor, key, operation, input_sha256, response, created_at) \
             VALUES ($1, $2, $3, $4, '', $5)",
            [
                Value::from(writer.who.actor),
                Value::from(key),
                Value::from(mutation.operation()),
                Value::from(sha),
                Value::from(Utc::now()),
            ],
        ))
        .await;
    match claim {
        Ok(_) => {}
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            txn.rollback().await?;
            return Ok(Attempt::Taken);
        }
        Err(e) => return Err(e),
    }
    crate::db::lock_writers(&txn).await?;
    if backend == DbBackend::Postgres {
        // A write reads one site's records: parallel workers would only add their start-up
        // (and, on a small machine, take cores from the readers).
        txn.execute_unprepared("SET LOCAL max_parallel_workers_per_gather = 0")
            .await?;
    }
    let applied = match mutation.apply(&txn, writer).await? {
        Ok(applied) => applied,
        Err(errors) => {
            txn.rollback().await?;
            return Ok(Attempt::Rejected(errors));
        }
    };
    // The figures of approved months stay as approved (see `domain::periods`).
    let pending = rollup::pending(&txn, &applied.touched).await?;
    let locked = crate::domain::periods::refused(&txn, &pending).await?;
    if !locked.is_empty() {
        txn.rollback().await?;
        return Ok(Attempt::Rejected(
            locked.iter().map(UserError::period_locked).collect(),
        ));
    }
    rollup::apply(&txn, &pending).await?;
    let reach = pending.reach().clone();
    audit::record_write(
        &txn,
        &writer.who,
        writer.request_id,
        Change {
            action: mutation.operation(),
            entity: applied.entity,
            key: &applied.key,
            before: applied.before,
            after: Some(applied.after),
        },
    )
    .await?;
    let scopes: Vec<GenScope> = applied
        .touched
        .sites
        .iter()
        .cloned()
        .map(GenScope::Site)
        .chain(reach.areas.into_iter().map(GenScope::Area))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    generation::bump(&txn, &scopes).await?;
    let outcome = Outcome {
        record: Some(applied.record),
        user_errors: vec![],
    };
    let response = serde_json::to_string(&outcome)
        .map_err(|e| DbErr::Custom(format!("mutation result not serializable: {e}")))?;
    txn.execute_raw(stmt(
        backend,
        "UPDATE idempotency_keys SET response = $1 WHERE actor = $2 AND key = $3",
        [
            Value::from(response),
            Value::from(writer.who.actor),
            Value::from(key),
        ],
    ))
    .await?;
    txn.commit().await?;
    Ok(Attempt::Done(outcome, scopes))
}

/// The stored result of the mutation that took `key`, if it was this operation with this input.
async fn replay<R: DeserializeOwned>(
    db: &DatabaseConnection,
    writer: &Writer<'_>,
    key: &str,
    sha: &str,
    operation: &str,
) -> Result<Outcome<R>, Error> {
    let row = db
        .query_one_raw(stmt(
            db.get_database_backend(),
            "SELECT operation, input_sha256, response FROM idempotency_keys \
             WHERE actor = $1 AND key = $2",
            [Value::from(writer.who.actor), Value::from(key)],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("idempotency key vanished after its conflict".into()))?;
    let stored_operation: String = row.try_get("", "operation")?;
    let stored_sha: String = row.try_get("", "input_sha256")?;
    if stored_operation != operation || stored_sha != sha {
        return Ok(Outcome::rejected(vec![UserError::new(
            &["idempotencyKey"],
            UserErrorCode::IdempotencyKeyReused,
            format!(
                "this key was already used for another {}: use a fresh key for a new request",
                if stored_operation == operation {
                    "input"
                } else {
                    "operation"
                }
            ),
        )]));
    }
    let response: String = row.try_get("", "response")?;
    serde_json::from_str(&response)
        .map_err(|e| Error::Database(DbErr::Custom(format!("stored result unreadable: {e}"))))
}

/// A record as JSON for the audit log.
fn json(record: &impl Serialize) -> Result<serde_json::Value, DbErr> {
    serde_json::to_value(record).map_err(|e| DbErr::Custom(format!("record not serializable: {e}")))
}

/// Whether `e` is a unique-key violation.
fn duplicate(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Sorted, without repeats.
fn distinct(codes: impl IntoIterator<Item = String>) -> Vec<String> {
    codes
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The breaches of a multi-column rule as user errors at their input fields, under `prefix`.
fn breaches(prefix: &[&str], found: Vec<crate::domain::rules::Breach>) -> Vec<UserError> {
    found
        .into_iter()
        .map(|(column, reason)| {
            let field = field_of(column);
            let mut path: Vec<&str> = prefix.to_vec();
            path.push(&field);
            UserError::bad_input(&path, reason)
        })
        .collect()
}

/// Which stored record a versioned update replaces, and how the write is described.
struct Versioned<C> {
    /// The record kind, as the audit log names it.
    entity: &'static str,
    /// The record kind, as a conflict message names it.
    noun: &'static str,
    key: String,
    /// Selects the record by its key.
    condition: sea_orm::Condition,
    version_column: C,
    /// The version the caller read.
    expected: i32,
    /// What the write changes in the rollups.
    touched: Touched,
}

/// The common end of every versioned update: writes `after` only if the stored record is still
/// at the version the caller read, and describes the write; `CONFLICT`, with nothing written,
/// when another write came first.
async fn update_versioned<M, A>(
    txn: &DatabaseTransaction,
    target: Versioned<<A::Entity as sea_orm::EntityTrait>::Column>,
    before: &M,
    after: M,
) -> Result<Step<M>, DbErr>
where
    M: Serialize + Clone + sea_orm::IntoActiveModel<A>,
    A: sea_orm::ActiveModelTrait + Send,
{
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let result = A::Entity::update_many()
        .set(after.clone().into_active_model().reset_all())
        .filter(target.condition)
        .filter(target.version_column.eq(target.expected))
        .exec(txn)
        .await?;
    if result.rows_affected != 1 {
        return Ok(Err(vec![UserError::stale(
            target.noun,
            &target.key,
            target.expected,
        )]));
    }
    Ok(Ok(Applied {
        before: Some(json(before)?),
        after: json(&after)?,
        key: target.key,
        entity: target.entity,
        touched: target.touched,
        record: after,
    }))
}

/// Whether the caller's area owns the destination side of a household registered to site
/// `site_code`: the site lies in its scope.
async fn destination_owns(
    txn: &DatabaseTransaction,
    writer: &Writer<'_>,
    site_code: &str,
) -> Result<bool, DbErr> {
    use sea_orm::EntityTrait;
    let found = within(
        entity::site::Entity::find_by_id(site_code.to_owned()),
        &writer.visible,
        Scope::sites,
    )
    .one(txn)
    .await?;
    Ok(found.is_some())
}

/// Whether the caller's area owns the origin side of a homestead in village `village_code`:
/// the village lies in its subtree.
async fn origin_owns(
    txn: &DatabaseTransaction,
    writer: &Writer<'_>,
    village_code: &str,
) -> Result<bool, DbErr> {
    use sea_orm::EntityTrait;
    let found = within(
        entity::area::Entity::find_by_id(village_code.to_owned()),
        &writer.visible,
        Scope::areas_below,
    )
    .one(txn)
    .await?;
    Ok(found.is_some())
}

/// The refusal of a destination-owned `field` of household `household` (at site `site`) to a
/// caller who does not own it.
fn not_destination(field: &str, household: &str, site: &str) -> UserError {
    UserError::forbidden(
        &[field],
        format!(
            "`{field}` is recorded by the destination township: household \"{household}\" is \
             registered to site \"{site}\", outside your area, and that township's officers \
             record it"
        ),
    )
}

/// `select` narrowed by `condition` of the caller's scope.
fn within<E: sea_orm::EntityTrait>(
    select: sea_orm::Select<E>,
    visible: &Scope,
    condition: impl FnOnce(&Scope) -> sea_orm::Condition,
) -> sea_orm::Select<E> {
    use sea_orm::QueryFilter;
    select.filter(condition(visible))
}

/// The area `code` if the caller may refer to it (in its subtree) and it is of level `want`:
/// otherwise the user error to answer, at `field`.
async fn area_ref(
    txn: &DatabaseTransaction,
    writer: &Writer<'_>,
    field: &[&str],
    code: &str,
    want: entity::enums::AreaLevel,
) -> Result<Result<entity::area::Model, UserError>, DbErr> {
    use sea_orm::EntityTrait;
    let found = within(
        entity::area::Entity::find_by_id(code.to_owned()),
        &writer.visible,
        Scope::areas_below,
    )
    .one(txn)
    .await?;
    Ok(match found {
        None => Err(UserError::not_found(field, "area", code)),
        Some(a) => match crate::domain::rules::area_level(code, a.level, want) {
            Ok(()) => Ok(a),
            Err(reason) => Err(UserError::bad_input(field, reason)),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_become_input_fields() {
        assert_eq!(field_of("poverty_exit_on"), "povertyExitOn");
        assert_eq!(field_of("persons"), "persons");
    }

    #[test]
    fn equal_inputs_hash_equally_whatever_their_key_order() {
        let a = serde_json::json!({ "b": 1, "a": { "y": [1, 2], "x": null } });
        let b = serde_json::json!({ "a": { "x": null, "y": [1, 2] }, "b": 1 });
        assert_eq!(input_sha256(&a).ok(), input_sha256(&b).ok());
        let c = serde_json::json!({ "a": { "x": null, "y": [2, 1] }, "b": 1 });
        assert_ne!(input_sha256(&a).ok(), input_sha256(&c).ok());
    }
}
