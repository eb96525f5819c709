//! Webhook endpoints as admins read them: never their secrets; their recent deliveries and each
//! delivery's attempts. See [`crate::domain::webhooks`].

use super::super::access::{require_role, scope};
use super::super::errors::GqlResult;
use crate::auth::Role;
use crate::domain::webhooks as dom;
use async_graphql::{Context, Enum, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

/// What the webhook mutations need to know of the configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebhookSettings {
    /// Whether endpoints may resolve to loopback, link-local, private or unspecified addresses.
    pub allow_private: bool,
}

/// The roles that manage webhooks.
pub(crate) const WEBHOOK_ADMINS: [Role; 1] = [Role::Admin];

pub(crate) fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A URL that receives a signed notification (Standard Webhooks 1.0) after each commit that
/// its integration key's scope sees.
pub struct WebhookEndpoint(pub dom::Endpoint);

/// A URL that receives a signed notification (Standard Webhooks 1.0) after each commit that
/// its integration key's scope sees.
#[Object]
impl WebhookEndpoint {
    /// The endpoint's id.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    /// Where notifications are POSTed.
    async fn url(&self) -> &str {
        &self.0.url
    }

    /// What the endpoint is for.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// The integration key whose scope the endpoint receives changes of.
    async fn api_key_id(&self) -> &str {
        &self.0.api_key_id
    }

    /// Whether notifications are sent.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }

    /// Why the endpoint is disabled: by an admin, `410 Gone`, or deliveries failing for the
    /// whole retry window. Null while enabled.
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.disabled_reason.as_deref()
    }

    /// When the endpoint was registered.
    async fn created_at(&self) -> DateTime<Utc> {
        time(self.0.created_at)
    }

    /// The most recent deliveries, newest first.
    #[graphql(complexity = "first.max(1) as usize * (1 + child_complexity)")]
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Most deliveries to answer, 1–100.", default = 10)] first: i32,
    ) -> Result<Vec<WebhookDelivery>> {
        let first = u32::try_from(first.clamp(1, 100)).unwrap_or(1);
        let rows = dom::deliveries(ctx.data::<DatabaseConnection>()?, &self.0.id, first)
            .await
            .gql()?;
        Ok(rows.into_iter().map(WebhookDelivery).collect())
    }
}

/// Where a delivery stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookDeliveryState {
    /// Not delivered yet: being sent, or waiting for its next attempt.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Given up: `410 Gone`, the retry window ran out, or the endpoint was disabled.
    Failed,
}

/// One notification to one endpoint.
pub struct WebhookDelivery(pub dom::Delivery);

/// One notification to one endpoint, with its attempts.
#[Object]
impl WebhookDelivery {
    /// The message id (`webhook-id`), the same on every attempt.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    /// The change-feed cursor the notification carries: new changes lie after it.
    async fn cursor(&self) -> Option<String> {
        serde_json::from_str::<serde_json::Value>(&self.0.body)
            .ok()
            .and_then(|b| b["data"]["cursor"].as_str().map(str::to_owned))
    }

    /// Where the delivery stands.
    async fn state(&self) -> WebhookDeliveryState {
        match self.0.state {
            dom::DeliveryState::Pending => WebhookDeliveryState::Pending,
            dom::DeliveryState::Delivered => WebhookDeliveryState::Delivered,
            dom::DeliveryState::Failed => WebhookDeliveryState::Failed,
        }
    }

    /// When the notification was enqueued.
    async fn created_at(&self) -> DateTime<Utc> {
        time(self.0.created_at)
    }

    /// When the next attempt is due (while pending).
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.state == dom::DeliveryState::Pending).then(|| time(self.0.next_attempt_at))
    }

    /// When it was delivered or given up.
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at.map(time)
    }

    /// Every attempt, oldest first.
    async fn attempts(&self, ctx: &Context<'_>) -> Result<Vec<WebhookAttempt>> {
        let rows = dom::attempts(ctx.data::<DatabaseConnection>()?, &self.0.id)
            .await
            .gql()?;
        Ok(rows
            .into_iter()
            .map(|a| WebhookAttempt {
                at: time(a.at),
                http_status: a.status,
                error: a.error,
                duration_ms: i32::try_from(a.duration_ms).unwrap_or(i32::MAX),
            })
            .collect())
    }
}

/// One attempt at sending a delivery.
#[derive(SimpleObject)]
pub struct WebhookAttempt {
    /// When it started.
    pub at: DateTime<Utc>,
    /// The HTTP status the endpoint answered; null when none came back.
    pub http_status: Option<i32>,
    /// Why no status came back (a timeout, a refused connection or target).
    pub error: Option<String>,
    /// How long it took, in milliseconds.
    pub duration_ms: i32,
}

/// Webhook endpoints, for admins.
#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// The webhook endpoints of the integration keys in your area's subtree (admins), oldest
    /// first. Secrets are never shown again.
    async fn webhook_endpoints(&self, ctx: &Context<'_>) -> Result<Vec<WebhookEndpoint>> {
        super::super::mark_uncacheable(ctx);
        require_role(ctx, &WEBHOOK_ADMINS, "read webhook endpoints")?;
        let visible = scope(ctx).await?;
        let rows = dom::endpoints(ctx.data::<DatabaseConnection>()?, &visible, None)
            .await
            .gql()?;
        Ok(rows.into_iter().map(WebhookEndpoint).collect())
    }
}
