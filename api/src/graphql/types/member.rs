//! Members of households.

use super::super::access::{reveal, scope, Personal};
use super::super::enums::{EmploymentPath, Gender, LaborCapacity, Relation};
use super::super::loaders::{self};
use super::super::mark_personal;
use super::super::pagination::{
    connection, fetch_connection, page_request, selects_records, unseal, Conn, PageArgs,
};
use super::super::scalars::Date;
use super::employment::Employment;
use super::household::Household;
use super::node::member_id;
use crate::domain::register::{self as reg, employment_page, EmploymentFilter, MemberFilter};
use async_graphql::{Context, InputObject, Object, Result, ID};
use entity::{employment, household, member};

/// Record kinds as the audit log names them.
pub(super) const MEMBER: &str = "member";

/// A member of a household.
pub struct Member(pub std::sync::Arc<member::Model>);

impl From<member::Model> for Member {
    fn from(model: member::Model) -> Self {
        Self(model.into())
    }
}

/// A member of a household.
#[Object]
impl Member {
    /// Opaque, stable global identifier; `node(id:)` fetches the record again. It does not
    /// reveal the ID number.
    pub(crate) async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        member_id(ctx, &self.0.id_number)
    }
    /// Resident ID number (18 characters, GB 11643; `1407**********123X` without the `pii`
    /// grant).
    async fn id_number(&self, ctx: &Context<'_>) -> String {
        reveal(
            ctx,
            MEMBER,
            &self.0.id_number,
            &self.0.id_number,
            Personal::IdNumber,
        )
    }
    /// The member's name (the surname only, `王**`, without the `pii` grant).
    async fn name(&self, ctx: &Context<'_>) -> String {
        reveal(ctx, MEMBER, &self.0.id_number, &self.0.name, Personal::Name)
    }
    /// Relation to the household head.
    async fn relation(&self) -> Relation {
        self.0.relation.into()
    }
    /// Date of birth.
    async fn birth_date(&self) -> Date {
        Date(self.0.birth_date)
    }
    /// Gender.
    async fn gender(&self) -> Gender {
        self.0.gender.into()
    }
    /// Labour capacity.
    async fn labor_capacity(&self) -> LaborCapacity {
        self.0.labor_capacity.into()
    }
    /// Code of the member's household.
    async fn household_code(&self) -> &str {
        &self.0.household_code
    }
    /// The member's household.
    async fn household(&self, ctx: &Context<'_>) -> Result<Household> {
        mark_personal(ctx);
        loaders::required::<household::Entity, 0>(ctx, "household", &self.0.household_code)
            .await
            .map(Household)
    }
    /// Revision of this record, raised by every change.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// The member's employments, oldest record first.
    #[graphql(complexity = "2 * child_complexity")]
    // Each argument is one of the field's GraphQL arguments.
    #[allow(clippy::too_many_arguments)]
    async fn employments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only employments along this path.")] path: Option<EmploymentPath>,
        #[graphql(desc = "Only employments active on this date.")] active_on: Option<Date>,
        #[graphql(desc = "Page size, 1–100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge already seen.")] after: Option<String>,
        #[graphql(
            desc = "Page size counted back from the end of the list (or from `before`), \
                          1–100; not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(desc = "Cursor of the first edge already seen: the page ends before it.")]
        before: Option<String>,
    ) -> Result<Conn<Employment>> {
        mark_personal(ctx);
        let req = page_request(PageArgs::new(first, after, last, before))?;
        let all = loaders::children::<employment::Entity>(ctx, &self.0.id_number).await?;
        let filter = EmploymentFilter {
            path: path.map(Into::into),
            active_on: active_on.map(|d| d.0),
        };
        let page = employment_page(all, &filter, &req);
        Ok(connection(page, |e| e.id.to_string(), Employment))
    }
}

/// Narrows a list of members.
#[derive(InputObject, Default, Debug)]
pub struct MemberFilterInput {
    /// Only members of households resettled in this area or below it.
    pub area_code: Option<String>,
    /// Only members of households registered to this site.
    pub site_code: Option<String>,
    /// Only members with one of these labour capacities.
    pub labor_capacity: Option<Vec<LaborCapacity>>,
}

/// Member queries.
#[derive(Default)]
pub struct MemberQuery;

#[Object]
impl MemberQuery {
    /// The member with this resident ID number, or null.
    async fn member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Resident ID number (18 characters).")] id_number: String,
    ) -> Result<Option<Member>> {
        mark_personal(ctx);
        Ok(loaders::one::<member::Entity>(ctx, &id_number)
            .await?
            .map(Member))
    }
    /// Members, by ID number.
    #[graphql(
        complexity = "first.or(last).map(|n| n.max(0) as usize).unwrap_or(20) * child_complexity"
    )]
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<MemberFilterInput>,
        #[graphql(desc = "Page size, 1–100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge already seen.")] after: Option<String>,
        #[graphql(
            desc = "Page size counted back from the end of the list (or from `before`), \
                          1–100; not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(desc = "Cursor of the first edge already seen: the page ends before it.")]
        before: Option<String>,
    ) -> Result<Conn<Member>> {
        let f = filter.unwrap_or_default();
        let filter = MemberFilter {
            area_code: f.area_code,
            site_code: f.site_code,
            labor_capacities: f
                .labor_capacity
                .map(|v| v.into_iter().map(Into::into).collect()),
        };
        let scope = scope(ctx).await?;
        if selects_records(ctx) {
            mark_personal(ctx);
        }
        let page = unseal(ctx, PageArgs::new(first, after, last, before))?;
        fetch_connection(
            ctx,
            page,
            |db, req| async move { reg::members(&db, &scope, &filter, &req).await },
            |m| m.id_number.clone(),
            Member::from,
        )
        .await
        .map(Conn::sealed)
    }
}
