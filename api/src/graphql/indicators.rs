//! Indicators (CONTRACT §2): `indicators`, `indicatorSeries`, and the `indicators` field of areas
//! and sites.

use super::enums::{EmploymentPath, WorkCategory};
use super::errors::GqlResult;
use super::reads::Request;
use super::scalars::Date;
use crate::domain::indicators::{self as dom, read, Target};
use async_graphql::{Context, Object, OneofObject, Result, SimpleObject};
use chrono::NaiveDate;

/// Longest `indicatorSeries` a request may ask for, in month ends.
pub use crate::domain::indicators::read::MAX_SERIES_POINTS;

/// What an indicator covers: exactly one of an area (with everything below it) or a site.
#[derive(OneofObject, Debug, Clone)]
pub enum ScopeInput {
    /// An administrative division code at any level; covers every area below it.
    AreaCode(String),
    /// One resettlement site's code.
    SiteCode(String),
}

impl From<ScopeInput> for Target {
    fn from(s: ScopeInput) -> Self {
        match s {
            ScopeInput::AreaCode(c) => Target::Area(c),
            ScopeInput::SiteCode(c) => Target::Site(c),
        }
    }
}

/// Today's date in China Standard Time (UTC+8), the default `asOf`.
pub fn today() -> NaiveDate {
    crate::domain::rules::today()
}

/// A ratio: `rate = numerator / denominator`, null when the denominator is 0.
#[derive(SimpleObject, Debug, Clone, Copy)]
pub struct Ratio {
    /// What is counted.
    pub numerator: i32,
    /// What it is counted out of.
    pub denominator: i32,
    /// `numerator / denominator`; null when the denominator is 0.
    pub rate: Option<f64>,
}

impl From<dom::Ratio> for Ratio {
    fn from(r: dom::Ratio) -> Self {
        Ratio {
            numerator: i32::try_from(r.numerator).unwrap_or(i32::MAX),
            denominator: i32::try_from(r.denominator).unwrap_or(i32::MAX),
            rate: r.rate(),
        }
    }
}

/// Completion of one category of works.
#[derive(SimpleObject, Debug, Clone)]
pub struct CategoryRatio {
    /// The works category.
    pub category: WorkCategory,
    /// Works of the category completed by `asOf` / all works of the category.
    pub ratio: Ratio,
}

/// Laborers employed along one path.
#[derive(SimpleObject, Debug, Clone)]
pub struct PathCount {
    /// The employment path.
    pub path: EmploymentPath,
    /// Laborers with an employment of this path active on `asOf` (a person may count under two
    /// paths).
    pub persons: i32,
}

/// Every indicator of one scope on one date. An event dated on `asOf` counts.
pub struct IndicatorSet(pub dom::IndicatorValues);

