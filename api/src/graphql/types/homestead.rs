//! The old houses (宅基地) households left behind.

use super::super::access::scope;
use super::super::enums::ReclaimedUse;
use super::super::loaders::{self, role};
use super::super::mark_personal;
use super::super::pagination::{fetch_connection, selects_records, Conn, PageArgs};
use super::super::scalars::{date, Date};
use super::area::Area;
use super::household::Household;
use super::node::{global_id, Kind};
use crate::domain::register::{self as reg, HomesteadFilter, HomesteadStatus as DomStatus};
use async_graphql::{Context, Enum, InputObject, Object, Result, ID};
use entity::{area, homestead, household};

/// Where a homestead stands, by its recorded dates.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum HomesteadStatus {
    /// 保留: legally kept; neither demolished nor reclaimed.
    Exempt,
    /// Not exempt and not yet demolished.
    Pending,
    /// Demolished, not yet reclaimed.
    Demolished,
    /// Demolished and reclaimed.
    Reclaimed,
}

impl From<HomesteadStatus> for DomStatus {
    fn from(s: HomesteadStatus) -> Self {
        match s {
            HomesteadStatus::Exempt => DomStatus::Exempt,
            HomesteadStatus::Pending => DomStatus::Pending,
            HomesteadStatus::Demolished => DomStatus::Demolished,
            HomesteadStatus::Reclaimed => DomStatus::Reclaimed,
        }
    }
}

impl From<DomStatus> for HomesteadStatus {
    fn from(s: DomStatus) -> Self {
        match s {
            DomStatus::Exempt => HomesteadStatus::Exempt,
            DomStatus::Pending => HomesteadStatus::Pending,
            DomStatus::Demolished => HomesteadStatus::Demolished,
            DomStatus::Reclaimed => HomesteadStatus::Reclaimed,
        }
    }
}

/// An old house (宅基地) a household left behind.
pub struct Homestead(pub std::sync::Arc<homestead::Model>);

impl From<homestead::Model> for Homestead {
    fn from(model: homestead::Model) -> Self {
        Self(model.into())
    }
}

/// An old house (宅基地) a household left behind.
#[Object]
impl Homestead {
    /// Opaque, stable global identifier; `node(id:)` fetches the record again.
    /// `recordDemolition` and its kin take it as `id`.
    pub(crate) async fn id(&self, _ctx: &Context<'_>) -> Result<ID> {
        Ok(global_id(Kind::Homestead, &self.0.id.to_string()))
    }
    /// The homestead's record number.
    async fn record_id(&self) -> ID {
        self.0.id.into()
    }
    /// Code of the household that owned it.
    async fn household_code(&self) -> &str {
        &self.0.household_code
    }
    /// The household that owned it; null when it lies outside what you may see.
    async fn household(&self, ctx: &Context<'_>) -> Result<Option<Household>> {
        mark_personal(ctx);
        Ok(
            loaders::one::<household::Entity>(ctx, &self.0.household_code)
                .await?
                .map(Household),
        )
    }
    /// Code of the village it stands in.
    async fn village_code(&self) -> &str {
        &self.0.village_code
    }
    /// The village it stands in; null when it lies outside what you may see.
    async fn village(&self, ctx: &Context<'_>) -> Result<Option<Area>> {
        Ok(
            loaders::one_as::<area::Entity, { role::HOMESTEAD_VILLAGE }>(ctx, &self.0.village_code)
                .await?
                .map(Area),
        )
    }
    /// Its number among the household's homesteads in the same village, from 1 (the order
    /// of the household's rows for that village in `homesteads.csv`).
    async fn seq(&self) -> i32 {
        self.0.seq
    }
    /// Area in mu (亩).
    async fn area_mu(&self) -> f64 {
        self.0.area_mu
    }
    /// 保留: legally kept, so neither demolished nor reclaimed.
    async fn exempt(&self) -> bool {
        self.0.exempt
    }
    /// The day it was demolished.
    async fn demolished_on(&self) -> Option<Date> {
        date(self.0.demolished_on)
    }
    /// The day its land was reclaimed.
    async fn reclaimed_on(&self) -> Option<Date> {
        date(self.0.reclaimed_on)
    }
    /// What the reclaimed land became.
    async fn reclaimed_use(&self) -> Option<ReclaimedUse> {
        self.0.reclaimed_use.map(Into::into)
    }
    /// Where it stands, derived from the dates above.
    async fn status(&self) -> HomesteadStatus {
        DomStatus::of(&self.0).into()
    }
    /// Revision of this record, raised by every change.
    async fn version(&self) -> i32 {
        self.0.version
    }
}

/// Narrows a list of homesteads.
#[derive(InputObject, Default, Debug)]
pub struct HomesteadFilterInput {
    /// Only homesteads in villages of this area or below it.
    pub area_code: Option<String>,
    /// Only homesteads of this household.
    pub household_code: Option<String>,
    /// Only homesteads in this state.
    pub status: Option<HomesteadStatus>,
}

impl HomesteadFilterInput {
    pub(super) fn into_domain(self) -> HomesteadFilter {
        HomesteadFilter {
            area_codes: self.area_code.into_iter().collect(),
            household_code: self.household_code,
            status: self.status.map(Into::into),
        }
    }
}

pub(super) async fn list_homesteads(
    ctx: &Context<'_>,
    filter: HomesteadFilter,
    page: PageArgs,
) -> Result<Conn<Homestead>> {
    if selects_records(ctx) {
        mark_personal(ctx);
    }
    let scope = scope(ctx).await?;
    fetch_connection(
        ctx,
        page,
        |db, req| async move { reg::homesteads(&db, &scope, &filter, &req).await },
        |h| h.id.to_string(),
        Homestead::from,
    )
    .await
}

/// Homestead queries.
#[derive(Default)]
pub struct HomesteadQuery;

#[Object]
impl HomesteadQuery {
    /// Homesteads, by record order.
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
        list_homesteads(
            ctx,
            filter.unwrap_or_default().into_domain(),
            PageArgs::new(first, after, last, before),
        )
        .await
    }
}
