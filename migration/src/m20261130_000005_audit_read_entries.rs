//! Read entries of the audit log cover many records: one entry per kind of record a request
//! showed unmasked, listing every key in `entity_keys` (a JSON array of strings). A page of a
//! hundred households with their members is then two entries, not hundreds, and finding who
//! read a record is still an indexed lookup (on PostgreSQL, a GIN index over the key lists).
//!
//! Write entries, and read entries written before this migration, keep `entity_keys` null: their
//! one record is `entity_key`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The PostgreSQL function that reads a read entry's keys as an array, so that an index over it
/// carries per-key statistics and the planner sees how rare one key is.
const KEYS_FUNCTION: &str = "audit_entity_keys";
/// The PostgreSQL index that finds the read entries listing one key.
const KEYS_INDEX: &str = "audit_log_entity_keys";
/// The index that finds the entries of one key, whatever their kind of record.
const KEY_INDEX: &str = "audit_log_entity_key";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("audit_log")
                    .add_column(text_null("entity_keys"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(KEY_INDEX)
                    .table("audit_log")
                    .col("entity_key")
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
            let db = manager.get_connection();
            db.execute_unprepared(&format!(
                "CREATE FUNCTION {KEYS_FUNCTION}(keys text) RETURNS text[] \
                 LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE \
                 AS 'SELECT ARRAY(SELECT jsonb_array_elements_text(CAST(keys AS jsonb)))'"
            ))
            .await?;
            db.execute_unprepared(&format!(
                "CREATE INDEX {KEYS_INDEX} ON audit_log USING gin ({KEYS_FUNCTION}(entity_keys)) \
                 WHERE entity_keys IS NOT NULL"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
            let db = manager.get_connection();
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {KEYS_INDEX}"))
                .await?;
            db.execute_unprepared(&format!("DROP FUNCTION IF EXISTS {KEYS_FUNCTION}(text)"))
                .await?;
        }
        manager
            .drop_index(Index::drop().name(KEY_INDEX).table("audit_log").to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("audit_log")
                    .drop_column("entity_keys")
                    .to_owned(),
            )
            .await
    }
}
