//! Reporting periods and monthly bulletins (逐月通报, CONTRACT §6): `reportingPeriod`,
//! `bulletin`, and their types. See [`crate::domain::periods`] for the workflow and the lock.

use super::super::access::{access, scope};
use super::super::errors::{coded, GqlResult};
use super::super::indicators::{IndicatorSet, Ratio};
use super::super::loaders;
use super::super::reads::Request;
use super::super::scalars::Date;
use super::area::Area;
use crate::domain::indicators::{read, Target};
use crate::domain::periods::{self as dom, Month, Standing};
use crate::error::{Code, Error};
use async_graphql::{Context, Enum, Object, Result};
use chrono::{DateTime, Utc};
use entity::area;
use sea_orm::DatabaseConnection;

/// Where an area's month stands in the reporting workflow.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodState {
    /// Not submitted, or returned: the month's figures may still change.
    Open,
    /// Submitted by the township, waiting for the county's approval.
    Submitted,
    /// Approved: the figures of the area as of every day of the month are locked, and a
    /// bulletin was published.
    Approved,
}

impl From<dom::PeriodState> for PeriodState {
    fn from(s: dom::PeriodState) -> Self {
        match s {
            dom::PeriodState::Open => PeriodState::Open,
            dom::PeriodState::Submitted => PeriodState::Submitted,
            dom::PeriodState::Approved => PeriodState::Approved,
        }
    }
}

/// An assessment indicator that bulletins rank areas by.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indicator {
    /// 工程竣工率
    ConstructionCompletion,
    /// 配套工程完成率
    WorksCompletion,
    /// 搬迁入住率 (户)
    Occupancy,
    /// 搬迁入住率 (人)
    OccupancyPersons,
    /// 稳定脱贫率
    StablePovertyExit,
    /// 劳动力就业率
    Employment,
    /// 有劳动力家庭就业覆盖率 (一户一人)
    HouseholdEmployment,
    /// 旧房拆除率
    Demolition,
    /// 拆除复垦率
    Reclamation,
}

impl From<Indicator> for dom::Indicator {
    fn from(i: Indicator) -> Self {
        match i {
            Indicator::ConstructionCompletion => dom::Indicator::ConstructionCompletion,
            Indicator::WorksCompletion => dom::Indicator::WorksCompletion,
            Indicator::Occupancy => dom::Indicator::Occupancy,
            Indicator::OccupancyPersons => dom::Indicator::OccupancyPersons,
            Indicator::StablePovertyExit => dom::Indicator::StablePovertyExit,
            Indicator::Employment => dom::Indicator::Employment,
            Indicator::HouseholdEmployment => dom::Indicator::HouseholdEmployment,
            Indicator::Demolition => dom::Indicator::Demolition,
            Indicator::Reclamation => dom::Indicator::Reclamation,
        }
    }
}

/// A month as the API takes it: `BAD_USER_INPUT` naming the argument when it is not `YYYY-MM`.
pub(crate) fn month_arg(text: &str) -> Result<Month> {
    Month::parse(text).map_err(|reason| coded(format!("`month`: {reason}"), Code::BadUserInput))
}

/// One area's month in the reporting workflow.
pub struct ReportingPeriod {
    pub area_code: String,
    pub month: Month,
    pub state: dom::PeriodState,
}

impl ReportingPeriod {
    /// What the caller may do with the month, read now.
    async fn rights(&self, ctx: &Context<'_>) -> Result<dom::Rights> {
        let Some(principal) = access(ctx)?.principal() else {
            return Err(coded(
                "credentials are required to read reporting periods",
                Code::Unauthenticated,
            ));
        };
        let db = ctx.data::<DatabaseConnection>()?;
        let scope = scope(ctx).await?;
        let Some((_, situation)) = dom::read_period(db, &scope, &self.area_code, self.month)
            .await
            .map_err(Error::Database)
            .gql()?
        else {
            return Err(coded(
                format!("area `{}` was not found", self.area_code),
                Code::NotFound,
            ));
        };
        let standing = if principal.area_code == self.area_code {
            Standing::Own
        } else {
            Standing::Below
        };
        Ok(situation.rights(principal.role.as_str(), standing))
    }
}

/// One area's month in the reporting workflow: townships submit, the county approves (and
/// then its own month, once all its townships' are), and an approved month locks the area's
/// figures as of every day in it.
#[Object]
impl ReportingPeriod {
    /// The area reporting.
    async fn area(&self, ctx: &Context<'_>) -> Result<Area> {
        loaders::one::<area::Entity>(ctx, &self.area_code)
            .await?
            .map(Area)
            .ok_or_else(|| {
                coded(
                    format!("area `{}` was not found", self.area_code),
                    Code::NotFound,
                )
            })
    }
    /// The month, `YYYY-MM`.
    async fn month(&self) -> String {
        self.month.to_string()
    }
    /// Where the month stands.
    async fn state(&self) -> PeriodState {
        self.state.into()
    }
    /// Whether you may submit the month now (a township's own officers and admins, an OPEN
    /// month).
    async fn may_submit(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.rights(ctx).await?.may_submit.is_ok())
    }
    /// Whether you may approve the month now (officers and admins above a township, for its
    /// SUBMITTED month; a county's own or those above, once all its townships are approved).
    async fn may_approve(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.rights(ctx).await?.may_approve.is_ok())
    }
    /// Whether you may unapprove the month now (who may approve it, while the level above has
    /// not approved the same month).
    async fn may_unapprove(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.rights(ctx).await?.may_unapprove.is_ok())
    }
}

/// A child area's place in a bulletin's ranking.
pub struct RankEntry(dom::RankEntry);

