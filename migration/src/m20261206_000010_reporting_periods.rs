//! Reporting periods and monthly bulletins (逐月通报): each area's month and where it stands in
//! the approval workflow, the bulletins every approval publishes (append-only: a later approval
//! adds a vintage, never rewrites one), and the lock exceptions admins grant.
//!
//! Times are unix milliseconds (`BIGINT`), compared in SQL the same way on SQLite and
//! PostgreSQL. None of these tables is logged by the change feed: they are not records of the
//! register.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Statements that make `bulletins` refuse every UPDATE and DELETE: a published vintage is
/// what was reported, for good.
fn append_only(backend: DbBackend) -> Vec<&'static str> {
    match backend {
        DbBackend::Postgres => vec![
            "CREATE FUNCTION bulletins_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION 'bulletins are append-only'; END $$",
            "CREATE TRIGGER bulletins_append_only BEFORE UPDATE OR DELETE ON bulletins \
             FOR EACH ROW EXECUTE FUNCTION bulletins_append_only()",
        ],
        _ => vec![
            "CREATE TRIGGER bulletins_no_update BEFORE UPDATE ON bulletins \
             BEGIN SELECT RAISE(ABORT, 'bulletins are append-only'); END",
            "CREATE TRIGGER bulletins_no_delete BEFORE DELETE ON bulletins \
             BEGIN SELECT RAISE(ABORT, 'bulletins are append-only'); END",
        ],
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("reporting_periods")
                    .col(string("area_code"))
                    // `YYYY-MM`.
                    .col(string("month"))
                    // `submitted` or `approved`; a month without a row is open.
                    .col(string("state"))
                    .col(big_integer("updated_at"))
                    .col(string("updated_by"))
                    .primary_key(Index::create().col("area_code").col("month"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("reporting_periods_state")
                    .table("reporting_periods")
                    .col("state")
                    .col("area_code")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("bulletins")
                    .col(string("area_code"))
                    .col(string("month"))
                    .col(integer("vintage"))
                    .col(date("as_of"))
                    .col(big_integer("approved_at"))
                    .col(string("approved_by"))
                    // JSON: the area's indicators and each child's, as approved.
                    .col(text("reported"))
                    .primary_key(Index::create().col("area_code").col("month").col("vintage"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("lock_exceptions")
                    .col(big_pk_auto("id"))
                    .col(string("area_code"))
                    .col(string("month"))
                    .col(text("reason"))
                    .col(string("granted_by"))
                    .col(big_integer("granted_at"))
                    .col(big_integer("expires_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("lock_exceptions_area_month")
                    .table("lock_exceptions")
                    .col("area_code")
                    .col("month")
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for sql in append_only(db.get_database_backend()) {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["lock_exceptions", "bulletins", "reporting_periods"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        let db = manager.get_connection();
        if db.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared("DROP FUNCTION IF EXISTS bulletins_append_only()")
                .await?;
        }
        Ok(())
    }
}
