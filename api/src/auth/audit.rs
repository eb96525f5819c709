//! The audit log: one row per write (with the record before and after) and one per record read
//! unmasked (with the stated purpose), never updated or deleted. Writes are audited inside their
//! own transaction; reads are audited before their response leaves.

use super::Principal;
use chrono::Utc;
use entity::audit_log;
use sea_orm::{ActiveValue::NotSet, ConnectionTrait, DbBackend, DbErr, EntityTrait, Set, Value};
use std::collections::BTreeSet;
use std::sync::Mutex;

/// The action recorded for a read of unmasked personal data.
pub const READ_UNMASKED: &str = "read_unmasked";

/// The records a request has read unmasked, gathered while it runs.
#[derive(Debug, Default)]
pub struct ReadAudit {
    read: Mutex<BTreeSet<(&'static str, String)>>,
}

impl ReadAudit {
    /// Notes that `entity` `key` was shown unmasked (once per record, however many fields).
    pub fn note(&self, entity: &'static str, key: &str) {
        if let Ok(mut read) = self.read.lock() {
            if !read.contains(&(entity, key.to_owned())) {
                read.insert((entity, key.to_owned()));
            }
        }
    }

    /// The records noted so far.
    pub fn take(&self) -> Vec<(&'static str, String)> {
        self.read
            .lock()
            .map(|mut r| std::mem::take(&mut *r).into_iter().collect())
            .unwrap_or_default()
    }
}

fn row(
    who: &Principal,
    request_id: &str,
    action: &str,
    entity: &str,
    key: &str,
) -> audit_log::ActiveModel {
    audit_log::ActiveModel {
        id: NotSet,
        at: Set(Utc::now()),
        actor: Set(who.actor.clone()),
        role: Set(who.role.as_str().to_owned()),
        area_code: Set(who.area_code.clone()),
        request_id: Set(request_id.to_owned()),
        action: Set(action.to_owned()),
        entity: Set(entity.to_owned()),
        entity_key: Set(key.to_owned()),
        before: Set(None),
        after: Set(None),
        purpose: Set(None),
    }
}

/// Records unmasked reads, one row per record, in one statement whatever their number: the
/// records travel as one JSON array that the database unpacks into rows.
pub async fn record_reads<C: ConnectionTrait>(
    db: &C,
    who: &Principal,
    request_id: &str,
    purpose: Option<&str>,
    records: &[(&'static str, String)],
) -> Result<(), DbErr> {
    if records.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let list: Vec<[&str; 2]> = records.iter().map(|(e, k)| [*e, k.as_str()]).collect();
    let list = serde_json::to_string(&list)
        .map_err(|e| DbErr::Custom(format!("audit records not serializable: {e}")))?;
    let unpacked = match backend {
        DbBackend::Postgres => {
            "SELECT j.value->>0 AS entity, j.value->>1 AS entity_key \
             FROM json_array_elements(CAST($8 AS JSON)) WITH ORDINALITY AS j(value, n) \
             ORDER BY j.n"
        }
        _ => {
            "SELECT json_extract(j.value, '$[0]') AS entity, \
             json_extract(j.value, '$[1]') AS entity_key FROM json_each($8) j ORDER BY j.key"
        }
    };
    let sql = format!(
        "INSERT INTO audit_log \
         (at, actor, role, area_code, request_id, action, purpose, entity, entity_key) \
         SELECT $1, $2, $3, $4, $5, $6, $7, r.entity, r.entity_key FROM ({unpacked}) r"
    );
    db.execute_raw(crate::db::stmt(
        backend,
        &sql,
        [
            Value::from(Utc::now()),
            Value::from(who.actor.as_str()),
            Value::from(who.role.as_str()),
            Value::from(who.area_code.as_str()),
            Value::from(request_id),
            Value::from(READ_UNMASKED),
            Value::from(purpose.unwrap_or("unspecified")),
            Value::from(list),
        ],
    ))
    .await?;
    Ok(())
}

/// One write, as the audit log records it.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    /// The mutation's name.
    pub action: &'a str,
    pub entity: &'a str,
    pub key: &'a str,
    /// The record before (none for a creation).
    pub before: Option<serde_json::Value>,
    /// The record after.
    pub after: Option<serde_json::Value>,
}

/// Records one write, inside the writing transaction `txn`.
pub async fn record_write<C: ConnectionTrait>(
    txn: &C,
    who: &Principal,
    request_id: &str,
    change: Change<'_>,
) -> Result<(), DbErr> {
    let mut r = row(who, request_id, change.action, change.entity, change.key);
    r.before = Set(change.before.map(|v| v.to_string()));
    r.after = Set(change.after.map(|v| v.to_string()));
    audit_log::Entity::insert(r).exec(txn).await?;
    Ok(())
}
