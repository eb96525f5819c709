//! `indicator_deltas`: the indicators pre-aggregated as dated changes, rebuilt from the register
//! in every import's transaction. An indicator on a date is the sum of its deltas up to that date.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("indicator_deltas")
                    // `area` (an area's subtree) or `site`.
                    .col(string("scope_kind"))
                    .col(string("scope_code"))
                    .col(string("metric"))
                    .col(date("on_date"))
                    .col(big_integer("delta_count"))
                    .col(double("delta_amount"))
                    .primary_key(
                        Index::create()
                            .col("scope_kind")
                            .col("scope_code")
                            .col("metric")
                            .col("on_date"),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("indicator_deltas").to_owned())
            .await
    }
}
