//! Households and their members.

use super::{
    area_ref, breaches, destination_owns, distinct, duplicate, json, not_destination,
    update_versioned, within, Applied, Mutation, Step, UserError, Versioned, Writer,
};
use crate::domain::indicators::rollup::Touched;
use crate::domain::rules::{self, MembershipBreach};
use crate::domain::scope::Scope;
use chrono::{NaiveDate, Utc};
use entity::enums::{AreaLevel, Gender, LaborCapacity, Relation};
use entity::{household, member, site};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseTransaction, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder,
};
use serde::Serialize;

const HOUSEHOLD: &str = "household";
const MEMBER: &str = "member";

/// The single-record rules of a household as it will be stored, replacing `before` (if any).
/// The rules on the text of a name hold for names written now: one stored before they held
/// does not block other changes.
fn household_rules(h: &household::Model, before: Option<&household::Model>) -> Vec<UserError> {
    let mut errors = Vec::new();
    if h.code.trim().is_empty() {
        errors.push(UserError::bad_input(&["code"], "must not be empty"));
    }
    if h.head_name.trim().is_empty() {
        errors.push(UserError::bad_input(&["headName"], "must not be empty"));
    } else if let (true, Err(reason)) = (
        before.is_none_or(|b| b.head_name != h.head_name),
        rules::name(&h.head_name),
    ) {
        errors.push(UserError::bad_input(&["headName"], reason));
    }
    if let Err(reason) = rules::id_number(&h.head_id_number) {
        errors.push(UserError::bad_input(&["headIdNumber"], reason));
    }
    if let Err(reason) = rules::whole(i64::from(h.persons), 1) {
        errors.push(UserError::bad_input(&["persons"], reason));
    }
    errors.extend(breaches(
        &[],
        rules::poverty_dates(
            Some(h.registered_poor),
            Some(h.poverty_exit_on),
            Some(h.relapsed_on),
        ),
    ));
    errors
}

/// The member rules of household `h` with `members` (ID number, relation), as user errors;
/// `member_field` gives the input path of a member by position, when members are input.
fn membership_rules(
    h: &household::Model,
    members: &[(&str, Option<Relation>)],
    member_field: impl Fn(usize) -> Option<Vec<String>>,
) -> Vec<UserError> {
    rules::membership(Some(h.persons), &h.head_id_number, members)
        .into_iter()
        .map(|breach| match breach {
            MembershipBreach::Persons { persons, members } => UserError::bad_input(
                &["persons"],
                format!("persons is {persons}, but the household has {members} member(s)"),
            ),
            MembershipBreach::NoHead => UserError::bad_input(
                &["headIdNumber"],
                "no member of this household has relation head",
            ),
            MembershipBreach::HeadIdNumber { head } => UserError::bad_input(
                &["headIdNumber"],
                format!(
                    "\"{}\" is not the ID number of the household's head (\"{}\")",
                    h.head_id_number, members[head].0
                ),
            ),
            MembershipBreach::ExtraHead { first, extra } => {
                let mut e = UserError::bad_input(
                    &["relation"],
                    format!(
                        "household \"{}\" already has a head (\"{}\")",
                        h.code, members[first].0
                    ),
                );
                if let Some(path) = member_field(extra) {
                    e.field = Some(path);
                }
                e
            }
        })
        .collect()
}

/// The single-record rules of a member, its fields under `prefix`, replacing `before` (if any):
/// the name's text and the birth date are checked when they are written.
fn member_rules(
    prefix: &[&str],
    m: &member::Model,
    before: Option<&member::Model>,
) -> Vec<UserError> {
    let at = |field: &str| {
        let mut path: Vec<&str> = prefix.to_vec();
        path.push(field);
        path.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()
    };
    let mut errors = Vec::new();
    match rules::id_number(&m.id_number) {
        Err(reason) => errors.push(UserError {
            field: Some(at("idNumber")),
            ..UserError::bad_input(&[], reason)
        }),
        Ok(id) => {
            let born = if before.is_none_or(|b| b.birth_date != m.birth_date) {
                rules::born_by(m.birth_date, rules::today())
            } else {
                Ok(())
            };
            if let Err(reason) = born.and_then(|()| rules::birth_date(&id, m.birth_date)) {
                errors.push(UserError {
                    field: Some(at("birthDate")),
                    ..UserError::bad_input(&[], reason)
                });
            }
        }
    }
    let name = if m.name.trim().is_empty() {
        Err("must not be empty".to_owned())
    } else if before.is_none_or(|b| b.name != m.name) {
        rules::name(&m.name)
    } else {
        Ok(())
    };
    if let Err(reason) = name {
        errors.push(UserError {
            field: Some(at("name")),
            ..UserError::bad_input(&[], reason)
        });
    }
    errors
}