/// Every indicator of one scope on one date. An event dated on `asOf` counts.
#[Object]
impl IndicatorSet {
    /// The date the indicators are computed for.
    async fn as_of(&self) -> Date {
        Date(self.0.as_of)
    }
    /// 工程竣工率: sites whose `MAIN` works are all completed / sites with at least one `MAIN` work.
    async fn construction_completion(&self) -> Ratio {
        self.0.construction_completion.into()
    }
    /// 配套工程完成率: works completed / all works.
    async fn works_completion(&self) -> Ratio {
        self.0.works_completion.into()
    }
    /// Works completion per category; every category is listed, in declaration order.
    async fn works_by_category(&self) -> Vec<CategoryRatio> {
        self.0
            .works_by_category
            .iter()
            .map(|(c, r)| CategoryRatio {
                category: (*c).into(),
                ratio: (*r).into(),
            })
            .collect()
    }
    /// 搬迁入住率 (户): households moved in / households.
    async fn occupancy(&self) -> Ratio {
        self.0.occupancy.into()
    }
    /// 搬迁入住率 (人): persons of households moved in / persons of all households.
    async fn occupancy_persons(&self) -> Ratio {
        self.0.occupancy_persons.into()
    }
    /// 稳定脱贫率: registered-poor households out of poverty and not relapsed / registered-poor
    /// households.
    async fn stable_poverty_exit(&self) -> Ratio {
        self.0.stable_poverty_exit.into()
    }
    /// 劳动力就业率: laborers (labour capacity `FULL` or `PARTIAL`) with an active employment /
    /// laborers.
    async fn employment(&self) -> Ratio {
        self.0.employment.into()
    }
    /// 有劳动力家庭就业覆盖率 (一户一人): households with at least one employed laborer /
    /// households with at least one laborer.
    async fn household_employment(&self) -> Ratio {
        self.0.household_employment.into()
    }
    /// 零就业家庭: households with at least one laborer and none employed (the gap of
    /// `householdEmployment`; `watchList(kind: ZERO_EMPLOYMENT)` lists them).
    async fn zero_employment_households(&self) -> i32 {
        let r = self.0.household_employment;
        i32::try_from(r.denominator - r.numerator).unwrap_or(i32::MAX)
    }
    /// 三篇文章: employed laborers per path; every path is listed, in declaration order.
    async fn employment_by_path(&self) -> Vec<PathCount> {
        self.0
            .employment_by_path
            .iter()
            .map(|(p, n)| PathCount {
                path: (*p).into(),
                persons: i32::try_from(*n).unwrap_or(i32::MAX),
            })
            .collect()
    }
    /// 旧房拆除率: non-exempt homesteads demolished / non-exempt homesteads.
    async fn demolition(&self) -> Ratio {
        self.0.demolition.into()
    }
    /// 拆除复垦率: non-exempt homesteads reclaimed / non-exempt homesteads.
    async fn reclamation(&self) -> Ratio {
        self.0.reclamation.into()
    }
    /// 复垦面积 (亩): area of the homesteads counted in `reclamation`'s numerator.
    async fn reclaimed_area_mu(&self) -> f64 {
        self.0.reclaimed_area_mu
    }
}

/// Every indicator of an area or site on a date (today, China Standard Time, by default);
/// `NOT_FOUND` for an unknown one or one outside what the caller may see.
pub async fn indicator_set(
    ctx: &Context<'_>,
    target: Target,
    as_of: Option<Date>,
) -> Result<IndicatorSet> {
    let as_of = as_of.map(|d| d.0).unwrap_or_else(today);
    let request = Request::of(ctx).await?;
    read::indicators(&request.reads()?, &target, as_of)
        .await
        .map(IndicatorSet)
        .gql()
}

/// Indicator queries.
#[derive(Default)]
pub struct IndicatorQuery;

#[Object]
impl IndicatorQuery {
    #[graphql(complexity = "10 + child_complexity")]
    /// Every indicator for a scope on a date (`asOf` defaults to today, China Standard Time).
    /// An unknown scope is a `NOT_FOUND` error.
    async fn indicators(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The area or site to compute for.")] scope: ScopeInput,
        #[graphql(desc = "The date to compute for; defaults to today (China Standard Time).")]
        as_of: Option<Date>,
    ) -> Result<IndicatorSet> {
        indicator_set(ctx, scope.into(), as_of).await
    }

    #[graphql(
        complexity = "(((to.0 - from.0).num_days().max(0) as usize) / 28 + 1) * (10 + child_complexity)"
    )]
    /// The indicators at every month end in `[from, to]`, oldest first (at most 240 points).
    async fn indicator_series(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The area or site to compute for.")] scope: ScopeInput,
        #[graphql(
            desc = "First day of the period; its month end is the first point if it falls inside."
        )]
        from: Date,
        #[graphql(desc = "Last day of the period (inclusive).")] to: Date,
    ) -> Result<Vec<IndicatorSet>> {
        let request = Request::of(ctx).await?;
        let values = read::series(&request.reads()?, &scope.into(), from.0, to.0)
            .await
            .gql()?;
        Ok(values.into_iter().map(IndicatorSet).collect())
    }
}
