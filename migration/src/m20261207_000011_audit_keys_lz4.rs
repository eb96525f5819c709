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

/// Sets the compression of `audit_log.entity_keys`, or leaves it as it is where the server
/// cannot (the reason is logged by the server as a notice).
fn set_compression(method: &str) -> String {
    format!(
        "DO $$ BEGIN \
           ALTER TABLE audit_log ALTER COLUMN entity_keys SET COMPRESSION {method}; \
         EXCEPTION WHEN feature_not_supported OR syntax_error OR invalid_parameter_value THEN \
           RAISE NOTICE 'audit_log.entity_keys keeps its compression: %', SQLERRM; \
         END $$"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(&set_compression("lz4"))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(&set_compression("default"))
                .await?;
        }
        Ok(())
    }
}
