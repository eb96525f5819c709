//! Webhooks for integration keys: the endpoints admins register, their signing secrets (sealed),
//! the notifications waiting to be delivered and every attempt at delivering them, and where the
//! dispatcher stands in the change log.
//!
//! Times are unix milliseconds (`BIGINT`): the sender compares them in SQL, and the same
//! arithmetic then runs unchanged on SQLite and PostgreSQL. None of these tables is logged by
//! the change feed's triggers: they are not records of the register.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("webhook_endpoints")
                    .col(string("id").primary_key())
                    .col(text("url"))
                    .col(text("description"))
                    .col(string("api_key_id"))
                    .col(boolean("enabled"))
                    .col(text_null("disabled_reason"))
                    .col(big_integer("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webhook_secrets")
                    .col(big_pk_auto("id"))
                    .col(string("endpoint_id"))
                    .col(text("sealed"))
                    .col(big_integer("created_at"))
                    // A rotated-out secret keeps signing until then; null: current.
                    .col(big_integer_null("expires_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webhook_deliveries")
                    .col(string("id").primary_key())
                    .col(string("endpoint_id"))
                    .col(text("body"))
                    // PENDING, DELIVERED or FAILED.
                    .col(string("state"))
                    .col(integer("attempts"))
                    .col(big_integer("created_at"))
                    .col(big_integer("next_attempt_at"))
                    .col(big_integer_null("leased_until"))
                    .col(big_integer_null("finished_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webhook_attempts")
                    .col(big_pk_auto("id"))
                    .col(string("delivery_id"))
                    .col(big_integer("at"))
                    .col(integer_null("status"))
                    .col(text_null("error"))
                    .col(big_integer("duration_ms"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webhook_dispatch")
                    .col(integer("id").primary_key())
                    // The change feed's cursor up to which commits were notified.
                    .col(text_null("position"))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared("INSERT INTO webhook_dispatch (id, position) VALUES (1, NULL)")
            .await?;
        for (name, table, cols) in [
            (
                "webhook_secrets_endpoint",
                "webhook_secrets",
                &["endpoint_id"][..],
            ),
            (
                "webhook_deliveries_due",
                "webhook_deliveries",
                &["state", "next_attempt_at"][..],
            ),
            (
                "webhook_deliveries_endpoint",
                "webhook_deliveries",
                &["endpoint_id", "state"][..],
            ),
            (
                "webhook_attempts_delivery",
                "webhook_attempts",
                &["delivery_id"][..],
            ),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(table);
            for c in cols {
                idx.col(*c);
            }
            manager.create_index(idx.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "webhook_dispatch",
            "webhook_attempts",
            "webhook_deliveries",
            "webhook_secrets",
            "webhook_endpoints",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
