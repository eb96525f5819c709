//! The unmasked reads of one request, gathered while it runs and recorded in the audit log
//! ([`crate::domain::audit`]) before its response leaves.

use super::Principal;
use crate::domain::audit::Actor;
use sea_orm::{ConnectionTrait, DbErr};
use std::collections::BTreeSet;
use std::sync::Mutex;

/// The records a request has read unmasked, gathered while it runs.
#[derive(Debug, Default)]
pub struct ReadAudit {
    read: Mutex<BTreeSet<(&'static str, String)>>,
}

impl ReadAudit {
    /// Notes that `entity` `key` was shown unmasked (once per record, however many fields).
    pub fn note(&self, entity: &'static str, key: &str) {
        if let Ok(mut read) = self.read.lock() {
            read.insert((entity, key.to_owned()));
        }
    }

    /// The records noted so far, by kind, then key.
    pub fn take(&self) -> Vec<(&'static str, String)> {
        self.read
            .lock()
            .map(|mut r| std::mem::take(&mut *r).into_iter().collect())
            .unwrap_or_default()
    }
}

impl Principal {
    /// The principal as the audit log names it.
    pub fn actor(&self) -> Actor<'_> {
        Actor {
            actor: &self.actor,
            role: self.role.as_str(),
            area_code: &self.area_code,
        }
    }
}

/// Records the unmasked reads `records` of `who` (see [`crate::domain::audit::record_reads`]).
pub async fn record_reads<C: ConnectionTrait>(
    db: &C,
    who: &Principal,
    request_id: &str,
    purpose: Option<&str>,
    records: &[(&'static str, String)],
) -> Result<(), DbErr> {
    crate::domain::audit::record_reads(db, &who.actor(), request_id, purpose, records).await
}
