//! A read entry of the audit log lists every key it covers (`entity_keys`, a few kilobytes for a
//! page of households with their members), and every such entry is written before its response
//! leaves. On PostgreSQL the list is compressed with LZ4 rather than the default pglz, which
//! costs the database several times less per entry for about the same size. A server built
//! without LZ4 (or older than PostgreSQL 14) keeps its default: the entries are the same either
//! way, only the work of storing them differs.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Sets the compression of `audit_log.entity_keys` on PostgreSQL, or leaves it as it is where
/// the server cannot (the server logs the reason as a notice); SQLite has no such setting.
async fn set_compression(manager: &SchemaManager<'_>, method: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let sql = format!(
        "DO $$ BEGIN \
           ALTER TABLE audit_log ALTER COLUMN entity_keys SET COMPRESSION {method}; \
         EXCEPTION WHEN feature_not_supported OR syntax_error OR invalid_parameter_value THEN \
           RAISE NOTICE 'audit_log.entity_keys keeps its compression: %', SQLERRM; \
         END $$"
    );
    manager.get_connection().execute_unprepared(&sql).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_compression(manager, "lz4").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_compression(manager, "default").await
    }
}
