//! The change log (CONTRACT §5): one row per changed record, written by triggers in the
//! transaction that changes it, whatever the path (a mutation, an import, a delete). What the
//! triggers write is defined in `change_log_triggers`.
//!
//! Order: on PostgreSQL each row carries its transaction's id (`tx`, `xid8`) and readers read
//! only rows of transactions older than every transaction still open
//! (`pg_snapshot_xmin(pg_current_snapshot())`), in `(epoch, tx, id)` order, so a transaction
//! that began before a reader's cursor and commits after it is never skipped. SQLite has one
//! writer at a time, so `id` alone is commit order there (`tx` stays 0). `epoch` comes from
//! `change_log_state` and is raised when the database turns out to be a restored copy.

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
        let (table, state) = match backend {
            DbBackend::Postgres => (
                "CREATE TABLE change_log ( \
                   id BIGSERIAL PRIMARY KEY, \
                   epoch INTEGER NOT NULL, \
                   tx xid8 NOT NULL DEFAULT pg_current_xact_id(), \
                   at TIMESTAMPTZ NOT NULL DEFAULT now(), \
                   record_type TEXT NOT NULL, record_key TEXT NOT NULL, op TEXT NOT NULL, \
                   version INTEGER NOT NULL, \
                   site_code TEXT, site_area TEXT, origin_area TEXT, village_area TEXT, \
                   was_site_code TEXT, was_site_area TEXT, was_origin_area TEXT, was_village_area TEXT)",
                "CREATE TABLE change_log_state ( \
                   id INTEGER PRIMARY KEY CHECK (id = 1), \
                   epoch INTEGER NOT NULL, \
                   pruned_epoch INTEGER NOT NULL DEFAULT 0, \
                   pruned_tx xid8 NOT NULL DEFAULT '0', \
                   pruned_id BIGINT NOT NULL DEFAULT 0)",
            ),
            _ => (
                "CREATE TABLE change_log ( \
                   id INTEGER PRIMARY KEY AUTOINCREMENT, \
                   epoch INTEGER NOT NULL, \
                   tx INTEGER NOT NULL DEFAULT 0, \
                   at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), \
                   record_type TEXT NOT NULL, record_key TEXT NOT NULL, op TEXT NOT NULL, \
                   version INTEGER NOT NULL, \
                   site_code TEXT, site_area TEXT, origin_area TEXT, village_area TEXT, \
                   was_site_code TEXT, was_site_area TEXT, was_origin_area TEXT, was_village_area TEXT)",
                "CREATE TABLE change_log_state ( \
                   id INTEGER PRIMARY KEY CHECK (id = 1), \
                   epoch INTEGER NOT NULL, \
                   pruned_epoch INTEGER NOT NULL DEFAULT 0, \
                   pruned_tx INTEGER NOT NULL DEFAULT 0, \
                   pruned_id INTEGER NOT NULL DEFAULT 0)",
            ),
        };
        db.execute_unprepared(table).await?;
        db.execute_unprepared(state).await?;
        db.execute_unprepared("INSERT INTO change_log_state (id, epoch) VALUES (1, 1)")
            .await?;
        db.execute_unprepared("CREATE INDEX change_log_order ON change_log (epoch, tx, id)")
            .await?;
        db.execute_unprepared("CREATE INDEX change_log_at ON change_log (at)")
            .await?;
        for s in change_log_triggers::create(backend, change_log_triggers::Layout::Placed) {
            db.execute_unprepared(&s).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        for s in change_log_triggers::drop(backend) {
            db.execute_unprepared(&s).await?;
        }
        db.execute_unprepared("DROP TABLE change_log_state").await?;
        db.execute_unprepared("DROP TABLE change_log").await?;
        Ok(())
    }
}
