//! The audit log, for admins: every write and every unmasked read in their subtree.

use super::super::access::{require_role, scope};
use super::super::errors::GqlResult;
use super::super::pagination::{connection, page_request, Conn, PageArgs};
use super::node::{global_id, Kind};
use crate::auth::Role;
use crate::domain::pagination::{run_count, Total};
use crate::domain::register::{self as reg, AuditFilter};
use async_graphql::{Context, InputObject, Object, Result, ID};
use chrono::{DateTime, Utc};
use entity::audit_log;
use sea_orm::DatabaseConnection;

/// One entry of the audit log: a write (with the record before and after) or a read of
/// unmasked personal data (with its stated purpose). Entries are never changed or removed.
pub struct AuditEntry(pub std::sync::Arc<audit_log::Model>);

impl From<audit_log::Model> for AuditEntry {
    fn from(model: audit_log::Model) -> Self {
        Self(model.into())
    }
}

/// One entry of the audit log: a write (with the record before and after) or a read of
/// unmasked personal data (with its stated purpose). Entries are never changed or removed.
#[Object]
impl AuditEntry {
    /// Opaque, stable global identifier; `node(id:)` fetches the record again.
    pub(crate) async fn id(&self, _ctx: &Context<'_>) -> Result<ID> {
        Ok(global_id(Kind::AuditEntry, &self.0.id.to_string()))
    }
    /// The entry's number; later entries have larger ones.
    async fn record_id(&self) -> ID {
        self.0.id.into()
    }
    /// When it happened.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// Who: `user:<subject>` for a token, `key:<id>` for an API key.
    async fn actor(&self) -> &str {
        &self.0.actor
    }
    /// The role the actor held.
    async fn role(&self) -> &str {
        &self.0.role
    }
    /// The area the actor's credentials are for.
    async fn area_code(&self) -> &str {
        &self.0.area_code
    }
    /// The request it happened in (as in the server log and error extensions).
    async fn request_id(&self) -> &str {
        &self.0.request_id
    }
    /// The mutation's name (`recordMoveIn`, …), or `read_unmasked`.
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// The kind of record (`household`, `member`, `site`, …).
    async fn entity(&self) -> &str {
        &self.0.entity
    }
    /// The record's key; for a read of several records, the first of `entityKeys`.
    async fn entity_key(&self) -> &str {
        &self.0.entity_key
    }
    /// Every record the entry is about: the one written, or every record of this kind the
    /// request showed unmasked (a read is one entry per kind of record, however many it showed).
    async fn entity_keys(&self) -> Result<Vec<String>> {
        match &self.0.entity_keys {
            None => Ok(vec![self.0.entity_key.clone()]),
            Some(list) => serde_json::from_str(list)
                .map_err(|e| {
                    sea_orm::DbErr::Custom(format!(
                        "audit entry {}: its keys are not a JSON list of strings: {e}",
                        self.0.id
                    ))
                })
                .gql(),
        }
    }
    /// The record before a write, as JSON text; null for a creation or a read.
    async fn before(&self) -> Option<&str> {
        self.0.before.as_deref()
    }
    /// The record after a write, as JSON text; null for a read.
    async fn after(&self) -> Option<&str> {
        self.0.after.as_deref()
    }
    /// Why personal data was read unmasked (the `Anju-Purpose` header); null for a write.
    async fn purpose(&self) -> Option<&str> {
        self.0.purpose.as_deref()
    }
}

/// Narrows the audit log.
#[derive(InputObject, Default)]
pub struct AuditLogFilter {
    /// Only entries of this actor.
    pub actor: Option<String>,
    /// Only entries of this action (a mutation's name, or `read_unmasked`).
    pub action: Option<String>,
    /// Only entries about this kind of record.
    pub entity: Option<String>,
    /// Only entries about the record with this key (use with `entity`): writes of it, and
    /// reads that showed it among others.
    pub entity_key: Option<String>,
    /// Only entries at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only entries before this time.
    pub to: Option<DateTime<Utc>>,
}

/// The audit log query.
#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit log (admins only), oldest entry first: the entries of principals whose area
    /// lies in your subtree.
    #[graphql(
        complexity = "first.or(last).map(|n| n.max(0) as usize).unwrap_or(20) * child_complexity"
    )]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<AuditLogFilter>,
        #[graphql(desc = "Page size, 1–100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last edge already seen.")] after: Option<String>,
        #[graphql(
            desc = "Page size counted back from the end of the list (or from `before`), \
                          1–100; not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(desc = "Cursor of the first edge already seen: the page ends before it.")]
        before: Option<String>,
    ) -> Result<Conn<AuditEntry>> {
        require_role(ctx, &[Role::Admin], "read the audit log")?;
        // Reads append to the log without a write's generation raise: never cache it whole.
        super::super::mark_uncacheable(ctx);
        let f = filter.unwrap_or_default();
        let filter = AuditFilter {
            actor: f.actor,
            action: f.action,
            entity: f.entity,
            entity_key: f.entity_key,
            from: f.from,
            to: f.to,
        };
        let req = page_request(PageArgs::new(first, after, last, before))?;
        let db = ctx.data::<DatabaseConnection>()?;
        let mut page = reg::audit_entries(db, &scope(ctx).await?, &filter, &req)
            .await
            .gql()?;
        // The log grows with every request: its total is counted now, never cached.
        if let Total::Query(stmt) = &page.total {
            if ctx.look_ahead().field("totalCount").exists() {
                page.total = Total::Known(run_count(db, stmt.clone()).await.gql()?);
            } else {
                page.total = Total::Known(0);
            }
        }
        Ok(connection(page, |e| e.id.to_string(), AuditEntry::from))
    }
}
