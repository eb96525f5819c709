//! Access and accountability: API keys (stored only as hashes), the append-only audit log, the
//! idempotency record of mutations, and the service's own generated secrets.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Statements that make `audit_log` refuse every UPDATE and DELETE, whoever issues them.
fn append_only(backend: DbBackend) -> Vec<&'static str> {
    match backend {
        DbBackend::Postgres => vec![
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log \
             FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log \
             FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
        ],
        _ => vec![
            "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log \
             BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
            "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log \
             BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
        ],
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("api_keys")
                    .col(string("id").primary_key())
                    .col(string("name"))
                    .col(string("role"))
                    .col(string("area_code"))
                    .col(string_null("site_code"))
                    .col(string("secret_sha256"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("audit_log")
                    .col(big_pk_auto("id"))
                    .col(timestamp_with_time_zone("at"))
                    .col(string("actor"))
                    .col(string("role"))
                    .col(string("area_code"))
                    .col(string("request_id"))
                    .col(string("action"))
                    .col(string("entity"))
                    .col(string("entity_key"))
                    .col(text_null("before"))
                    .col(text_null("after"))
                    .col(string_null("purpose"))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("audit_log_at", &["at"][..]),
            ("audit_log_actor", &["actor", "at"][..]),
            ("audit_log_entity", &["entity", "entity_key"][..]),
        ] {
            let mut idx = Index::create();
            idx.name(name).table("audit_log");
            for c in cols {
                idx.col(*c);
            }
            manager.create_index(idx.to_owned()).await?;
        }
        let db = manager.get_connection();
        for sql in append_only(manager.get_database_backend()) {
            db.execute_unprepared(sql).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("idempotency_keys")
                    .col(string("actor"))
                    .col(string("key"))
                    .col(string("operation"))
                    .col(string("input_sha256"))
                    .col(text("response"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("actor").col("key"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("service_secrets")
                    .col(string("name").primary_key())
                    .col(string("value"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "service_secrets",
            "idempotency_keys",
            "audit_log",
            "api_keys",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS audit_log_append_only()")
                .await?;
        }
        Ok(())
    }
}
