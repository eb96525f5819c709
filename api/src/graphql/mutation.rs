//! Mutations: the field workflow's writes. Each is `verbNoun(input: VerbNounInput!)` answering a
//! `VerbNounPayload` with the record as written (null when nothing was) and `userErrors`.
//!
//! Resolvers are thin: check the role, convert the input, run the domain write
//! ([`crate::domain::write`]) in the caller's scope, convert the outcome. Every input carries an
//! `idempotencyKey`; see the domain module for what it guarantees.

use super::access::{forbidden, require_role, scope};
use super::enums::{
    EmploymentLocation, EmploymentPath, Gender, LaborCapacity, Placement, ReclaimedUse, Relation,
    SiteSetting, WorkCategory,
};
use super::errors::GqlResult;
use super::scalars::Date;
use super::types::household::{Employment, Homestead, Household, Member};
use super::types::node::Kind;
use super::types::site::{ResettlementSite, SiteWork};
use super::RequestId;
use crate::auth::Role;
use crate::cache::Cache;
use crate::domain::write::{self as dw, Mutation as Write};
use async_graphql::{Context, Enum, InputObject, MaybeUndefined, Object, Result, SimpleObject, ID};
use sea_orm::DatabaseConnection;

/// Roles that may change the register.
const WRITERS: [Role; 3] = [Role::Admin, Role::Officer, Role::SiteManager];
/// Roles that may create sites.
const PLANNERS: [Role; 2] = [Role::Admin, Role::Officer];

/// Why a mutation wrote nothing.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserErrorCode {
    /// The input breaks a rule of the register (the same rule, in the same words, as an import).
    BadUserInput,
    /// A record named or referred to does not exist, or lies outside what you may see.
    NotFound,
    /// The record changed since the `version` given (read it again), or its key is taken.
    Conflict,
    /// The `idempotencyKey` was already used for another operation or another input.
    IdempotencyKeyReused,
}

/// One reason a mutation wrote nothing. A payload with user errors wrote nothing at all.
#[derive(SimpleObject, Debug, Clone)]
pub struct UserError {
    /// Path to the input field at fault, from inside `input` (`["members", "1", "idNumber"]`);
    /// null when no one field is.
    pub field: Option<Vec<String>>,
    /// What is wrong, for a person.
    pub message: String,
    /// What is wrong, for a program.
    pub code: UserErrorCode,
}

impl From<dw::UserError> for UserError {
    fn from(e: dw::UserError) -> Self {
        UserError {
            field: e.field,
            message: e.message,
            code: match e.code {
                dw::UserErrorCode::BadUserInput => UserErrorCode::BadUserInput,
                dw::UserErrorCode::NotFound => UserErrorCode::NotFound,
                dw::UserErrorCode::Conflict => UserErrorCode::Conflict,
                dw::UserErrorCode::IdempotencyKeyReused => UserErrorCode::IdempotencyKeyReused,
                // Never a user error: `write` answers it as a `FORBIDDEN` error first.
                dw::UserErrorCode::Forbidden => UserErrorCode::BadUserInput,
            },
        }
    }
}

/// Runs `mutation` for the caller (one of `roles`) and converts its outcome.
async fn write<M: Write, T>(
    ctx: &Context<'_>,
    roles: &[Role],
    key: &str,
    mutation: &M,
    wrap: impl Fn(M::Record) -> T,
) -> Result<(Option<T>, Vec<UserError>)> {
    let who = require_role(ctx, roles, "change the register")?;
    let writer = dw::Writer {
        who: who.actor(),
        request_id: &ctx.data::<RequestId>()?.0,
        visible: scope(ctx).await?,
    };
    let db = ctx.data::<DatabaseConnection>()?;
    let cache = ctx.data::<Cache>()?;
    let outcome = dw::run(db, cache, &writer, key, mutation).await.gql()?;
    // A field the caller's area does not own (the household's other township does) is refused
    // like a role that may not write, and nothing was written.
    if let Some(refused) = outcome
        .user_errors
        .iter()
        .find(|e| e.code == dw::UserErrorCode::Forbidden)
    {
        return Err(forbidden(refused.message.clone()));
    }
    Ok((
        outcome.record.map(wrap),
        outcome.user_errors.into_iter().map(Into::into).collect(),
    ))
}

