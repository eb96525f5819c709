//! Resettlement sites and their works.

use super::{
    area_ref, duplicate, json, update_versioned, within, Applied, Mutation, Step, UserError,
    Versioned, Writer,
};
use crate::domain::indicators::rollup::Touched;
use crate::domain::rules;
use crate::domain::scope::Scope;
use chrono::{NaiveDate, Utc};
use entity::enums::{AreaLevel, Placement, SiteSetting, WorkCategory};
use entity::{site, site_work};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseTransaction, DbErr, EntityTrait,
    IntoActiveModel,
};
use serde::Serialize;

const SITE: &str = "site";
const WORK: &str = "site_work";

/// The site-level numbers and name every site write checks, replacing `before` (if any); the
/// name's text is checked when it is written.
fn site_numbers(s: &site::Model, before: Option<&site::Model>) -> Vec<UserError> {
    let mut errors = Vec::new();
    for (field, n) in [
        ("plannedHouseholds", s.planned_households),
        ("plannedPersons", s.planned_persons),
    ] {
        if let Err(reason) = rules::whole(i64::from(n), 0) {
            errors.push(UserError::bad_input(&[field], reason));
        }
    }
    if let Some(Err(reason)) = s.latitude.map(rules::latitude) {
        errors.push(UserError::bad_input(&["latitude"], reason));
    }
    if let Some(Err(reason)) = s.longitude.map(rules::longitude) {
        errors.push(UserError::bad_input(&["longitude"], reason));
    }
    if s.code.trim().is_empty() {
        errors.push(UserError::bad_input(&["code"], "must not be empty"));
    }
    if s.name.trim().is_empty() {
        errors.push(UserError::bad_input(&["name"], "must not be empty"));
    } else if let (true, Err(reason)) = (
        before.is_none_or(|b| b.name != s.name),
        rules::name(&s.name),
    ) {
        errors.push(UserError::bad_input(&["name"], reason));
    }
    errors
}

/// A site's or work's name: not empty, and plain text.
fn name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        Err("must not be empty".to_owned())
    } else {
        rules::name(name)
    }
}

/// `createSite`.
#[derive(Debug, Clone, Serialize)]
pub struct CreateSite {
    pub code: String,
    pub name: String,
    pub township_code: String,
    pub placement: Placement,
    pub setting: SiteSetting,
    pub planned_households: i32,
    pub planned_persons: i32,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub construction_started_on: Option<NaiveDate>,
}

impl Mutation for CreateSite {
    type Record = site::Model;

    fn operation(&self) -> &'static str {
        "createSite"
    }

    async fn apply<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        writer: &'a Writer<'a>,
    ) -> Result<Step<site::Model>, DbErr> {
        let now = Utc::now();
        let record = site::Model {
            code: self.code.clone(),
            name: self.name.clone(),
            township_code: self.township_code.clone(),
            placement: self.placement,
            setting: self.setting,
            planned_households: self.planned_households,
            planned_persons: self.planned_persons,
            latitude: self.latitude,
            longitude: self.longitude,
            construction_started_on: self.construction_started_on,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let mut errors = site_numbers(&record, None);
        if let Err(e) = area_ref(
            txn,
            writer,
            &["townshipCode"],
            &self.township_code,
            AreaLevel::Township,
        )
        .await?
        {
            errors.push(e);
        }
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        if let Err(e) = record
            .clone()
            .into_active_model()
            .reset_all()
            .insert(txn)
            .await
        {
            return if duplicate(&e) {
                Ok(Err(vec![UserError::exists(&["code"], SITE, &self.code)]))
            } else {
                Err(e)
            };
        }
        Ok(Ok(Applied {
            after: json(&record)?,
            key: record.code.clone(),
            entity: SITE,
            before: None,
            touched: Touched {
                sites: vec![record.code.clone()],
                villages: vec![],
            },
            record,
        }))
    }
}

/// `updateSite`: the fields given replace the stored ones (`None` leaves one alone; for a
/// nullable field `Some(None)` clears it). A site stays in its township.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SitePatch {
    pub code: String,
    pub version: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setting: Option<SiteSetting>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planned_households: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planned_persons: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latitude: Option<Option<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longitude: Option<Option<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub construction_started_on: Option<Option<NaiveDate>>,
}

impl Mutation for SitePatch {
    type Record = site::Model;

