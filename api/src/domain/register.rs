//! Finding records of the register: lookups by key and filtered, paged lists.

use super::pagination::{keyset_page, memory_page, KeyKind, Page, PageRequest};
use chrono::NaiveDate;
use entity::enums::{AreaLevel, EmploymentPath, LaborCapacity, Placement, SiteSetting};
use entity::{area, employment, homestead, household, member, site};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    QueryFilter,
};

use super::scope::{sites_in, subtree, Scope};

/// Which areas to list.
#[derive(Debug, Clone, Default)]
pub struct AreaFilter {
    /// Direct children of this area.
    pub parent_code: Option<String>,
    /// Anywhere in this area's subtree (the area itself included).
    pub within: Option<String>,
    pub level: Option<AreaLevel>,
    pub poverty_village: Option<bool>,
    pub whole_village_relocation: Option<bool>,
}

/// Areas matching `filter`, by code.
pub async fn areas(
    db: &DatabaseConnection,
    scope: &Scope,
    filter: &AreaFilter,
    req: &PageRequest,
) -> Result<Page<area::Model>, DbErr> {
    let mut q = area::Entity::find();
    if let Some(p) = &filter.parent_code {
        q = q.filter(area::Column::ParentCode.eq(p.clone()));
    }
    if let Some(w) = &filter.within {
        q = q.filter(area::Column::Code.in_subquery(subtree(w)));
    }
    if let Some(l) = filter.level {
        q = q.filter(area::Column::Level.eq(l));
    }
    if let Some(b) = filter.poverty_village {
        q = q.filter(area::Column::PovertyVillage.eq(b));
    }
    if let Some(b) = filter.whole_village_relocation {
        q = q.filter(area::Column::WholeVillageRelocation.eq(b));
    }
    q = q.filter(scope.areas());
    keyset_page(db, q, area::Column::Code, KeyKind::Text, req).await
}

/// Which sites to list.
#[derive(Debug, Clone, Default)]
pub struct SiteFilter {
    /// Sites located in each of these areas' subtrees.
    pub area_codes: Vec<String>,
    pub placement: Option<Placement>,
    pub setting: Option<SiteSetting>,
}

/// Sites matching `filter`, by code.
pub async fn sites(
    db: &DatabaseConnection,
    scope: &Scope,
    filter: &SiteFilter,
    req: &PageRequest,
) -> Result<Page<site::Model>, DbErr> {
    let mut q = site::Entity::find();
    for a in &filter.area_codes {
        q = q.filter(site::Column::TownshipCode.in_subquery(subtree(a)));
    }
    if let Some(p) = filter.placement {
        q = q.filter(site::Column::Placement.eq(p));
    }
    if let Some(s) = filter.setting {
        q = q.filter(site::Column::Setting.eq(s));
    }
    q = q.filter(scope.sites());
    keyset_page(db, q, site::Column::Code, KeyKind::Text, req).await
}

/// Which households to list.
#[derive(Debug, Clone)]
pub struct HouseholdFilter {
    /// Households whose site lies in each of these areas' subtrees.
    pub area_codes: Vec<String>,
    /// Households registered to each of these sites (two different codes match nothing).
    pub site_codes: Vec<String>,
    /// Households whose origin village lies in each of these areas' subtrees.
    pub origin_area_codes: Vec<String>,
    pub moved_in: Option<bool>,
    pub registered_poor: Option<bool>,
    /// The date `moved_in` is judged on.
    pub as_of: NaiveDate,
}

/// Households matching `filter`, by code.
pub async fn households(
    db: &DatabaseConnection,
    scope: &Scope,
    filter: &HouseholdFilter,
    req: &PageRequest,
) -> Result<Page<household::Model>, DbErr> {
    use household::Column as H;
    let mut q = household::Entity::find();
    for a in &filter.area_codes {
        q = q.filter(H::SiteCode.in_subquery(sites_in(a)));
    }
    for s in &filter.site_codes {
        q = q.filter(H::SiteCode.eq(s.clone()));
    }
    for o in &filter.origin_area_codes {
        q = q.filter(H::OriginVillageCode.in_subquery(subtree(o)));
    }
    if let Some(moved) = filter.moved_in {
        let moved_cond = Condition::all()
            .add(H::MovedInOn.is_not_null())
            .add(H::MovedInOn.lte(filter.as_of));
        q = q.filter(if moved { moved_cond } else { moved_cond.not() });
    }
    if let Some(p) = filter.registered_poor {
        q = q.filter(H::RegisteredPoor.eq(p));
    }
    q = q.filter(scope.households());
    keyset_page(db, q, H::Code, KeyKind::Text, req).await
}

