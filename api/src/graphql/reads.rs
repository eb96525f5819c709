//! The request's read context for the domain's read use cases: the caller's scope, and the
//! request's loaders as the batched reads the use cases go through.

use super::loaders::{unshared, AreasBelow, ByKey, Generations, Loaded};
use crate::cache::{GenScope, Generation};
use crate::domain::reads::{Batched, Reads};
use crate::domain::scope::Scope;
use crate::error::{Error, Result};
use async_graphql::dataloader::{DataLoader, HashMapCache};
use async_graphql::Context;

/// One request's batched reads, through its loaders.
pub struct Request<'c, 'a> {
    ctx: &'c Context<'a>,
    scope: Scope,
}

fn missing(e: async_graphql::Error) -> Error {
    Error::Database(sea_orm::DbErr::Custom(e.message))
}

impl<'c, 'a> Request<'c, 'a> {
    /// The read context of the request `ctx` belongs to.
    pub async fn of(ctx: &'c Context<'a>) -> async_graphql::Result<Self> {
        Ok(Self {
            ctx,
            scope: super::access::scope(ctx).await?,
        })
    }

    /// The context the domain's read use cases take.
    pub fn reads(&self) -> async_graphql::Result<Reads<'_, Self>> {
        Ok(Reads::new(
            self.ctx.data()?,
            self.ctx.data()?,
            &self.scope,
            self,
        ))
    }
}

impl Batched for Request<'_, '_> {
    async fn generations(&self, scopes: &[GenScope]) -> Result<Vec<Generation>> {
        let loader = self
            .ctx
            .data::<std::sync::Arc<DataLoader<Generations, HashMapCache>>>()
            .map_err(missing)?;
        let found = loader
            .load_many(scopes.iter().cloned())
            .await
            .map_err(unshared)?;
        Ok(scopes
            .iter()
            .map(|s| found.get(s).copied().unwrap_or(Generation::NONE))
            .collect())
    }

    async fn area_below(&self, code: &str) -> Result<bool> {
        let loader = self
            .ctx
            .data::<DataLoader<AreasBelow, HashMapCache>>()
            .map_err(missing)?;
        Ok(loader
            .load_one(code.to_owned())
            .await
            .map_err(unshared)?
            .unwrap_or(false))
    }

    async fn site_visible(&self, code: &str) -> Result<bool> {
        let loader = self
            .ctx
            .data::<Loaded<ByKey<entity::site::Entity>>>()
            .map_err(missing)?;
        Ok(loader.one(code).await.map_err(unshared)?.is_some())
    }
}
