//! Webhook endpoints: admins register, rotate, disable, enable and delete them.
//!
//! These inputs take no `idempotencyKey`: they change no record of the register, and all but
//! `createWebhookEndpoint` are idempotent by nature. Replaying a create would have to answer
//! its secret again, which is shown once and never stored in the clear; a retried create makes
//! a second endpoint, which `webhookEndpoints` lists and `deleteWebhookEndpoint` removes.

use super::super::access::{require_role, scope};
use super::super::errors::GqlResult;
use super::super::types::webhook::{WebhookEndpoint, WebhookSettings, WEBHOOK_ADMINS};
use super::UserError;
use crate::auth::opaque::Sealer;
use crate::domain::webhooks as dom;
use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use sea_orm::DatabaseConnection;

/// A new webhook endpoint.
#[derive(InputObject)]
pub struct CreateWebhookEndpointInput {
    /// Where to POST notifications: http or https, to a public address (unless the server
    /// allows private ones).
    pub url: String,
    /// The integration API key whose scope the endpoint receives changes of.
    pub api_key_id: String,
    /// What the endpoint is for.
    #[graphql(default)]
    pub description: String,
}

/// Names one webhook endpoint.
#[derive(InputObject)]
pub struct WebhookEndpointInput {
    /// The endpoint's id.
    pub id: ID,
}

/// The answer to `createWebhookEndpoint` and `rotateWebhookSecret`.
#[derive(SimpleObject)]
pub struct WebhookSecretPayload {
    /// The endpoint; null when nothing was written.
    pub endpoint: Option<WebhookEndpoint>,
    /// The new signing secret (`whsec_…`): shown this once, keep it.
    pub secret: Option<String>,
    /// Why nothing was written; empty when the write succeeded.
    pub user_errors: Vec<UserError>,
}

/// The answer to `disableWebhookEndpoint`, `enableWebhookEndpoint` and
/// `deleteWebhookEndpoint`.
#[derive(SimpleObject)]
pub struct WebhookEndpointPayload {
    /// The endpoint as it is now (as it was, for a delete); null when nothing was written.
    pub endpoint: Option<WebhookEndpoint>,
    /// Why nothing was written; empty when the write succeeded.
    pub user_errors: Vec<UserError>,
}

type Outcome<T> = std::result::Result<T, crate::domain::write::UserError>;

fn secret_payload(outcome: Outcome<dom::Created>) -> WebhookSecretPayload {
    match outcome {
        Ok(c) => WebhookSecretPayload {
            endpoint: Some(WebhookEndpoint(c.endpoint)),
            secret: Some(c.secret),
            user_errors: vec![],
        },
        Err(e) => WebhookSecretPayload {
            endpoint: None,
            secret: None,
            user_errors: vec![e.into()],
        },
    }
}

fn endpoint_payload(outcome: Outcome<dom::Endpoint>) -> WebhookEndpointPayload {
    match outcome {
        Ok(e) => WebhookEndpointPayload {
            endpoint: Some(WebhookEndpoint(e)),
            user_errors: vec![],
        },
        Err(e) => WebhookEndpointPayload {
            endpoint: None,
            user_errors: vec![e.into()],
        },
    }
}

/// Webhook endpoints: their writes (admins).
#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Registers a webhook endpoint for an integration key in your subtree; answers its signing
    /// secret, this once.
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new endpoint.")] input: CreateWebhookEndpointInput,
    ) -> Result<WebhookSecretPayload> {
        require_role(ctx, &WEBHOOK_ADMINS, "manage webhooks")?;
        let visible = scope(ctx).await?;
        let settings = ctx
            .data_opt::<WebhookSettings>()
            .copied()
            .unwrap_or_default();
        let outcome = dom::create(
            ctx.data::<DatabaseConnection>()?,
            &visible,
            ctx.data::<Sealer>()?,
            input.url.trim(),
            &input.api_key_id,
            &input.description,
            settings.allow_private,
        )
        .await
        .gql()?;
        Ok(secret_payload(outcome))
    }

    /// Adds a new signing secret to an endpoint and answers it, this once. The secrets it had
    /// keep signing alongside for 24 hours, so a delivery then carries several `v1,`
    /// signatures.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint.")] input: WebhookEndpointInput,
    ) -> Result<WebhookSecretPayload> {
        require_role(ctx, &WEBHOOK_ADMINS, "manage webhooks")?;
        let visible = scope(ctx).await?;
        let outcome = dom::rotate(
            ctx.data::<DatabaseConnection>()?,
            &visible,
            ctx.data::<Sealer>()?,
            &input.id,
        )
        .await
        .gql()?;
        Ok(secret_payload(outcome))
    }

    /// Stops sending to an endpoint; its pending deliveries are given up.
    async fn disable_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint.")] input: WebhookEndpointInput,
    ) -> Result<WebhookEndpointPayload> {
        require_role(ctx, &WEBHOOK_ADMINS, "manage webhooks")?;
        let visible = scope(ctx).await?;
        let outcome = dom::set_enabled(
            ctx.data::<DatabaseConnection>()?,
            &visible,
            &input.id,
            false,
        )
        .await
        .gql()?;
        Ok(endpoint_payload(outcome))
    }

    /// Sends to an endpoint again, from the next commit on.
    async fn enable_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint.")] input: WebhookEndpointInput,
    ) -> Result<WebhookEndpointPayload> {
        require_role(ctx, &WEBHOOK_ADMINS, "manage webhooks")?;
        let visible = scope(ctx).await?;
        let outcome =
            dom::set_enabled(ctx.data::<DatabaseConnection>()?, &visible, &input.id, true)
                .await
                .gql()?;
        Ok(endpoint_payload(outcome))
    }

    /// Deletes an endpoint with its secrets and its deliveries.
    async fn delete_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint.")] input: WebhookEndpointInput,
    ) -> Result<WebhookEndpointPayload> {
        require_role(ctx, &WEBHOOK_ADMINS, "manage webhooks")?;
        let visible = scope(ctx).await?;
        let outcome = dom::delete(ctx.data::<DatabaseConnection>()?, &visible, &input.id)
            .await
            .gql()?;
        Ok(endpoint_payload(outcome))
    }
}