/// A visible site by code, or the user error for `field`.
async fn site_ref(
    txn: &DatabaseTransaction,
    writer: &Writer<'_>,
    field: &str,
    code: &str,
) -> Result<Option<UserError>, DbErr> {
    let found = within(
        site::Entity::find_by_id(code.to_owned()),
        &writer.visible,
        Scope::sites,
    )
    .one(txn)
    .await?;
    Ok(found
        .is_none()
        .then(|| UserError::not_found(&[field], "site", code)))
}

/// A member as `createHousehold` and `createMember` take it.
#[derive(Debug, Clone, Serialize)]
pub struct MemberInput {
    pub id_number: String,
    pub name: String,
    pub relation: Relation,
    pub birth_date: NaiveDate,
    pub gender: Gender,
    pub labor_capacity: LaborCapacity,
}

impl MemberInput {
    fn model(&self, household_code: &str) -> member::Model {
        let now = Utc::now();
        member::Model {
            id_number: self.id_number.clone(),
            household_code: household_code.to_owned(),
            name: self.name.clone(),
            relation: self.relation,
            birth_date: self.birth_date,
            gender: self.gender,
            labor_capacity: self.labor_capacity,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }
}

/// `createHousehold`: the household with all its members (`persons` is their number).
#[derive(Debug, Clone, Serialize)]
pub struct CreateHousehold {
    pub code: String,
    pub head_name: String,
    pub head_id_number: String,
    pub phone: Option<String>,
    pub origin_village_code: String,
    pub site_code: String,
    pub registered_poor: bool,
    pub moved_in_on: Option<NaiveDate>,
    pub poverty_exit_on: Option<NaiveDate>,
    pub relapsed_on: Option<NaiveDate>,
    pub members: Vec<MemberInput>,
}

impl Mutation for CreateHousehold {
    type Record = household::Model;

    fn operation(&self) -> &'static str {
        "createHousehold"
    }

    async fn apply<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        writer: &'a Writer<'a>,
    ) -> Result<Step<household::Model>, DbErr> {
        let now = Utc::now();
        let record = household::Model {
            code: self.code.clone(),
            head_name: self.head_name.clone(),
            head_id_number: self.head_id_number.clone(),
            phone: self.phone.clone().filter(|p| !p.is_empty()),
            origin_village_code: self.origin_village_code.clone(),
            site_code: self.site_code.clone(),
            persons: i32::try_from(self.members.len()).unwrap_or(i32::MAX),
            registered_poor: self.registered_poor,
            moved_in_on: self.moved_in_on,
            poverty_exit_on: self.poverty_exit_on,
            relapsed_on: self.relapsed_on,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let mut errors = Vec::new();
        if let Some(e) = site_ref(txn, writer, "siteCode", &self.site_code).await? {
            errors.push(e);
        }
        if let Err(e) = area_ref(
            txn,
            writer,
            &["originVillageCode"],
            &self.origin_village_code,
            AreaLevel::Village,
        )
        .await?
        {
            errors.push(e);
        }
        errors.extend(household_rules(&record, None));
        let members: Vec<member::Model> =
            self.members.iter().map(|m| m.model(&self.code)).collect();
        let mut seen = std::collections::HashMap::new();
        for (i, m) in members.iter().enumerate() {
            let index = i.to_string();
            errors.extend(member_rules(&["members", &index], m, None));
            if let Some(first) = seen.insert(m.id_number.as_str(), i) {
                errors.push(UserError::bad_input(
                    &["members", &index, "idNumber"],
                    format!(
                        "duplicate ID number \"{}\" (first at member {first})",
                        m.id_number
                    ),
                ));
            }
        }
        let relations: Vec<(&str, Option<Relation>)> = members
            .iter()
            .map(|m| (m.id_number.as_str(), Some(m.relation)))
            .collect();
        errors.extend(membership_rules(&record, &relations, |i| {
            Some(vec!["members".into(), i.to_string(), "relation".into()])
        }));
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        let touched = Touched {
            sites: vec![self.site_code.clone()],
            villages: vec![],
        };
        if let Err(e) = record
            .clone()
            .into_active_model()
            .reset_all()
            .insert(txn)
            .await
        {
            return if duplicate(&e) {
                Ok(Err(vec![UserError::exists(
                    &["code"],
                    HOUSEHOLD,
                    &self.code,
                )]))
            } else {
                Err(e)
            };
        }
        // One statement per member, so that a key already in the register names its member.
        for (i, m) in members.iter().enumerate() {
            if let Err(e) = m.clone().into_active_model().reset_all().insert(txn).await {
                return if duplicate(&e) {
                    let index = i.to_string();
                    Ok(Err(vec![UserError::exists(
                        &["members", &index, "idNumber"],
                        MEMBER,
                        &m.id_number,
                    )]))
                } else {
                    Err(e)
                };
            }
        }
        let after = serde_json::json!({ "household": json(&record)?, "members": json(&members)? });
        Ok(Ok(Applied {
            after,
            key: record.code.clone(),
            entity: HOUSEHOLD,
            before: None,
            touched,
            record,
        }))
    }
}

