//! Resettlement sites and their works.

use super::super::enums::{Placement, SiteSetting, WorkCategory};
use super::super::indicators::{indicator_set, IndicatorSet};
use super::super::loaders::{self, role};
use super::super::pagination::{
    asks_records, connection, fetch_connection, page_request, Conn, PageArgs,
};
use super::super::scalars::{date, Date};
use super::area::Area;
use super::household::{list_households, Household, HouseholdFilterInput};
use super::node::{global_id, Kind};
use crate::domain::indicators::Target;
use crate::domain::pagination::memory_page;
use crate::domain::register::{self as reg, SiteFilter};
use async_graphql::{Context, InputObject, Object, Result, ID};
use chrono::{DateTime, Utc};
use entity::{area, site, site_work};

/// A resettlement site (安置点).
pub struct ResettlementSite(pub std::sync::Arc<site::Model>);

impl From<site::Model> for ResettlementSite {
    fn from(model: site::Model) -> Self {
        Self(model.into())
    }
}

/// A resettlement site (安置点).
#[Object]
impl ResettlementSite {
    /// Opaque, stable global identifier; `node(id:)` fetches the record again.
    pub(crate) async fn id(&self, _ctx: &Context<'_>) -> Result<ID> {
        Ok(global_id(Kind::ResettlementSite, &self.0.code))
    }
    /// The site's code.
    async fn code(&self) -> &str {
        &self.0.code
    }
    /// The site's name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Code of the township the site lies in.
    async fn township_code(&self) -> &str {
        &self.0.township_code
    }
    /// The township the site lies in.
    async fn township(&self, ctx: &Context<'_>) -> Result<Area> {
        loaders::required::<area::Entity, { role::TOWNSHIP }>(ctx, "area", &self.0.township_code)
            .await
            .map(Area)
    }
    /// 集中安置 or 分散安置.
    async fn placement(&self) -> Placement {
        self.0.placement.into()
    }
    /// Where the site was built.
    async fn setting(&self) -> SiteSetting {
        self.0.setting.into()
    }
    /// Households the site was planned for.
    async fn planned_households(&self) -> i32 {
        self.0.planned_households
    }
    /// Persons the site was planned for.
    async fn planned_persons(&self) -> i32 {
        self.0.planned_persons
    }
    /// Latitude in decimal degrees.
    async fn latitude(&self) -> Option<f64> {
        self.0.latitude
    }
    /// Longitude in decimal degrees.
    async fn longitude(&self) -> Option<f64> {
        self.0.longitude
    }
    /// The day construction started.
    async fn construction_started_on(&self) -> Option<Date> {
        date(self.0.construction_started_on)
    }
    /// Revision of this record, raised by every change.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When this record was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The site's works, by code.
    #[graphql(complexity = "10 * child_complexity")]
    async fn works(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only works of this category.")] category: Option<WorkCategory>,
        #[graphql(desc = "Page size, 1–100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge already seen.")] after: Option<String>,
        #[graphql(
            desc = "Page size counted back from the end of the list (or from `before`), \
                          1–100; not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(desc = "Cursor of the first edge already seen: the page ends before it.")]
        before: Option<String>,
    ) -> Result<Conn<SiteWork>> {
        let req = page_request(PageArgs::new(first, after, last, before))?;
        let mut works = loaders::children::<site_work::Entity>(ctx, &self.0.code).await?;
        if let Some(c) = category {
            let c: entity::enums::WorkCategory = c.into();
            works.retain(|w| w.category == c);
        }
        let page = memory_page(works, |w| w.code.clone(), &req);
        Ok(connection(page, |w| w.code.clone(), SiteWork))
    }
    /// Households registered to this site, by code.
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
        let args = PageArgs::new(first, after, last, before);
        if filter.is_none() && !crate::graphql::pagination::selects_records(ctx) {
            // `{ totalCount }` alone: counted with the other sites of the page, in one statement.
            page_request(args)?;
            let n = loaders::household_count(ctx, &self.0.code).await?;
            return Ok(crate::graphql::pagination::counted(n));
        }
        let mut filter = filter.unwrap_or_default().into_domain();
        filter.site_codes.push(self.0.code.clone());
        list_households(ctx, filter, args).await
    }
    /// Every indicator for this site (`asOf` defaults to today).
    #[graphql(complexity = "10 + child_complexity")]
    async fn indicators(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The date to compute for; defaults to today (China Standard Time).")]
        as_of: Option<Date>,
    ) -> Result<IndicatorSet> {
        indicator_set(ctx, Target::Site(self.0.code.clone()), as_of).await
    }
}

