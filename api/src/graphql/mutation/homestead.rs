//! Homesteads: demolition, reclamation, exemption: their writes.

use super::super::enums::ReclaimedUse;
use super::super::scalars::Date;
use super::super::types::homestead::Homestead;
use super::homestead_patch;
use super::{write, UserError, WRITERS};
use crate::domain::write::{self as dw};
use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};

payload!(
    /// The answer to `createHomestead`.
    CreateHomesteadPayload { homestead: Homestead }
);

payload!(
    /// The answer to `recordDemolition`.
    RecordDemolitionPayload { homestead: Homestead }
);

payload!(
    /// The answer to `recordReclamation`.
    RecordReclamationPayload { homestead: Homestead }
);

payload!(
    /// The answer to `recordHomesteadExemption`.
    RecordHomesteadExemptionPayload { homestead: Homestead }
);

/// An old house a household left behind.
#[derive(InputObject)]
pub struct CreateHomesteadInput {
    /// Makes retries safe: a second request with this key answers the first one's result.
    pub idempotency_key: String,
    /// The household's register number.
    pub household_code: String,
    /// Code of the village (an area of level `VILLAGE`) it stands in.
    pub village_code: String,
    /// Area in mu (亩, > 0).
    pub area_mu: f64,
    /// 保留: legally kept (then it has no demolition or reclamation date).
    pub exempt: bool,
    /// The day it was demolished.
    pub demolished_on: Option<Date>,
    /// The day its land was reclaimed (on or after the demolition).
    pub reclaimed_on: Option<Date>,
    /// What the reclaimed land became (only when reclaimed).
    pub reclaimed_use: Option<ReclaimedUse>,
}

/// The day a homestead was demolished.
#[derive(InputObject)]
pub struct RecordDemolitionInput {
    /// Makes retries safe: a second request with this key answers the first one's result.
    pub idempotency_key: String,
    /// The homestead's `id` (its record number is accepted too).
    pub id: ID,
    /// The `version` you read; the write is refused with `CONFLICT` if it changed since.
    pub version: i32,
    /// The day it was demolished; null (or left out) clears it.
    pub demolished_on: Option<Date>,
}

/// The day a homestead's land was reclaimed, and what it became.
#[derive(InputObject)]
pub struct RecordReclamationInput {
    /// Makes retries safe: a second request with this key answers the first one's result.
    pub idempotency_key: String,
    /// The homestead's `id` (its record number is accepted too).
    pub id: ID,
    /// The `version` you read; the write is refused with `CONFLICT` if it changed since.
    pub version: i32,
    /// The day its land was reclaimed (on or after its demolition); null (or left out) clears
    /// the reclamation and its use.
    pub reclaimed_on: Option<Date>,
    /// What the reclaimed land became.
    pub reclaimed_use: Option<ReclaimedUse>,
}

/// Whether a homestead is legally kept.
#[derive(InputObject)]
pub struct RecordHomesteadExemptionInput {
    /// Makes retries safe: a second request with this key answers the first one's result.
    pub idempotency_key: String,
    /// The homestead's `id` (its record number is accepted too).
    pub id: ID,
    /// The `version` you read; the write is refused with `CONFLICT` if it changed since.
    pub version: i32,
    /// 保留: legally kept (then it must have no demolition or reclamation date).
    pub exempt: bool,
}

/// Homesteads: demolition, reclamation, exemption: their writes.
#[derive(Default)]
pub struct HomesteadMutation;

#[Object]
impl HomesteadMutation {
    /// Records a homestead a household left behind.
    async fn create_homestead(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The homestead.")] input: CreateHomesteadInput,
    ) -> Result<CreateHomesteadPayload> {
        let m = dw::CreateHomestead {
            household_code: input.household_code,
            village_code: input.village_code,
            area_mu: input.area_mu,
            exempt: input.exempt,
            demolished_on: input.demolished_on.map(|d| d.0),
            reclaimed_on: input.reclaimed_on.map(|d| d.0),
            reclaimed_use: input.reclaimed_use.map(Into::into),
        };
        let (homestead, user_errors) =
            write(ctx, &WRITERS, &input.idempotency_key, &m, Homestead::from).await?;
        Ok(CreateHomesteadPayload {
            homestead,
            user_errors,
        })
    }

    /// Records (or clears) the day a homestead was demolished.
    async fn record_demolition(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The homestead and its demolition date.")] input: RecordDemolitionInput,
    ) -> Result<RecordDemolitionPayload> {
        let m = dw::HomesteadPatch {
            demolished_on: Some(input.demolished_on.map(|d| d.0)),
            ..homestead_patch("recordDemolition", &input.id, input.version)
        };
        let (homestead, user_errors) =
            write(ctx, &WRITERS, &input.idempotency_key, &m, Homestead::from).await?;
        Ok(RecordDemolitionPayload {
            homestead,
            user_errors,
        })
    }

    /// Records (or clears) the reclamation of a homestead's land.
    async fn record_reclamation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The homestead, its reclamation date and use.")]
        input: RecordReclamationInput,
    ) -> Result<RecordReclamationPayload> {
        let reclaimed_on = input.reclaimed_on.map(|d| d.0);
        let m = dw::HomesteadPatch {
            reclaimed_on: Some(reclaimed_on),
            reclaimed_use: Some(input.reclaimed_use.map(Into::into)),
            ..homestead_patch("recordReclamation", &input.id, input.version)
        };
        let (homestead, user_errors) =
            write(ctx, &WRITERS, &input.idempotency_key, &m, Homestead::from).await?;
        Ok(RecordReclamationPayload {
            homestead,
            user_errors,
        })
    }

    /// Records whether a homestead is legally kept (保留).
    async fn record_homestead_exemption(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The homestead and whether it is kept.")]
        input: RecordHomesteadExemptionInput,
    ) -> Result<RecordHomesteadExemptionPayload> {
        let m = dw::HomesteadPatch {
            exempt: Some(input.exempt),
            ..homestead_patch("recordHomesteadExemption", &input.id, input.version)
        };
        let (homestead, user_errors) =
            write(ctx, &WRITERS, &input.idempotency_key, &m, Homestead::from).await?;
        Ok(RecordHomesteadExemptionPayload {
            homestead,
            user_errors,
        })
    }
}
