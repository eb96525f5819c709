//! The audit log: one row per write (with the record before and after) and, for each request that
//! showed personal data unmasked, one row per kind of record it showed (with every key, and the
//! stated purpose); never updated or deleted. Writes are audited inside their own transaction;
//! reads are audited before their response leaves.

use chrono::Utc;
use entity::audit_log;
use sea_orm::{ActiveValue::NotSet, ConnectionTrait, DbErr, EntityTrait, Set};

/// The action recorded for a read of unmasked personal data.
pub const READ_UNMASKED: &str = "read_unmasked";

/// Who acted, as the audit log names them.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// `user:<sub>` for a token, `key:<id>` for an API key.
    pub actor: &'a str,
    /// The role's name.
    pub role: &'a str,
    /// The root of what the actor sees.
    pub area_code: &'a str,
}

fn row(
    who: &Actor<'_>,
    request_id: &str,
    action: &str,
    entity: &str,
    key: &str,
) -> audit_log::ActiveModel {
    audit_log::ActiveModel {
        id: NotSet,
        at: Set(Utc::now()),
        actor: Set(who.actor.to_owned()),
        role: Set(who.role.to_owned()),
        area_code: Set(who.area_code.to_owned()),
        request_id: Set(request_id.to_owned()),
        action: Set(action.to_owned()),
        entity: Set(entity.to_owned()),
        entity_key: Set(key.to_owned()),
        before: Set(None),
        after: Set(None),
        purpose: Set(None),
        entity_keys: Set(None),
    }
}

/// Records unmasked reads in one statement: one row per kind of record, keyed by the first of
/// its records and listing them all in `entity_keys`. `records` come grouped by kind (as
/// [`ReadAudit::take`] gives them); a kind met again later starts a row of its own.
pub async fn record_reads<C: ConnectionTrait>(
    db: &C,
    who: &Actor<'_>,
    request_id: &str,
    purpose: Option<&str>,
    records: &[(&'static str, String)],
) -> Result<(), DbErr> {
    let mut rows = Vec::new();
    for group in records.chunk_by(|a, b| a.0 == b.0) {
        let keys: Vec<&str> = group.iter().map(|(_, k)| k.as_str()).collect();
        let keys = serde_json::to_string(&keys)
            .map_err(|e| DbErr::Custom(format!("audit keys not serializable: {e}")))?;
        let mut r = row(who, request_id, READ_UNMASKED, group[0].0, &group[0].1);
        r.purpose = Set(Some(purpose.unwrap_or("unspecified").to_owned()));
        r.entity_keys = Set(Some(keys));
        rows.push(r);
    }
    if rows.is_empty() {
        return Ok(());
    }
    audit_log::Entity::insert_many(rows)
        .exec_without_returning(db)
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
    who: &Actor<'_>,
    request_id: &str,
    change: Change<'_>,
) -> Result<(), DbErr> {
    let mut r = row(who, request_id, change.action, change.entity, change.key);
    r.before = Set(change.before.map(|v| v.to_string()));
    r.after = Set(change.after.map(|v| v.to_string()));
    audit_log::Entity::insert(r).exec(txn).await?;
    Ok(())
}
