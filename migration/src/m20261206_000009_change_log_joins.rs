//! The change-log triggers, re-created from their current definition (`change_log_triggers`):
//! where a changed record lies is now found by one join per statement instead of lookups per
//! row, which is what an import of a province pays for. They write the same rows as before.
//!
//! Two of the log's indexes go, since every index is paid for on each logged row: the one on
//! `at` (pruning walks the log in its order instead) and, on PostgreSQL, the primary key on
//! `id`, which nothing looks up: readers and pruning go by `(epoch, tx, id)`, and the sequence
//! keeps ids unique. (On SQLite `id` is the row id itself, and costs nothing.)

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::change_log_triggers;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        for s in change_log_triggers::drop(backend)
            .into_iter()
            .chain(change_log_triggers::create(backend))
        {
            db.execute_unprepared(&s).await?;
        }
        db.execute_unprepared("DROP INDEX change_log_at").await?;
        if backend == DbBackend::Postgres {
            db.execute_unprepared("ALTER TABLE change_log DROP CONSTRAINT change_log_pkey")
                .await?;
        }
        Ok(())
    }

    /// Puts the indexes back. The triggers stay as they are: they write what the earlier ones
    /// wrote.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared("ALTER TABLE change_log ADD PRIMARY KEY (id)")
                .await?;
        }
        db.execute_unprepared("CREATE INDEX change_log_at ON change_log (at)")
            .await?;
        Ok(())
    }
}