/// `updateHousehold`, `recordMoveIn`, `recordPovertyExit`, `recordRelapse`: the fields given
/// replace the stored ones (`None` leaves one alone; for a nullable field `Some(None)` clears
/// it). `persons` follows the members and is not set here.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HouseholdPatch {
    #[serde(skip)]
    pub operation: &'static str,
    pub code: String,
    pub version: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_id_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_village_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered_poor: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_in_on: Option<Option<NaiveDate>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poverty_exit_on: Option<Option<NaiveDate>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relapsed_on: Option<Option<NaiveDate>>,
}

/// The stored members of `household` (ID number, relation), by ID number.
async fn stored_members(
    txn: &DatabaseTransaction,
    household: &str,
) -> Result<Vec<member::Model>, DbErr> {
    member::Entity::find()
        .filter(member::Column::HouseholdCode.eq(household))
        .order_by_asc(member::Column::IdNumber)
        .all(txn)
        .await
}

impl HouseholdPatch {
    /// The first field this patch changes that the destination township owns: the ones its
    /// site-side indicators count (move-in, stable exit from poverty) and the site itself.
    fn destination_field(&self, before: &household::Model) -> Option<&'static str> {
        let changes = [
            (
                "movedInOn",
                self.moved_in_on.is_some_and(|v| v != before.moved_in_on),
            ),
            (
                "siteCode",
                self.site_code
                    .as_ref()
                    .is_some_and(|v| *v != before.site_code),
            ),
            (
                "registeredPoor",
                self.registered_poor
                    .is_some_and(|v| v != before.registered_poor),
            ),
            (
                "povertyExitOn",
                self.poverty_exit_on
                    .is_some_and(|v| v != before.poverty_exit_on),
            ),
            (
                "relapsedOn",
                self.relapsed_on.is_some_and(|v| v != before.relapsed_on),
            ),
        ];
        changes
            .into_iter()
            .find(|(_, changed)| *changed)
            .map(|(field, _)| field)
    }
}

impl Mutation for HouseholdPatch {
    type Record = household::Model;

