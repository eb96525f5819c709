//! The reporting workflow's steps (`submitPeriod`, `approvePeriod`, `unapprovePeriod`) and lock
//! exceptions (`grantLockException`), run like every other write: idempotent, audited, in one
//! transaction that raises the register's generation. Who may take which step is decided by
//! [`crate::domain::periods::Situation::rights`].

use super::{json, Applied, Mutation, Step, UserError, UserErrorCode, Writer};
use crate::domain::indicators::rollup::Touched;
use crate::domain::periods::{self, Month, PeriodState, Refusal, Standing};
use chrono::{DateTime, Utc};
use sea_orm::{DatabaseTransaction, DbErr, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

/// A reporting period as a step left it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodRecord {
    pub area_code: String,
    pub month: Month,
    pub state: PeriodState,
    /// The bulletin vintage an approval published.
    pub vintage: Option<i32>,
}

/// One step of the workflow for an area's month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StepKind {
    Submit,
    Approve,
    Unapprove,
}

/// `submitPeriod`, `approvePeriod` or `unapprovePeriod`.
#[derive(Debug, Clone, Serialize)]
pub struct PeriodStep {
    pub step: StepKind,
    pub area_code: String,
    pub month: String,
}

impl From<Refusal> for UserError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Forbidden(m) => UserError::forbidden(&[], m),
            Refusal::NotApplicable(m) => UserError::bad_input(&["areaCode"], m),
            Refusal::Conflict(m) => UserError::new(&[], UserErrorCode::Conflict, m),
        }
    }
}

/// The area `code` if it lies in the caller's subtree, else the user error to answer.
async fn visible_area(
    txn: &DatabaseTransaction,
    writer: &Writer<'_>,
    code: &str,
) -> Result<Result<entity::area::Model, UserError>, DbErr> {
    let found = entity::area::Entity::find_by_id(code.to_owned())
        .filter(writer.visible.areas_below())
        .one(txn)
        .await?;
    Ok(found.ok_or_else(|| UserError::not_found(&["areaCode"], "area", code)))
}

/// How the writer stands to `area`, which it sees.
fn standing(writer: &Writer<'_>, area: &str) -> Standing {
    if writer.who.area_code == area {
        Standing::Own
    } else {
        Standing::Below
    }
}

fn key(area: &str, month: Month) -> String {
    format!("{area}:{month}")
}

impl Mutation for PeriodStep {
    type Record = PeriodRecord;

    fn operation(&self) -> &'static str {
        match self.step {
            StepKind::Submit => "submitPeriod",
            StepKind::Approve => "approvePeriod",
            StepKind::Unapprove => "unapprovePeriod",
        }
    }

    async fn apply<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        writer: &'a Writer<'a>,
    ) -> Result<Step<PeriodRecord>, DbErr> {
        let month = match Month::parse(&self.month) {
            Ok(m) => m,
            Err(reason) => return Ok(Err(vec![UserError::bad_input(&["month"], reason)])),
        };
        let area = match visible_area(txn, writer, &self.area_code).await? {
            Ok(a) => a,
            Err(e) => return Ok(Err(vec![e])),
        };
        let situation = periods::situation(txn, &area, month).await?;
        let rights = situation.rights(writer.who.role, standing(writer, &area.code));
        let (allowed, to) = match self.step {
            StepKind::Submit => (rights.may_submit, PeriodState::Submitted),
            StepKind::Approve => (rights.may_approve, PeriodState::Approved),
            StepKind::Unapprove => (rights.may_unapprove, situation.unapproved()),
        };
        if let Err(refusal) = allowed {
            return Ok(Err(vec![refusal.into()]));
        }
        periods::set_state(txn, &area.code, month, to, writer.who.actor).await?;
        let vintage = if self.step == StepKind::Approve {
            let reported = periods::compute_reported(txn, &area.code, month).await?;
            Some(periods::publish(txn, &area.code, month, &reported, writer.who.actor).await?)
        } else {
            None
        };
        let before = PeriodRecord {
            area_code: area.code.clone(),
            month,
            state: situation.state,
            vintage: None,
        };
        let record = PeriodRecord {
            area_code: area.code.clone(),
            month,
            state: to,
            vintage,
        };
        Ok(Ok(Applied {
            before: Some(json(&before)?),
            after: json(&record)?,
            key: key(&area.code, month),
            entity: "reporting_period",
            touched: Touched::default(),
            record,
        }))
    }
}

/// A lock exception as granted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockExceptionRecord {
    pub id: i64,
    pub area_code: String,
    pub month: Month,
    pub reason: String,
    pub granted_by: String,
    pub expires_at: DateTime<Utc>,
}

/// Longest a lock exception may last, in hours (30 days).
pub const MAX_EXCEPTION_HOURS: i32 = 720;

/// `grantLockException`: lets writes change an approved month's figures of one area until the
/// exception expires. Admins only.
#[derive(Debug, Clone, Serialize)]
pub struct GrantLockException {
    pub area_code: String,
    pub month: String,
    pub reason: String,
    pub valid_hours: i32,
}

impl Mutation for GrantLockException {
    type Record = LockExceptionRecord;

    fn operation(&self) -> &'static str {
        "grantLockException"
    }

    async fn apply<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        writer: &'a Writer<'a>,
    ) -> Result<Step<LockExceptionRecord>, DbErr> {
        if writer.who.role != "admin" {
            return Ok(Err(vec![UserError::forbidden(
                &[],
                format!(
                    "the role `{}` may not grant lock exceptions: admins do",
                    writer.who.role
                ),
            )]));
        }
        let mut errors = Vec::new();
        let month = Month::parse(&self.month)
            .map_err(|reason| errors.push(UserError::bad_input(&["month"], reason)))
            .ok();
        if self.reason.trim().is_empty() {
            errors.push(UserError::bad_input(
                &["reason"],
                "must say why the approved figures may change",
            ));
        }
        if !(1..=MAX_EXCEPTION_HOURS).contains(&self.valid_hours) {
            errors.push(UserError::bad_input(
                &["validHours"],
                format!("must lie between 1 and {MAX_EXCEPTION_HOURS}"),
            ));
        }
        let area = match visible_area(txn, writer, &self.area_code).await? {
            Ok(a) => Some(a),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let (Some(month), Some(area), true) = (month, area, errors.is_empty()) else {
            return Ok(Err(errors));
        };
        let state = periods::state(txn, &area.code, month).await?;
        if state != PeriodState::Approved {
            return Ok(Err(vec![UserError::new(
                &[],
                UserErrorCode::Conflict,
                format!(
                    "{month} of \"{}\" is {}: nothing is locked",
                    area.code,
                    state.name()
                ),
            )]));
        }
        let expires_at = Utc::now() + chrono::Duration::hours(i64::from(self.valid_hours));
        let id = periods::grant_exception(
            txn,
            &area.code,
            month,
            self.reason.trim(),
            writer.who.actor,
            expires_at.timestamp_millis(),
        )
        .await?;
        let record = LockExceptionRecord {
            id,
            area_code: area.code.clone(),
            month,
            reason: self.reason.trim().to_owned(),
            granted_by: writer.who.actor.to_owned(),
            expires_at,
        };
        Ok(Ok(Applied {
            before: None,
            after: json(&record)?,
            key: key(&area.code, month),
            entity: "lock_exception",
            touched: Touched::default(),
            record,
        }))
    }
}
