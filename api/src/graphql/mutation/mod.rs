//! Mutations: the field workflow's writes. Each is `verbNoun(input: VerbNounInput!)` answering a
//! `VerbNounPayload` with the record as written (null when nothing was) and `userErrors`.
//!
//! Resolvers are thin: check the role, convert the input, run the domain write
//! ([`crate::domain::write`]) in the caller's scope, convert the outcome. Every input carries an
//! `idempotencyKey`; see the domain module for what it guarantees.

use super::access::{forbidden, require_role, scope};
use super::errors::GqlResult;
use super::types::node::Kind;
use super::RequestId;
use crate::auth::Role;
use crate::domain::write::{self as dw, Mutation as Write};
use async_graphql::{Context, Enum, MaybeUndefined, MergedObject, Result, SimpleObject, ID};

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
    /// The write would change an indicator of an area as of a day of a month that is
    /// APPROVED for it (and no lock exception is in force): the message names the area, the
    /// month and the indicator.
    PeriodLocked,
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
                dw::UserErrorCode::PeriodLocked => UserErrorCode::PeriodLocked,
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
    let outcome = dw::run(ctx.data()?, ctx.data()?, &writer, key, mutation)
        .await
        .gql()?;
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

mod employment;
mod homestead;
mod household;
mod member;
mod period;
mod site;
mod webhook;

/// The writes of the field workflow. Each answers its record as written and `userErrors`; a
/// payload with user errors wrote nothing.
#[derive(MergedObject, Default)]
pub struct Mutation(
    site::SiteMutation,
    household::HouseholdMutation,
    member::MemberMutation,
    employment::EmploymentMutation,
    homestead::HomesteadMutation,
    webhook::WebhookMutation,
    period::PeriodMutation,
);
