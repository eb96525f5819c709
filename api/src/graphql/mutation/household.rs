//! Households: their writes.

use super::super::enums::{Gender, LaborCapacity, Relation};
use super::super::scalars::Date;
use super::super::types::household::Household;
use super::household_patch;
use super::{patch, write, UserError, WRITERS};
use crate::domain::write::{self as dw};
use async_graphql::{Context, InputObject, MaybeUndefined, Object, Result, SimpleObject};

payload!(
    /// The answer to `createHousehold`.
    CreateHouseholdPayload { household: Household }
);

payload!(
    /// The answer to `updateHousehold`.
    UpdateHouseholdPayload { household: Household }
);

payload!(
    /// The answer to `recordMoveIn`.
    RecordMoveInPayload { household: Household }
);

payload!(
    /// The answer to `recordPovertyExit`.
    RecordPovertyExitPayload { household: Household }
);

payload!(
    /// The answer to `recordRelapse`.
    RecordRelapsePayload { household: Household }
);

/// A member of a new household, or a new member of a household.
#[derive(InputObject)]
pub struct MemberInput {
    /// Resident ID number (18 characters, GB 11643 checksum; unique).
    pub id_number: String,
    /// The member's name.
    pub name: String,
    /// Relation to the household head; exactly one member is the `HEAD`.
    pub relation: Relation,
    /// Date of birth (the one in the ID number).
    pub birth_date: Date,
    /// Gender.
    pub gender: Gender,
    /// Labour capacity.
    pub labor_capacity: LaborCapacity,
}

impl From<MemberInput> for dw::MemberInput {
    fn from(m: MemberInput) -> Self {
        dw::MemberInput {
            id_number: m.id_number,
            name: m.name,
            relation: m.relation.into(),
            birth_date: m.birth_date.0,
            gender: m.gender.into(),
            labor_capacity: m.labor_capacity.into(),
        }
    }
}

/// A new household with all its members: `persons` is their number, and the head member's ID
/// is `headIdNumber`.
#[derive(InputObject)]
pub struct CreateHouseholdInput {
    /// Makes retries safe: a second request with this key answers the first one's result.
    pub idempotency_key: String,
    /// 建档立卡户编号: the household's register number (unique).
    pub code: String,
    /// Name of the household head.
    pub head_name: String,
    /// Resident ID number of the household head: the ID of the member with relation `HEAD`.
    pub head_id_number: String,
    /// Contact phone number.
    pub phone: Option<String>,
    /// Code of the village (an area of level `VILLAGE`) the household moves out of.
    pub origin_village_code: String,
    /// Code of the site the household is registered to.
    pub site_code: String,
    /// 建档立卡贫困户 (true) or 同步搬迁户 (false).
    pub registered_poor: bool,
    /// The day the household moved in.
    pub moved_in_on: Option<Date>,
    /// The day the household exited poverty (registered-poor households only).
    pub poverty_exit_on: Option<Date>,
    /// The day the household fell back into poverty (after its exit).
    pub relapsed_on: Option<Date>,
    /// Every member, the head included.
    pub members: Vec<MemberInput>,
}

/// Changes to a household: fields left out stay as they are; `null` clears a nullable one.
/// `persons` follows the members (see `createMember`).
#[derive(InputObject)]
pub struct UpdateHouseholdInput {
    /// Makes retries safe: a second request with this key answers the first one's result.
    pub idempotency_key: String,
    /// The household's register number.
    pub code: String,
    /// The `version` you read; the write is refused with `CONFLICT` if the household changed
    /// since.
    pub version: i32,
    /// Name of the household head.
    pub head_name: Option<String>,
    /// Resident ID number of the household head (must be the `HEAD` member's).
    pub head_id_number: Option<String>,
    /// Contact phone number.
    pub phone: MaybeUndefined<String>,
    /// Code of the village the household moved out of.
    pub origin_village_code: Option<String>,
    /// Code of the site the household is registered to.
    pub site_code: Option<String>,
    /// 建档立卡贫困户 (true) or 同步搬迁户 (false).
    pub registered_poor: Option<bool>,
    /// The day the household moved in.
    pub moved_in_on: MaybeUndefined<Date>,
    /// The day the household exited poverty.
    pub poverty_exit_on: MaybeUndefined<Date>,
    /// The day the household fell back into poverty.
    pub relapsed_on: MaybeUndefined<Date>,
}