    fn operation(&self) -> &'static str {
        "updateSite"
    }

    async fn apply<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        writer: &'a Writer<'a>,
    ) -> Result<Step<site::Model>, DbErr> {
        let found = within(
            site::Entity::find_by_id(self.code.clone()),
            &writer.visible,
            Scope::sites,
        )
        .one(txn)
        .await?;
        let Some(before) = found else {
            return Ok(Err(vec![UserError::not_found(&["code"], SITE, &self.code)]));
        };
        if before.version != self.version {
            return Ok(Err(vec![UserError::stale(SITE, &self.code, self.version)]));
        }
        let mut after = before.clone();
        if let Some(v) = &self.name {
            after.name = v.clone();
        }
        if let Some(v) = self.placement {
            after.placement = v;
        }
        if let Some(v) = self.setting {
            after.setting = v;
        }
        if let Some(v) = self.planned_households {
            after.planned_households = v;
        }
        if let Some(v) = self.planned_persons {
            after.planned_persons = v;
        }
        if let Some(v) = self.latitude {
            after.latitude = v;
        }
        if let Some(v) = self.longitude {
            after.longitude = v;
        }
        if let Some(v) = self.construction_started_on {
            after.construction_started_on = v;
        }
        after.version = before.version + 1;
        after.updated_at = Utc::now();
        let errors = site_numbers(&after, Some(&before));
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        let touched = Touched {
            sites: vec![before.code.clone()],
            villages: vec![],
        };
        update_versioned(
            txn,
            Versioned {
                entity: SITE,
                noun: SITE,
                key: after.code.clone(),
                condition: Condition::all().add(site::Column::Code.eq(self.code.clone())),
                version_column: site::Column::Version,
                expected: self.version,
                touched,
            },
            &before,
            after,
        )
        .await
    }
}

/// `createSiteWork`.
#[derive(Debug, Clone, Serialize)]
pub struct CreateSiteWork {
    pub site_code: String,
    pub code: String,
    pub category: WorkCategory,
    pub name: String,
    pub completed_on: Option<NaiveDate>,
}

impl Mutation for CreateSiteWork {
    type Record = site_work::Model;

    fn operation(&self) -> &'static str {
        "createSiteWork"
    }

    async fn apply<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        writer: &'a Writer<'a>,
    ) -> Result<Step<site_work::Model>, DbErr> {
        let found = within(
            site::Entity::find_by_id(self.site_code.clone()),
            &writer.visible,
            Scope::sites,
        )
        .one(txn)
        .await?;
        if found.is_none() {
            return Ok(Err(vec![UserError::not_found(
                &["siteCode"],
                SITE,
                &self.site_code,
            )]));
        }
        let mut errors = Vec::new();
        if self.code.trim().is_empty() {
            errors.push(UserError::bad_input(&["code"], "must not be empty"));
        }
        if let Err(reason) = name(&self.name) {
            errors.push(UserError::bad_input(&["name"], reason));
        }
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        let now = Utc::now();
        let record = site_work::Model {
            code: self.code.clone(),
            site_code: self.site_code.clone(),
            category: self.category,
            name: self.name.clone(),
            completed_on: self.completed_on,
            created_at: now,
            updated_at: now,
            version: 1,
        };
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
                Ok(Err(vec![UserError::exists(&["code"], "work", &self.code)]))
            } else {
                Err(e)
            };
        }
        Ok(Ok(Applied {
            after: json(&record)?,
            key: record.code.clone(),
            entity: WORK,
            before: None,
            touched,
            record,
        }))
    }
}

/// `recordWorkCompletion` (and any later change to a work): the fields given replace the
/// stored ones; `completed_on: Some(None)` clears the completion.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkPatch {
    #[serde(skip)]
    pub operation: &'static str,
    pub code: String,
    pub version: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_on: Option<Option<NaiveDate>>,
}

impl Mutation for WorkPatch {
    type Record = site_work::Model;

    fn operation(&self) -> &'static str {
        self.operation
    }

    async fn apply<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        writer: &'a Writer<'a>,
    ) -> Result<Step<site_work::Model>, DbErr> {
        let found = within(
            site_work::Entity::find_by_id(self.code.clone()),
            &writer.visible,
            Scope::site_works,
        )
        .one(txn)
        .await?;
        let Some(before) = found else {
            return Ok(Err(vec![UserError::not_found(
                &["code"],
                "work",
                &self.code,
            )]));
        };
        if before.version != self.version {
            return Ok(Err(vec![UserError::stale(
                "work",
                &self.code,
                self.version,
            )]));
        }
        let mut after = before.clone();
        if let Some(v) = &self.name {
            if let Err(reason) = name(v) {
                return Ok(Err(vec![UserError::bad_input(&["name"], reason)]));
            }
            after.name = v.clone();
        }
        if let Some(v) = self.completed_on {
            after.completed_on = v;
        }
        after.version = before.version + 1;
        after.updated_at = Utc::now();
        let touched = Touched {
            sites: vec![before.site_code.clone()],
            villages: vec![],
        };
        update_versioned(
            txn,
            Versioned {
                entity: WORK,
                noun: "work",
                key: after.code.clone(),
                condition: Condition::all().add(site_work::Column::Code.eq(self.code.clone())),
                version_column: site_work::Column::Version,
                expected: self.version,
                touched,
            },
            &before,
            after,
        )
        .await
    }
}
