//! What a read use case runs on: the database, the aggregate cache, the caller's scope, and the
//! request's batched reads (one statement or round trip per kind, however many fields ask at
//! once). The GraphQL layer builds one per request and calls the use cases of
//! [`super::indicators::read`] and [`super::pagination::total`] with it.

use super::scope::Scope;
use crate::cache::{Cache, GenScope, Generation};
use crate::error::Result;
use sea_orm::DatabaseConnection;
use std::future::Future;

/// The reads a request batches: every field that asks during one tick of the executor is
/// answered by one statement (see the GraphQL layer's loaders).
pub trait Batched: Sync {
    /// The generations of `scopes`, in order, from one snapshot for the whole request.
    fn generations(
        &self,
        scopes: &[GenScope],
    ) -> impl Future<Output = Result<Vec<Generation>>> + Send;
    /// Whether area `code` lies in the caller's subtree.
    fn area_below(&self, code: &str) -> impl Future<Output = Result<bool>> + Send;
    /// Whether site `code` exists and the caller may see it.
    fn site_visible(&self, code: &str) -> impl Future<Output = Result<bool>> + Send;
}

/// One request's read context.
pub struct Reads<'a, B> {
    pub db: &'a DatabaseConnection,
    pub cache: &'a Cache,
    pub scope: &'a Scope,
    pub batched: &'a B,
}

impl<'a, B: Batched> Reads<'a, B> {
    /// The read context of one request.
    pub fn new(
        db: &'a DatabaseConnection,
        cache: &'a Cache,
        scope: &'a Scope,
        batched: &'a B,
    ) -> Self {
        Self {
            db,
            cache,
            scope,
            batched,
        }
    }
}
