//! Drill-down and watch lists (CONTRACT §7): the records behind a figure, and the households to
//! follow up on.

use super::super::errors::GqlResult;
use super::super::indicators::{today, ScopeInput};
use super::super::loaders;
use super::super::mark_personal;
use super::super::pagination::{connection, page_request, selects_records, unseal, Conn, PageArgs};
use super::super::reads::Request;
use super::super::scalars::Date;
use super::homestead::Homestead;
use super::household::Household;
use super::member::Member;
use super::node::Node;
use super::period::Indicator;
use super::site::{ResettlementSite, SiteWork};
use crate::domain::drilldown::{self as dom, Listing};
use crate::domain::watch::{self, WatchSettings};
use async_graphql::{Context, Enum, Object, Result, SimpleObject};
use entity::{employment, member};

/// Which part of a ratio to list.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatioPart {
    /// What the ratio counts.
    Numerator,
    /// What it is counted out of.
    Denominator,
    /// In the denominator, not in the numerator: what is still to do.
    Gap,
}

impl From<RatioPart> for dom::Part {
    fn from(p: RatioPart) -> Self {
        match p {
            RatioPart::Numerator => dom::Part::Numerator,
            RatioPart::Denominator => dom::Part::Denominator,
            RatioPart::Gap => dom::Part::Gap,
        }
    }
}

/// A watch list of households to follow up on.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchKind {
    /// 零就业家庭 (动态清零): households with at least one laborer and no laborer employed.
    ZeroEmployment,
    /// Households whose active employments' monthly incomes × 12 ÷ persons fall below the
    /// configured line (default 6,000 yuan a year).
    LowIncome,
    /// 返贫: registered-poor households fallen back into poverty by `asOf`.
    Relapsed,
    /// Households with a laborer whose employment ended in the 90 days up to `asOf` and who holds
    /// none on `asOf`.
    JobLost,
}

impl From<WatchKind> for watch::WatchKind {
    fn from(k: WatchKind) -> Self {
        match k {
            WatchKind::ZeroEmployment => watch::WatchKind::ZeroEmployment,
            WatchKind::LowIncome => watch::WatchKind::LowIncome,
            WatchKind::Relapsed => watch::WatchKind::Relapsed,
            WatchKind::JobLost => watch::WatchKind::JobLost,
        }
    }
}

/// Why a household is on a watch list, and since when.
#[derive(SimpleObject, Debug, Clone)]
pub struct WatchEntry {
    /// The list.
    pub kind: WatchKind,
    /// The facts that put it there, one sentence each.
    pub reasons: Vec<String>,
    /// Since when they have held, where the register tells.
    pub since: Option<Date>,
}

/// Why `household` is on `kind`'s list on `as_of` (its members and employments through the
/// request's loaders).
pub(crate) async fn watch_entry(
    ctx: &Context<'_>,
    household: &entity::household::Model,
    kind: WatchKind,
    as_of: Option<Date>,
) -> Result<WatchEntry> {
    mark_personal(ctx);
    let as_of = as_of.map(|d| d.0).unwrap_or_else(today);
    let settings = ctx.data_opt::<WatchSettings>().copied().unwrap_or_default();
    let members = loaders::children::<member::Entity>(ctx, &household.code).await?;
    let mut jobs = Vec::with_capacity(members.len());
    for m in &members {
        jobs.push(loaders::children::<employment::Entity>(ctx, &m.id_number).await?);
    }
    let pairs: Vec<(&member::Model, Vec<&employment::Model>)> = members
        .iter()
        .zip(&jobs)
        .map(|(m, js)| (m.as_ref(), js.iter().map(|j| j.as_ref()).collect()))
        .collect();
    let entry = watch::explain(kind.into(), as_of, settings, household, &pairs);
    Ok(WatchEntry {
        kind,
        reasons: entry.reasons,
        since: entry.since.map(Date),
    })
}

/// Drill-down and watch-list queries.
#[derive(Default)]
pub struct DrillDownQuery;

