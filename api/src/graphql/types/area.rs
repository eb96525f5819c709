//! Areas: the administrative division tree.

use super::super::enums::AreaLevel;
use super::super::errors::GqlResult;
use super::super::indicators::{indicator_set, IndicatorSet};
use super::super::loaders;
use super::super::pagination::{fetch_connection, Conn, PageArgs};
use super::super::scalars::Date;
use super::homestead::{Homestead, HomesteadFilterInput};
use super::household::{Household, HouseholdFilterInput};
use super::node::{global_id, Kind};
use super::site::{ResettlementSite, SiteFilterInput};
use crate::domain::indicators::Target;
use crate::domain::register::{self as reg, AreaFilter};
use async_graphql::{Context, InputObject, Object, Result, ID};
use chrono::{DateTime, Utc};
use entity::area;
use sea_orm::DatabaseConnection;

/// An administrative division (province, city, county, township or village), with everything
/// below it.
pub struct Area(pub std::sync::Arc<area::Model>);

impl From<area::Model> for Area {
    fn from(model: area::Model) -> Self {
        Self(model.into())
    }
}

/// An administrative division (province, city, county, township or village), with everything
/// below it.
#[Object]
impl Area {
    /// Opaque, stable global identifier; `node(id:)` fetches the record again.
    pub(crate) async fn id(&self, _ctx: &Context<'_>) -> Result<ID> {
        Ok(global_id(Kind::Area, &self.0.code))
    }
    /// Administrative division code (6, 9 or 12 digits).
    async fn code(&self) -> &str {
        &self.0.code
    }
    /// Official name, e.g. `榆社县`.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Level in the tree.
    async fn level(&self) -> AreaLevel {
        self.0.level.into()
    }
    /// Code of the parent area; null for the root.
    async fn parent_code(&self) -> Option<&str> {
        self.0.parent_code.as_deref()
    }
    /// 贫困村: a village designated as poor.
    async fn poverty_village(&self) -> bool {
        self.0.poverty_village
    }
    /// 整村搬迁村: a village relocated as a whole.
    async fn whole_village_relocation(&self) -> bool {
        self.0.whole_village_relocation
    }
    /// Revision of this record, raised by every change.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When this record was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The parent area; null for the root.
    async fn parent(&self, ctx: &Context<'_>) -> Result<Option<Area>> {
        match &self.0.parent_code {
            None => Ok(None),
            Some(code) => Ok(loaders::one::<area::Entity>(ctx, code).await?.map(Area)),
        }
    }
    /// Every ancestor, root first (for breadcrumbs).
    async fn ancestors(&self, ctx: &Context<'_>) -> Result<Vec<Area>> {
        let db = ctx.data::<DatabaseConnection>()?;
        let scope = super::super::access::scope(ctx).await?;
        Ok(crate::domain::find::ancestors(db, &scope, &self.0.code)
            .await
            .gql()?
            .into_iter()
            .map(Area::from)
            .collect())
    }
    /// The areas directly below this one, by code.
    #[graphql(
        complexity = "first.or(last).map(|n| n.max(0) as usize).unwrap_or(20) * child_complexity"
    )]
    async fn children(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1–100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge already seen.")] after: Option<String>,
        #[graphql(
            desc = "Page size counted back from the end of the list (or from `before`), \
                          1–100; not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(desc = "Cursor of the first edge already seen: the page ends before it.")]
        before: Option<String>,
    ) -> Result<Conn<Area>> {
        let filter = AreaFilter {
            parent_code: Some(self.0.code.clone()),
            ..Default::default()
        };
        list_areas(ctx, filter, PageArgs::new(first, after, last, before)).await
    }
    /// Resettlement sites located in this area or below it, by code.
    #[graphql(
        complexity = "first.or(last).map(|n| n.max(0) as usize).unwrap_or(20) * child_complexity"
    )]
    async fn sites(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<SiteFilterInput>,
        #[graphql(desc = "Page size, 1–100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge already seen.")] after: Option<String>,
        #[graphql(
            desc = "Page size counted back from the end of the list (or from `before`), \
                          1–100; not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(desc = "Cursor of the first edge already seen: the page ends before it.")]
        before: Option<String>,
    ) -> Result<Conn<ResettlementSite>> {
        let filter = filter
            .unwrap_or_default()
            .into_domain(Some(self.0.code.clone()));
        super::site::list_sites(ctx, filter, PageArgs::new(first, after, last, before)).await
    }
    /// Households resettled at sites in this area or below it (the destination side), by code.
    #[graphql(
        complexity = "first.or(last).map(|n| n.max(0) as usize).unwrap_or(20) * child_complexity"
    )]
    async fn households(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<HouseholdFilterInput>,
        #[graphql(desc = "Page size, 1–100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge already seen.")] after: Option<String>,
        #[graphql(
            desc = "Page size counted back from the end of the list (or from `before`), \
                          1–100; not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(desc = "Cursor of the first edge already seen: the page ends before it.")]
        before: Option<String>,
    ) -> Result<Conn<Household>> {
        let mut filter = filter.unwrap_or_default().into_domain();
        filter.area_codes.push(self.0.code.clone());
        super::household::list_households(ctx, filter, PageArgs::new(first, after, last, before))
            .await
    }
    /// Households that came from villages in this area or below it (the origin side), by code.
    #[graphql(
        complexity = "first.or(last).map(|n| n.max(0) as usize).unwrap_or(20) * child_complexity"
    )]
    async fn origin_households(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<HouseholdFilterInput>,
        #[graphql(desc = "Page size, 1–100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge already seen.")] after: Option<String>,
        #[graphql(
            desc = "Page size counted back from the end of the list (or from `before`), \
                          1–100; not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(desc = "Cursor of the first edge already seen: the page ends before it.")]
        before: Option<String>,
    ) -> Result<Conn<Household>> {
        let mut filter = filter.unwrap_or_default().into_domain();
        filter.origin_area_codes.push(self.0.code.clone());
        super::household::list_households(ctx, filter, PageArgs::new(first, after, last, before))
            .await
    }
    /// Homesteads in villages of this area or below it.
    #[graphql(
        complexity = "first.or(last).map(|n| n.max(0) as usize).unwrap_or(20) * child_complexity"
    )]
    async fn homesteads(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<HomesteadFilterInput>,
        #[graphql(desc = "Page size, 1–100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge already seen.")] after: Option<String>,
        #[graphql(
            desc = "Page size counted back from the end of the list (or from `before`), \
                          1–100; not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(desc = "Cursor of the first edge already seen: the page ends before it.")]
        before: Option<String>,
    ) -> Result<Conn<Homestead>> {
        let mut filter = filter.unwrap_or_default().into_domain();
        filter.area_codes.push(self.0.code.clone());
        super::homestead::list_homesteads(ctx, filter, PageArgs::new(first, after, last, before))
            .await
    }
    /// Every indicator for this area and everything below it (`asOf` defaults to today).
    #[graphql(complexity = "10 + child_complexity")]
    async fn indicators(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The date to compute for; defaults to today (China Standard Time).")]
        as_of: Option<Date>,
    ) -> Result<IndicatorSet> {
        indicator_set(ctx, Target::Area(self.0.code.clone()), as_of).await
    }
}

