//! Households, their members and those members' employments, and the homesteads they left.

use super::super::access::{
    access, household_visible, member_visible, reveal, scope, sees_personal, site_visible, Personal,
};
use super::super::enums::{
    EmploymentLocation, EmploymentPath, Gender, LaborCapacity, ReclaimedUse, Relation,
};
use super::super::errors::GqlResult;
use super::super::indicators::today;
use super::super::loaders::{self, role};
use super::super::mark_personal;
use super::super::pagination::{
    connection, fetch_connection, page_request, selects, selects_records, unseal, Conn, PageArgs,
};
use super::super::scalars::{date, Date};
use super::area::Area;
use super::node::{global_id, member_id, Kind};
use super::site::ResettlementSite;
use crate::domain::pagination::memory_page;
use crate::domain::register::{
    self as reg, employment_page, EmploymentFilter, HomesteadFilter, HomesteadStatus as DomStatus,
    HouseholdFilter, MemberFilter,
};
use async_graphql::{Context, Enum, InputObject, Object, Result, ID};
use chrono::{DateTime, Utc};
use entity::{area, employment, homestead, household, member, site};

/// Record kinds as the audit log names them.
const HOUSEHOLD: &str = "household";
const MEMBER: &str = "member";
const EMPLOYMENT: &str = "employment";

/// A relocated household (搬迁户).
pub struct Household(pub household::Model);

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
        if !access(ctx)?
            .area_visible(&self.0.origin_village_code)
            .await
            .gql()?
        {
            return Ok(None);
        }
        loaders::required::<area::Entity, { role::ORIGIN_VILLAGE }>(
            ctx,
            "area",
            &self.0.origin_village_code,
        )
        .await
        .map(|a| Some(Area(a)))
    }
    /// Code of the site the household is registered to.
    async fn site_code(&self) -> &str {
        &self.0.site_code
    }
    /// The site the household is registered to; null when it lies outside what you may see
    /// (a household seen from its origin township).
    async fn site(&self, ctx: &Context<'_>) -> Result<Option<ResettlementSite>> {
        let s = loaders::required::<site::Entity, 0>(ctx, "site", &self.0.site_code).await?;
        Ok(site_visible(ctx, &s).await?.then_some(ResettlementSite(s)))
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

/// A member of a household.
pub struct Member(pub member::Model);

/// A member of a household.
#[Object]
impl Member {
    /// Opaque, stable global identifier; `node(id:)` fetches the record again. It does not
    /// reveal the ID number.
    pub(crate) async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        member_id(ctx, &self.0.id_number)
    }
    /// Resident ID number (18 characters, GB 11643; `1407**********123X` without the `pii`
    /// grant).
    async fn id_number(&self, ctx: &Context<'_>) -> String {
        reveal(
            ctx,
            MEMBER,
            &self.0.id_number,
            &self.0.id_number,
            Personal::IdNumber,
        )
    }
    /// The member's name (the surname only, `王**`, without the `pii` grant).
    async fn name(&self, ctx: &Context<'_>) -> String {
        reveal(ctx, MEMBER, &self.0.id_number, &self.0.name, Personal::Name)
    }
    /// Relation to the household head.
    async fn relation(&self) -> Relation {
        self.0.relation.into()
    }
    /// Date of birth.
    async fn birth_date(&self) -> Date {
        Date(self.0.birth_date)
    }
    /// Gender.
    async fn gender(&self) -> Gender {
        self.0.gender.into()
    }
    /// Labour capacity.
    async fn labor_capacity(&self) -> LaborCapacity {
        self.0.labor_capacity.into()
    }
    /// Code of the member's household.
    async fn household_code(&self) -> &str {
        &self.0.household_code
    }
    /// The member's household.
    async fn household(&self, ctx: &Context<'_>) -> Result<Household> {
        mark_personal(ctx);
        loaders::required::<household::Entity, 0>(ctx, "household", &self.0.household_code)
            .await
            .map(Household)
    }
    /// Revision of this record, raised by every change.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// The member's employments, oldest record first.
    #[graphql(complexity = "2 * child_complexity")]
    // Each argument is one of the field's GraphQL arguments.
    #[allow(clippy::too_many_arguments)]
    async fn employments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only employments along this path.")] path: Option<EmploymentPath>,
        #[graphql(desc = "Only employments active on this date.")] active_on: Option<Date>,
        #[graphql(desc = "Page size, 1–100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge already seen.")] after: Option<String>,
        #[graphql(
            desc = "Page size counted back from the end of the list (or from `before`), \
                          1–100; not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(desc = "Cursor of the first edge already seen: the page ends before it.")]
        before: Option<String>,
    ) -> Result<Conn<Employment>> {
        mark_personal(ctx);
        let req = page_request(PageArgs::new(first, after, last, before))?;
        let all = loaders::children::<employment::Entity>(ctx, &self.0.id_number).await?;
        let filter = EmploymentFilter {
            path: path.map(Into::into),
            active_on: active_on.map(|d| d.0),
        };
        let page = employment_page(all, &filter, &req);
        Ok(connection(page, |e| e.id.to_string(), Employment))
    }
}

/// One job held by a member.
pub struct Employment(pub employment::Model);

