//! Households: the relocated families of the register.

use super::super::access::{reveal, scope, Personal};
use super::super::enums::LaborCapacity;
use super::super::indicators::today;
use super::super::loaders::{self, role};
use super::super::mark_personal;
use super::super::pagination::{
    connection, fetch_connection, page_request, selects, selects_records, unseal, Conn, PageArgs,
};
use super::super::scalars::{date, Date};
use super::area::Area;
use super::homestead::{Homestead, HomesteadStatus};
use super::member::Member;
use super::node::{global_id, Kind};
use super::site::ResettlementSite;
use crate::domain::pagination::memory_page;
use crate::domain::register::{self as reg, HomesteadStatus as DomStatus, HouseholdFilter};
use async_graphql::{Context, InputObject, Object, Result, ID};
use chrono::{DateTime, Utc};
use entity::{area, homestead, household, member, site};

/// Record kinds as the audit log names them.
const HOUSEHOLD: &str = "household";

/// A relocated household (搬迁户).
pub struct Household(pub std::sync::Arc<household::Model>);

impl From<household::Model> for Household {
    fn from(model: household::Model) -> Self {
        Self(model.into())
    }
}

/// A relocated household (搬迁户).
#[Object]
impl Household {
    /// Opaque, stable global identifier; `node(id:)` fetches the record again.
    pub(crate) async fn id(&self, _ctx: &Context<'_>) -> Result<ID> {
        Ok(global_id(Kind::Household, &self.0.code))
    }
    /// 建档立卡户编号: the household's register number.
    async fn code(&self) -> &str {
        &self.0.code
    }
    /// Name of the household head (masked to the surname, `王**`, without the `pii` grant).
    async fn head_name(&self, ctx: &Context<'_>) -> String {
        reveal(
            ctx,
            HOUSEHOLD,
            &self.0.code,
            &self.0.head_name,
            Personal::Name,
        )
    }
    /// Resident ID number of the household head (18 characters; `1407**********123X` without
    /// the `pii` grant).
    async fn head_id_number(&self, ctx: &Context<'_>) -> String {
        reveal(
            ctx,
            HOUSEHOLD,
            &self.0.code,
            &self.0.head_id_number,
            Personal::IdNumber,
        )
    }
    /// Contact phone number (`138****5678` without the `pii` grant).
    async fn phone(&self, ctx: &Context<'_>) -> Option<String> {
        let phone = self.0.phone.as_deref()?;
        Some(reveal(ctx, HOUSEHOLD, &self.0.code, phone, Personal::Phone))
    }
    /// Code of the village the household moved out of.
    async fn origin_village_code(&self) -> &str {
        &self.0.origin_village_code
    }
    /// The village the household moved out of; null when it lies outside what you may see.
    async fn origin_village(&self, ctx: &Context<'_>) -> Result<Option<Area>> {
        Ok(loaders::one_as::<area::Entity, { role::ORIGIN_VILLAGE }>(
            ctx,
            &self.0.origin_village_code,
        )
        .await?
        .map(Area))
    }
    /// Code of the site the household is registered to.
    async fn site_code(&self) -> &str {
        &self.0.site_code
    }
    /// The site the household is registered to; null when it lies outside what you may see
    /// (a household seen from its origin township).
    async fn site(&self, ctx: &Context<'_>) -> Result<Option<ResettlementSite>> {
        Ok(loaders::one::<site::Entity>(ctx, &self.0.site_code)
            .await?
            .map(ResettlementSite))
    }
    /// Number of people in the household.
    async fn persons(&self) -> i32 {
        self.0.persons
    }
    /// 建档立卡贫困户 (true) or 同步搬迁户 (false).
    async fn registered_poor(&self) -> bool {
        self.0.registered_poor
    }
    /// The day the household moved in; null until it has.
    async fn moved_in_on(&self) -> Option<Date> {
        date(self.0.moved_in_on)
    }
    /// The day the household exited poverty.
    async fn poverty_exit_on(&self) -> Option<Date> {
        date(self.0.poverty_exit_on)
    }
    /// The day the household fell back into poverty.
    async fn relapsed_on(&self) -> Option<Date> {
        date(self.0.relapsed_on)
    }
    /// Revision of this record, raised by every change.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// When this record was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Why the household is on a watch list on `asOf` (today by default), and since when; ask it
    /// of the households `watchList` returns, with the same `kind` and `asOf`.
    async fn watch(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The list.")] kind: super::drilldown::WatchKind,
        #[graphql(desc = "The date to judge on; defaults to today (China Standard Time).")]
        as_of: Option<Date>,
    ) -> Result<super::drilldown::WatchEntry> {
        super::drilldown::watch_entry(ctx, &self.0, kind, as_of).await
    }
    /// The household's members, by ID number.
    #[graphql(complexity = "5 * child_complexity")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only members with one of these labour capacities.")]
        labor_capacity: Option<Vec<LaborCapacity>>,
        #[graphql(desc = "Page size, 1–100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge already seen.")] after: Option<String>,
        #[graphql(
            desc = "Page size counted back from the end of the list (or from `before`), \
                          1–100; not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(desc = "Cursor of the first edge already seen: the page ends before it.")]
        before: Option<String>,
    ) -> Result<Conn<Member>> {
        mark_personal(ctx);
        let req = page_request(unseal(ctx, PageArgs::new(first, after, last, before))?)?;
        let mut members = loaders::children::<member::Entity>(ctx, &self.0.code).await?;
        if let Some(caps) = labor_capacity {
            let caps: Vec<entity::enums::LaborCapacity> =
                caps.into_iter().map(Into::into).collect();
            members.retain(|m| caps.contains(&m.labor_capacity));
        }
        let page = memory_page(members, |m| m.id_number.clone(), &req);
        Ok(connection(page, |m| m.id_number.clone(), Member).sealed())
    }
    /// The homesteads the household left, wherever they are.
    #[graphql(complexity = "2 * child_complexity")]
    async fn homesteads(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only homesteads in this state.")] status: Option<HomesteadStatus>,
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
        mark_personal(ctx);
        let req = page_request(PageArgs::new(first, after, last, before))?;
        let mut homesteads = loaders::children::<homestead::Entity>(ctx, &self.0.code).await?;
        if let Some(s) = status {
            let s: DomStatus = s.into();
            homesteads.retain(|h| DomStatus::of(h) == s);
        }
        let page = memory_page(homesteads, |h| h.id, &req);
        Ok(connection(page, |h| h.id.to_string(), Homestead))
    }
}