    fn operation(&self) -> &'static str {
        self.operation
    }

    async fn apply<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        writer: &'a Writer<'a>,
    ) -> Result<Step<household::Model>, DbErr> {
        let found = within(
            household::Entity::find_by_id(self.code.clone()),
            &writer.visible,
            Scope::households,
        )
        .one(txn)
        .await?;
        let Some(before) = found else {
            return Ok(Err(vec![UserError::not_found(
                &["code"],
                HOUSEHOLD,
                &self.code,
            )]));
        };
        if let Some(field) = self.destination_field(&before) {
            if !destination_owns(txn, writer, &before.site_code).await? {
                return Ok(Err(vec![not_destination(
                    field,
                    &before.code,
                    &before.site_code,
                )]));
            }
        }
        if before.version != self.version {
            return Ok(Err(vec![UserError::stale(
                HOUSEHOLD,
                &self.code,
                self.version,
            )]));
        }
        let mut after = before.clone();
        let mut errors = Vec::new();
        if let Some(v) = &self.head_name {
            after.head_name = v.clone();
        }
        if let Some(v) = &self.head_id_number {
            after.head_id_number = v.clone();
        }
        if let Some(v) = &self.phone {
            after.phone = v.clone().filter(|p| !p.is_empty());
        }
        if let Some(v) = &self.origin_village_code {
            if *v != before.origin_village_code {
                if let Err(e) =
                    area_ref(txn, writer, &["originVillageCode"], v, AreaLevel::Village).await?
                {
                    errors.push(e);
                }
            }
            after.origin_village_code = v.clone();
        }
        if let Some(v) = &self.site_code {
            if *v != before.site_code {
                if let Some(e) = site_ref(txn, writer, "siteCode", v).await? {
                    errors.push(e);
                }
            }
            after.site_code = v.clone();
        }
        if let Some(v) = self.registered_poor {
            after.registered_poor = v;
        }
        if let Some(v) = self.moved_in_on {
            after.moved_in_on = v;
        }
        if let Some(v) = self.poverty_exit_on {
            after.poverty_exit_on = v;
        }
        if let Some(v) = self.relapsed_on {
            after.relapsed_on = v;
        }
        errors.extend(household_rules(&after, Some(&before)));
        if after.head_id_number != before.head_id_number {
            let members = stored_members(txn, &before.code).await?;
            let relations: Vec<(&str, Option<Relation>)> = members
                .iter()
                .map(|m| (m.id_number.as_str(), Some(m.relation)))
                .collect();
            errors.extend(membership_rules(&after, &relations, |_| None));
        }
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        after.version = before.version + 1;
        after.updated_at = Utc::now();
        let touched = Touched {
            sites: distinct([before.site_code.clone(), after.site_code.clone()]),
            villages: vec![],
        };
        update_versioned(
            txn,
            Versioned {
                entity: HOUSEHOLD,
                noun: HOUSEHOLD,
                key: after.code.clone(),
                condition: Condition::all().add(household::Column::Code.eq(self.code.clone())),
                version_column: household::Column::Version,
                expected: self.version,
                touched,
            },
            &before,
            after,
        )
        .await
    }
}

/// `createMember`: a new member of an existing household, whose `persons` goes up by one.
#[derive(Debug, Clone, Serialize)]
pub struct CreateMember {
    pub household_code: String,
    pub member: MemberInput,
}

impl Mutation for CreateMember {
    type Record = member::Model;

    fn operation(&self) -> &'static str {
        "createMember"
    }

    async fn apply<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        writer: &'a Writer<'a>,
    ) -> Result<Step<member::Model>, DbErr> {
        let found = within(
            household::Entity::find_by_id(self.household_code.clone()),
            &writer.visible,
            Scope::households,
        )
        .one(txn)
        .await?;
        let Some(mut household) = found else {
            return Ok(Err(vec![UserError::not_found(
                &["householdCode"],
                HOUSEHOLD,
                &self.household_code,
            )]));
        };
        // A new member changes `persons`, which the destination's indicators count.
        if !destination_owns(txn, writer, &household.site_code).await? {
            return Ok(Err(vec![not_destination(
                "member",
                &household.code,
                &household.site_code,
            )]));
        }
        let record = self.member.model(&self.household_code);
        let mut errors = member_rules(&[], &record, None);
        let members = stored_members(txn, &household.code).await?;
        household.persons += 1;
        let mut relations: Vec<(&str, Option<Relation>)> = members
            .iter()
            .map(|m| (m.id_number.as_str(), Some(m.relation)))
            .collect();
        relations.push((&record.id_number, Some(record.relation)));
        // The stored members already matched `persons`; only a second head can break the rules.
        errors.extend(
            membership_rules(&household, &relations, |_| Some(vec!["relation".into()]))
                .into_iter()
                .filter(|e| e.field.as_deref() == Some(&["relation".to_owned()][..])),
        );
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        let touched = Touched {
            sites: vec![household.site_code.clone()],
            villages: vec![],
        };
        if let Err(e) = record
            .clone()
            .into_active_model()
            .reset_all()
            .insert(txn)
            .await
        {
            return if duplicate(&e) {
                Ok(Err(vec![UserError::exists(
                    &["idNumber"],
                    MEMBER,
                    &record.id_number,
                )]))
            } else {
                Err(e)
            };
        }
        household::Entity::update_many()
            .col_expr(
                household::Column::Persons,
                Expr::col(household::Column::Persons).add(1),
            )
            .col_expr(
                household::Column::Version,
                Expr::col(household::Column::Version).add(1),
            )
            .col_expr(household::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(household::Column::Code.eq(household.code.clone()))
            .exec(txn)
            .await?;
        Ok(Ok(Applied {
            after: json(&record)?,
            key: record.id_number.clone(),
            entity: MEMBER,
            before: None,
            touched,
            record,
        }))
    }
}

