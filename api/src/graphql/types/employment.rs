//! The jobs members hold.

use super::super::access::{reveal, sees_personal, Personal};
use super::super::enums::{EmploymentLocation, EmploymentPath};
use super::super::loaders::{self};
use super::super::mark_personal;
use super::super::scalars::{date, Date};
use super::member::{Member, MEMBER};
use super::node::{global_id, Kind};
use async_graphql::{Context, Object, Result, ID};
use entity::{employment, member};

/// Record kinds as the audit log names them.
const EMPLOYMENT: &str = "employment";

/// One job held by a member.
pub struct Employment(pub std::sync::Arc<employment::Model>);

impl From<employment::Model> for Employment {
    fn from(model: employment::Model) -> Self {
        Self(model.into())
    }
}

/// One job held by a member.
#[Object]
impl Employment {
    /// Opaque, stable global identifier; `node(id:)` fetches the record again.
    /// `endEmployment` takes it as `id`.
    pub(crate) async fn id(&self, _ctx: &Context<'_>) -> Result<ID> {
        Ok(global_id(Kind::Employment, &self.0.id.to_string()))
    }
    /// The employment's record number.
    async fn record_id(&self) -> ID {
        self.0.id.into()
    }
    /// ID number of the employed member (masked without the `pii` grant).
    async fn member_id_number(&self, ctx: &Context<'_>) -> String {
        let id = &self.0.member_id_number;
        reveal(ctx, MEMBER, id, id, Personal::IdNumber)
    }
    /// The employed member.
    async fn member(&self, ctx: &Context<'_>) -> Result<Member> {
        mark_personal(ctx);
        loaders::required::<member::Entity, 0>(ctx, "member", &self.0.member_id_number)
            .await
            .map(Member)
    }
    /// How the job was found.
    async fn path(&self) -> EmploymentPath {
        self.0.path.into()
    }
    /// The employer.
    async fn employer(&self) -> &str {
        &self.0.employer
    }
    /// Where the job is.
    async fn location(&self) -> EmploymentLocation {
        self.0.location.into()
    }
    /// First day worked.
    async fn started_on(&self) -> Date {
        Date(self.0.started_on)
    }
    /// Last day worked; null while the job goes on.
    async fn ended_on(&self) -> Option<Date> {
        date(self.0.ended_on)
    }
    /// Monthly income in yuan; null without the `pii` grant.
    async fn monthly_income_yuan(&self, ctx: &Context<'_>) -> Option<i32> {
        let income = self.0.monthly_income_yuan?;
        sees_personal(ctx, EMPLOYMENT, &self.0.id.to_string()).then_some(income)
    }
    /// Revision of this record, raised by every change.
    async fn version(&self) -> i32 {
        self.0.version
    }
}