/// Narrows a list of households.
#[derive(InputObject, Default, Debug)]
pub struct HouseholdFilterInput {
    /// Only households resettled at sites in this area or below it.
    pub area_code: Option<String>,
    /// Only households registered to this site.
    pub site_code: Option<String>,
    /// Only households that came from villages in this area or below it (a village code
    /// selects that one village).
    pub origin_area_code: Option<String>,
    /// Only households moved in by `asOf` (true) or not yet moved in (false).
    pub moved_in: Option<bool>,
    /// Only registered-poor households (true) or only 同步搬迁户 (false).
    pub registered_poor: Option<bool>,
    /// The date `movedIn` is judged on; defaults to today.
    pub as_of: Option<Date>,
}

impl HouseholdFilterInput {
    pub(super) fn into_domain(self) -> HouseholdFilter {
        HouseholdFilter {
            area_codes: self.area_code.into_iter().collect(),
            site_codes: self.site_code.into_iter().collect(),
            origin_area_codes: self.origin_area_code.into_iter().collect(),
            moved_in: self.moved_in,
            registered_poor: self.registered_poor,
            as_of: self.as_of.map(|d| d.0).unwrap_or_else(today),
        }
    }
}

pub(super) async fn list_households(
    ctx: &Context<'_>,
    filter: HouseholdFilter,
    page: PageArgs,
) -> Result<Conn<Household>> {
    if selects_records(ctx) {
        mark_personal(ctx);
    }
    let scope = scope(ctx).await?;
    let conn = fetch_connection(
        ctx,
        page,
        |db, req| async move { reg::households(&db, &scope, &filter, &req).await },
        |h| h.code.clone(),
        Household::from,
    )
    .await?;
    prefetch_households(ctx, &conn).await?;
    Ok(conn)
}

/// Loads, one statement per kind, what the selection asks of a page of households: sites,
/// origin villages, members and their employments, homesteads and their villages. The rows'
/// resolvers then find everything in the request's loaders, so a page costs the same few
/// statements however its resolvers interleave with other requests'.
async fn prefetch_households(ctx: &Context<'_>, conn: &Conn<Household>) -> Result<()> {
    use futures::future::try_join3;
    let rows: Vec<&household::Model> = conn.items().map(|h| &*h.0).collect();
    if rows.is_empty() {
        return Ok(());
    }
    let look = ctx.look_ahead();
    let codes = || rows.iter().map(|h| h.code.clone());
    let sites = async {
        if selects(&look, &["site"]) {
            let sites =
                loaders::prefetch::<site::Entity, 0>(ctx, rows.iter().map(|h| h.site_code.clone()))
                    .await?;
            let township = |records: async_graphql::Lookahead<'_>| {
                records.field("site").field("township").exists()
            };
            if township(look.field("nodes")) || township(look.field("edges").field("node")) {
                let townships = sites.values().map(|s| s.township_code.clone());
                loaders::prefetch::<area::Entity, { role::TOWNSHIP }>(ctx, townships).await?;
            }
        }
        Ok::<_, async_graphql::Error>(())
    };
    let villages = async {
        if selects(&look, &["originVillage"]) {
            loaders::prefetch::<area::Entity, { role::ORIGIN_VILLAGE }>(
                ctx,
                rows.iter().map(|h| h.origin_village_code.clone()),
            )
            .await?;
        }
        Ok(())
    };
    let members = async {
        if selects(&look, &["members", "employments"]) {
            loaders::prefetch_members_with_employments(ctx, codes()).await?;
        } else if selects(&look, &["members"]) {
            loaders::prefetch_children::<member::Entity>(ctx, codes()).await?;
        }
        if selects(&look, &["homesteads"]) {
            let by_household =
                loaders::prefetch_children::<homestead::Entity>(ctx, codes()).await?;
            if selects(&look, &["homesteads", "village"]) {
                let villages = by_household
                    .values()
                    .flatten()
                    .map(|h| h.village_code.clone());
                loaders::prefetch::<area::Entity, { role::HOMESTEAD_VILLAGE }>(ctx, villages)
                    .await?;
            }
        }
        Ok(())
    };
    try_join3(sites, villages, members).await?;
    Ok(())
}

/// Household queries.
#[derive(Default)]
pub struct HouseholdQuery;

#[Object]
impl HouseholdQuery {
    /// The household with this register number, or null.
    async fn household(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "建档立卡户编号: the household's register number.")] code: String,
    ) -> Result<Option<Household>> {
        mark_personal(ctx);
        Ok(loaders::one::<household::Entity>(ctx, &code)
            .await?
            .map(Household))
    }
    /// Households, by code.
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
        list_households(
            ctx,
            filter.unwrap_or_default().into_domain(),
            PageArgs::new(first, after, last, before),
        )
        .await
    }
}
