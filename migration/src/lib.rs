//! Anju's ordered database migrations. Each runs unchanged on SQLite and PostgreSQL and has a
//! working `down`.

pub use sea_orm_migration::prelude::*;

mod m20261129_000001_register;
mod m20261129_000002_cache_generations;
mod m20261129_000003_indicator_rollups;
mod m20261129_000004_access;
mod m20261130_000005_audit_read_entries;
mod m20261204_000006_register_identity;
mod m20261205_000007_change_log;
mod m20261205_000008_webhooks;
mod m20261206_000009_change_log_joins;
mod m20261206_000010_reporting_periods;
mod m20261207_000011_audit_keys_lz4;

mod change_log_triggers;

/// Applies Anju's migrations in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_register::Migration),
            Box::new(m20261129_000002_cache_generations::Migration),
            Box::new(m20261129_000003_indicator_rollups::Migration),
            Box::new(m20261129_000004_access::Migration),
            Box::new(m20261130_000005_audit_read_entries::Migration),
            Box::new(m20261204_000006_register_identity::Migration),
            Box::new(m20261205_000007_change_log::Migration),
            Box::new(m20261205_000008_webhooks::Migration),
            Box::new(m20261206_000009_change_log_joins::Migration),
            Box::new(m20261206_000010_reporting_periods::Migration),
            Box::new(m20261207_000011_audit_keys_lz4::Migration),
        ]
    }
}
