//! The change feed (CONTRACT §5): `changesHead` and `changes`, read through
//! [`crate::domain::changes`] in the caller's scope, each upserted record shown as `node` would
//! show it to the caller (masked per role).

use super::super::access::scope;
use super::super::errors::GqlResult;
use super::node::{global_id, member_id, resolve_keys, Kind, Node};
use crate::domain::changes as dom;
use async_graphql::{Context, Enum, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

/// The kinds of record the change feed carries.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    /// An administrative area.
    Area,
    /// A resettlement site.
    Site,
    /// A work of a site.
    SiteWork,
    /// A household.
    Household,
    /// A member of a household.
    Member,
    /// A member's employment.
    Employment,
    /// A homestead.
    Homestead,
}

impl From<RecordType> for dom::RecordType {
    fn from(t: RecordType) -> Self {
        match t {
            RecordType::Area => dom::RecordType::Area,
            RecordType::Site => dom::RecordType::Site,
            RecordType::SiteWork => dom::RecordType::SiteWork,
            RecordType::Household => dom::RecordType::Household,
            RecordType::Member => dom::RecordType::Member,
            RecordType::Employment => dom::RecordType::Employment,
            RecordType::Homestead => dom::RecordType::Homestead,
        }
    }
}

impl From<dom::RecordType> for RecordType {
    fn from(t: dom::RecordType) -> Self {
        match t {
            dom::RecordType::Area => RecordType::Area,
            dom::RecordType::Site => RecordType::Site,
            dom::RecordType::SiteWork => RecordType::SiteWork,
            dom::RecordType::Household => RecordType::Household,
            dom::RecordType::Member => RecordType::Member,
            dom::RecordType::Employment => RecordType::Employment,
            dom::RecordType::Homestead => RecordType::Homestead,
        }
    }
}

fn kind(t: dom::RecordType) -> Kind {
    match t {
        dom::RecordType::Area => Kind::Area,
        dom::RecordType::Site => Kind::ResettlementSite,
        dom::RecordType::SiteWork => Kind::SiteWork,
        dom::RecordType::Household => Kind::Household,
        dom::RecordType::Member => Kind::Member,
        dom::RecordType::Employment => Kind::Employment,
        dom::RecordType::Homestead => Kind::Homestead,
    }
}

/// What happened to a record.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOp {
    /// Created or changed, or newly within your scope: `record` holds it as you may see it now.
    Upsert,
    /// Deleted.
    Delete,
    /// Still there, but no longer within your scope: drop your copy.
    LeftScope,
}

impl From<dom::ChangeOp> for ChangeOp {
    fn from(op: dom::ChangeOp) -> Self {
        match op {
            dom::ChangeOp::Upsert => ChangeOp::Upsert,
            dom::ChangeOp::Delete => ChangeOp::Delete,
            dom::ChangeOp::LeftScope => ChangeOp::LeftScope,
        }
    }
}

/// One change of one record.
pub struct Change {
    change: dom::Change,
    id: ID,
    record: Option<Node>,
}

/// One change of one record.
#[Object]
impl Change {
    /// Resume the feed after this change.
    async fn cursor(&self) -> &str {
        &self.change.cursor
    }
    /// The kind of record.
    #[graphql(name = "type")]
    async fn record_type(&self) -> RecordType {
        self.change.record_type.into()
    }
    /// The record's global id (as `node` takes it; a member's never shows its ID number).
    async fn id(&self) -> &ID {
        &self.id
    }
    /// What happened.
    async fn op(&self) -> ChangeOp {
        self.change.op.into()
    }
    /// The record's version after the change: apply a change only if it is newer than your copy.
    async fn version(&self) -> i32 {
        self.change.version
    }
    /// When the change was written.
    async fn committed_at(&self) -> DateTime<Utc> {
        self.change.committed_at
    }
    /// The record as you may see it now (masked per your role); null unless `op` is `UPSERT`.
    async fn record(&self) -> Option<&Node> {
        self.record.as_ref()
    }
}

/// One page of the change feed.
#[derive(SimpleObject)]
pub struct ChangePage {
    /// The changes, in commit order.
    changes: Vec<Change>,
    /// Pass as `after` to read on.
    end_cursor: String,
    /// More changes may be read right away.
    has_more: bool,
}

/// The change feed.
#[derive(Default)]
pub struct ChangesQuery;

#[Object]
impl ChangesQuery {
    /// The cursor of "now": copy the register, then follow `changes` from this cursor.
    async fn changes_head(&self, ctx: &Context<'_>) -> Result<String> {
        super::super::mark_uncacheable(ctx);
        dom::head(ctx.data::<DatabaseConnection>()?).await.gql()
    }

    /// The changes after a cursor, in commit order, as far as your scope reaches. Follow
    /// `endCursor` while `hasMore`; a cursor that can no longer be followed is refused with
    /// `RESYNC_REQUIRED`.
    #[graphql(
        complexity = "1 + (first.clamp(1, 1000) as usize).div_ceil(10) * (1 + child_complexity)"
    )]
    async fn changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A cursor from `changesHead`, a change or a page's `endCursor`.")]
        after: String,
        #[graphql(desc = "Most changes to answer, 1–1000.", default = 100)] first: i32,
        #[graphql(desc = "Only changes of these kinds of record.")] types: Option<Vec<RecordType>>,
    ) -> Result<ChangePage> {
        super::super::mark_uncacheable(ctx);
        let first = u32::try_from(first).unwrap_or(0);
        let types: Option<Vec<dom::RecordType>> =
            types.map(|ts| ts.into_iter().map(Into::into).collect());
        let visible = scope(ctx).await?;
        let page = dom::page(
            ctx.data::<DatabaseConnection>()?,
            &visible,
            &after,
            first,
            types.as_deref(),
        )
        .await
        .gql()?;
        let wants_records = ctx.look_ahead().field("changes").field("record").exists();
        let keys: Vec<Option<(Kind, String)>> = page
            .changes
            .iter()
            .map(|c| {
                (wants_records && c.op == dom::ChangeOp::Upsert)
                    .then(|| (kind(c.record_type), c.key.clone()))
            })
            .collect();
        let mut records = resolve_keys(ctx, &keys).await?.into_iter();
        let mut changes = Vec::with_capacity(page.changes.len());
        for change in page.changes {
            let id = match change.record_type {
                dom::RecordType::Member => member_id(ctx, &change.key)?,
                t => global_id(kind(t), &change.key),
            };
            changes.push(Change {
                change,
                id,
                record: records.next().flatten(),
            });
        }
        Ok(ChangePage {
            changes,
            end_cursor: page.end_cursor,
            has_more: page.has_more,
        })
    }
}
