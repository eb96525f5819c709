//! Indicators (CONTRACT §2): `indicators`, `indicatorSeries`, and the `indicators` field of areas
//! and sites.

use super::enums::{EmploymentPath, WorkCategory};
use super::errors::GqlResult;
use super::scalars::Date;
use crate::cache::{Cache, CacheKey, GenScope};
use crate::domain::indicators::{self as dom, Scope};
use crate::error::Error;
use async_graphql::{Context, Object, OneofObject, Result, SimpleObject};
use chrono::NaiveDate;
use sea_orm::DatabaseConnection;

/// Longest `indicatorSeries` a request may ask for, in month ends.
pub const MAX_SERIES_POINTS: usize = 240;

/// What an indicator covers: exactly one of an area (with everything below it) or a site.
#[derive(OneofObject, Debug, Clone)]
pub enum ScopeInput {
    /// An administrative division code at any level; covers every area below it.
    AreaCode(String),
    /// One resettlement site's code.
    SiteCode(String),
}

impl From<ScopeInput> for Scope {
    fn from(s: ScopeInput) -> Self {
        match s {
            ScopeInput::AreaCode(c) => Scope::Area(c),
            ScopeInput::SiteCode(c) => Scope::Site(c),
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

/// The cache key of one scope's indicators on one date. The value is `None` for a scope that
/// does not exist, so unknown codes are cheap to answer too.
struct IndicatorKey<'a> {
    scope: &'a Scope,
    as_of: NaiveDate,
}

impl CacheKey for IndicatorKey<'_> {
    type Value = Option<dom::IndicatorValues>;
    const KIND: &'static str = "indicators";
    const VERSION: u32 = 1;

    fn id(&self) -> String {
        match self.scope {
            Scope::Area(c) => format!("area:{c}:{}", self.as_of),
            Scope::Site(c) => format!("site:{c}:{}", self.as_of),
        }
    }

    fn depends_on(&self) -> Vec<GenScope> {
        let own = match self.scope {
            Scope::Area(c) => GenScope::Area(c.clone()),
            Scope::Site(c) => GenScope::Site(c.clone()),
        };
        vec![GenScope::Global, own]
    }
}

/// One scope's indicators on one date, through the cache; `NOT_FOUND` for an unknown scope.
async fn cached_set(ctx: &Context<'_>, scope: &Scope, as_of: NaiveDate) -> Result<IndicatorSet> {
    let db = ctx.data::<DatabaseConnection>()?;
    let cache = ctx.data::<Cache>()?;
    let key = IndicatorKey { scope, as_of };
    let gens = super::loaders::generations(ctx, &key.depends_on()).await?;
    let values = cache
        .get_or_compute(&key, &gens, || async move {
            if !dom::scope_exists(db, scope).await? {
                return Ok(None);
            }
            dom::compute(db, scope, as_of).await.map(Some)
        })
        .await
        .gql()?;
    match values {
        Some(v) => Ok(IndicatorSet(v)),
        None => {
            let (what, key) = match scope {
                Scope::Area(c) => ("area", c),
                Scope::Site(c) => ("site", c),
            };
            Err(Error::not_found(what, key.clone())).gql()
        }
    }
}

/// Computes the indicator set of an existing scope; `NOT_FOUND` for an unknown one.
pub async fn indicator_set(
    ctx: &Context<'_>,
    scope: Scope,
    as_of: Option<Date>,
) -> Result<IndicatorSet> {
    let as_of = as_of.map(|d| d.0).unwrap_or_else(today);
    ensure_allowed(ctx, &scope).await?;
    cached_set(ctx, &scope, as_of).await
}

/// `NOT_FOUND` for a scope outside what the caller may see, exactly as for an unknown one.
async fn ensure_allowed(ctx: &Context<'_>, scope: &Scope) -> Result<()> {
    if super::access::scope_allowed(ctx, scope).await? {
        return Ok(());
    }
    let (what, key) = match scope {
        Scope::Area(c) => ("area", c),
        Scope::Site(c) => ("site", c),
    };
    Err(Error::not_found(what, key.clone())).gql()
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
        if from > to {
            return Err(Error::BadInput(format!(
                "`from` ({}) is after `to` ({})",
                from.0, to.0
            )))
            .gql();
        }
        let ends = dom::month_ends(from.0, to.0);
        if ends.len() > MAX_SERIES_POINTS {
            return Err(Error::BadInput(format!(
                "the series would have {} points; at most {MAX_SERIES_POINTS} month ends may be asked for",
                ends.len()
            )))
            .gql();
        }
        let scope: Scope = scope.into();
        ensure_allowed(ctx, &scope).await?;
        let mut out = Vec::with_capacity(ends.len());
        for as_of in ends {
            out.push(cached_set(ctx, &scope, as_of).await?);
        }
        Ok(out)
    }
}
