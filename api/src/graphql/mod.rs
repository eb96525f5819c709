//! The GraphQL schema: thin resolvers over the domain.

use async_graphql::{Context, EmptySubscription, MergedObject, Schema};
use sea_orm::DatabaseConnection;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// Whether one request's response may be kept in the whole-response cache, decided while it
/// runs. The HTTP layer puts it into the request data and keeps a clone to read afterwards.
#[derive(Debug, Clone, Default)]
pub struct ResponseCachePolicy(Arc<AtomicBool>);

impl ResponseCachePolicy {
    /// From now on, this request's response must not be cached.
    pub fn mark_uncacheable(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether nothing marked the response uncacheable.
    pub fn is_cacheable(&self) -> bool {
        !self.0.load(Ordering::Relaxed)
    }
}

/// Marks the request as having read personal records (households, members, employments,
/// homesteads): its response is never cached whole. Called where such records are looked up or
/// listed; aggregates over them (indicators, `totalCount`) stay cacheable.
pub fn mark_personal(ctx: &Context<'_>) {
    if let Some(policy) = ctx.data_opt::<ResponseCachePolicy>() {
        policy.mark_uncacheable();
    }
}

pub mod access;
pub mod area;
pub mod audit;
pub mod cost;
pub mod enums;
pub mod household;
pub mod indicators;
pub mod limits;
pub mod loaders;
pub mod mutation;
pub mod node;
pub mod pagination;
pub mod rules;
pub mod scalars;
pub mod site;

/// The root query: one object per capability.
#[derive(MergedObject, Default)]
pub struct Query(
    indicators::IndicatorQuery,
    area::AreaQuery,
    site::SiteQuery,
    household::HouseholdQuery,
    audit::AuditQuery,
    node::NodeQuery,
);

/// Anju's executable schema.
pub type AnjuSchema = Schema<Query, mutation::Mutation, EmptySubscription>;

/// Builds the schema over `db`.
pub fn build_schema(
    db: DatabaseConnection,
    cache: crate::cache::Cache,
    limits: limits::Limits,
    production: bool,
    sealer: crate::auth::opaque::Sealer,
) -> AnjuSchema {
    let mut builder = Schema::build(Query::default(), mutation::Mutation, EmptySubscription)
        .data(db)
        .data(cache)
        .data(sealer)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_cost)
        .limit_directives(limits.max_directives)
        .extension(rules::Rules {
            document: limits::DocumentRules {
                max_aliases: limits.max_aliases,
                introspection: !production,
            },
        });
    if production {
        // Clients build against the committed schema.graphql; production does not describe
        // itself to strangers, nor guess at misspelt fields.
        builder = builder.disable_introspection().disable_suggestions();
    }
    builder.finish()
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query::default(), mutation::Mutation, EmptySubscription)
        .finish()
        .sdl()
}