macro_rules! household_date_input {
    ($(#[$meta:meta])* $name:ident, $(#[$fmeta:meta])* $field:ident) => {
        $(#[$meta])*
        #[derive(InputObject)]
        pub struct $name {
            /// Makes retries safe: a second request with this key answers the first one's result.
            pub idempotency_key: String,
            /// The household's register number.
            pub code: String,
            /// The `version` you read; the write is refused with `CONFLICT` if the household
            /// changed since.
            pub version: i32,
            $(#[$fmeta])*
            pub $field: Option<Date>,
        }
    };
}

household_date_input!(
    /// The day a household moved in.
    RecordMoveInInput,
    /// The day the household moved in; null (or left out) clears it.
    moved_in_on
);
household_date_input!(
    /// The day a registered-poor household exited poverty.
    RecordPovertyExitInput,
    /// The day the household exited poverty; null (or left out) clears it.
    poverty_exit_on
);
household_date_input!(
    /// The day a household fell back into poverty.
    RecordRelapseInput,
    /// The day the household fell back into poverty (after its exit); null (or left out)
    /// clears it.
    relapsed_on
);

/// Households: their writes.
#[derive(Default)]
pub struct HouseholdMutation;

#[Object]
impl HouseholdMutation {
    /// Registers a household with its members.
    async fn create_household(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new household and its members.")] input: CreateHouseholdInput,
    ) -> Result<CreateHouseholdPayload> {
        let m = dw::CreateHousehold {
            code: input.code,
            head_name: input.head_name,
            head_id_number: input.head_id_number,
            phone: input.phone,
            origin_village_code: input.origin_village_code,
            site_code: input.site_code,
            registered_poor: input.registered_poor,
            moved_in_on: input.moved_in_on.map(|d| d.0),
            poverty_exit_on: input.poverty_exit_on.map(|d| d.0),
            relapsed_on: input.relapsed_on.map(|d| d.0),
            members: input.members.into_iter().map(Into::into).collect(),
        };
        let (household, user_errors) =
            write(ctx, &WRITERS, &input.idempotency_key, &m, Household::from).await?;
        Ok(CreateHouseholdPayload {
            household,
            user_errors,
        })
    }

    /// Changes a household.
    async fn update_household(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The changes.")] input: UpdateHouseholdInput,
    ) -> Result<UpdateHouseholdPayload> {
        let m = dw::HouseholdPatch {
            head_name: input.head_name,
            head_id_number: input.head_id_number,
            phone: patch(input.phone, |v| v),
            origin_village_code: input.origin_village_code,
            site_code: input.site_code,
            registered_poor: input.registered_poor,
            moved_in_on: patch(input.moved_in_on, |d| d.0),
            poverty_exit_on: patch(input.poverty_exit_on, |d| d.0),
            relapsed_on: patch(input.relapsed_on, |d| d.0),
            ..household_patch("updateHousehold", input.code, input.version)
        };
        let (household, user_errors) =
            write(ctx, &WRITERS, &input.idempotency_key, &m, Household::from).await?;
        Ok(UpdateHouseholdPayload {
            household,
            user_errors,
        })
    }

    /// Records (or clears) the day a household moved in.
    async fn record_move_in(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The household and its move-in date.")] input: RecordMoveInInput,
    ) -> Result<RecordMoveInPayload> {
        let m = dw::HouseholdPatch {
            moved_in_on: Some(input.moved_in_on.map(|d| d.0)),
            ..household_patch("recordMoveIn", input.code, input.version)
        };
        let (household, user_errors) =
            write(ctx, &WRITERS, &input.idempotency_key, &m, Household::from).await?;
        Ok(RecordMoveInPayload {
            household,
            user_errors,
        })
    }

    /// Records (or clears) the day a household exited poverty.
    async fn record_poverty_exit(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The household and its exit date.")] input: RecordPovertyExitInput,
    ) -> Result<RecordPovertyExitPayload> {
        let m = dw::HouseholdPatch {
            poverty_exit_on: Some(input.poverty_exit_on.map(|d| d.0)),
            ..household_patch("recordPovertyExit", input.code, input.version)
        };
        let (household, user_errors) =
            write(ctx, &WRITERS, &input.idempotency_key, &m, Household::from).await?;
        Ok(RecordPovertyExitPayload {
            household,
            user_errors,
        })
    }

    /// Records (or clears) the day a household fell back into poverty.
    async fn record_relapse(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The household and its relapse date.")] input: RecordRelapseInput,
    ) -> Result<RecordRelapsePayload> {
        let m = dw::HouseholdPatch {
            relapsed_on: Some(input.relapsed_on.map(|d| d.0)),
            ..household_patch("recordRelapse", input.code, input.version)
        };
        let (household, user_errors) =
            write(ctx, &WRITERS, &input.idempotency_key, &m, Household::from).await?;
        Ok(RecordRelapsePayload {
            household,
            user_errors,
        })
    }
}
