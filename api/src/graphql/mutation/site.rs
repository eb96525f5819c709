//! Sites and their works: their writes.

use super::super::enums::{Placement, SiteSetting, WorkCategory};
use super::super::scalars::Date;
use super::super::types::site::{ResettlementSite, SiteWork};
use super::{patch, write, UserError, PLANNERS, WRITERS};
use crate::domain::write::{self as dw};
use async_graphql::{Context, InputObject, MaybeUndefined, Object, Result, SimpleObject};

payload!(
    /// The answer to `createSite`.
    CreateSitePayload { site: ResettlementSite }
);

payload!(
    /// The answer to `updateSite`.
    UpdateSitePayload { site: ResettlementSite }
);

payload!(
    /// The answer to `createSiteWork`.
    CreateSiteWorkPayload { work: SiteWork }
);

payload!(
    /// The answer to `recordWorkCompletion`.
    RecordWorkCompletionPayload { work: SiteWork }
);

/// A new resettlement site.
#[derive(InputObject)]
pub struct CreateSiteInput {
    /// Makes retries safe: a second request with this key answers the first one's result.
    pub idempotency_key: String,
    /// The site's code (unique).
    pub code: String,
    /// The site's name.
    pub name: String,
    /// Code of the township (an area of level `TOWNSHIP`) the site lies in.
    pub township_code: String,
    /// 集中安置 or 分散安置.
    pub placement: Placement,
    /// Where the site is built.
    pub setting: SiteSetting,
    /// Households the site is planned for (≥ 0).
    pub planned_households: i32,
    /// Persons the site is planned for (≥ 0).
    pub planned_persons: i32,
    /// Latitude in decimal degrees (-90 to 90).
    pub latitude: Option<f64>,
    /// Longitude in decimal degrees (-180 to 180).
    pub longitude: Option<f64>,
    /// The day construction started.
    pub construction_started_on: Option<Date>,
}

/// Changes to a site: fields left out stay as they are; `null` clears a nullable one. A site
/// stays in its township.
#[derive(InputObject)]
pub struct UpdateSiteInput {
    /// Makes retries safe: a second request with this key answers the first one's result.
    pub idempotency_key: String,
    /// The site's code.
    pub code: String,
    /// The `version` you read; the write is refused with `CONFLICT` if the site changed since.
    pub version: i32,
    /// The site's name.
    pub name: Option<String>,
    /// 集中安置 or 分散安置.
    pub placement: Option<Placement>,
    /// Where the site is built.
    pub setting: Option<SiteSetting>,
    /// Households the site is planned for (≥ 0).
    pub planned_households: Option<i32>,
    /// Persons the site is planned for (≥ 0).
    pub planned_persons: Option<i32>,
    /// Latitude in decimal degrees (-90 to 90).
    pub latitude: MaybeUndefined<f64>,
    /// Longitude in decimal degrees (-180 to 180).
    pub longitude: MaybeUndefined<f64>,
    /// The day construction started.
    pub construction_started_on: MaybeUndefined<Date>,
}

/// A new construction work of a site.
#[derive(InputObject)]
pub struct CreateSiteWorkInput {
    /// Makes retries safe: a second request with this key answers the first one's result.
    pub idempotency_key: String,
    /// Code of the site the work belongs to.
    pub site_code: String,
    /// The work's code (unique).
    pub code: String,
    /// The work's category.
    pub category: WorkCategory,
    /// The work's name.
    pub name: String,
    /// The day the work was completed, if it is.
    pub completed_on: Option<Date>,
}

/// A work's completion date.
#[derive(InputObject)]
pub struct RecordWorkCompletionInput {
    /// Makes retries safe: a second request with this key answers the first one's result.
    pub idempotency_key: String,
    /// The work's code.
    pub code: String,
    /// The `version` you read; the write is refused with `CONFLICT` if the work changed since.
    pub version: i32,
    /// The day the work was completed; null (or left out) marks it unfinished again.
    pub completed_on: Option<Date>,
}

/// Sites and their works: their writes.
#[derive(Default)]
pub struct SiteMutation;

#[Object]
impl SiteMutation {
    /// Creates a resettlement site (admins and officers).
    async fn create_site(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new site.")] input: CreateSiteInput,
    ) -> Result<CreateSitePayload> {
        let m = dw::CreateSite {
            code: input.code,
            name: input.name,
            township_code: input.township_code,
            placement: input.placement.into(),
            setting: input.setting.into(),
            planned_households: input.planned_households,
            planned_persons: input.planned_persons,
            latitude: input.latitude,
            longitude: input.longitude,
            construction_started_on: input.construction_started_on.map(|d| d.0),
        };
        let (site, user_errors) = write(
            ctx,
            &PLANNERS,
            &input.idempotency_key,
            &m,
            ResettlementSite::from,
        )
        .await?;
        Ok(CreateSitePayload { site, user_errors })
    }

    /// Changes a resettlement site.
    async fn update_site(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The changes.")] input: UpdateSiteInput,
    ) -> Result<UpdateSitePayload> {
        let m = dw::SitePatch {
            code: input.code,
            version: input.version,
            name: input.name,
            placement: input.placement.map(Into::into),
            setting: input.setting.map(Into::into),
            planned_households: input.planned_households,
            planned_persons: input.planned_persons,
            latitude: patch(input.latitude, |v| v),
            longitude: patch(input.longitude, |v| v),
            construction_started_on: patch(input.construction_started_on, |d| d.0),
        };
        let (site, user_errors) = write(
            ctx,
            &WRITERS,
            &input.idempotency_key,
            &m,
            ResettlementSite::from,
        )
        .await?;
        Ok(UpdateSitePayload { site, user_errors })
    }

    /// Adds a construction work to a site.
    async fn create_site_work(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new work.")] input: CreateSiteWorkInput,
    ) -> Result<CreateSiteWorkPayload> {
        let m = dw::CreateSiteWork {
            site_code: input.site_code,
            code: input.code,
            category: input.category.into(),
            name: input.name,
            completed_on: input.completed_on.map(|d| d.0),
        };
        let (work, user_errors) =
            write(ctx, &WRITERS, &input.idempotency_key, &m, SiteWork::from).await?;
        Ok(CreateSiteWorkPayload { work, user_errors })
    }

    /// Records (or clears) the day a work was completed.
    async fn record_work_completion(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The work and its completion date.")] input: RecordWorkCompletionInput,
    ) -> Result<RecordWorkCompletionPayload> {
        let m = dw::WorkPatch {
            operation: "recordWorkCompletion",
            code: input.code,
            version: input.version,
            name: None,
            completed_on: Some(input.completed_on.map(|d| d.0)),
        };
        let (work, user_errors) =
            write(ctx, &WRITERS, &input.idempotency_key, &m, SiteWork::from).await?;
        Ok(RecordWorkCompletionPayload { work, user_errors })
    }
}