/// How many of the households the caller sees are registered to each of `sites`: one grouped
/// statement for all of them, kept in the aggregate cache as one entry until the next write
/// (`generations` are those of [`household_counts_depend_on`]). Every site asked for gets a
/// count, zero when none of its households are seen.
pub async fn household_counts(
    db: &DatabaseConnection,
    cache: &crate::cache::Cache,
    generations: &[crate::cache::Generation],
    scope: &Scope,
    sites: &[String],
) -> Result<std::collections::HashMap<String, u64>, DbErr> {
    use household::Column as H;
    use sea_orm::{QuerySelect, QueryTrait};
    let mut sites: Vec<String> = sites.to_vec();
    sites.sort_unstable();
    sites.dedup();
    let stmt = household::Entity::find()
        .select_only()
        .column(H::SiteCode)
        .column_as(
            Expr::expr(sea_orm::sea_query::Func::count(Expr::col(H::Code))),
            "n",
        )
        .filter(H::SiteCode.is_in(sites.iter().cloned()))
        .filter(scope.households())
        .group_by(H::SiteCode)
        .build(db.get_database_backend());
    let key = super::pagination::StatementKey::<Vec<(String, i64)>>::new("household-counts", &stmt);
    let counted = cache
        .get_or_compute(&key, generations, || async {
            let rows = db.query_all_raw(stmt.clone()).await?;
            rows.iter()
                .map(|row| Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?)))
                .collect::<Result<Vec<(String, i64)>, DbErr>>()
        })
        .await?;
    let mut counts: std::collections::HashMap<String, u64> =
        sites.into_iter().map(|s| (s, 0)).collect();
    for (site, n) in counted {
        counts.insert(site, u64::try_from(n).unwrap_or(0));
    }
    Ok(counts)
}

/// What [`household_counts`] depend on: any write may move a household.
pub fn household_counts_depend_on() -> Vec<crate::cache::GenScope> {
    vec![crate::cache::GenScope::Register]
}

/// Which members to list.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    /// Members of households whose site lies in this area's subtree.
    pub area_code: Option<String>,
    pub site_code: Option<String>,
    pub labor_capacities: Option<Vec<LaborCapacity>>,
}

/// Members matching `filter`, by ID number.
pub async fn members(
    db: &DatabaseConnection,
    scope: &Scope,
    filter: &MemberFilter,
    req: &PageRequest,
) -> Result<Page<member::Model>, DbErr> {
    use member::Column as M;
    let mut q = member::Entity::find();
    if let Some(a) = &filter.area_code {
        let hh = Query::select()
            .column(household::Column::Code)
            .from(household::Entity)
            .and_where(Expr::col(household::Column::SiteCode).in_subquery(sites_in(a)))
            .to_owned();
        q = q.filter(M::HouseholdCode.in_subquery(hh));
    }
    if let Some(s) = &filter.site_code {
        let hh = Query::select()
            .column(household::Column::Code)
            .from(household::Entity)
            .and_where(Expr::col(household::Column::SiteCode).eq(s.clone()))
            .to_owned();
        q = q.filter(M::HouseholdCode.in_subquery(hh));
    }
    if let Some(caps) = &filter.labor_capacities {
        q = q.filter(M::LaborCapacity.is_in(caps.iter().copied()));
    }
    q = q.filter(scope.members());
    keyset_page(db, q, M::IdNumber, KeyKind::Text, req).await
}

/// Where a homestead stands in demolition and reclamation, by its recorded dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HomesteadStatus {
    /// Legally kept: neither demolished nor reclaimed.
    Exempt,
    /// Not exempt, not yet demolished.
    Pending,
    /// Demolished, not yet reclaimed.
    Demolished,
    /// Demolished and reclaimed.
    Reclaimed,
}

impl HomesteadStatus {
    /// The status of one homestead.
    pub fn of(h: &homestead::Model) -> Self {
        if h.exempt {
            HomesteadStatus::Exempt
        } else if h.reclaimed_on.is_some() {
            HomesteadStatus::Reclaimed
        } else if h.demolished_on.is_some() {
            HomesteadStatus::Demolished
        } else {
            HomesteadStatus::Pending
        }
    }

