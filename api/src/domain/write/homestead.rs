//! Homesteads: demolition, reclamation and exemption.

use super::{
    area_ref, breaches, json, origin_owns, update_versioned, within, Applied, Mutation, Step,
    UserError, Versioned, Writer,
};
use crate::domain::indicators::rollup::Touched;
use crate::domain::rules;
use crate::domain::scope::Scope;
use chrono::{NaiveDate, Utc};
use entity::enums::{AreaLevel, ReclaimedUse};
use entity::{homestead, household};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, Condition, DatabaseTransaction, DbErr,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};
use serde::Serialize;

const HOMESTEAD: &str = "homestead";

/// The rules of one homestead as it will be stored, replacing `before` (if any); the area is
/// checked when it is written.
fn homestead_rules(h: &homestead::Model, before: Option<&homestead::Model>) -> Vec<UserError> {
    let mut errors = Vec::new();
    let written = before.is_none_or(|b| b.area_mu.to_bits() != h.area_mu.to_bits());
    if let (true, Err(reason)) = (written, rules::homestead_area(h.area_mu)) {
        errors.push(UserError::bad_input(&["areaMu"], reason));
    }
    errors.extend(breaches(
        &[],
        rules::homestead_state(
            Some(h.exempt),
            Some(h.demolished_on),
            Some(h.reclaimed_on),
            Some(h.reclaimed_use),
        ),
    ));
    errors
}

/// `createHomestead`.
#[derive(Debug, Clone, Serialize)]
pub struct CreateHomestead {
    pub household_code: String,
    pub village_code: String,
    pub area_mu: f64,
    pub exempt: bool,
    pub demolished_on: Option<NaiveDate>,
    pub reclaimed_on: Option<NaiveDate>,
    pub reclaimed_use: Option<ReclaimedUse>,
}

impl Mutation for CreateHomestead {
    type Record = homestead::Model;

    fn operation(&self) -> &'static str {
        "createHomestead"
    }

    async fn apply<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        writer: &'a Writer<'a>,
    ) -> Result<Step<homestead::Model>, DbErr> {
        let found = within(
            household::Entity::find_by_id(self.household_code.clone()),
            &writer.visible,
            Scope::households,
        )
        .one(txn)
        .await?;
        let Some(household) = found else {
            return Ok(Err(vec![UserError::not_found(
                &["householdCode"],
                "household",
                &self.household_code,
            )]));
        };
        let mut errors = Vec::new();
        if let Err(e) = area_ref(
            txn,
            writer,
            &["villageCode"],
            &self.village_code,
            AreaLevel::Village,
        )
        .await?
        {
            errors.push(e);
        }
        let last = homestead::Entity::find()
            .filter(homestead::Column::HouseholdCode.eq(self.household_code.clone()))
            .filter(homestead::Column::VillageCode.eq(self.village_code.clone()))
            .order_by_desc(homestead::Column::Seq)
            .one(txn)
            .await?;
        let now = Utc::now();
        let mut record = homestead::Model {
            id: 0,
            household_code: self.household_code.clone(),
            village_code: self.village_code.clone(),
            seq: last.map_or(1, |h| h.seq + 1),
            area_mu: self.area_mu,
            exempt: self.exempt,
            demolished_on: self.demolished_on,
            reclaimed_on: self.reclaimed_on,
            reclaimed_use: self.reclaimed_use,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        errors.extend(homestead_rules(&record, None));
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        let touched = Touched {
            sites: vec![household.site_code.clone()],
            villages: vec![self.village_code.clone()],
        };
        let mut model = record.clone().into_active_model().reset_all();
        model.id = NotSet;
        record = model.insert(txn).await?;
        Ok(Ok(Applied {
            after: json(&record)?,
            key: record.id.to_string(),
            entity: HOMESTEAD,
            before: None,
            touched,
            record,
        }))
    }
}

/// `recordDemolition`, `recordReclamation`, `recordHomesteadExemption`: the fields given
/// replace the stored ones (for a nullable field `Some(None)` clears it).
#[derive(Debug, Clone, Default, Serialize)]
pub struct HomesteadPatch {
    #[serde(skip)]
    pub operation: &'static str,
    pub id: i64,
    pub version: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exempt: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demolished_on: Option<Option<NaiveDate>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reclaimed_on: Option<Option<NaiveDate>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reclaimed_use: Option<Option<ReclaimedUse>>,
}

impl HomesteadPatch {
    /// The first field this patch changes: every one of them is the origin township's (the
    /// demolition and reclamation indicators count them).
    fn origin_field(&self, before: &homestead::Model) -> Option<&'static str> {
        let changes = [
            ("exempt", self.exempt.is_some_and(|v| v != before.exempt)),
            (
                "demolishedOn",
                self.demolished_on
                    .is_some_and(|v| v != before.demolished_on),
            ),
            (
                "reclaimedOn",
                self.reclaimed_on.is_some_and(|v| v != before.reclaimed_on),
            ),
            (
                "reclaimedUse",
                self.reclaimed_use
                    .is_some_and(|v| v != before.reclaimed_use),
            ),
        ];
        changes
            .into_iter()
            .find(|(_, changed)| *changed)
            .map(|(field, _)| field)
    }
}

impl Mutation for HomesteadPatch {
    type Record = homestead::Model;

    fn operation(&self) -> &'static str {
        self.operation
    }

    async fn apply<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        writer: &'a Writer<'a>,
    ) -> Result<Step<homestead::Model>, DbErr> {
        let key = self.id.to_string();
        let found = within(
            homestead::Entity::find_by_id(self.id),
            &writer.visible,
            Scope::homesteads,
        )
        .one(txn)
        .await?;
        let Some(before) = found else {
            return Ok(Err(vec![UserError::not_found(&["id"], HOMESTEAD, &key)]));
        };
        if let Some(field) = self.origin_field(&before) {
            if !origin_owns(txn, writer, &before.village_code).await? {
                return Ok(Err(vec![UserError::forbidden(
                    &[field],
                    format!(
                        "`{field}` is recorded by the origin township: homestead {key} lies in \
                         village \"{}\", outside your area, and that township's officers \
                         record it",
                        before.village_code
                    ),
                )]));
            }
        }
        if before.version != self.version {
            return Ok(Err(vec![UserError::stale(HOMESTEAD, &key, self.version)]));
        }
        let mut after = before.clone();
        if let Some(v) = self.exempt {
            after.exempt = v;
        }
        if let Some(v) = self.demolished_on {
            after.demolished_on = v;
        }
        if let Some(v) = self.reclaimed_on {
            after.reclaimed_on = v;
        }
        if let Some(v) = self.reclaimed_use {
            after.reclaimed_use = v;
        }
        let errors = homestead_rules(&after, Some(&before));
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        after.version = before.version + 1;
        after.updated_at = Utc::now();
        let site = household::Entity::find_by_id(before.household_code.clone())
            .one(txn)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound(before.household_code.clone()))?
            .site_code;
        let touched = Touched {
            sites: vec![site],
            villages: vec![before.village_code.clone()],
        };
        update_versioned(
            txn,
            Versioned {
                entity: HOMESTEAD,
                noun: HOMESTEAD,
                key,
                condition: Condition::all().add(homestead::Column::Id.eq(self.id)),
                version_column: homestead::Column::Version,
                expected: self.version,
                touched,
            },
            &before,
            after,
        )
        .await
    }
}
