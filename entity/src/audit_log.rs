//! `audit_log`: who did or read what, append-only (the database refuses updates and deletes).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: DateTimeUtc,
    /// `user:<sub>` or `key:<id>`.
    pub actor: String,
    pub role: String,
    pub area_code: String,
    pub request_id: String,
    /// The mutation's name, or `read_unmasked`.
    pub action: String,
    pub entity: String,
    /// The record's key; for a read entry, the first of `entity_keys`.
    pub entity_key: String,
    /// For a read entry: every record of `entity` the request showed unmasked, as a JSON array
    /// of keys. Null for a write (and for reads logged one record per entry), whose one record
    /// is `entity_key`.
    pub entity_keys: Option<String>,
    /// The record before a write, as JSON.
    pub before: Option<String>,
    /// The record after a write, as JSON.
    pub after: Option<String>,
    /// Why personal data was read unmasked.
    pub purpose: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
