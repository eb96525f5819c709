//! Members' employments: their writes.

use super::super::enums::{EmploymentLocation, EmploymentPath};
use super::super::scalars::Date;
use super::super::types::employment::Employment;
use super::super::types::node::Kind;
use super::{record_id, write, UserError, WRITERS};
use crate::domain::write::{self as dw};
use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};

payload!(
    /// The answer to `addEmployment`.
    AddEmploymentPayload { employment: Employment }
);

payload!(
    /// The answer to `endEmployment`.
    EndEmploymentPayload { employment: Employment }
);

/// A job a member took.
#[derive(InputObject)]
pub struct AddEmploymentInput {
    /// Makes retries safe: a second request with this key answers the first one's result.
    pub idempotency_key: String,
    /// The member's resident ID number.
    pub member_id_number: String,
    /// How the job was found.
    pub path: EmploymentPath,
    /// The employer.
    pub employer: String,
    /// Where the job is.
    pub location: EmploymentLocation,
    /// First day worked.
    pub started_on: Date,
    /// Last day worked, if the job has ended (not before `startedOn`).
    pub ended_on: Option<Date>,
    /// Monthly income in yuan (≥ 0).
    pub monthly_income_yuan: Option<i32>,
}

/// The end of a job.
#[derive(InputObject)]
pub struct EndEmploymentInput {
    /// Makes retries safe: a second request with this key answers the first one's result.
    pub idempotency_key: String,
    /// The employment's `id` (its record number is accepted too).
    pub id: ID,
    /// The `version` you read; the write is refused with `CONFLICT` if it changed since.
    pub version: i32,
    /// Last day worked (not before `startedOn`); null (or left out) reopens the job.
    pub ended_on: Option<Date>,
}

/// Members' employments: their writes.
#[derive(Default)]
pub struct EmploymentMutation;

#[Object]
impl EmploymentMutation {
    /// Records a job a member took.
    async fn add_employment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The job.")] input: AddEmploymentInput,
    ) -> Result<AddEmploymentPayload> {
        let m = dw::AddEmployment {
            member_id_number: input.member_id_number,
            path: input.path.into(),
            employer: input.employer,
            location: input.location.into(),
            started_on: input.started_on.0,
            ended_on: input.ended_on.map(|d| d.0),
            monthly_income_yuan: input.monthly_income_yuan,
        };
        let (employment, user_errors) =
            write(ctx, &WRITERS, &input.idempotency_key, &m, Employment::from).await?;
        Ok(AddEmploymentPayload {
            employment,
            user_errors,
        })
    }

    /// Records (or clears) the last day of a job.
    async fn end_employment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The job and its last day.")] input: EndEmploymentInput,
    ) -> Result<EndEmploymentPayload> {
        let m = dw::EndEmployment {
            id: record_id(&input.id, Kind::Employment),
            version: input.version,
            ended_on: input.ended_on.map(|d| d.0),
        };
        let (employment, user_errors) =
            write(ctx, &WRITERS, &input.idempotency_key, &m, Employment::from).await?;
        Ok(EndEmploymentPayload {
            employment,
            user_errors,
        })
    }
}
