//! The change log learns to leave a record unplaced (`placed = 0`: the reader places it where
//! it lies when read), and its triggers are re-created from their current definition
//! (`change_log_triggers`): a record created or changed where it lay is logged by its key
//! alone, and where a record lies is found by one join per statement instead of lookups per
//! row. That is what an import of a province pays for. Rows already logged stay placed.
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
        db.execute_unprepared(
            "ALTER TABLE change_log ADD COLUMN placed SMALLINT NOT NULL DEFAULT 1",
        )
        .await?;
        for s in change_log_triggers::drop(backend)
            .into_iter()
            .chain(change_log_triggers::create(
                backend,
                change_log_triggers::Layout::Unplaced,
            ))
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

    /// Puts the indexes back, places every record the log left unplaced where it lies now (the
    /// earlier reader reads every row as placed), and has the triggers log every row placed.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        for s in change_log_triggers::drop(backend)
            .into_iter()
            .chain(change_log_triggers::place())
            .chain(change_log_triggers::create(
                backend,
                change_log_triggers::Layout::Placed,
            ))
        {
            db.execute_unprepared(&s).await?;
        }
        db.execute_unprepared("ALTER TABLE change_log DROP COLUMN placed")
            .await?;
        if backend == DbBackend::Postgres {
            db.execute_unprepared("ALTER TABLE change_log ADD PRIMARY KEY (id)")
                .await?;
        }
        db.execute_unprepared("CREATE INDEX change_log_at ON change_log (at)")
            .await?;
        Ok(())
    }
}