/// An absent field leaves the value alone; `null` clears it.
fn patch<T, U>(value: MaybeUndefined<T>, f: impl FnOnce(T) -> U) -> Option<Option<U>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(f(v))),
    }
}

/// The record number behind a mutation's `id`; an id that names no record of `kind` matches
/// none.
fn record_id(id: &ID, kind: Kind) -> i64 {
    super::types::node::record_number(id, kind)
}

macro_rules! payload {
    ($(#[$meta:meta])* $name:ident { $field:ident: $ty:ty }) => {
        $(#[$meta])*
        #[derive(SimpleObject)]
        pub struct $name {
            /// The record as written; null when nothing was.
            pub $field: Option<$ty>,
            /// Why nothing was written; empty when the write succeeded.
            pub user_errors: Vec<UserError>,
        }
    };
}

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
payload!(
    /// The answer to `createMember`.
    CreateMemberPayload { member: Member }
);
payload!(
    /// The answer to `updateMember`.
    UpdateMemberPayload { member: Member }
);
payload!(
    /// The answer to `addEmployment`.
    AddEmploymentPayload { employment: Employment }
);
payload!(
    /// The answer to `endEmployment`.
    EndEmploymentPayload { employment: Employment }
);
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

fn household_patch(operation: &'static str, code: String, version: i32) -> dw::HouseholdPatch {
    dw::HouseholdPatch {
        operation,
        code,
        version,
        ..Default::default()
    }
}

fn homestead_patch(operation: &'static str, id: &ID, version: i32) -> dw::HomesteadPatch {
    dw::HomesteadPatch {
        operation,
        id: record_id(id, Kind::Homestead),
        version,
        ..Default::default()
    }
}

/// The writes of the field workflow.
#[derive(Default)]
pub struct Mutation;

/// The writes of the field workflow. Each answers its record as written and `userErrors`; a
/// payload with user errors wrote nothing.
#[Object]
impl Mutation {
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
        let (site, user_errors) =
            write(ctx, &PLANNERS, &input.idempotency_key, &m, ResettlementSite).await?;
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
        let (site, user_errors) =
            write(ctx, &WRITERS, &input.idempotency_key, &m, ResettlementSite).await?;
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
            write(ctx, &WRITERS, &input.idempotency_key, &m, SiteWork).await?;
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
            write(ctx, &WRITERS, &input.idempotency_key, &m, SiteWork).await?;
        Ok(RecordWorkCompletionPayload { work, user_errors })
    }

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
            write(ctx, &WRITERS, &input.idempotency_key, &m, Household).await?;
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
            write(ctx, &WRITERS, &input.idempotency_key, &m, Household).await?;
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
            write(ctx, &WRITERS, &input.idempotency_key, &m, Household).await?;
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
            write(ctx, &WRITERS, &input.idempotency_key, &m, Household).await?;
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
            write(ctx, &WRITERS, &input.idempotency_key, &m, Household).await?;
        Ok(RecordRelapsePayload {
            household,
            user_errors,
        })
    }

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
            write(ctx, &WRITERS, &input.idempotency_key, &m, Member).await?;
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
            write(ctx, &WRITERS, &input.idempotency_key, &m, Member).await?;
        Ok(UpdateMemberPayload {
            member,
            user_errors,
        })
    }

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
            write(ctx, &WRITERS, &input.idempotency_key, &m, Employment).await?;
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
            write(ctx, &WRITERS, &input.idempotency_key, &m, Employment).await?;
        Ok(EndEmploymentPayload {
            employment,
            user_errors,
        })
    }

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
            write(ctx, &WRITERS, &input.idempotency_key, &m, Homestead).await?;
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
            write(ctx, &WRITERS, &input.idempotency_key, &m, Homestead).await?;
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
            write(ctx, &WRITERS, &input.idempotency_key, &m, Homestead).await?;
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
            write(ctx, &WRITERS, &input.idempotency_key, &m, Homestead).await?;
        Ok(RecordHomesteadExemptionPayload {
            homestead,
            user_errors,
        })
    }
}
