//! The indicators as a caller reads them: for a target it may see, through the aggregate cache.

use super::{compute, month_ends, scope_exists, IndicatorValues, Target};
use crate::cache::{CacheKey, GenScope};
use crate::domain::reads::{Batched, Reads};
use crate::error::{Error, Result};
use chrono::NaiveDate;

/// Longest series a request may ask for, in month ends.
pub const MAX_SERIES_POINTS: usize = 240;

/// The cache key of one target's indicators on one date. The value is `None` for a target that
/// does not exist, so unknown codes are cheap to answer too.
struct IndicatorKey<'a> {
    target: &'a Target,
    as_of: NaiveDate,
}

impl CacheKey for IndicatorKey<'_> {
    type Value = Option<IndicatorValues>;
    const KIND: &'static str = "indicators";
    const VERSION: u32 = 1;

    fn id(&self) -> String {
        match self.target {
            Target::Area(c) => format!("area:{c}:{}", self.as_of),
            Target::Site(c) => format!("site:{c}:{}", self.as_of),
        }
    }

    fn depends_on(&self) -> Vec<GenScope> {
        depends_on(self.target)
    }
}

/// The generations `target`'s indicators depend on: a write that changes them raises one of
/// these (live subscriptions recompute when one moves).
pub fn depends_on(target: &Target) -> Vec<GenScope> {
    let own = match target {
        Target::Area(c) => GenScope::Area(c.clone()),
        Target::Site(c) => GenScope::Site(c.clone()),
    };
    vec![GenScope::Global, own]
}

pub(crate) fn not_found(target: &Target) -> Error {
    match target {
        Target::Area(c) => Error::not_found("area", c.clone()),
        Target::Site(c) => Error::not_found("site", c.clone()),
    }
}

/// `NOT_FOUND` for a target outside what the caller may see, exactly as for an unknown one: an
/// area must lie in the caller's subtree (a site manager sees no area's indicators), a site
/// must be visible.
pub(crate) async fn ensure_allowed<B: Batched>(
    reads: &Reads<'_, B>,
    target: &Target,
) -> Result<()> {
    if reads.scope.is_everything() {
        return Ok(());
    }
    let allowed = match target {
        Target::Area(code) => {
            reads.scope.site_only().is_none() && reads.batched.area_below(code).await?
        }
        Target::Site(code) => reads.batched.site_visible(code).await?,
    };
    if allowed {
        Ok(())
    } else {
        Err(not_found(target))
    }
}

/// One target's indicators on one date, through the cache; `NOT_FOUND` for an unknown target.
async fn cached<B: Batched>(
    reads: &Reads<'_, B>,
    target: &Target,
    as_of: NaiveDate,
) -> Result<IndicatorValues> {
    let key = IndicatorKey { target, as_of };
    let gens = reads.batched.generations(&key.depends_on()).await?;
    let db = reads.db;
    reads
        .cache
        .get_or_compute(&key, &gens, || async move {
            if !scope_exists(db, target).await? {
                return Ok(None);
            }
            compute(db, target, as_of).await.map(Some)
        })
        .await?
        .ok_or_else(|| not_found(target))
}

/// Every indicator of `target` on `as_of`, for the caller of `reads`.
pub async fn indicators<B: Batched>(
    reads: &Reads<'_, B>,
    target: &Target,
    as_of: NaiveDate,
) -> Result<IndicatorValues> {
    ensure_allowed(reads, target).await?;
    cached(reads, target, as_of).await
}

/// The indicators of `target` at every month end in `[from, to]`, oldest first; at most
/// [`MAX_SERIES_POINTS`] points.
pub async fn series<B: Batched>(
    reads: &Reads<'_, B>,
    target: &Target,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<IndicatorValues>> {
    if from > to {
        return Err(Error::BadInput(format!(
            "`from` ({from}) is after `to` ({to})"
        )));
    }
    let ends = month_ends(from, to);
    if ends.len() > MAX_SERIES_POINTS {
        return Err(Error::BadInput(format!(
            "the series would have {} points; at most {MAX_SERIES_POINTS} month ends may be asked for",
            ends.len()
        )));
    }
    ensure_allowed(reads, target).await?;
    let mut out = Vec::with_capacity(ends.len());
    for as_of in ends {
        out.push(cached(reads, target, as_of).await?);
    }
    Ok(out)
}