/// Narrows a list of areas.
#[derive(InputObject, Default, Debug)]
pub struct AreaFilterInput {
    /// Only the direct children of this area.
    pub parent_code: Option<String>,
    /// Only areas in this area's subtree (the area itself included).
    pub within_code: Option<String>,
    /// Only areas of this level.
    pub level: Option<AreaLevel>,
    /// Only poverty villages (true) or only others (false).
    pub poverty_village: Option<bool>,
    /// Only whole-village relocations (true) or only others (false).
    pub whole_village_relocation: Option<bool>,
}

pub(super) async fn list_areas(
    ctx: &Context<'_>,
    filter: AreaFilter,
    page: PageArgs,
) -> Result<Conn<Area>> {
    let scope = super::super::access::scope(ctx).await?;
    fetch_connection(
        ctx,
        page,
        |db, req| async move { reg::areas(&db, &scope, &filter, &req).await },
        |a| a.code.clone(),
        Area::from,
    )
    .await
}

/// Area queries.
#[derive(Default)]
pub struct AreaQuery;

#[Object]
impl AreaQuery {
    /// The area with this code, or null.
    async fn area(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Administrative division code.")] code: String,
    ) -> Result<Option<Area>> {
        Ok(loaders::one::<area::Entity>(ctx, &code).await?.map(Area))
    }
    /// Areas, by code.
    #[graphql(
        complexity = "first.or(last).map(|n| n.max(0) as usize).unwrap_or(20) * child_complexity"
    )]
    async fn areas(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<AreaFilterInput>,
        #[graphql(desc = "Page size, 1–100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge already seen.")] after: Option<String>,
        #[graphql(
            desc = "Page size counted back from the end of the list (or from `before`), \
                          1–100; not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(desc = "Cursor of the first edge already seen: the page ends before it.")]
        before: Option<String>,
    ) -> Result<Conn<Area>> {
        let f = filter.unwrap_or_default();
        let filter = AreaFilter {
            parent_code: f.parent_code,
            within: f.within_code,
            level: f.level.map(Into::into),
            poverty_village: f.poverty_village,
            whole_village_relocation: f.whole_village_relocation,
        };
        list_areas(ctx, filter, PageArgs::new(first, after, last, before)).await
    }
}
