//! `cache_generations`: counters that every write raises in its own transaction. Cached
//! aggregates carry the counters they were computed under, so a committed write makes every
//! older entry unreachable, in every process, whatever the cache backend.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("cache_generations")
                    .col(string("scope").primary_key())
                    .col(big_integer("generation"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("cache_generations").to_owned())
            .await
    }
}
