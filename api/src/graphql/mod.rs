//! The GraphQL schema: thin resolvers over the domain.

use async_graphql::{Context, MergedObject, Schema};
use sea_orm::DatabaseConnection;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

/// Identifies one HTTP request in logs and in error extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    /// A fresh random id.
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

/// How far one request's response may be reused, as the whole-response cache keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reuse {
    /// By every caller of the same role, area, site and personal-data grant, from any process.
    Shared = 0,
    /// By the very caller it was made for, from this process's memory only, each reuse audited
    /// again: the response read personal records.
    Caller = 1,
    /// Never: the response depends on something no write's generation raise covers (the audit
    /// log grows with every unmasked read).
    Never = 2,
}

/// How far one request's response may be reused, decided while it runs: each resolver can only
/// narrow it. The HTTP layer puts it into the request data and keeps a clone to read afterwards.
#[derive(Debug, Clone, Default)]
pub struct ResponseCachePolicy(Arc<AtomicU8>);

impl ResponseCachePolicy {
    /// Narrows the reuse to `to` at most.
    pub fn narrow(&self, to: Reuse) {
        self.0.fetch_max(to as u8, Ordering::Relaxed);
    }

    /// How far the response may be reused.
    pub fn reuse(&self) -> Reuse {
        match self.0.load(Ordering::Relaxed) {
            0 => Reuse::Shared,
            1 => Reuse::Caller,
            _ => Reuse::Never,
        }
    }
}

/// Marks the request as having read personal records (households, members, employments,
/// homesteads): its response is reused by its caller alone. Called where such records are
/// looked up or listed; aggregates over them (indicators, `totalCount`) stay shared.
pub fn mark_personal(ctx: &Context<'_>) {
    if let Some(policy) = ctx.data_opt::<ResponseCachePolicy>() {
        policy.narrow(Reuse::Caller);
    }
}

/// Marks the request's response as never to be reused (see [`Reuse::Never`]).
pub fn mark_uncacheable(ctx: &Context<'_>) {
    if let Some(policy) = ctx.data_opt::<ResponseCachePolicy>() {
        policy.narrow(Reuse::Never);
    }
}

pub mod access;
pub mod cost;
pub mod enums;
pub mod errors;
pub mod indicators;
pub mod limits;
pub mod loaders;
pub mod mutation;
pub mod nul;
pub mod pagination;
pub mod reads;
pub mod rules;
pub mod scalars;
pub mod subscription;
pub mod types;

/// The root query: one object per capability.
#[derive(MergedObject, Default)]
pub struct Query(
    indicators::IndicatorQuery,
    types::drilldown::DrillDownQuery,
    types::area::AreaQuery,
    types::site::SiteQuery,
    types::household::HouseholdQuery,
    types::member::MemberQuery,
    types::homestead::HomesteadQuery,
    types::audit::AuditQuery,
    types::node::NodeQuery,
    types::changes::ChangesQuery,
    types::webhook::WebhookQuery,
    types::period::PeriodQuery,
);

/// Anju's executable schema.
pub type AnjuSchema = Schema<Query, mutation::Mutation, subscription::Subscription>;

/// The schema, twice: `checked` runs every request hook of [`rules::Rules`] (the per-field
/// gate included) and serves anonymous callers and subscriptions; `bare` has no extension, so
/// the engine resolves each field directly, and executes what a principal sends once `checked`
/// has admitted it.
#[derive(Clone)]
pub struct Engine {
    checked: AnjuSchema,
    bare: AnjuSchema,
}

impl Engine {
    /// The schema with every rule, as subscriptions and the SDL use it.
    pub fn schema(&self) -> &AnjuSchema {
        &self.checked
    }

    /// Runs `request`. An anonymous caller's request runs on the checked schema throughout. A
    /// principal's is admitted there (parsed once, checked, validated, limited and charged to
    /// `meter`) and, if admitted, executed on the bare schema; its errors are then coded as
    /// the rules' hooks code them ([`errors::executed_errors`]).
    pub async fn execute(
        &self,
        mut request: async_graphql::Request,
        authenticated: bool,
        meter: &Arc<cost::Meter>,
    ) -> async_graphql::Response {
        if !authenticated {
            return self.checked.execute(request).await;
        }
        let doc = match request.parsed_query() {
            Ok(doc) => doc.clone(),
            // The checked schema tells what is wrong with it, coded.
            Err(_) => return self.checked.execute(request).await,
        };
        let mut admission = async_graphql::Request::new(request.query.clone())
            .variables(request.variables.clone())
            .data(meter.clone())
            .data(rules::AdmitOnly);
        admission.operation_name = request.operation_name.clone();
        admission.introspection_mode = request.introspection_mode;
        admission.set_parsed_query(doc);
        let admitted = self.checked.execute(admission).await;
        if !admitted.errors.is_empty() {
            return admitted;
        }
        let mut response = self.bare.execute(request).await;
        errors::executed_errors(&mut response.errors);
        response
    }
}

/// Builds the schema over `db`.
pub fn build_schema(
    db: DatabaseConnection,
    cache: crate::cache::Cache,
    limits: limits::Limits,
    production: bool,
    sealer: crate::auth::opaque::Sealer,
    webhooks: types::webhook::WebhookSettings,
    watch: crate::domain::watch::WatchSettings,
) -> Engine {
    let build = || {
        let builder = Schema::build(
            Query::default(),
            mutation::Mutation::default(),
            subscription::Subscription,
        )
        .data(db.clone())
        .data(cache.clone())
        .data(sealer.clone())
        .data(webhooks)
        .data(watch);
        if production {
            // Clients build against the committed schema.graphql; production does not
            // describe itself to strangers, nor guess at misspelt fields.
            builder.disable_introspection().disable_suggestions()
        } else {
            builder
        }
    };
    let bare = build()
        // Validated in full by the checked schema before it gets here.
        .validation_mode(async_graphql::ValidationMode::Fast);
    let checked = build()
        // Depth, cost and directives are limited by the extension, not by the engine's own
        // `limit_*` settings: the engine's refusals tell which limit was broken only in words.
        .extension(rules::Rules {
            document: limits::DocumentRules {
                max_directives: limits.max_directives,
                max_aliases: limits.max_aliases,
                introspection: !production,
            },
            validation: limits::ValidationLimits {
                max_depth: limits.max_depth,
                max_cost: limits.max_cost,
            },
        });
    Engine {
        checked: checked.finish(),
        bare: bare.finish(),
    }
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(
        Query::default(),
        mutation::Mutation::default(),
        subscription::Subscription,
    )
    .finish()
    .sdl()
}