/// One construction work of a site.
pub struct SiteWork(pub std::sync::Arc<site_work::Model>);

impl From<site_work::Model> for SiteWork {
    fn from(model: site_work::Model) -> Self {
        Self(model.into())
    }
}

/// One construction work of a site.
#[Object]
impl SiteWork {
    /// Opaque, stable global identifier; `node(id:)` fetches the record again.
    pub(crate) async fn id(&self, _ctx: &Context<'_>) -> Result<ID> {
        Ok(global_id(Kind::SiteWork, &self.0.code))
    }
    /// The work's code.
    async fn code(&self) -> &str {
        &self.0.code
    }
    /// Code of the site the work belongs to.
    async fn site_code(&self) -> &str {
        &self.0.site_code
    }
    /// The site the work belongs to.
    async fn site(&self, ctx: &Context<'_>) -> Result<ResettlementSite> {
        loaders::required::<site::Entity, 0>(ctx, "site", &self.0.site_code)
            .await
            .map(ResettlementSite)
    }
    /// The work's category.
    async fn category(&self) -> WorkCategory {
        self.0.category.into()
    }
    /// The work's name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The day the work was completed; null while unfinished.
    async fn completed_on(&self) -> Option<Date> {
        date(self.0.completed_on)
    }
    /// Revision of this record, raised by every change.
    async fn version(&self) -> i32 {
        self.0.version
    }
}

/// Narrows a list of sites.
#[derive(InputObject, Default, Debug)]
pub struct SiteFilterInput {
    /// Only sites located in this area or below it.
    pub area_code: Option<String>,
    /// Only sites of this placement.
    pub placement: Option<Placement>,
    /// Only sites of this setting.
    pub setting: Option<SiteSetting>,
}

impl SiteFilterInput {
    /// The domain filter, narrowed to `within`'s subtree when given.
    pub(super) fn into_domain(self, within: Option<String>) -> SiteFilter {
        SiteFilter {
            area_codes: self.area_code.into_iter().chain(within).collect(),
            placement: self.placement.map(Into::into),
            setting: self.setting.map(Into::into),
        }
    }
}

pub(super) async fn list_sites(
    ctx: &Context<'_>,
    filter: SiteFilter,
    page: PageArgs,
) -> Result<Conn<ResettlementSite>> {
    let scope = super::super::access::scope(ctx).await?;
    let conn = fetch_connection(
        ctx,
        page,
        |db, req| async move { reg::sites(&db, &scope, &filter, &req).await },
        |s| s.code.clone(),
        ResettlementSite::from,
    )
    .await?;
    if counts_households(&ctx.look_ahead()) {
        let codes: Vec<String> = conn.items().map(|s| s.0.code.clone()).collect();
        if !codes.is_empty() {
            loaders::prefetch_household_counts(ctx, codes).await?;
        }
    }
    Ok(conn)
}

/// Whether the rows of a page of sites ask for their households as a count alone (no filter,
/// no records), the one way [`ResettlementSite::households`] answers from the grouped count:
/// the page then counts all its sites at once, before its rows ask one by one.
fn counts_households(look: &async_graphql::Lookahead<'_>) -> bool {
    let asked: Vec<async_graphql::SelectionField<'_>> = [
        look.field("nodes").field("households"),
        look.field("edges").field("node").field("households"),
    ]
    .iter()
    .flat_map(|households| households.selection_fields())
    .collect();
    !asked.is_empty()
        && asked.into_iter().all(|households| {
            let unfiltered = households
                .arguments()
                .is_ok_and(|args| args.iter().all(|(name, _)| name.as_str() != "filter"));
            unfiltered && !asks_records(&households.into())
        })
}

/// Site queries.
#[derive(Default)]
pub struct SiteQuery;

#[Object]
impl SiteQuery {
    /// The resettlement site with this code, or null.
    async fn site(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The site's code.")] code: String,
    ) -> Result<Option<ResettlementSite>> {
        Ok(loaders::one::<site::Entity>(ctx, &code)
            .await?
            .map(ResettlementSite))
    }
    /// Resettlement sites, by code.
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
        list_sites(
            ctx,
            filter.unwrap_or_default().into_domain(None),
            PageArgs::new(first, after, last, before),
        )
        .await
    }
}