    fn condition(self) -> Condition {
        use homestead::Column as S;
        match self {
            HomesteadStatus::Exempt => Condition::all().add(S::Exempt.eq(true)),
            HomesteadStatus::Pending => Condition::all()
                .add(S::Exempt.eq(false))
                .add(S::DemolishedOn.is_null()),
            HomesteadStatus::Demolished => Condition::all()
                .add(S::Exempt.eq(false))
                .add(S::DemolishedOn.is_not_null())
                .add(S::ReclaimedOn.is_null()),
            HomesteadStatus::Reclaimed => Condition::all()
                .add(S::Exempt.eq(false))
                .add(S::ReclaimedOn.is_not_null()),
        }
    }
}

/// Which homesteads to list.
#[derive(Debug, Clone, Default)]
pub struct HomesteadFilter {
    /// Homesteads whose village lies in each of these areas' subtrees.
    pub area_codes: Vec<String>,
    pub household_code: Option<String>,
    pub status: Option<HomesteadStatus>,
}

/// Homesteads matching `filter`, by id.
pub async fn homesteads(
    db: &DatabaseConnection,
    scope: &Scope,
    filter: &HomesteadFilter,
    req: &PageRequest,
) -> Result<Page<homestead::Model>, DbErr> {
    use homestead::Column as S;
    let mut q = homestead::Entity::find();
    for a in &filter.area_codes {
        q = q.filter(S::VillageCode.in_subquery(subtree(a)));
    }
    if let Some(h) = &filter.household_code {
        q = q.filter(S::HouseholdCode.eq(h.clone()));
    }
    if let Some(s) = filter.status {
        q = q.filter(s.condition());
    }
    q = q.filter(scope.homesteads());
    keyset_page(db, q, S::Id, KeyKind::Integer, req).await
}

/// Which employments to keep.
#[derive(Debug, Clone, Default)]
pub struct EmploymentFilter {
    pub path: Option<EmploymentPath>,
    /// Only employments active on this date (started on or before it, not ended before it).
    pub active_on: Option<NaiveDate>,
}

impl EmploymentFilter {
    /// Whether one employment passes the filter.
    pub fn matches(&self, e: &employment::Model) -> bool {
        self.path.is_none_or(|p| e.path == p)
            && self
                .active_on
                .is_none_or(|d| e.started_on <= d && e.ended_on.is_none_or(|end| end >= d))
    }
}

/// Pages a member's employments (already loaded), filtered.
pub fn employment_page<E: std::borrow::Borrow<employment::Model>>(
    all: Vec<E>,
    filter: &EmploymentFilter,
    req: &PageRequest,
) -> Page<E> {
    let kept = all
        .into_iter()
        .filter(|e| filter.matches(e.borrow()))
        .collect();
    memory_page(kept, |e| e.borrow().id, req)
}

/// Which audit entries to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub entity: Option<String>,
    pub entity_key: Option<String>,
    /// Only entries at or after this time.
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only entries before this time.
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

/// Audit entries matching `filter`, oldest first (by id, the order they were written in).
pub async fn audit_entries(
    db: &DatabaseConnection,
    scope: &Scope,
    filter: &AuditFilter,
    req: &PageRequest,
) -> Result<Page<entity::audit_log::Model>, DbErr> {
    use entity::audit_log::{Column as A, Entity};
    let mut q = Entity::find().filter(scope.audit_entries());
    for (column, value) in [
        (A::Actor, &filter.actor),
        (A::Action, &filter.action),
        (A::Entity, &filter.entity),
    ] {
        if let Some(v) = value {
            q = q.filter(column.eq(v.clone()));
        }
    }
    if let Some(key) = &filter.entity_key {
        // The entry's one record, or one of the records a read entry lists.
        let listed = match db.get_database_backend() {
            DbBackend::Postgres => {
                // `audit_entity_keys` is the indexed function of the migration that added the
                // lists. (No square brackets: the query builder reads them as quoting.)
                "(entity_keys IS NOT NULL AND audit_entity_keys(entity_keys) @> ARRAY(SELECT CAST($1 AS text)))"
            }
            _ => {
                "(entity_keys IS NOT NULL AND EXISTS (SELECT 1 FROM json_each(entity_keys) WHERE json_each.value = ?))"
            }
        };
        q = q.filter(
            Condition::any()
                .add(A::EntityKey.eq(key.clone()))
                .add(Expr::cust_with_values(listed, [key.clone()])),
        );
    }
    if let Some(from) = filter.from {
        q = q.filter(A::At.gte(from));
    }
    if let Some(to) = filter.to {
        q = q.filter(A::At.lt(to));
    }
    keyset_page(db, q, A::Id, KeyKind::Integer, req).await
}
