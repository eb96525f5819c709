//! Members' employments.

use super::{
    destination_owns, duplicate, json, not_destination, update_versioned, within, Applied,
    Mutation, Step, UserError, Versioned, Writer,
};
use crate::domain::indicators::rollup::Touched;
use crate::domain::rules;
use crate::domain::scope::Scope;
use chrono::{NaiveDate, Utc};
use entity::enums::{EmploymentLocation, EmploymentPath};
use entity::{employment, household, member};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, Condition, DatabaseTransaction, DbErr,
    EntityTrait, IntoActiveModel,
};
use serde::Serialize;

const EMPLOYMENT: &str = "employment";

/// The household a member belongs to.
async fn household_of_member(
    txn: &DatabaseTransaction,
    id_number: &str,
) -> Result<household::Model, DbErr> {
    let m = member::Entity::find_by_id(id_number.to_owned())
        .one(txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(id_number.to_owned()))?;
    household::Entity::find_by_id(m.household_code.clone())
        .one(txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(m.household_code))
}

/// The refusal of an employment write to a caller whose area does not own the destination side
/// of the member's household; `None` when it does.
async fn not_owned(
    txn: &DatabaseTransaction,
    writer: &Writer<'_>,
    household: &household::Model,
) -> Result<Option<UserError>, DbErr> {
    Ok(
        (!destination_owns(txn, writer, &household.site_code).await?)
            .then(|| not_destination("employment", &household.code, &household.site_code)),
    )
}

/// The rules of one employment as it will be stored, replacing `before` (if any); the
/// employer's name is checked when it is written.
fn employment_rules(e: &employment::Model, before: Option<&employment::Model>) -> Vec<UserError> {
    let mut errors = Vec::new();
    if e.employer.trim().is_empty() {
        errors.push(UserError::bad_input(&["employer"], "must not be empty"));
    } else if let (true, Err(reason)) = (
        before.is_none_or(|b| b.employer != e.employer),
        rules::name(&e.employer),
    ) {
        errors.push(UserError::bad_input(&["employer"], reason));
    }
    if let Err(reason) = rules::employment_dates(e.started_on, e.ended_on) {
        errors.push(UserError::bad_input(&["endedOn"], reason));
    }
    if let Some(Err(reason)) = e.monthly_income_yuan.map(|n| rules::whole(i64::from(n), 0)) {
        errors.push(UserError::bad_input(&["monthlyIncomeYuan"], reason));
    }
    errors
}

/// `addEmployment`.
#[derive(Debug, Clone, Serialize)]
pub struct AddEmployment {
    pub member_id_number: String,
    pub path: EmploymentPath,
    pub employer: String,
    pub location: EmploymentLocation,
    pub started_on: NaiveDate,
    pub ended_on: Option<NaiveDate>,
    pub monthly_income_yuan: Option<i32>,
}

impl Mutation for AddEmployment {
    type Record = employment::Model;

    fn operation(&self) -> &'static str {
        "addEmployment"
    }

    async fn apply<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        writer: &'a Writer<'a>,
    ) -> Result<Step<employment::Model>, DbErr> {
        let found = within(
            member::Entity::find_by_id(self.member_id_number.clone()),
            &writer.visible,
            Scope::members,
        )
        .one(txn)
        .await?;
        if found.is_none() {
            return Ok(Err(vec![UserError::not_found(
                &["memberIdNumber"],
                "member",
                &self.member_id_number,
            )]));
        }
        let household = household_of_member(txn, &self.member_id_number).await?;
        if let Some(refused) = not_owned(txn, writer, &household).await? {
            return Ok(Err(vec![refused]));
        }
        let now = Utc::now();
        let mut record = employment::Model {
            id: 0,
            member_id_number: self.member_id_number.clone(),
            path: self.path,
            employer: self.employer.clone(),
            location: self.location,
            started_on: self.started_on,
            ended_on: self.ended_on,
            monthly_income_yuan: self.monthly_income_yuan,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let errors = employment_rules(&record, None);
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        let touched = Touched {
            sites: vec![household.site_code],
            villages: vec![],
        };
        let mut model = record.clone().into_active_model().reset_all();
        model.id = NotSet;
        match model.insert(txn).await {
            Ok(inserted) => record = inserted,
            Err(e) if duplicate(&e) => {
                return Ok(Err(vec![UserError::exists(
                    &["startedOn"],
                    EMPLOYMENT,
                    &format!(
                        "{} {} {} {}",
                        self.member_id_number, self.path, self.employer, self.started_on
                    ),
                )]))
            }
            Err(e) => return Err(e),
        }
        Ok(Ok(Applied {
            after: json(&record)?,
            key: record.id.to_string(),
            entity: EMPLOYMENT,
            before: None,
            touched,
            record,
        }))
    }
}

/// `endEmployment`: sets (or, with `None`, clears) the last day worked.
#[derive(Debug, Clone, Serialize)]
pub struct EndEmployment {
    pub id: i64,
    pub version: i32,
    pub ended_on: Option<NaiveDate>,
}

impl Mutation for EndEmployment {
    type Record = employment::Model;

    fn operation(&self) -> &'static str {
        "endEmployment"
    }

    async fn apply<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        writer: &'a Writer<'a>,
    ) -> Result<Step<employment::Model>, DbErr> {
        let key = self.id.to_string();
        let found = within(
            employment::Entity::find_by_id(self.id),
            &writer.visible,
            Scope::employments,
        )
        .one(txn)
        .await?;
        let Some(before) = found else {
            return Ok(Err(vec![UserError::not_found(&["id"], EMPLOYMENT, &key)]));
        };
        let household = household_of_member(txn, &before.member_id_number).await?;
        if let Some(refused) = not_owned(txn, writer, &household).await? {
            return Ok(Err(vec![refused]));
        }
        if before.version != self.version {
            return Ok(Err(vec![UserError::stale(EMPLOYMENT, &key, self.version)]));
        }
        let mut after = before.clone();
        after.ended_on = self.ended_on;
        let errors = employment_rules(&after, Some(&before));
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        after.version = before.version + 1;
        after.updated_at = Utc::now();
        let touched = Touched {
            sites: vec![household.site_code],
            villages: vec![],
        };
        update_versioned(
            txn,
            Versioned {
                entity: EMPLOYMENT,
                noun: EMPLOYMENT,
                key,
                condition: Condition::all().add(employment::Column::Id.eq(self.id)),
                version_column: employment::Column::Version,
                expected: self.version,
                touched,
            },
            &before,
            after,
        )
        .await
    }
}
