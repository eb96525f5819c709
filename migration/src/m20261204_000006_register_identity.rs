//! The register's identity and generation tokens.
//!
//! `register_identity` holds one random id, made when the database is created; every key a
//! shared cache (Redis) holds for the register carries it, so two databases never share an
//! entry, whatever prefix their deployments give the cache. `cache_generations.token` names each
//! state of a scope with fresh random bits at every raise, so a state is never named twice, not
//! even after a restore from a backup.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// 128 random bits as 32 lowercase hex digits, in each backend's SQL.
fn random_hex(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "replace(gen_random_uuid()::text, '-', '')",
        _ => "lower(hex(randomblob(16)))",
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let random = random_hex(manager.get_database_backend());
        manager
            .create_table(
                Table::create()
                    .table("register_identity")
                    .col(ColumnDef::new("id").string_len(32).not_null().primary_key())
                    .to_owned(),
            )
            .await?;
        db.execute_unprepared(&format!(
            "INSERT INTO register_identity (id) VALUES ({random})"
        ))
        .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("cache_generations")
                    .add_column(
                        ColumnDef::new("token")
                            .string_len(32)
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await?;
        // Generations raised before tokens existed get one each, so none reads as never raised.
        db.execute_unprepared(&format!("UPDATE cache_generations SET token = {random}"))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("cache_generations")
                    .drop_column("token")
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table("register_identity").to_owned())
            .await
    }
}
