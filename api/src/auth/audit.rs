//! The audit log: one row per write (with the record before and after) and one per record read
//! unmasked (with the stated purpose), never updated or deleted. Writes are audited inside their
//! own transaction; reads are audited before their response leaves.

use super::Principal;
use chrono::Utc;
use entity::audit_log;
use sea_orm::{ActiveValue::NotSet, ConnectionTrait, DbErr, EntityTrait, Set};
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

/// Records unmasked reads, one row per record.
pub async fn record_reads<C: ConnectionTrait>(
    db: &C,
    who: &Principal,
    request_id: &str,
    purpose: Option<&str>,
    records: &[(&'static str, String)],
) -> Result<(), DbErr> {
    for chunk in records.chunks(500) {
        let rows = chunk.iter().map(|(entity, key)| {
            let mut r = row(who, request_id, READ_UNMASKED, entity, key);
            r.purpose = Set(Some(purpose.unwrap_or("unspecified").to_owned()));
            r
        });
        audit_log::Entity::insert_many(rows).exec(db).await?;
    }
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
