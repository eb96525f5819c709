//! Members of households: their writes.

use super::super::enums::{Gender, LaborCapacity, Relation};
use super::super::scalars::Date;
use super::super::types::member::Member;
use super::household::MemberInput;
use super::{write, UserError, WRITERS};
use crate::domain::write::{self as dw};
use async_graphql::{Context, InputObject, Object, Result, SimpleObject};

payload!(
    /// The answer to `createMember`.
    CreateMemberPayload { member: Member }
);

payload!(
    /// The answer to `updateMember`.
    UpdateMemberPayload { member: Member }
);

/// A new member of an existing household, whose `persons` goes up by one.
#[derive(InputObject)]
pub struct CreateMemberInput {
    /// Makes retries safe: a second request with this key answers the first one's result.
    pub idempotency_key: String,
    /// The household's register number.
    pub household_code: String,
    /// The member.
    pub member: MemberInput,
}

/// Changes to a member: fields left out stay as they are. The household keeps exactly one head.
#[derive(InputObject)]
pub struct UpdateMemberInput {
    /// Makes retries safe: a second request with this key answers the first one's result.
    pub idempotency_key: String,
    /// The member's resident ID number.
    pub id_number: String,
    /// The `version` you read; the write is refused with `CONFLICT` if the member changed since.
    pub version: i32,
    /// The member's name.
    pub name: Option<String>,
    /// Relation to the household head.
    pub relation: Option<Relation>,
    /// Date of birth (the one in the ID number).
    pub birth_date: Option<Date>,
    /// Gender.
    pub gender: Option<Gender>,
    /// Labour capacity.
    pub labor_capacity: Option<LaborCapacity>,
}

/// Members of households: their writes.
#[derive(Default)]
pub struct MemberMutation;

#[Object]
impl MemberMutation {
    /// Adds a member to a household (its `persons` goes up by one).
    async fn create_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The household and its new member.")] input: CreateMemberInput,
    ) -> Result<CreateMemberPayload> {
        let m = dw::CreateMember {
            household_code: input.household_code,
            member: input.member.into(),
        };
        let (member, user_errors) =
            write(ctx, &WRITERS, &input.idempotency_key, &m, Member::from).await?;
        Ok(CreateMemberPayload {
            member,
            user_errors,
        })
    }

    /// Changes a member.
    async fn update_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The changes.")] input: UpdateMemberInput,
    ) -> Result<UpdateMemberPayload> {
        let m = dw::MemberPatch {
            id_number: input.id_number,
            version: input.version,
            name: input.name,
            relation: input.relation.map(Into::into),
            birth_date: input.birth_date.map(|d| d.0),
            gender: input.gender.map(Into::into),
            labor_capacity: input.labor_capacity.map(Into::into),
        };
        let (member, user_errors) =
            write(ctx, &WRITERS, &input.idempotency_key, &m, Member::from).await?;
        Ok(UpdateMemberPayload {
            member,
            user_errors,
        })
    }
}
