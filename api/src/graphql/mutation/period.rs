//! The reporting workflow's mutations (CONTRACT §6): `submitPeriod`, `approvePeriod`,
//! `unapprovePeriod` and `grantLockException`.

use super::super::types::period::ReportingPeriod;
use super::{write, UserError};
use crate::auth::Role;
use crate::domain::write::{self as dw, StepKind};
use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

/// Roles that take part in the reporting workflow.
const REPORTERS: [Role; 2] = [Role::Admin, Role::Officer];
/// Roles that grant lock exceptions.
const ADMINS: [Role; 1] = [Role::Admin];

/// One area's month, for a step of the workflow.
#[derive(InputObject)]
pub struct PeriodInput {
    /// Makes retries safe: a second request with this key answers the first one's result.
    pub idempotency_key: String,
    /// The area's code.
    pub area_code: String,
    /// The month, `YYYY-MM`.
    pub month: String,
}

/// The answer to a step of the reporting workflow.
#[derive(SimpleObject)]
pub struct PeriodPayload {
    /// The month as the step left it; null when nothing was written.
    pub period: Option<ReportingPeriod>,
    /// The bulletin vintage an approval published; null otherwise.
    pub vintage: Option<i32>,
    /// Why nothing was written; empty when the step was taken.
    pub user_errors: Vec<UserError>,
}

/// A lock exception: lets writes change the figures of one area's approved month until it
/// expires.
#[derive(InputObject)]
pub struct GrantLockExceptionInput {
    /// Makes retries safe: a second request with this key answers the first one's result.
    pub idempotency_key: String,
    /// The area's code.
    pub area_code: String,
    /// The approved month, `YYYY-MM`.
    pub month: String,
    /// Why the approved figures may change (kept in the audit log).
    pub reason: String,
    /// How long the exception lasts, in hours (1–720).
    #[graphql(default = 24)]
    pub valid_hours: i32,
}

/// A lock exception as granted.
#[derive(SimpleObject)]
pub struct LockException {
    /// The exception's number.
    pub record_id: i32,
    /// The area whose approved month may change.
    pub area_code: String,
    /// The month, `YYYY-MM`.
    pub month: String,
    /// Why.
    pub reason: String,
    /// Who granted it.
    pub granted_by: String,
    /// When it stops applying.
    pub expires_at: DateTime<Utc>,
}

/// The answer to `grantLockException`.
#[derive(SimpleObject)]
pub struct GrantLockExceptionPayload {
    /// The exception as granted; null when nothing was written.
    pub lock_exception: Option<LockException>,
    /// Why nothing was written; empty when the exception was granted.
    pub user_errors: Vec<UserError>,
}

async fn step(ctx: &Context<'_>, kind: StepKind, input: PeriodInput) -> Result<PeriodPayload> {
    let m = dw::PeriodStep {
        step: kind,
        area_code: input.area_code,
        month: input.month,
    };
    let (record, user_errors) = write(ctx, &REPORTERS, &input.idempotency_key, &m, |r| r).await?;
    Ok(PeriodPayload {
        vintage: record.as_ref().and_then(|r| r.vintage),
        period: record.map(|r| ReportingPeriod {
            area_code: r.area_code,
            month: r.month,
            state: r.state,
        }),
        user_errors,
    })
}

/// The reporting workflow's writes.
#[derive(Default)]
pub struct PeriodMutation;

#[Object]
impl PeriodMutation {
    /// Submits a township's OPEN month for approval (the township's own officers and admins).
    async fn submit_period(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The township and month.")] input: PeriodInput,
    ) -> Result<PeriodPayload> {
        step(ctx, StepKind::Submit, input).await
    }

    /// Approves a month, which locks the area's figures as of every day in it and publishes a
    /// new bulletin vintage: a township's SUBMITTED month by officers or admins above it; a
    /// county's (or higher) OPEN month by its own officers or admins or those above, once all
    /// its townships' (child areas') months are approved.
    async fn approve_period(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The area and month.")] input: PeriodInput,
    ) -> Result<PeriodPayload> {
        step(ctx, StepKind::Approve, input).await
    }

    /// Unapproves a month (who may approve it), while the level above has not approved the
    /// same month: a township's APPROVED month goes back to SUBMITTED, a SUBMITTED one back to
    /// OPEN (returned for correction), a higher level's to OPEN. Published bulletins stay.
    async fn unapprove_period(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The area and month.")] input: PeriodInput,
    ) -> Result<PeriodPayload> {
        step(ctx, StepKind::Unapprove, input).await
    }

    /// Lets writes change the figures of one area's APPROVED month until the exception expires
    /// (admins only; audited).
    async fn grant_lock_exception(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The area, the month, why, and for how long.")]
        input: GrantLockExceptionInput,
    ) -> Result<GrantLockExceptionPayload> {
        let m = dw::GrantLockException {
            area_code: input.area_code,
            month: input.month,
            reason: input.reason,
            valid_hours: input.valid_hours,
        };
        let (record, user_errors) = write(ctx, &ADMINS, &input.idempotency_key, &m, |r| {
            LockException {
                record_id: i32::try_from(r.id).unwrap_or(i32::MAX),
                area_code: r.area_code,
                month: r.month.to_string(),
                reason: r.reason,
                granted_by: r.granted_by,
                expires_at: r.expires_at,
            }
        })
        .await?;
        Ok(GrantLockExceptionPayload {
            lock_exception: record,
            user_errors,
        })
    }
}
