//! The unmasked reads of one request, gathered while it runs and recorded in the audit log
//! ([`crate::domain::audit`]) before its response leaves.

use super::Principal;
use crate::domain::audit::Actor;
use sea_orm::{ConnectionTrait, DbErr};
use std::sync::Mutex;

/// The records a request has read unmasked, gathered while it runs.
#[derive(Debug, Default)]
pub struct ReadAudit {
    /// In the order noted, a record once per field shown; put in order once, when taken.
    read: Mutex<Vec<(&'static str, String)>>,
}

impl ReadAudit {
    /// Notes that `entity` `key` was shown unmasked.
    pub fn note(&self, entity: &'static str, key: &str) {
        if let Ok(mut read) = self.read.lock() {
            read.push((entity, key.to_owned()));
        }
    }

    /// The records noted so far, each once (however many of its fields were shown), by kind,
    /// then key.
    pub fn take(&self) -> Vec<(&'static str, String)> {
        let mut read = self
            .read
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default();
        read.sort_unstable();
        read.dedup();
        read
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

#[cfg(test)]
mod tests {
    use super::ReadAudit;

    #[test]
    fn each_record_is_taken_once_by_kind_then_key() {
        let audit = ReadAudit::default();
        for (entity, key) in [
            ("member", "2"),
            ("household", "9"),
            ("member", "1"),
            ("member", "2"),
            ("household", "9"),
        ] {
            audit.note(entity, key);
        }
        let taken = audit.take();
        let expected = [("household", "9"), ("member", "1"), ("member", "2")];
        assert_eq!(
            taken
                .iter()
                .map(|(e, k)| (*e, k.as_str()))
                .collect::<Vec<_>>(),
            expected
        );
        assert!(audit.take().is_empty(), "taken twice");
    }
}