/// A child area's place in a bulletin's ranking.
#[Object]
impl RankEntry {
    /// 1 for the best; areas with equal rates share a rank (1, 1, 3, …); areas without a rate
    /// (denominator 0) come last.
    async fn rank(&self) -> i32 {
        self.0.rank
    }
    /// The child area.
    async fn area(&self, ctx: &Context<'_>) -> Result<Area> {
        loaders::one::<area::Entity>(ctx, &self.0.area)
            .await?
            .map(Area)
            .ok_or_else(|| {
                coded(
                    format!("area `{}` was not found", self.0.area),
                    Code::NotFound,
                )
            })
    }
    /// The indicator as reported for the child.
    async fn ratio(&self) -> Ratio {
        self.0.ratio.into()
    }
    /// The child's rate in the previous month's latest bulletin of the same area; null when
    /// there is none, or its denominator was 0.
    async fn previous_rate(&self) -> Option<f64> {
        self.0.previous_rate
    }
}

/// A monthly bulletin (逐月通报) as one approval published it.
pub struct Bulletin(pub dom::BulletinRead);

/// A monthly bulletin (逐月通报): the indicators of an area and of each of its children at the
/// month's last day, as approved. Each approval of the month publishes a new vintage; a vintage
/// never changes.
#[Object]
impl Bulletin {
    /// The area the bulletin is about.
    async fn area(&self, ctx: &Context<'_>) -> Result<Area> {
        let code = &self.0.bulletin.area;
        loaders::one::<area::Entity>(ctx, code)
            .await?
            .map(Area)
            .ok_or_else(|| coded(format!("area `{code}` was not found"), Code::NotFound))
    }
    /// The month, `YYYY-MM`.
    async fn month(&self) -> String {
        self.0.bulletin.month.to_string()
    }
    /// 1, 2, …: each approval of the month publishes the next vintage.
    async fn vintage(&self) -> i32 {
        self.0.bulletin.vintage
    }
    /// The month's last day: the date the figures are for.
    async fn as_of(&self) -> Date {
        Date(self.0.bulletin.as_of)
    }
    /// When the approval that published this vintage was made.
    async fn approved_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0.bulletin.approved_at_ms).unwrap_or_default()
    }
    /// The area's indicators as approved; they never change afterwards.
    async fn reported(&self) -> IndicatorSet {
        IndicatorSet(self.0.bulletin.reported.area.clone())
    }
    /// The area's indicators at `asOf`, recomputed from the register now.
    #[graphql(complexity = "10 + child_complexity")]
    async fn current(&self, ctx: &Context<'_>) -> Result<IndicatorSet> {
        Ok(IndicatorSet(current(ctx, &self.0.bulletin).await?))
    }
    /// Whether `current` differs from `reported`: the register was corrected since.
    #[graphql(complexity = 10)]
    async fn revised(&self, ctx: &Context<'_>) -> Result<bool> {
        let now = current(ctx, &self.0.bulletin).await?;
        Ok(!dom::same_figures(&now, &self.0.bulletin.reported.area))
    }
    /// The area's children by reported rate of `indicator`, best first, each with its rate in
    /// the previous month's latest bulletin.
    async fn ranking(
        &self,
        #[graphql(desc = "The indicator to rank by.")] indicator: Indicator,
    ) -> Vec<RankEntry> {
        dom::ranking(
            &self.0.bulletin.reported,
            self.0.previous.as_ref().map(|p| &p.reported),
            indicator.into(),
        )
        .into_iter()
        .map(RankEntry)
        .collect()
    }
}

async fn current(
    ctx: &Context<'_>,
    bulletin: &dom::Bulletin,
) -> Result<crate::domain::indicators::IndicatorValues> {
    let request = Request::of(ctx).await?;
    read::indicators(
        &request.reads()?,
        &Target::Area(bulletin.area.clone()),
        bulletin.as_of,
    )
    .await
    .gql()
}

/// Reporting-period and bulletin queries.
#[derive(Default)]
pub struct PeriodQuery;

#[Object]
impl PeriodQuery {
    /// An area's month in the reporting workflow; null for an area that does not exist or
    /// lies outside your subtree. A month is written `YYYY-MM`.
    async fn reporting_period(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The area's code.")] area_code: String,
        #[graphql(desc = "The month, `YYYY-MM`.")] month: String,
    ) -> Result<Option<ReportingPeriod>> {
        let month = month_arg(&month)?;
        let db = ctx.data::<DatabaseConnection>()?;
        let scope = scope(ctx).await?;
        let found = dom::read_period(db, &scope, &area_code, month)
            .await
            .map_err(Error::Database)
            .gql()?;
        Ok(found.map(|(area, situation)| ReportingPeriod {
            area_code: area.code,
            month,
            state: situation.state,
        }))
    }

    /// The bulletin of an area's month: vintage `vintage`, or the latest. Null when the month
    /// was never approved, or the area does not exist or lies outside your subtree.
    async fn bulletin(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The area's code.")] area_code: String,
        #[graphql(desc = "The month, `YYYY-MM`.")] month: String,
        #[graphql(desc = "The vintage (1, 2, …); the latest by default.")] vintage: Option<i32>,
    ) -> Result<Option<Bulletin>> {
        let month = month_arg(&month)?;
        let db = ctx.data::<DatabaseConnection>()?;
        let scope = scope(ctx).await?;
        let found = dom::read_bulletin(db, &scope, &area_code, month, vintage)
            .await
            .map_err(Error::Database)
            .gql()?;
        Ok(found.map(Bulletin))
    }
}