/// One job held by a member.
#[Object]
impl Employment {
    /// Opaque, stable global identifier; `node(id:)` fetches the record again.
    /// `endEmployment` takes it as `id`.
    pub(crate) async fn id(&self, _ctx: &Context<'_>) -> Result<ID> {
        Ok(global_id(Kind::Employment, &self.0.id.to_string()))
    }
    /// The employment's record number.
    async fn record_id(&self) -> ID {
        self.0.id.into()
    }
    /// ID number of the employed member (masked without the `pii` grant).
    async fn member_id_number(&self, ctx: &Context<'_>) -> String {
        let id = &self.0.member_id_number;
        reveal(ctx, MEMBER, id, id, Personal::IdNumber)
    }
    /// The employed member.
    async fn member(&self, ctx: &Context<'_>) -> Result<Member> {
        mark_personal(ctx);
        loaders::required::<member::Entity, 0>(ctx, "member", &self.0.member_id_number)
            .await
            .map(Member)
    }
    /// How the job was found.
    async fn path(&self) -> EmploymentPath {
        self.0.path.into()
    }
    /// The employer.
    async fn employer(&self) -> &str {
        &self.0.employer
    }
    /// Where the job is.
    async fn location(&self) -> EmploymentLocation {
        self.0.location.into()
    }
    /// First day worked.
    async fn started_on(&self) -> Date {
        Date(self.0.started_on)
    }
    /// Last day worked; null while the job goes on.
    async fn ended_on(&self) -> Option<Date> {
        date(self.0.ended_on)
    }
    /// Monthly income in yuan; null without the `pii` grant.
    async fn monthly_income_yuan(&self, ctx: &Context<'_>) -> Option<i32> {
        let income = self.0.monthly_income_yuan?;
        sees_personal(ctx, EMPLOYMENT, &self.0.id.to_string()).then_some(income)
    }
    /// Revision of this record, raised by every change.
    async fn version(&self) -> i32 {
        self.0.version
    }
}

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
pub struct Homestead(pub homestead::Model);

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
        let h = loaders::required::<household::Entity, 0>(ctx, "household", &self.0.household_code)
            .await?;
        Ok(household_visible(ctx, &h).await?.then_some(Household(h)))
    }
    /// Code of the village it stands in.
    async fn village_code(&self) -> &str {
        &self.0.village_code
    }
    /// The village it stands in; null when it lies outside what you may see.
    async fn village(&self, ctx: &Context<'_>) -> Result<Option<Area>> {
        if !access(ctx)?
            .area_visible(&self.0.village_code)
            .await
            .gql()?
        {
            return Ok(None);
        }
        loaders::required::<area::Entity, { role::HOMESTEAD_VILLAGE }>(
            ctx,
            "area",
            &self.0.village_code,
        )
        .await
        .map(|a| Some(Area(a)))
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

/// Narrows a list of members.
#[derive(InputObject, Default, Debug)]
pub struct MemberFilterInput {
    /// Only members of households resettled in this area or below it.
    pub area_code: Option<String>,
    /// Only members of households registered to this site.
    pub site_code: Option<String>,
    /// Only members with one of these labour capacities.
    pub labor_capacity: Option<Vec<LaborCapacity>>,
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
        Household,
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
    let rows: Vec<&household::Model> = conn.items().map(|h| &h.0).collect();
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
        if selects(&look, &["members"]) {
            let by_household = loaders::prefetch_children::<member::Entity>(ctx, codes()).await?;
            if selects(&look, &["members", "employments"]) {
                let ids = by_household.values().flatten().map(|m| m.id_number.clone());
                loaders::prefetch_children::<employment::Entity>(ctx, ids).await?;
            }
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
        Homestead,
    )
    .await
}

/// Household, member and homestead queries.
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
        match loaders::one::<household::Entity>(ctx, &code).await? {
            Some(h) if household_visible(ctx, &h).await? => Ok(Some(Household(h))),
            _ => Ok(None),
        }
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
    /// The member with this resident ID number, or null.
    async fn member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Resident ID number (18 characters).")] id_number: String,
    ) -> Result<Option<Member>> {
        mark_personal(ctx);
        let Some(m) = loaders::one::<member::Entity>(ctx, &id_number).await? else {
            return Ok(None);
        };
        Ok(member_visible(ctx, &m).await?.then_some(Member(m)))
    }
    /// Members, by ID number.
    #[graphql(
        complexity = "first.or(last).map(|n| n.max(0) as usize).unwrap_or(20) * child_complexity"
    )]
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<MemberFilterInput>,
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
        let f = filter.unwrap_or_default();
        let filter = MemberFilter {
            area_code: f.area_code,
            site_code: f.site_code,
            labor_capacities: f
                .labor_capacity
                .map(|v| v.into_iter().map(Into::into).collect()),
        };
        let scope = scope(ctx).await?;
        if selects_records(ctx) {
            mark_personal(ctx);
        }
        let page = unseal(ctx, PageArgs::new(first, after, last, before))?;
        fetch_connection(
            ctx,
            page,
            |db, req| async move { reg::members(&db, &scope, &filter, &req).await },
            |m| m.id_number.clone(),
            Member,
        )
        .await
        .map(Conn::sealed)
    }
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