#[Object]
impl DrillDownQuery {
    /// The records a ratio counts on `asOf` (today by default): sites (CONSTRUCTION_COMPLETION),
    /// works (WORKS_COMPLETION), households (OCCUPANCY, OCCUPANCY_PERSONS, STABLE_POVERTY_EXIT,
    /// HOUSEHOLD_EMPLOYMENT), members (EMPLOYMENT) or homesteads (DEMOLITION, RECLAMATION), by
    /// key. `totalCount` equals the ratio's numerator, denominator or gap; for OCCUPANCY_PERSONS
    /// it counts the households whose `persons` add up to them. `NOT_FOUND` for a scope that is
    /// unknown or outside what you may see.
    #[graphql(
        complexity = "first.map(|n| n.max(0) as usize).unwrap_or(20) * child_complexity + 10"
    )]
    // Each argument is one of the field's GraphQL arguments.
    #[allow(clippy::too_many_arguments)]
    async fn drill_down(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The area or site of the figure.")] scope: ScopeInput,
        #[graphql(desc = "The date of the figure; defaults to today (China Standard Time).")]
        as_of: Option<Date>,
        #[graphql(desc = "The figure.")] indicator: Indicator,
        #[graphql(desc = "Which part of the ratio to list.")] part: RatioPart,
        #[graphql(desc = "Page size, 1–100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge already seen.")] after: Option<String>,
    ) -> Result<Conn<Node>> {
        let indicator: crate::domain::periods::Indicator = indicator.into();
        let target = scope.into();
        let as_of = as_of.map(|d| d.0).unwrap_or_else(today);
        let def = dom::definition(indicator, &target);
        let members = def.table == dom::Table::Members;
        let args = PageArgs::new(first, after, None, None);
        let args = if members { unseal(ctx, args)? } else { args };
        let mut req = page_request(args)?;
        req.count_only = !selects_records(ctx);
        if !req.count_only && def.table != dom::Table::Sites && def.table != dom::Table::Works {
            mark_personal(ctx);
        }
        let request = Request::of(ctx).await?;
        let listing = dom::drill_down(
            &request.reads()?,
            &target,
            as_of,
            indicator,
            part.into(),
            &req,
        )
        .await
        .gql()?;
        Ok(match listing {
            Listing::Sites(p) => connection(
                p,
                |s| s.code.clone(),
                |s| Node::ResettlementSite(ResettlementSite::from(s)),
            ),
            Listing::Works(p) => connection(
                p,
                |w| w.code.clone(),
                |w| Node::SiteWork(SiteWork(w.into())),
            ),
            Listing::Households(p) => connection(
                p,
                |h| h.code.clone(),
                |h| Node::Household(Household::from(h)),
            ),
            Listing::Members(p) => connection(
                p,
                |m| m.id_number.clone(),
                |m| Node::Member(Member(m.into())),
            )
            .sealed(),
            Listing::Homesteads(p) => connection(
                p,
                |h| h.id.to_string(),
                |h| Node::Homestead(Homestead(h.into())),
            ),
        })
    }

    /// The households on a watch list on `asOf` (today by default), by code; ask each for
    /// `watch(kind:, asOf:)` to learn why and since when. `NOT_FOUND` for a scope that is
    /// unknown or outside what you may see.
    #[graphql(
        complexity = "first.map(|n| n.max(0) as usize).unwrap_or(20) * child_complexity + 10"
    )]
    async fn watch_list(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The area or site whose resettled households to list.")] scope: ScopeInput,
        #[graphql(desc = "The date to judge on; defaults to today (China Standard Time).")]
        as_of: Option<Date>,
        #[graphql(desc = "The list.")] kind: WatchKind,
        #[graphql(desc = "Page size, 1–100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge already seen.")] after: Option<String>,
    ) -> Result<Conn<Household>> {
        let target = scope.into();
        let as_of = as_of.map(|d| d.0).unwrap_or_else(today);
        let mut req = page_request(PageArgs::new(first, after, None, None))?;
        req.count_only = !selects_records(ctx);
        if !req.count_only {
            mark_personal(ctx);
        }
        let settings = ctx.data_opt::<WatchSettings>().copied().unwrap_or_default();
        let request = Request::of(ctx).await?;
        let page = watch::list(
            &request.reads()?,
            &target,
            as_of,
            kind.into(),
            settings,
            &req,
        )
        .await
        .gql()?;
        Ok(connection(page, |h| h.code.clone(), Household::from))
    }
}