/// `updateMember`: the fields given replace the stored ones. The member rules must hold after
/// the change (a household keeps exactly one head, whose ID is its `headIdNumber`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct MemberPatch {
    pub id_number: String,
    pub version: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation: Option<Relation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<Gender>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labor_capacity: Option<LaborCapacity>,
}

impl Mutation for MemberPatch {
    type Record = member::Model;

    fn operation(&self) -> &'static str {
        "updateMember"
    }

    async fn apply<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        writer: &'a Writer<'a>,
    ) -> Result<Step<member::Model>, DbErr> {
        let found = within(
            member::Entity::find_by_id(self.id_number.clone()),
            &writer.visible,
            Scope::members,
        )
        .one(txn)
        .await?;
        let Some(before) = found else {
            return Ok(Err(vec![UserError::not_found(
                &["idNumber"],
                MEMBER,
                &self.id_number,
            )]));
        };
        if before.version != self.version {
            return Ok(Err(vec![UserError::stale(
                MEMBER,
                &self.id_number,
                self.version,
            )]));
        }
        let mut after = before.clone();
        if let Some(v) = &self.name {
            after.name = v.clone();
        }
        if let Some(v) = self.relation {
            after.relation = v;
        }
        if let Some(v) = self.birth_date {
            after.birth_date = v;
        }
        if let Some(v) = self.gender {
            after.gender = v;
        }
        if let Some(v) = self.labor_capacity {
            after.labor_capacity = v;
        }
        let mut errors = member_rules(&[], &after, Some(&before));
        let household = household::Entity::find_by_id(before.household_code.clone())
            .one(txn)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound(before.household_code.clone()))?;
        // Labour capacity decides who counts as a laborer in the destination's employment.
        if after.labor_capacity != before.labor_capacity
            && !destination_owns(txn, writer, &household.site_code).await?
        {
            return Ok(Err(vec![not_destination(
                "laborCapacity",
                &household.code,
                &household.site_code,
            )]));
        }
        if after.relation != before.relation {
            let members = stored_members(txn, &household.code).await?;
            let relations: Vec<(&str, Option<Relation>)> = members
                .iter()
                .map(|m| {
                    let relation = if m.id_number == after.id_number {
                        after.relation
                    } else {
                        m.relation
                    };
                    (m.id_number.as_str(), Some(relation))
                })
                .collect();
            errors.extend(
                membership_rules(&household, &relations, |_| Some(vec!["relation".into()]))
                    .into_iter()
                    .map(|mut e| {
                        e.field = Some(vec!["relation".into()]);
                        e
                    }),
            );
        }
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        after.version = before.version + 1;
        after.updated_at = Utc::now();
        let touched = Touched {
            sites: vec![household.site_code.clone()],
            villages: vec![],
        };
        update_versioned(
            txn,
            Versioned {
                entity: MEMBER,
                noun: MEMBER,
                key: after.id_number.clone(),
                condition: Condition::all()
                    .add(member::Column::IdNumber.eq(self.id_number.clone())),
                version_column: member::Column::Version,
                expected: self.version,
                touched,
            },
            &before,
            after,
        )
        .await
    }
}
